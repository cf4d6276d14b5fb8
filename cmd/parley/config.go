package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/parley-rtc/parley/server"
)

// envPrefix names Parley's environment variables: PARLEY_<FLAG>, e.g.
// PARLEY_TLS_CERT for --tls-cert and PARLEY_RATE for --rate.
const envPrefix = "PARLEY_"

// configFlags defines one flag per configuration key, with the default from
// server.DefaultConfig, and returns flag name → key (e.g. "rate" →
// "limits.rate"). The same table maps environment variables. The TURN
// section's flags come from its struct tags (tableOptions); the other
// sections' are still listed here, two lines each.
func configFlags(fs *pflag.FlagSet) map[string]string {
	d := server.DefaultConfig()
	keys := make(map[string]string)
	bind := func(key, flag string) { keys[flag] = key }

	fs.String("listen", d.Listen, "HTTP/WebSocket listen address; a non-loopback address needs --tls-cert/--tls-key or --insecure")
	bind("listen", "listen")
	fs.String("metrics-listen", d.MetricsListen, "serve GET /metrics on this address instead of --listen's (e.g. an internal 127.0.0.1:9090)")
	bind("metrics-listen", "metrics-listen")
	fs.Bool("dev", d.Dev, "development mode: accept bare identities from loopback, allow loopback origins, print a throw-away API key")
	bind("dev", "dev")
	fs.Bool("insecure", d.Insecure, "allow plain ws:// on a non-loopback address (behind a TLS-terminating proxy)")
	bind("insecure", "insecure")
	fs.String("tls-cert", d.TLSCert, "TLS certificate (PEM) for wss:// and https://")
	bind("tls-cert", "tls-cert")
	fs.String("tls-key", d.TLSKey, "TLS private key (PEM)")
	bind("tls-key", "tls-key")
	fs.StringSlice("api-keys", d.APIKeys, "API keys as kid:secret (secret ≥ 32 chars), comma-separated; the JWT kid picks one")
	bind("api-keys", "api-keys")
	fs.StringSlice("allowed-origins", d.AllowedOrigins, "browser origins allowed to connect, e.g. https://app.example.com")
	bind("allowed-origins", "allowed-origins")
	fs.Bool("allow-any-origin", d.AllowAnyOrigin, "allow WebSocket connections from any browser origin (not for production)")
	bind("allow-any-origin", "allow-any-origin")
	fs.StringSlice("ice-servers", d.ICEServers, "stun:/turn: URLs handed to clients as iceServers")
	bind("ice-servers", "ice-servers")
	fs.Duration("drain-timeout", d.DrainTimeout, "on SIGTERM (or admin.node.drain) keep serving connected sessions this long, refusing new ones, then exit; a second signal exits at once")
	bind("drain-timeout", "drain-timeout")
	fs.Duration("shutdown-timeout", d.ShutdownTimeout, "how long a graceful shutdown may take")
	bind("shutdown-timeout", "shutdown-timeout")
	fs.String("log-level", d.LogLevel, "debug, info, warn or error")
	bind("log-level", "log-level")
	fs.String("log-format", d.LogFormat, "text or json")
	bind("log-format", "log-format")
	fs.String("duplicate-identity", d.DuplicateIdentity, "a new session of an identity that already has one: multi (several devices), takeover (the old one is replaced, close 4008) or reject (409)")
	bind("duplicate-identity", "duplicate-identity")

	// The sections converted to the tag table (see option) so far.
	for _, o := range tableOptions(&d) {
		o.define(fs)
		bind(o.key, o.flag)
	}

	l := d.Limits
	fs.Int64("max-frame-bytes", l.MaxFrameBytes, "largest WebSocket frame or POST body; a larger frame closes the connection (1009)")
	bind("limits.max-frame-bytes", "max-frame-bytes")
	fs.Int("max-sdp-bytes", l.MaxSDPBytes, "largest SDP relayed")
	bind("limits.max-sdp-bytes", "max-sdp-bytes")
	fs.Int("max-candidate-bytes", l.MaxCandidateBytes, "largest ICE candidate line relayed")
	bind("limits.max-candidate-bytes", "max-candidate-bytes")
	fs.Int("max-metadata-bytes", l.MaxMetadataBytes, "largest room or peer metadata stored")
	bind("limits.max-metadata-bytes", "max-metadata-bytes")
	fs.Int("max-rooms-per-session", l.MaxRoomsPerSession, "rooms one session may be in at once")
	bind("limits.max-rooms-per-session", "max-rooms-per-session")
	fs.Int("max-calls-per-session", l.MaxCallsPerSession, "calls one session may take part in at once (its own unanswered invites and answered calls; not calls ringing on it); a callee whose every session has this many answered calls is busy (486)")
	bind("limits.max-calls-per-session", "max-calls-per-session")
	fs.Int("max-presence-follows", l.MaxPresenceFollows, "identities one session may follow with presence.subscribe")
	bind("limits.max-presence-follows", "max-presence-follows")
	fs.Int("max-peers", l.MaxPeersPerRoom, "peers per room (default and ceiling of maxPeers)")
	bind("limits.max-peers-per-room", "max-peers")
	fs.Int("max-rooms", l.MaxRooms, "rooms on this node")
	bind("limits.max-rooms", "max-rooms")
	fs.Int("max-conns-per-ip", l.MaxConnsPerIP, "HTTP and WebSocket connections per source address; beyond: closed at once")
	bind("limits.max-conns-per-ip", "max-conns-per-ip")
	fs.Float64("rate", l.RatePerSecond, "requests per second per connection (token bucket rate); over it: 429")
	bind("limits.rate", "rate")
	fs.Int("rate-burst", l.RateBurst, "token bucket size per connection")
	bind("limits.rate-burst", "rate-burst")
	fs.Duration("auth-timeout", l.AuthTimeout, "time a connection has to call session.connect")
	bind("limits.auth-timeout", "auth-timeout")
	fs.Duration("empty-room-ttl", l.EmptyRoomTTL, "how long a room an app backend made with room.create over POST /rpc waits for its first peer")
	bind("limits.empty-room-ttl", "empty-room-ttl")
	fs.Int("queue-messages", l.QueueMessages, "outbound messages queued per connection before it is cut off as a slow consumer")
	bind("limits.queue-messages", "queue-messages")
	fs.Int("queue-bytes", l.QueueBytes, "outbound bytes queued per connection before it is cut off as a slow consumer")
	bind("limits.queue-bytes", "queue-bytes")
	fs.Int("preauth-queue-bytes", l.PreAuthQueueBytes, "outbound bytes queued for a connection before session.connect (rpc.discover's document aside); it also has one request in flight")
	bind("limits.preauth-queue-bytes", "preauth-queue-bytes")
	fs.Int("preauth-max-batch", l.PreAuthMaxBatch, "requests in a batch before session.connect (after it: 64)")
	bind("limits.preauth-max-batch", "preauth-max-batch")
	fs.Duration("http-read-timeout", l.HTTPReadTimeout, "time to read an HTTP request's headers and body")
	bind("limits.http-read-timeout", "http-read-timeout")
	fs.Duration("http-write-timeout", l.HTTPWriteTimeout, "time to write an HTTP answer (a WebSocket, once upgraded, has --write-timeout per frame)")
	bind("limits.http-write-timeout", "http-write-timeout")
	fs.Duration("http-idle-timeout", l.HTTPIdleTimeout, "how long a keep-alive HTTP connection may wait for its next request")
	bind("limits.http-idle-timeout", "http-idle-timeout")
	fs.Duration("write-timeout", l.WriteTimeout, "longest a write to one client may take before it is cut off")
	bind("limits.write-timeout", "write-timeout")
	fs.Duration("ping-interval", l.PingInterval, "WebSocket ping interval")
	bind("limits.ping-interval", "ping-interval")
	fs.Duration("pong-timeout", l.PongTimeout, "silence after which a connection is closed")
	bind("limits.pong-timeout", "pong-timeout")
	fs.Duration("resume-window", l.ResumeWindow, "how long a dropped session keeps its peer id, rooms and seats for a resume (from when the drop is noticed)")
	bind("limits.resume-window", "resume-window")
	fs.Int("replay-messages", l.ReplayMessages, "notifications kept per session for a resume's replay (at most --queue-messages)")
	bind("limits.replay-messages", "replay-messages")
	fs.Int("replay-bytes", l.ReplayBytes, "bytes of notifications kept per session for a resume's replay (at most --queue-bytes)")
	bind("limits.replay-bytes", "replay-bytes")
	fs.Int("max-empty-rooms-per-session", l.MaxEmptyRoomsPerSession, "rooms one session may have made with room.create that nobody has joined yet; beyond: 413")
	bind("limits.max-empty-rooms-per-session", "max-empty-rooms-per-session")
	fs.Int("max-empty-rooms-per-identity", l.MaxEmptyRoomsPerIdentity, "the same, for all the sessions of one identity together")
	bind("limits.max-empty-rooms-per-identity", "max-empty-rooms-per-identity")
	fs.Duration("session-empty-room-ttl", l.SessionEmptyRoomTTL, "how long a room a session made with room.create waits for its first peer (it also goes when that session ends); --empty-room-ttl is for rooms made over POST /rpc")
	bind("limits.session-empty-room-ttl", "session-empty-room-ttl")
	fs.Int("max-invites-per-caller", l.MaxInvitesPerCaller, "unanswered call.invite one identity may have ringing at once; beyond: 413")
	bind("limits.max-invites-per-caller", "max-invites-per-caller")
	fs.Int("max-invites-per-pair", l.MaxInvitesPerPair, "unanswered call.invite from one identity to one callee at once; beyond: 413")
	bind("limits.max-invites-per-pair", "max-invites-per-pair")
	fs.Int("max-detached-per-ip", l.MaxDetachedPerIP, "dropped sessions one source address may hold for a resume (beyond: its oldest ends); they count against --max-conns-per-ip too")
	bind("limits.max-detached-per-ip", "max-detached-per-ip")
	fs.Int("max-detached-per-identity", l.MaxDetachedPerIdentity, "dropped sessions one identity may hold for a resume (beyond: its oldest ends)")
	bind("limits.max-detached-per-identity", "max-detached-per-identity")
	return keys
}

