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

	"golang.org/x/crypto/acme/autocert"

	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/server/signal"
	"github.com/parley-rtc/parley/turn"
	"github.com/parley-rtc/parley/webhook"
)

// maxPeersCeiling is the schema's maximum for maxPeers (api/parley.openrpc.json).
const maxPeersCeiling = 10000

// Config is everything `parley serve` can be told. DefaultConfig states every
// default; Validate runs before anything listens, so a bad value fails start-up
// instead of the first user.
//
// The struct tags are the configuration's one table, from which cmd/parley
// derives every flag, environment variable, YAML key, the help and `parley
// config example`: koanf is the key ("turn" makes a section whose keys are
// turn.*, ",squash" joins the enclosing one), the flag is the key with dashes
// for dots (turn.public-ip is --turn-public-ip and PARLEY_TURN_PUBLIC_IP),
// usage is the help, and was names a key's earlier spelling, which files may
// still use (on a section: the section's earlier name).
type Config struct {
	// Listen is the HTTP/WebSocket address. A non-loopback address needs TLS
	// (or Insecure), so credentials never cross a network in clear text.
	Listen string `koanf:"listen" usage:"HTTP/WebSocket listen address; a non-loopback address needs --tls-cert/--tls-key, --acme-domain or --insecure"`
	// MetricsListen, if set, moves GET /metrics off Listen to its own
	// address (an internal port for Prometheus).
	MetricsListen string `koanf:"metrics-listen" usage:"serve GET /metrics on this address instead of --listen's (e.g. an internal 127.0.0.1:9090)"`
	Dev           bool   `koanf:"dev" usage:"development mode: accept bare identities from loopback, allow loopback origins, print a throw-away API key"`
	Insecure      bool   `koanf:"insecure" usage:"allow plain ws:// on a non-loopback address (behind a TLS-terminating proxy)"`
	TLSCert       string `koanf:"tls-cert" usage:"TLS certificate (PEM) for wss:// and https:// (and TURN over TLS)"`
	TLSKey        string `koanf:"tls-key" usage:"TLS private key (PEM)"`
	// ACME gets the certificate from an ACME CA instead (Let's Encrypt).
	ACME ACME `koanf:"acme"`
	// Webhook is where events go for app backends (package webhook).
	Webhook webhook.Config `koanf:"webhook"`

	// APIKeys are "kid:secret" pairs; a JWT's kid header picks the secret
	// that verifies it (HS256). Several keys allow rotation.
	APIKeys []string `koanf:"api-keys" usage:"API keys as kid:secret (secret ≥ 32 chars), comma-separated; the JWT kid picks one"`
	// AllowedOrigins is the browser Origin allow-list ("https://app.example").
	// Requests without an Origin header (bots, CLIs) are always allowed.
	AllowedOrigins []string `koanf:"allowed-origins" usage:"browser origins allowed to connect, e.g. https://app.example.com"`
	AllowAnyOrigin bool     `koanf:"allow-any-origin" usage:"allow WebSocket connections from any browser origin (not for production)"`
	// PublicURL are the URLs browsers reach this server at: pages from
	// their origins (the inspector it serves) may open sessions, and a dev
	// server answers requests to their hosts besides loopback ones. The
	// Host header alone admits nothing (DNS rebinding).
	PublicURL []string `koanf:"public-url" usage:"URL browsers reach this server at, e.g. https://signal.example.com (repeatable): pages it serves from there (the inspector) may connect; a dev server also answers that host"`
	// ICEServers are extra STUN/TURN URLs handed to clients as iceServers,
	// beside the co-hosted server's (e.g. an external STUN server).
	ICEServers []string `koanf:"ice-servers" usage:"stun:/turn: URLs handed to clients as iceServers"`

	// DrainTimeout is how long a draining node (SIGTERM, admin.node.drain)
	// keeps serving its sessions before it exits; ShutdownTimeout then
	// bounds the close itself.
	DrainTimeout    time.Duration `koanf:"drain-timeout" usage:"on SIGTERM (or admin.node.drain) keep serving connected sessions this long, refusing new ones, then exit; a second signal exits at once"`
	ShutdownTimeout time.Duration `koanf:"shutdown-timeout" usage:"how long a graceful shutdown may take"`
	LogLevel        string        `koanf:"log-level" usage:"debug, info, warn or error"`
	LogFormat       string        `koanf:"log-format" usage:"text or json"`

	// DuplicateIdentity is what a fresh session.connect does when its
	// identity already has a session: multi (the default: several devices
	// per identity, which calls fork to), takeover (the older sessions are
	// replaced: session.replaced, close 4008) or reject (409). A resume is
	// never a duplicate.
	DuplicateIdentity string `koanf:"duplicate-identity" usage:"a new session of an identity that already has one: multi (several devices), takeover (the old one is replaced, close 4008) or reject (409)"`

	Limits Limits `koanf:",squash" was:"limits"`

	// NoTURN turns the co-hosted STUN/TURN server off. It runs in dev mode
	// (with a throw-away secret unless one is given) and wherever a secret
	// is given, unless NoTURN.
	NoTURN bool `koanf:"no-turn" was:"turn.disabled" usage:"do not run the co-hosted STUN/TURN server"`
	// TURN is the co-hosted STUN/TURN server: package turn's Config, which
	// documents and checks each setting.
	TURN turn.Config `koanf:"turn"`

	// Redis turns cluster mode on (cluster.go): the signaling state lives
	// there, shared by every node; NodeID names this node in it.
	Redis  Redis  `koanf:"redis"`
	NodeID string `koanf:"node-id" usage:"cluster mode: this node's id (default: the host name and a random suffix); a node restarted with the id of one the cluster reaped is refused"`

	// Version is what admin.node.status reports; the binary sets it.
	Version string `koanf:"-"`
}

