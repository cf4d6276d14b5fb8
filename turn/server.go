// Package turn is Parley's co-hosted STUN/TURN server on pion/turn: TURN
// REST API credentials (coturn's use-auth-secret), a relay policy that keeps
// relays out of internal networks, per-identity quotas and counters. It
// knows nothing of rooms or sessions; package server wires it.
package turn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v5"

	"github.com/parley-rtc/parley/turn/binding"
)

// Addrs are the bound listener addresses; TLS is zero without TLS.
type Addrs struct {
	UDP, TCP, TLS netip.AddrPort
}

// Server is a running STUN/TURN server.
type Server struct {
	cfg          Config
	log          *slog.Logger
	creds        *Credentials
	policy       *Policy
	auth         *authenticator
	relays       *relays
	quota        *allocationQuota
	perms        *permissionTable
	unauthorized *unauthorizedLimiter
	streams      *perIPCount
	stats        counters
	record       *record // what happened per identity (record.go)
	addrs        Addrs
	alt          netip.AddrPort // the RFC 5780 address, if any
	urlHost      string
	binding      *binding.Server
	udpOut       udpWriter // sends to UDP clients from the listen address (the fast path)
	pion         *pionturn.Server
	draining     atomic.Bool // Drain: refuse new allocations
	// streamClients maps the source address of every open TCP/TLS
	// connection to its transport ("tcp", "tls"): pion reports every
	// allocation as UDP.
	streamClients sync.Map
	// handoff brings pion the STUN/TURN connections another listener
	// accepted (ServeStream).
	handoff *handoff
}

// Start checks cfg, opens every listener and starts serving.
func Start(cfg Config) (*Server, error) {
	s, listen, alt, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.start(listen, alt); err != nil {
		return nil, err
	}
	return s, nil
}

// start opens the listeners and hands them to pion.
func (s *Server) start(listen, alt netip.AddrPort) error {
	cfg := s.cfg
	var err error
	var closers []func() error
	fail := func(err error) error {
		for _, c := range closers {
			_ = c()
		}
		return err
	}
	// One SO_REUSEPORT socket per core, Binding answered before pion
	// (DESIGN.md §3: one listener 82k STUN req/s, two 97k).
	s.binding, err = binding.Listen(binding.Config{Listen: listen, Alternate: alt, Sockets: cfg.Sockets, Software: "parley"})
	if err != nil {
		return fail(fmt.Errorf("turn: UDP listeners: %w", err))
	}
	closers = append(closers, s.binding.Close)
	udp := s.binding.PacketConns()
	s.udpOut, _ = udp[0].(udpWriter)
	s.addrs.UDP = s.binding.Addr()
	tcp, err := listenTCP(netip.AddrPortFrom(listen.Addr(), s.addrs.UDP.Port()), listen.Port() == 0)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, tcp.Close)
	s.addrs.TCP = addrPortOf(tcp.Addr())

	pc := pionturn.ServerConfig{
		Realm:         cfg.Realm,
		AuthHandler:   s.auth.handle,
		QuotaHandler:  s.admit,
		EventHandler:  s.events(),
		LoggerFactory: pionLogs{s.log},
	}
	for _, c := range udp {
		pc.PacketConnConfigs = append(pc.PacketConnConfigs, pionturn.PacketConnConfig{
			PacketConn:            &guardedPacketConn{PacketConn: c, srv: s},
			RelayAddressGenerator: s.relays,
			PermissionHandler:     s.permit,
		})
	}
	s.handoff = newHandoff(tcp.Addr())
	listeners := []net.Listener{tcp, s.handoff}
	if cfg.TLSListen != "" {
		ln, err := net.Listen("tcp", cfg.TLSListen)
		if err != nil {
			return fail(fmt.Errorf("turn: TLS listener: %w", err))
		}
		closers = append(closers, ln.Close)
		s.addrs.TLS = addrPortOf(ln.Addr())
		listeners = append(listeners, tls.NewListener(ln, cfg.TLS))
	}
	for _, ln := range listeners {
		pc.ListenerConfigs = append(pc.ListenerConfigs, pionturn.ListenerConfig{
			Listener:              &guardedListener{Listener: ln, srv: s},
			RelayAddressGenerator: s.relays,
			PermissionHandler:     s.permit,
		})
	}
	if s.pion, err = pionturn.NewServer(pc); err != nil {
		return fail(fmt.Errorf("turn: start pion/turn: %w", err))
	}
	s.log.Info("STUN/TURN listening", "udp", s.addrs.UDP, "tcp", s.addrs.TCP, "tls", s.addrs.TLS,
		"udp_sockets", len(udp), "relay", s.relays.advertised, "relay_ports", fmt.Sprintf("%d-%d", cfg.RelayMinPort, cfg.RelayMaxPort))
	return nil
}