// loadConfig layers defaults → YAML file → PARLEY_* environment → flags and
// decodes strictly: an unknown key or a value of the wrong type is an error.
func loadConfig(fs *pflag.FlagSet, keys map[string]string, path string, environ []string) (server.Config, error) {
	k := koanf.New(".")
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return server.Config{}, fmt.Errorf("read %s: %w", path, err)
		}
	}
	fromEnv, err := envValues(keys, environ)
	if err != nil {
		return server.Config{}, err
	}
	// Lists arrive as "a,b" strings; the decode hook below splits them.
	if err := k.Load(confmap.Provider(fromEnv, "."), nil); err != nil {
		return server.Config{}, fmt.Errorf("read environment: %w", err)
	}
	if err := k.Load(posflag.ProviderWithFlag(fs, ".", nil, func(f *pflag.Flag) (string, any) {
		return keys[f.Name], posflag.FlagVal(fs, f)
	}), nil); err != nil {
		return server.Config{}, fmt.Errorf("read flags: %w", err)
	}
	cfg := server.DefaultConfig()
	err = k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(",")),
		ErrorUnused:      true,
		WeaklyTypedInput: true,
		TagName:          "koanf",
		Result:           &cfg,
	}})
	if err != nil {
		return server.Config{}, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}

// envValues maps PARLEY_* variables to configuration keys and refuses
// unknown ones, so a typo (PARLEY_LISTN) is reported, not silently ignored.
func envValues(keys map[string]string, environ []string) (map[string]any, error) {
	out := make(map[string]any)
	var unknown []string
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || name == envPrefix+"CONFIG" {
			continue
		}
		flag := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, envPrefix), "_", "-"))
		key, ok := keys[flag]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		out[key] = value
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown environment variables: %s", strings.Join(unknown, ", "))
	}
	return out, nil
}

// configPath is --config, else PARLEY_CONFIG.
func configPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv(envPrefix + "CONFIG")
}
