package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/turn"
	"github.com/parley-rtc/parley/webhook"
)

// maxPeersCeiling is the schema's maximum for maxPeers (api/parley.openrpc.json).
const maxPeersCeiling = 10000

// Config is everything `parley serve` can be told. DefaultConfig states every
// default; Validate runs before anything listens, so a bad value fails start-up
// instead of the first user.
type Config struct {
	// Listen is the HTTP/WebSocket address. A non-loopback address needs TLS
	// (or Insecure), so credentials never cross a network in clear text.
	Listen string `koanf:"listen"`
	// MetricsListen, if set, moves GET /metrics off Listen to its own
	// address (an internal port for Prometheus).
	MetricsListen string `koanf:"metrics-listen"`
	Dev           bool   `koanf:"dev"`
	Insecure      bool   `koanf:"insecure"`
	TLSCert       string `koanf:"tls-cert"`
	TLSKey        string `koanf:"tls-key"`
	// TURN is the co-hosted STUN/TURN server.
	TURN TURN `koanf:"turn"`
	// Webhook is where events go for app backends (package webhook, whose
	// struct tags are the table cmd/parley derives the flags from).
	Webhook webhook.Config `koanf:"webhook" flag:"webhook-"`

	// APIKeys are "kid:secret" pairs; a JWT's kid header picks the secret
	// that verifies it (HS256). Several keys allow rotation.
	APIKeys []string `koanf:"api-keys"`
	// AllowedOrigins is the browser Origin allow-list ("https://app.example").
	// Requests without an Origin header (bots, CLIs) are always allowed.
	AllowedOrigins []string `koanf:"allowed-origins"`
	AllowAnyOrigin bool     `koanf:"allow-any-origin"`
	// PublicURL are the URLs browsers reach this server at: pages from
	// their origins (the inspector it serves) may open sessions, and a dev
	// server answers requests to their hosts besides loopback ones. The
	// Host header alone admits nothing (DNS rebinding).
	PublicURL []string `koanf:"public-url" usage:"URL browsers reach this server at, e.g. https://signal.example.com (repeatable): pages it serves from there (the inspector) may connect; a dev server also answers that host"`
	// ICEServers are extra STUN/TURN URLs handed to clients as iceServers,
	// beside the co-hosted server's (e.g. an external STUN server).
	ICEServers []string `koanf:"ice-servers"`

	Limits Limits `koanf:"limits"`

	// DuplicateIdentity is what a fresh session.connect does when its
	// identity already has a session: multi (the default: several devices
	// per identity, which calls fork to), takeover (the older sessions are
	// replaced: session.replaced, close 4008) or reject (409). A resume is
	// never a duplicate.
	DuplicateIdentity string `koanf:"duplicate-identity"`

	// DrainTimeout is how long a draining node (SIGTERM, admin.node.drain)
	// keeps serving its sessions before it exits; ShutdownTimeout then
	// bounds the close itself.
	DrainTimeout    time.Duration `koanf:"drain-timeout"`
	ShutdownTimeout time.Duration `koanf:"shutdown-timeout"`
	LogLevel        string        `koanf:"log-level"`
	LogFormat       string        `koanf:"log-format"`

	// Version is what admin.node.status reports; the binary sets it.
	Version string `koanf:"-"`
}

// TURN configures the co-hosted STUN/TURN server: package turn's Config,
// which documents and checks each setting (its struct tags are the table
// cmd/parley derives flags and keys from), and the switch to turn it off.
// It runs in dev mode (with a throw-away secret unless one is given) and
// wherever a secret is given, unless Disabled.
type TURN struct {
	Disabled    bool `koanf:"disabled" flag:"no-turn" usage:"do not run the co-hosted STUN/TURN server"`
	turn.Config `koanf:",squash" flag:"turn-"`
}