// newServer checks cfg and builds everything that does not listen.
func newServer(cfg Config) (s *Server, listen, alt netip.AddrPort, err error) {
	p, err := cfg.parse()
	if err != nil {
		return nil, listen, alt, err
	}
	creds, err := NewCredentials(cfg.Secrets)
	if err != nil {
		return nil, listen, alt, err
	}
	interfaces, err := net.InterfaceAddrs()
	if err != nil {
		return nil, listen, alt, fmt.Errorf("turn: list this host's addresses (relays must not reach them): %w", err)
	}
	p.policy.host = hostAddresses(append(slices.Clip(cfg.HostAddresses), p.bind, p.advertised, p.alt.Addr(), p.tlsListen.Addr()), interfaces)
	p.policy.loopbackPeers = cfg.LoopbackPeers
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s = &Server{
		cfg:          cfg,
		log:          log,
		creds:        creds,
		policy:       p.policy,
		quota:        newAllocationQuota(cfg.MaxAllocationsPerIdentity, cfg.MaxAllocations),
		unauthorized: newUnauthorizedLimiter(),
		streams:      &perIPCount{max: cfg.MaxStreamsPerIP, n: make(map[netip.Addr]int)},
		urlHost:      cfg.Host,
		alt:          p.alt,
		record:       newRecord(time.Now, cfg.OnEvent),
	}
	s.auth = &authenticator{creds: creds, realm: cfg.Realm, stats: &s.stats, record: s.record, now: time.Now, rotated: make(map[string]int)}
	s.relays = &relays{srv: s, bind: p.bind, advertised: p.advertised, min: uint16(cfg.RelayMinPort), max: uint16(cfg.RelayMaxPort), live: make(map[uint16]*relayConn), held: make(map[uint16]*heldPort)}
	s.perms = newPermissionTable(cfg.MaxPermissionsPerAllocation, func(relay net.Addr) bool { return s.relays.conn(relay) != nil })
	if s.urlHost == "" {
		s.urlHost = p.advertised.String()
	}
	return s, p.listen, p.alt, nil
}

// listenTCP listens on addr, which carries the UDP port so that STUN/TURN
// has one port for both; when the port was picked by the kernel (tests) and
// is taken for TCP, any free port will do.
func listenTCP(addr netip.AddrPort, picked bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr.String())
	if err != nil && picked {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(addr.Addr(), 0).String())
	}
	if err != nil {
		return nil, fmt.Errorf("turn: TCP listener: %w", err)
	}
	return ln, nil
}

// ServeStream serves STUN/TURN on c, a TCP or TLS connection another
// listener accepted: the signaling port's, which carries both (see
// server/demux). The per-address cap and the first-frame deadline apply as
// on the server's own listeners. After Close, c is closed at once.
func (s *Server) ServeStream(c net.Conn) {
	s.handoff.serve(c)
}

// Addrs returns the bound addresses.
func (s *Server) Addrs() Addrs { return s.addrs }

// URLs returns the ICE server URLs for this server: stun:, turn: over UDP
// and TCP, and turns: when TLS is on.
func (s *Server) URLs() []string {
	hp := func(port uint16) string { return net.JoinHostPort(s.urlHost, strconv.Itoa(int(port))) }
	urls := []string{
		"stun:" + hp(s.addrs.UDP.Port()),
		"turn:" + hp(s.addrs.UDP.Port()) + "?transport=udp",
		"turn:" + hp(s.addrs.TCP.Port()) + "?transport=tcp",
	}
	if s.addrs.TLS.IsValid() {
		urls = append(urls, "turns:"+hp(s.addrs.TLS.Port())+"?transport=tcp")
	}
	return urls
}

// URLHost is the host of the URLs: Config.Host, else the relay address.
func (s *Server) URLHost() string { return s.urlHost }

// Issue returns TURN credentials for identity valid for ttl.
func (s *Server) Issue(identity string, ttl time.Duration) (username, password string, expires time.Time) {
	return s.creds.Issue(identity, ttl, time.Now())
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := s.stats.snapshot()
	st.Binding = s.binding.Stats()
	return st
}

// Close stops listening and ends every allocation.
func (s *Server) Close() error {
	// pion closes the listeners it reads; binding then closes its RFC 5780
	// sockets and ignores the already-closed primary ones.
	if err := errors.Join(s.pion.Close(), s.binding.Close()); err != nil {
		return fmt.Errorf("turn: close: %w", err)
	}
	return nil
}

// peerAllowed is the relay policy for a peer transport address: the policy,
// or one of this server's live relays.
func (s *Server) peerAllowed(ap netip.AddrPort) bool {
	return !s.ownListener(ap) && (s.policy.Allowed(ap.Addr()) || s.relays.isRelay(ap))
}

