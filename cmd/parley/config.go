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
// "limits.rate"). The same table maps environment variables.
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

	t := d.TURN
	fs.Bool("no-turn", t.Disabled, "do not run the co-hosted STUN/TURN server")
	bind("turn.disabled", "no-turn")
	fs.String("turn-listen", t.Listen, "STUN/TURN address, UDP and TCP (IP:port; relays bind to the same IP)")
	bind("turn.listen", "turn-listen")
	fs.String("turn-tls-listen", t.TLSListen, "TURN over TLS address (default with --tls-cert: the --turn-listen IP, port 5349)")
	bind("turn.tls-listen", "turn-tls-listen")
	fs.StringSlice("turn-secret", t.Secrets, "TURN REST API shared secret (coturn static-auth-secret), ≥ 16 chars; repeat to rotate: the first signs, all verify. Needed outside --dev")
	bind("turn.secrets", "turn-secret")
	fs.String("turn-realm", t.Realm, "TURN realm")
	bind("turn.realm", "turn-realm")
	fs.String("turn-public-ip", t.PublicIP, "relay address advertised to clients, for servers behind NAT (coturn's external-ip); needed when --turn-listen is a wildcard")
	bind("turn.public-ip", "turn-public-ip")
	fs.String("turn-host", t.Host, "host name in the stun:/turn:/turns: URLs given to clients (turns: needs the certificate's name; default: --turn-public-ip, else the --turn-listen IP)")
	bind("turn.host", "turn-host")
	fs.String("turn-alt-address", t.AltAddress, "second IP:port for RFC 5780 NAT behaviour discovery (OTHER-ADDRESS, CHANGE-REQUEST)")
	bind("turn.alt-address", "turn-alt-address")
	fs.Int("turn-relay-min-port", t.RelayMinPort, "lowest relay port")
	bind("turn.relay-min-port", "turn-relay-min-port")
	fs.Int("turn-relay-max-port", t.RelayMaxPort, "highest relay port")
	bind("turn.relay-max-port", "turn-relay-max-port")
	fs.StringSlice("turn-allow-peer", t.AllowPeers, "CIDR relays may reach although denied by default (e.g. a private media network); repeatable")
	bind("turn.allow-peers", "turn-allow-peer")
	fs.StringSlice("turn-deny-peer", t.DenyPeers, "CIDR relays may never reach; wins over --turn-allow-peer; repeatable")
	bind("turn.deny-peers", "turn-deny-peer")
	fs.Duration("turn-credential-ttl", t.CredentialTTL, "lifetime of issued TURN credentials (for new allocations; running ones outlive it)")
	bind("turn.credential-ttl", "turn-credential-ttl")
	fs.Int("turn-max-allocations-per-identity", t.MaxAllocationsPerIdentity, "allocations one identity may hold; beyond: 486")
	bind("turn.max-allocations-per-identity", "turn-max-allocations-per-identity")
	fs.Int("turn-max-allocations", t.MaxAllocations, "allocations on this server; beyond: 486")
	bind("turn.max-allocations", "turn-max-allocations")
	fs.Int("turn-max-permissions", t.MaxPermissions, "peers one allocation may hold permissions or channels for; beyond: 508")
	bind("turn.max-permissions", "turn-max-permissions")
	fs.Int64("turn-bandwidth", t.BandwidthBitsPerSecond, "bits/s one allocation may relay, both directions together (0: no cap)")
	bind("turn.bandwidth", "turn-bandwidth")
	fs.Duration("turn-max-allocation-lifetime", t.MaxAllocationLifetime, "longest an allocation may live however often refreshed (0: no cap)")
	bind("turn.max-allocation-lifetime", "turn-max-allocation-lifetime")
	fs.Int("turn-max-streams-per-ip", t.MaxStreamsPerIP, "TCP and TLS connections to STUN/TURN one client address may hold open; beyond: closed at once")
	bind("turn.max-streams-per-ip", "turn-max-streams-per-ip")

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
	fs.Int("max-calls-per-session", l.MaxCallsPerSession, "calls one session may take part in at once (ringing or answered); a callee whose every session is at it is busy (486)")
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
	fs.Duration("empty-room-ttl", l.EmptyRoomTTL, "how long a room made by room.create waits for its first peer")
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
