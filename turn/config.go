package turn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// Config says where the server listens and what it allows. DefaultConfig
// states every default; Validate checks every value, and Start runs it
// before opening a socket.
//
// The struct tags are the configuration table of a program that embeds it
// (cmd/parley derives its YAML keys, flags and help from them): koanf is
// the key, usage the help text, and was a key's earlier name, still read
// from files. Fields tagged koanf:"-" are set by the program, not
// configured. Validate's errors name keys.
type Config struct {
	// Listen is the UDP and TCP address (STUN and TURN), an IP and a port;
	// port 0 picks one (see Server.Addrs). Relays bind to the same IP.
	Listen string `koanf:"listen" usage:"STUN/TURN address, UDP and TCP (IP:port; relays bind to the same IP)"`
	// TLSListen is the TURN-over-TLS address; "" for none. Needs TLS.
	TLSListen string `koanf:"tls-listen" usage:"TURN over TLS address (default with --tls-cert: the --turn-listen IP, port 5349)"`
	// Secrets are the TURN REST API shared secrets: the first signs, all
	// verify (rotation). Validate checks those given; Start needs one.
	Secrets []string `koanf:"secret" was:"secrets" usage:"TURN REST API shared secret (coturn static-auth-secret), ≥ 16 chars; repeat to rotate: the first signs, all verify. Needed outside --dev"`
	// Realm is the long-term credential realm.
	Realm string `koanf:"realm" usage:"TURN realm"`
	// PublicIP is the address put in XOR-RELAYED-ADDRESS and in the ICE
	// server URLs, for servers behind a NAT (coturn's external-ip). Needed
	// when Listen is a wildcard address.
	PublicIP string `koanf:"public-ip" usage:"relay address advertised to clients, for servers behind NAT (coturn's external-ip); needed when --turn-listen is a wildcard"`
	// Host is the host name in ICE server URLs; turns: URLs need the name on
	// the certificate. Default: PublicIP, else the Listen IP. The host a
	// client used to reach signaling is deliberately not used: behind a
	// proxy or CDN it names a machine that does not carry UDP.
	Host string `koanf:"host" usage:"host name in the stun:/turn:/turns: URLs given to clients (turns: needs the certificate's name; default: --turn-public-ip, else the --turn-listen IP)"`
	// Alternate is a second IP:port for RFC 5780 NAT behaviour discovery;
	// "" for none.
	Alternate string `koanf:"alt-address" usage:"second IP:port for RFC 5780 NAT behaviour discovery (OTHER-ADDRESS, CHANGE-REQUEST)"`
	// RelayMinPort and RelayMaxPort bound the relay ports (inclusive).
	RelayMinPort int `koanf:"relay-port-min" was:"relay-min-port" usage:"lowest relay port"`
	RelayMaxPort int `koanf:"relay-port-max" was:"relay-max-port" usage:"highest relay port"`
	// AllowPeers and DenyPeers are CIDRs that adjust the relay policy
	// (see Policy for the order in which they apply).
	AllowPeers []string `koanf:"allow-peer" was:"allow-peers" usage:"CIDR relays may reach although denied by default (e.g. a private media network); never this host's own addresses; repeatable"`
	DenyPeers  []string `koanf:"deny-peer" was:"deny-peers" usage:"CIDR relays may never reach; wins over --turn-allow-peer; repeatable"`
	// CredentialTTL is how long issued credentials allow new allocations;
	// allocations made in time outlive them.
	CredentialTTL time.Duration `koanf:"credential-ttl" usage:"lifetime of issued TURN credentials (for new allocations; running ones outlive it)"`
	// MaxAllocationsPerIdentity: an Allocate beyond it gets 486.
	MaxAllocationsPerIdentity int `koanf:"max-allocations-per-identity" usage:"allocations one identity may hold; beyond: 486"`
	// MaxAllocations caps allocations on this server (486 beyond it).
	MaxAllocations int `koanf:"max-allocations" usage:"allocations on this server; beyond: 486"`
	// MaxPermissionsPerAllocation: peers one allocation may hold
	// permissions or channels for (508 beyond it).
	MaxPermissionsPerAllocation int `koanf:"max-permissions" usage:"peers one allocation may hold permissions or channels for; beyond: 508"`
	// BandwidthBitsPerSecond caps each allocation's relayed traffic, both
	// directions together (token bucket; excess datagrams are dropped).
	// 0: no cap.
	BandwidthBitsPerSecond int64 `koanf:"bandwidth" usage:"bits/s one allocation may relay, both directions together (0: no cap)"`
	// MaxAllocationLifetime ends an allocation this long after it was made,
	// however often it is refreshed, so a leaked client cannot hold a relay
	// forever. 0: no cap.
	MaxAllocationLifetime time.Duration `koanf:"max-allocation-lifetime" usage:"longest an allocation may live however often refreshed (0: no cap)"`
	// MaxStreamsPerIP caps the TCP and TLS connections one client address
	// may hold open; beyond it a new connection is closed at once. Each
	// costs pion a goroutine and buffers before a byte is authenticated.
	MaxStreamsPerIP int `koanf:"max-streams-per-ip" usage:"TCP and TLS connections to STUN/TURN one client address may hold open; beyond: closed at once"`

	// TLS is the certificate for TLSListen (the WSS one).
	TLS *tls.Config `koanf:"-"`
	// Sockets is the number of SO_REUSEPORT UDP sockets on Listen, one
	// reader each (0: one per CPU; DESIGN.md §3 has the measurement).
	Sockets int `koanf:"-"`
	// HostAddresses are more addresses of this host that relays must never
	// reach, such as the signaling listener's. Start adds the listeners',
	// PublicIP, Alternate and every interface address itself (see Policy).
	HostAddresses []netip.Addr `koanf:"-"`
	// LoopbackPeers lets relays reach loopback peers, other than this
	// server's own listeners: for a development server whose listeners
	// are all loopback, so that its clients are all on this host, which
	// they reach without a relay anyway (two local browsers, one forced to
	// relay, connect through it). Validate refuses it on any other server.
	LoopbackPeers bool `koanf:"-"`
	// Logger receives the server's logs (pion's at debug level).
	Logger *slog.Logger `koanf:"-"`
	// OnEvent, if set, is told each event added to the record (record.go)
	// as it happens (Count 1), so that a cluster shares them. It is called
	// on the hot path, outside the record's lock: it must not block.
	OnEvent func(identity string, e Event) `koanf:"-"`
}