// ownListener reports whether ap is one of this server's UDP listeners
// (STUN/TURN, RFC 5780) on loopback, in any spelling. The policy refuses
// every other address of this host whole; a loopback-only server
// (LoopbackPeers) lets relays reach loopback, but not itself.
func (s *Server) ownListener(ap netip.AddrPort) bool {
	ip := ap.Addr()
	if !ip.IsLoopback() && !canonical(ip).IsLoopback() {
		return false
	}
	port := ap.Port()
	return port == s.addrs.UDP.Port() || s.alt.IsValid() && port == s.alt.Port()
}

// permit is pion's PermissionHandler. pion passes only the peer IP, so a
// relay IP is admitted whatever the port; the guard (which sees the port)
// and the relay socket backstop hold the line for ports that are not relays.
func (s *Server) permit(_ net.Addr, peer net.IP) bool {
	ip, ok := netip.AddrFromSlice(peer)
	if ok && (s.policy.Allowed(ip) || s.relays.isRelayIP(ip)) {
		return true
	}
	s.stats.deniedPeers.Add(1)
	return false
}

// admit is pion's QuotaHandler; pion passes the user ID, our identity.
func (s *Server) admit(identity, _ string, _ net.Addr) bool {
	if s.quota.admit(identity) {
		return true
	}
	s.stats.quotaHits.Add(1)
	s.record.add(identity, EventAllocationQuota, netip.AddrPort{})
	return false
}

// events feeds counters and the permission table from pion's hooks.
func (s *Server) events() pionturn.EventHandler {
	peer := func(ip net.IP) netip.Addr { a, _ := netip.AddrFromSlice(ip); return a }
	return pionturn.EventHandler{
		OnAuth: func(_, _ net.Addr, _, username, _, _ string, verdict bool) {
			if !verdict { // MESSAGE-INTEGRITY did not verify (handle refuses the rest)
				s.stats.authFailures.Add(1)
				s.recordUsername(username, EventAuthWrong, netip.AddrPort{})
			}
		},
		OnAllocationCreated: func(src, dst net.Addr, _, identity, _ string, relay net.Addr, _ int) {
			s.record.add(identity, EventAllocated, netip.AddrPortFrom(s.relays.advertised, addrPortOf(relay).Port()))
			s.relays.described(relay, addrPortOf(src), s.transportOf(src))
			s.stats.allocationsActive.Add(1)
			s.stats.allocationsTotal.Add(1)
			s.perms.open(tupleOf(src, dst), relay)
			if c := s.relays.conn(relay); c != nil {
				c.fast.attach(src, s.udpOut)
			}
		},
		OnChannelCreated: func(_, _ net.Addr, _, _, _ string, relay, peer net.Addr, number uint16) {
			if c := s.relays.conn(relay); c != nil {
				c.fast.bind(peer, number, true)
			}
		},
		OnChannelDeleted: func(_, _ net.Addr, _, _, _ string, relay, peer net.Addr, number uint16) {
			if c := s.relays.conn(relay); c != nil {
				c.fast.bind(peer, number, false)
			}
		},
		OnAllocationDeleted: func(src, dst net.Addr, _, _, _ string) {
			s.stats.allocationsActive.Add(-1)
			s.perms.close(tupleOf(src, dst))
		},
		OnPermissionCreated: func(src, dst net.Addr, _, _, _ string, relay net.Addr, ip net.IP) {
			s.perms.add(tupleOf(src, dst), relay, peer(ip))
		},
		OnPermissionDeleted: func(src, dst net.Addr, _, _, _ string, relay net.Addr, ip net.IP) {
			s.perms.remove(tupleOf(src, dst), relay, peer(ip))
		},
	}
}

// pionLogs sends pion's logs to slog. pion logs remote mistakes (bad
// requests, failed handshakes) at warning and error level, where a client
// could flood the log, so everything but its errors goes to debug.
type pionLogs struct{ log *slog.Logger }

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

// logf formats only when the level is on: pion logs every datagram at debug.
func (l pionLogger) logf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l pionLogger) Trace(msg string)                  { l.log.Debug(msg) }
func (l pionLogger) Tracef(format string, args ...any) { l.logf(slog.LevelDebug, format, args...) }
func (l pionLogger) Debug(msg string)                  { l.log.Debug(msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.logf(slog.LevelDebug, format, args...) }
func (l pionLogger) Info(msg string)                   { l.log.Debug(msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.logf(slog.LevelDebug, format, args...) }
func (l pionLogger) Warn(msg string)                   { l.log.Debug(msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.logf(slog.LevelDebug, format, args...) }
func (l pionLogger) Error(msg string)                  { l.log.Info(msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.logf(errorLevel(format), format, args...) }

// errorLevel is info for pion's errors, but debug for the one it logs for
// every TLS or TCP client that goes away without waiting for the server's
// close_notify ("Failed to close conn: tls: failed to send closeNotify
// alert"): a client leaving is no news to an operator.
func errorLevel(format string) slog.Level {
	if strings.HasPrefix(format, "Failed to close conn") {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