// ACME has the TLS certificate issued and renewed by an ACME CA (RFC 8555;
// golang.org/x/crypto/acme/autocert): the CA checks that this server answers
// for each domain with a TLS-ALPN-01 challenge on the listen port (which the
// CA reaches as port 443), or HTTP-01 on HTTPListen (port 80). The one
// certificate serves WSS and TURN over TLS, and is renewed a third of its
// lifetime before it expires, without a restart.
type ACME struct {
	Domains    []string `koanf:"domain" usage:"domain to get a certificate for from an ACME CA (repeatable; instead of --tls-cert): the CA must reach this server at it on port 443, or on 80 with --acme-http-listen"`
	Email      string   `koanf:"email" usage:"contact address given to the ACME CA (expiry and policy notices)"`
	CacheDir   string   `koanf:"cache-dir" usage:"directory that keeps the ACME account key and certificates across restarts (needed with --acme-domain: CAs limit how often they issue)"`
	Directory  string   `koanf:"directory" usage:"the ACME CA's directory URL (its root, if not a public CA, is trusted through SSL_CERT_FILE)"`
	HTTPListen string   `koanf:"http-listen" usage:"also answer ACME HTTP-01 challenges on this address (e.g. :80); other requests there are redirected to https"`
}

// Limits bound what one client can make the server hold or do. Their keys
// were once under limits: (limits.rate), and files may still say so.
type Limits struct {
	MaxFrameBytes     int64 `koanf:"max-frame-bytes" usage:"largest WebSocket frame or POST body; a larger frame closes the connection (1009)"`
	MaxSDPBytes       int   `koanf:"max-sdp-bytes" usage:"largest SDP relayed"`
	MaxCandidateBytes int   `koanf:"max-candidate-bytes" usage:"largest ICE candidate line relayed"`
	MaxMetadataBytes  int   `koanf:"max-metadata-bytes" usage:"largest room or peer metadata stored"`
	// The limits the signaling core enforces: signal.Limits documents
	// them, and its tags are their rows of the configuration table.
	signal.Limits `koanf:",squash"`
	MaxConnsPerIP int           `koanf:"max-conns-per-ip" usage:"WebSocket connections per source address"`
	RatePerSecond float64       `koanf:"rate" usage:"requests per second per connection (token bucket rate); over it: 429"`
	RateBurst     int           `koanf:"rate-burst" usage:"token bucket size per connection"`
	AuthTimeout   time.Duration `koanf:"auth-timeout" usage:"time a connection has to call session.connect"`
	QueueMessages int           `koanf:"queue-messages" usage:"outbound messages queued per connection before it is cut off as a slow consumer"`
	QueueBytes    int           `koanf:"queue-bytes" usage:"outbound bytes queued per connection before it is cut off as a slow consumer"`
	WriteTimeout  time.Duration `koanf:"write-timeout" usage:"longest a write to one client may take before it is cut off"`
	PingInterval  time.Duration `koanf:"ping-interval" usage:"WebSocket ping interval"`
	PongTimeout   time.Duration `koanf:"pong-timeout" usage:"silence after which a connection is closed"`
	// ReplayMessages and ReplayBytes bound the notifications kept per
	// session for a resume's replay.
	ReplayMessages int `koanf:"replay-messages" usage:"notifications kept per session for a resume's replay (at most --queue-messages)"`
	ReplayBytes    int `koanf:"replay-bytes" usage:"bytes of notifications kept per session for a resume's replay (at most --queue-bytes)"`

	// PreAuthQueueBytes and PreAuthMaxBatch bound a connection until
	// session.connect succeeds (see rpc.PreAuthLimits): a client without
	// credentials gets a few KiB of outbound queue (the rpc.discover
	// document aside, answered once per connection), one request in
	// flight and short batches.
	PreAuthQueueBytes int `koanf:"preauth-queue-bytes" usage:"outbound bytes queued for a connection before session.connect (rpc.discover's document aside); it also has one request in flight"`
	PreAuthMaxBatch   int `koanf:"preauth-max-batch" usage:"requests in a batch before session.connect (after it: 64)"`

	// HTTPReadTimeout bounds reading a request's headers and body,
	// HTTPWriteTimeout writing its answer (a WebSocket sets its own
	// deadlines once upgraded), HTTPIdleTimeout a keep-alive connection's
	// wait for its next request.
	HTTPReadTimeout  time.Duration `koanf:"http-read-timeout" usage:"time to read an HTTP request's headers and body"`
	HTTPWriteTimeout time.Duration `koanf:"http-write-timeout" usage:"time to write an HTTP answer (a WebSocket, once upgraded, has --write-timeout per frame)"`
	HTTPIdleTimeout  time.Duration `koanf:"http-idle-timeout" usage:"how long a keep-alive HTTP connection may wait for its next request"`
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
		ACME:              ACME{Directory: autocert.DefaultACMEDirectory},
		TURN:              turn.DefaultConfig(),
		Webhook:           webhook.DefaultConfig(),
		Limits: Limits{
			MaxFrameBytes:     64 << 10,
			MaxSDPBytes:       64 << 10,
			MaxCandidateBytes: 1024,
			MaxMetadataBytes:  4 << 10,
			Limits: signal.Limits{
				MaxRoomsPerSession:       16,
				MaxCallsPerSession:       16,
				MaxPresenceFollows:       1000,
				MaxPeersPerRoom:          16,
				MaxRooms:                 100_000,
				MaxInvitesPerCaller:      8,
				MaxInvitesPerPair:        1,
				EmptyRoomTTL:             5 * time.Minute,
				SessionEmptyRoomTTL:      30 * time.Second,
				MaxEmptyRoomsPerSession:  16,
				MaxEmptyRoomsPerIdentity: 64,
				ResumeWindow:             30 * time.Second,
				MaxDetachedPerIP:         32,
				MaxDetachedPerIdentity:   8,
			},
			MaxConnsPerIP:     100,
			RatePerSecond:     50,
			RateBurst:         200,
			AuthTimeout:       10 * time.Second,
			QueueMessages:     1024,
			QueueBytes:        4 << 20,
			PreAuthQueueBytes: 8 << 10,
			PreAuthMaxBatch:   4,
			HTTPReadTimeout:   10 * time.Second,
			HTTPWriteTimeout:  15 * time.Second,
			HTTPIdleTimeout:   30 * time.Second,
			WriteTimeout:      10 * time.Second,
			PingInterval:      20 * time.Second,
			PongTimeout:       45 * time.Second,
			ReplayMessages:    256,
			ReplayBytes:       256 << 10,
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
	} else if !isLoopbackHost(host) && !c.hasTLS() && !c.Insecure {
		bad("listen", "%s is not a loopback address: give --tls-cert/--tls-key or --acme-domain, or --insecure to serve plain ws:// anyway", c.Listen)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls-cert", "--tls-cert and --tls-key go together")
	}
	errs = append(errs, c.ACME.validate(c.TLSCert != "")...)
	// The TURN section as the server will run it, checked whether or not
	// it runs: every TURN error fails here, before anything starts. The
	// certificate is loaded later; Validate only needs to know there is one.
	var certificate *tls.Config
	if c.hasTLS() {
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
	c.validateCluster(bad)
	l := c.Limits
	positive := []struct {
		key string
		v   float64
	}{
		{"max-frame-bytes", float64(l.MaxFrameBytes)},
		{"max-sdp-bytes", float64(l.MaxSDPBytes)},
		{"max-candidate-bytes", float64(l.MaxCandidateBytes)},
		{"max-metadata-bytes", float64(l.MaxMetadataBytes)},
		{"max-rooms-per-session", float64(l.MaxRoomsPerSession)},
		{"max-calls-per-session", float64(l.MaxCallsPerSession)},
		{"max-presence-follows", float64(l.MaxPresenceFollows)},
		{"max-peers", float64(l.MaxPeersPerRoom)},
		{"max-rooms", float64(l.MaxRooms)},
		{"max-conns-per-ip", float64(l.MaxConnsPerIP)},
		{"rate", l.RatePerSecond},
		{"rate-burst", float64(l.RateBurst)},
		{"auth-timeout", float64(l.AuthTimeout)},
		{"empty-room-ttl", float64(l.EmptyRoomTTL)},
		{"queue-messages", float64(l.QueueMessages)},
		{"queue-bytes", float64(l.QueueBytes)},
		{"write-timeout", float64(l.WriteTimeout)},
		{"ping-interval", float64(l.PingInterval)},
		{"pong-timeout", float64(l.PongTimeout)},
		{"resume-window", float64(l.ResumeWindow)},
		{"replay-messages", float64(l.ReplayMessages)},
		{"replay-bytes", float64(l.ReplayBytes)},
		{"max-empty-rooms-per-session", float64(l.MaxEmptyRoomsPerSession)},
		{"max-empty-rooms-per-identity", float64(l.MaxEmptyRoomsPerIdentity)},
		{"session-empty-room-ttl", float64(l.SessionEmptyRoomTTL)},
		{"max-invites-per-caller", float64(l.MaxInvitesPerCaller)},
		{"max-invites-per-pair", float64(l.MaxInvitesPerPair)},
		{"preauth-queue-bytes", float64(l.PreAuthQueueBytes)},
		{"preauth-max-batch", float64(l.PreAuthMaxBatch)},
		{"http-read-timeout", float64(l.HTTPReadTimeout)},
		{"http-write-timeout", float64(l.HTTPWriteTimeout)},
		{"http-idle-timeout", float64(l.HTTPIdleTimeout)},
		{"max-detached-per-ip", float64(l.MaxDetachedPerIP)},
		{"max-detached-per-identity", float64(l.MaxDetachedPerIdentity)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			bad(p.key, "must be positive")
		}
	}
	if l.MaxPeersPerRoom > maxPeersCeiling {
		bad("max-peers", "at most %d", maxPeersCeiling)
	}
	if l.PongTimeout <= l.PingInterval {
		bad("pong-timeout", "must be longer than ping-interval")
	}
	if l.ReplayMessages > l.QueueMessages {
		bad("replay-messages", "must not exceed queue-messages (a replay is queued at once)")
	}
	if l.ReplayBytes > l.QueueBytes {
		bad("replay-bytes", "must not exceed queue-bytes (a replay is queued at once)")
	}
	switch c.DuplicateIdentity {
	case DuplicateMulti, DuplicateTakeover, DuplicateReject:
	default:
		bad("duplicate-identity", "%q is not multi, takeover or reject", c.DuplicateIdentity)
	}
	if l.PreAuthQueueBytes > l.QueueBytes {
		bad("preauth-queue-bytes", "must not exceed queue-bytes")
	}
	if l.PreAuthMaxBatch > rpc.MaxBatch {
		bad("preauth-max-batch", "at most %d (the batch limit)", rpc.MaxBatch)
	}
	if int64(l.QueueBytes) < l.MaxFrameBytes {
		bad("queue-bytes", "must hold at least one frame (max-frame-bytes)")
	}
	return errors.Join(errs...)
}

// hasTLS reports whether the listener serves TLS: a certificate is given
// or ACME gets one.
func (c *Config) hasTLS() bool { return c.TLSCert != "" || len(c.ACME.Domains) > 0 }

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