// Limits bound what one client can make the server hold or do.
type Limits struct {
	MaxFrameBytes      int64         `koanf:"max-frame-bytes"`
	MaxSDPBytes        int           `koanf:"max-sdp-bytes"`
	MaxCandidateBytes  int           `koanf:"max-candidate-bytes"`
	MaxMetadataBytes   int           `koanf:"max-metadata-bytes"`
	MaxRoomsPerSession int           `koanf:"max-rooms-per-session"`
	MaxCallsPerSession int           `koanf:"max-calls-per-session"`
	MaxPresenceFollows int           `koanf:"max-presence-follows"`
	MaxPeersPerRoom    int           `koanf:"max-peers-per-room"`
	MaxRooms           int           `koanf:"max-rooms"`
	MaxConnsPerIP      int           `koanf:"max-conns-per-ip"`
	RatePerSecond      float64       `koanf:"rate"`
	RateBurst          int           `koanf:"rate-burst"`
	AuthTimeout        time.Duration `koanf:"auth-timeout"`
	EmptyRoomTTL       time.Duration `koanf:"empty-room-ttl"`
	QueueMessages      int           `koanf:"queue-messages"`
	QueueBytes         int           `koanf:"queue-bytes"`
	WriteTimeout       time.Duration `koanf:"write-timeout"`
	PingInterval       time.Duration `koanf:"ping-interval"`
	PongTimeout        time.Duration `koanf:"pong-timeout"`
	// ResumeWindow is how long a session whose connection dropped keeps its
	// peer id, rooms and seats for a resume, counted from when the drop is
	// noticed; ReplayMessages and ReplayBytes bound the notifications kept
	// per session for the replay.
	ResumeWindow   time.Duration `koanf:"resume-window"`
	ReplayMessages int           `koanf:"replay-messages"`
	ReplayBytes    int           `koanf:"replay-bytes"`

	// Rooms a session made with room.create that nobody has joined yet
	// hold a share of MaxRooms: they are capped per session and per
	// identity, wait SessionEmptyRoomTTL (not EmptyRoomTTL, which is for
	// rooms an app backend makes over POST /rpc) for a first peer, and go
	// when their creator's session ends.
	MaxEmptyRoomsPerSession  int           `koanf:"max-empty-rooms-per-session"`
	MaxEmptyRoomsPerIdentity int           `koanf:"max-empty-rooms-per-identity"`
	SessionEmptyRoomTTL      time.Duration `koanf:"session-empty-room-ttl"`
	// Unanswered invites (call.invite) are capped per caller identity and
	// per caller–callee pair, so that no caller can keep a callee ringing
	// at will; a callee is busy only with answered calls.
	MaxInvitesPerCaller int `koanf:"max-invites-per-caller"`
	MaxInvitesPerPair   int `koanf:"max-invites-per-pair"`

	// MaxDetachedPerIP and MaxDetachedPerIdentity bound the sessions held
	// for a resume with no connection (see detached.go); they count
	// against MaxConnsPerIP too.
	MaxDetachedPerIP       int `koanf:"max-detached-per-ip"`
	MaxDetachedPerIdentity int `koanf:"max-detached-per-identity"`

	// PreAuthQueueBytes and PreAuthMaxBatch bound a connection until
	// session.connect succeeds (see rpc.PreAuthLimits): a client without
	// credentials gets a few KiB of outbound queue (the rpc.discover
	// document aside, answered once per connection), one request in
	// flight and short batches.
	PreAuthQueueBytes int `koanf:"preauth-queue-bytes"`
	PreAuthMaxBatch   int `koanf:"preauth-max-batch"`

	// HTTPReadTimeout bounds reading a request's headers and body,
	// HTTPWriteTimeout writing its answer (a WebSocket sets its own
	// deadlines once upgraded), HTTPIdleTimeout a keep-alive connection's
	// wait for its next request.
	HTTPReadTimeout  time.Duration `koanf:"http-read-timeout"`
	HTTPWriteTimeout time.Duration `koanf:"http-write-timeout"`
	HTTPIdleTimeout  time.Duration `koanf:"http-idle-timeout"`
}

// DevListen is where `parley serve --dev` listens unless told otherwise.
const DevListen = "127.0.0.1:7880"

