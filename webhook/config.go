package webhook

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Config says where events go and how hard delivery tries. DefaultConfig
// states every default; Validate checks every value before anything runs.
//
// The struct tags are the configuration table of the program that embeds
// it, as for turn.Config: koanf is the key, which is also the flag's name
// behind the section's ("webhook.url" is --webhook-url), and usage the
// help text. Fields tagged koanf:"-" are set by the program.
type Config struct {
	// URLs each receive every event (POST, Standard Webhooks). None: events
	// are only kept for admin.events.list.
	URLs []string `koanf:"url" usage:"URL that receives every event as a signed Standard Webhooks POST; repeatable (each URL gets every event, in its own queue)"`
	// Secrets sign every delivery, each one: a receiver that knows any of
	// them verifies it, which is how a secret is rotated.
	Secrets []string `koanf:"secret" usage:"signing secret whsec_<base64> (24 to 64 bytes); repeat to rotate: each one signs, the signatures go space-separated in webhook-signature. Needed with --webhook-url"`
	// GiveUpAfter is how long after an event happened its delivery is
	// retried; then it counts as failed and its room's next event goes.
	GiveUpAfter time.Duration `koanf:"give-up-after" usage:"stop retrying an event this long after it happened (it counts as failed, and its room's next event goes)"`
	// QueueSize bounds the events waiting per URL (in flight and retrying
	// included); a new event beyond it drops the oldest, which is counted.
	QueueSize int `koanf:"queue" usage:"events waiting for delivery per URL; beyond: the oldest is dropped and counted"`
	// Retain is how many of the latest events admin.events.list can return.
	Retain int `koanf:"retain" usage:"latest events kept for admin.events.list (the pull fallback)"`
	// Timeout bounds one delivery attempt; a slower answer is a failure.
	Timeout time.Duration `koanf:"timeout" usage:"time one delivery attempt may take (then it is retried)"`
	// Concurrency is the deliveries in flight at once per URL, each for a
	// different room (a room's events go one at a time).
	Concurrency int `koanf:"concurrency" usage:"deliveries in flight at once per URL, each for a different room (a room's events go one at a time, in order)"`

	// FirstRetry is the first retry's delay before jitter (each later one
	// doubles, up to MaxBackoff); jitter picks a delay between half and all
	// of it, so the first retry comes within FirstRetry.
	FirstRetry time.Duration `koanf:"-"`
	MaxBackoff time.Duration `koanf:"-"`
	// Client sends the deliveries; nil: one that follows no redirects (a
	// 3xx is a failed attempt: a receiver's URL is configured, not found).
	Client *http.Client `koanf:"-"`
	// Logger receives delivery failures (at debug) and give-ups (warn).
	Logger *slog.Logger `koanf:"-"`
	// Journal, in a cluster, is where the events come from (cluster.go):
	// Publish is not used, and each URL is delivered by one node at a time.
	Journal Journal `koanf:"-"`
}

// DefaultConfig returns the defaults: no URL (events are only retained).
func DefaultConfig() Config {
	return Config{
		GiveUpAfter: 24 * time.Hour,
		QueueSize:   10_000,
		Retain:      10_000,
		Timeout:     10 * time.Second,
		Concurrency: 16,
		FirstRetry:  5 * time.Second,
		MaxBackoff:  time.Hour,
	}
}

// Validate reports every bad value at once, each naming its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	for _, raw := range c.URLs {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("url", "%q is not an http(s) URL", raw)
		}
	}
	for i, s := range c.Secrets {
		if _, err := ParseSecret(s); err != nil {
			bad("secret", "secret %d: %v", i+1, err)
		}
	}
	if len(c.URLs) > 0 && len(c.Secrets) == 0 {
		bad("secret", "webhooks need a signing secret: give --webhook-secret whsec_<base64> (receivers verify with it)")
	}
	if c.GiveUpAfter <= 0 {
		bad("give-up-after", "must be positive")
	}
	if c.QueueSize < 1 {
		bad("queue", "must be at least 1")
	}
	if c.Retain < 1 {
		bad("retain", "must be at least 1")
	}
	if c.Timeout <= 0 {
		bad("timeout", "must be positive")
	}
	if c.Concurrency < 1 || c.Concurrency > 1000 {
		bad("concurrency", "must be between 1 and 1000")
	}
	if c.FirstRetry <= 0 || c.MaxBackoff < c.FirstRetry {
		bad("first-retry", "must be positive and at most the longest backoff")
	}
	return errors.Join(errs...)
}