// DefaultConfig returns the defaults; Secrets must still be given.
func DefaultConfig() Config {
	return Config{
		Listen:                      "127.0.0.1:3478",
		Realm:                       "parley",
		RelayMinPort:                49152,
		RelayMaxPort:                65535,
		CredentialTTL:               12 * time.Hour,
		MaxAllocationsPerIdentity:   12,
		MaxAllocations:              10_000,
		MaxPermissionsPerAllocation: 32,
		BandwidthBitsPerSecond:      10_000_000,
		MaxAllocationLifetime:       24 * time.Hour,
		MaxStreamsPerIP:             64,
	}
}

// Validate reports every bad value at once, each naming its key
// ("public-ip: …"). It does not need Secrets to be given (the embedding
// program may make one); Start does.
func (c *Config) Validate() error {
	_, err := c.parse()
	return err
}

// parsed is a valid Config's addresses and policy, ready to use.
type parsed struct {
	listen, alt netip.AddrPort
	tlsListen   netip.AddrPort
	bind        netip.Addr // the Listen IP, which relays bind to
	advertised  netip.Addr // the relay address clients are told: PublicIP, else bind
	policy      *Policy
}

func (c *Config) parse() (parsed, error) {
	var p parsed
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if err := checkSecrets(c.Secrets); err != nil {
		bad("secret", "%v", err)
	}
	var err error
	if p.policy, err = NewPolicy(c.AllowPeers, c.DenyPeers); err != nil {
		errs = append(errs, err)
	}
	if p.listen, err = netip.ParseAddrPort(c.Listen); err != nil {
		bad("listen", "%q is not IP:port: %v", c.Listen, err)
	}
	p.bind = p.listen.Addr().Unmap()
	p.advertised = p.bind
	if c.PublicIP != "" {
		if p.advertised, err = netip.ParseAddr(c.PublicIP); err != nil {
			bad("public-ip", "%v", err)
		}
		p.advertised = p.advertised.Unmap()
		if p.advertised.IsValid() && p.bind.IsValid() && p.advertised.Is4() != p.bind.Is4() {
			bad("public-ip", "%s and the listen address %s are different address families", p.advertised, p.bind)
		}
	} else if p.bind.IsUnspecified() {
		bad("public-ip", "the listen address %s is a wildcard; give the address clients reach this server at", c.Listen)
	}
	if c.TLSListen != "" {
		if p.tlsListen, err = netip.ParseAddrPort(c.TLSListen); err != nil {
			bad("tls-listen", "%q is not IP:port: %v", c.TLSListen, err)
		}
		if c.TLS == nil {
			bad("tls-listen", "needs a TLS certificate")
		}
	}
	if c.Alternate != "" {
		if p.alt, err = netip.ParseAddrPort(c.Alternate); err != nil {
			bad("alt-address", "%q is not IP:port: %v", c.Alternate, err)
		}
	}
	if c.LoopbackPeers {
		for _, a := range []netip.AddrPort{p.listen, p.tlsListen, p.alt} {
			if a.IsValid() && !a.Addr().IsLoopback() {
				bad("listen", "relays may reach loopback peers only on a server whose listeners are all loopback, not on %s", a)
			}
		}
	}
	switch {
	case c.RelayMinPort < 1 || c.RelayMinPort > 65535:
		bad("relay-port-min", "%d is not a port (1-65535)", c.RelayMinPort)
	case c.RelayMaxPort < 1 || c.RelayMaxPort > 65535:
		bad("relay-port-max", "%d is not a port (1-65535)", c.RelayMaxPort)
	case c.RelayMinPort > c.RelayMaxPort:
		bad("relay-port-min", "%d is above relay-port-max, %d", c.RelayMinPort, c.RelayMaxPort)
	}
	if c.Realm == "" {
		bad("realm", "must not be empty")
	}
	if c.CredentialTTL <= 0 {
		bad("credential-ttl", "must be positive")
	}
	for _, q := range []struct {
		key string
		v   int
	}{
		{"max-allocations-per-identity", c.MaxAllocationsPerIdentity},
		{"max-allocations", c.MaxAllocations},
		{"max-permissions", c.MaxPermissionsPerAllocation},
		{"max-streams-per-ip", c.MaxStreamsPerIP},
	} {
		if q.v < 1 {
			bad(q.key, "must be at least 1")
		}
	}
	if c.BandwidthBitsPerSecond < 0 {
		bad("bandwidth", "must not be negative")
	}
	if c.MaxAllocationLifetime < 0 {
		bad("max-allocation-lifetime", "must not be negative")
	}
	if c.Sockets < 0 {
		errs = append(errs, errors.New("the UDP socket count must not be negative"))
	}
	return p, errors.Join(errs...)
}