// DefaultConfig returns the configuration `parley serve` starts from.
func DefaultConfig() Config {
	return Config{
		Listen:            DevListen,
		DrainTimeout:      30 * time.Second,
		ShutdownTimeout:   10 * time.Second,
		LogLevel:          "info",
		LogFormat:         "text",
		DuplicateIdentity: DuplicateMulti,
		TURN:              TURN{Config: turn.DefaultConfig()},
		Webhook:           webhook.DefaultConfig(),
		Limits: Limits{
			MaxFrameBytes:          64 << 10,
			MaxSDPBytes:            64 << 10,
			MaxCandidateBytes:      1024,
			MaxMetadataBytes:       4 << 10,
			MaxRoomsPerSession:     16,
			MaxCallsPerSession:     16,
			MaxPresenceFollows:     1000,
			MaxPeersPerRoom:        16,
			MaxRooms:               100_000,
			MaxConnsPerIP:          100,
			RatePerSecond:          50,
			RateBurst:              200,
			AuthTimeout:            10 * time.Second,
			EmptyRoomTTL:           5 * time.Minute,
			QueueMessages:          1024,
			QueueBytes:             4 << 20,
			PreAuthQueueBytes:      8 << 10,
			PreAuthMaxBatch:        4,
			HTTPReadTimeout:        10 * time.Second,
			HTTPWriteTimeout:       15 * time.Second,
			HTTPIdleTimeout:        30 * time.Second,
			WriteTimeout:           10 * time.Second,
			PingInterval:           20 * time.Second,
			PongTimeout:            45 * time.Second,
			ResumeWindow:           30 * time.Second,
			ReplayMessages:         256,
			ReplayBytes:            256 << 10,
			MaxDetachedPerIP:       32,
			MaxDetachedPerIdentity: 8,

			MaxEmptyRoomsPerSession:  16,
			MaxEmptyRoomsPerIdentity: 64,
			SessionEmptyRoomTTL:      30 * time.Second,
			MaxInvitesPerCaller:      8,
			MaxInvitesPerPair:        1,
		},
	}
}

// Validate reports every bad value at once, each naming its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		bad("listen", "%v", err)
	} else if !isLoopbackHost(host) && c.TLSCert == "" && !c.Insecure {
		bad("listen", "%s is not a loopback address: give --tls-cert/--tls-key, or --insecure to serve plain ws:// anyway", c.Listen)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls-cert", "--tls-cert and --tls-key go together")
	}
	// The TURN section as the server will run it, checked whether or not
	// it runs: every TURN error fails here, before anything starts. The
	// certificate is loaded later; Validate only needs to know there is one.
	var certificate *tls.Config
	if c.TLSCert != "" {
		certificate = &tls.Config{}
	}
	tc := c.turnConfig(certificate)
	if err := tc.Validate(); err != nil {
		for _, e := range joined(err) {
			errs = append(errs, fmt.Errorf("turn.%w", e))
		}
	}
	if err := c.Webhook.Validate(); err != nil {
		for _, e := range joined(err) {
			errs = append(errs, fmt.Errorf("webhook.%w", e))
		}
	}
	if _, err := ParseAPIKeys(c.APIKeys); err != nil {
		bad("api-keys", "%v", err)
	}
	if !c.Dev && len(c.APIKeys) == 0 {
		bad("api-keys", "no API key: give --api-keys kid:secret (or --dev for a throw-away one)")
	}
	for _, u := range c.PublicURL {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			bad("public-url", "%q is not an http(s) URL like https://signal.example.com", u)
		}
	}
	for _, o := range c.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			bad("allowed-origins", "%q is not an origin like https://app.example.com", o)
		}
	}
	for _, s := range c.ICEServers {
		if !strings.HasPrefix(s, "stun:") && !strings.HasPrefix(s, "turn:") && !strings.HasPrefix(s, "turns:") {
			bad("ice-servers", "%q is not a stun:, turn: or turns: URL", s)
		}
	}
	if _, err := parseLogLevel(c.LogLevel); err != nil {
		bad("log-level", "%v", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log-format", "%q is not text or json", c.LogFormat)
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			bad("metrics-listen", "%v", err)
		}
	}
	if c.DrainTimeout < 0 || c.DrainTimeout > time.Hour {
		bad("drain-timeout", "must be between 0 and 1h")
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown-timeout", "must be positive")
	}
	l := c.Limits
	positive := []struct {
		key string
		v   float64
	}{
		{"limits.max-frame-bytes", float64(l.MaxFrameBytes)},
		{"limits.max-sdp-bytes", float64(l.MaxSDPBytes)},
		{"limits.max-candidate-bytes", float64(l.MaxCandidateBytes)},
		{"limits.max-metadata-bytes", float64(l.MaxMetadataBytes)},
		{"limits.max-rooms-per-session", float64(l.MaxRoomsPerSession)},
		{"limits.max-calls-per-session", float64(l.MaxCallsPerSession)},
		{"limits.max-presence-follows", float64(l.MaxPresenceFollows)},
		{"limits.max-peers-per-room", float64(l.MaxPeersPerRoom)},
		{"limits.max-rooms", float64(l.MaxRooms)},
		{"limits.max-conns-per-ip", float64(l.MaxConnsPerIP)},
		{"limits.rate", l.RatePerSecond},
		{"limits.rate-burst", float64(l.RateBurst)},
		{"limits.auth-timeout", float64(l.AuthTimeout)},
		{"limits.empty-room-ttl", float64(l.EmptyRoomTTL)},
		{"limits.queue-messages", float64(l.QueueMessages)},
		{"limits.queue-bytes", float64(l.QueueBytes)},
		{"limits.preauth-queue-bytes", float64(l.PreAuthQueueBytes)},
		{"limits.preauth-max-batch", float64(l.PreAuthMaxBatch)},
		{"limits.http-read-timeout", float64(l.HTTPReadTimeout)},
		{"limits.http-write-timeout", float64(l.HTTPWriteTimeout)},
		{"limits.http-idle-timeout", float64(l.HTTPIdleTimeout)},
		{"limits.write-timeout", float64(l.WriteTimeout)},
		{"limits.ping-interval", float64(l.PingInterval)},
		{"limits.pong-timeout", float64(l.PongTimeout)},
		{"limits.resume-window", float64(l.ResumeWindow)},
		{"limits.replay-messages", float64(l.ReplayMessages)},
		{"limits.replay-bytes", float64(l.ReplayBytes)},
		{"limits.max-empty-rooms-per-session", float64(l.MaxEmptyRoomsPerSession)},
		{"limits.max-empty-rooms-per-identity", float64(l.MaxEmptyRoomsPerIdentity)},
		{"limits.session-empty-room-ttl", float64(l.SessionEmptyRoomTTL)},
		{"limits.max-invites-per-caller", float64(l.MaxInvitesPerCaller)},
		{"limits.max-invites-per-pair", float64(l.MaxInvitesPerPair)},
		{"limits.max-detached-per-ip", float64(l.MaxDetachedPerIP)},
		{"limits.max-detached-per-identity", float64(l.MaxDetachedPerIdentity)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			bad(p.key, "must be positive")
		}
	}
	if l.MaxPeersPerRoom > maxPeersCeiling {
		bad("limits.max-peers-per-room", "at most %d", maxPeersCeiling)
	}
	if l.PongTimeout <= l.PingInterval {
		bad("limits.pong-timeout", "must be longer than limits.ping-interval")
	}
	if l.ReplayMessages > l.QueueMessages {
		bad("limits.replay-messages", "must not exceed limits.queue-messages (a replay is queued at once)")
	}
	if l.ReplayBytes > l.QueueBytes {
		bad("limits.replay-bytes", "must not exceed limits.queue-bytes (a replay is queued at once)")
	}
	switch c.DuplicateIdentity {
	case DuplicateMulti, DuplicateTakeover, DuplicateReject:
	default:
		bad("duplicate-identity", "%q is not multi, takeover or reject", c.DuplicateIdentity)
	}
	if l.PreAuthQueueBytes > l.QueueBytes {
		bad("limits.preauth-queue-bytes", "must not exceed limits.queue-bytes")
	}
	if l.PreAuthMaxBatch > rpc.MaxBatch {
		bad("limits.preauth-max-batch", "at most %d (the batch limit)", rpc.MaxBatch)
	}
	if int64(l.QueueBytes) < l.MaxFrameBytes {
		bad("limits.queue-bytes", "must hold at least one frame (limits.max-frame-bytes)")
	}
	return errors.Join(errs...)
}

// isLoopbackHost reports whether host (from a listen address) only reaches
// this machine. An empty host means every interface, which is not loopback.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// joined lists the errors errors.Join put together (err itself otherwise).
func joined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
