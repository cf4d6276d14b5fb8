// Package binding answers STUN Binding requests (RFC 8489) on the UDP
// sockets that Parley's TURN server also reads, and, given a second address,
// the RFC 5780 NAT behaviour discovery that turn/nattype runs against it.
//
// Binding requests are answered inside ReadFrom of the sockets returned by
// PacketConns, so pion/turn, which reads those sockets, only ever sees TURN
// traffic; that keeps the most frequent request off pion's allocating path
// and lets one server own OTHER-ADDRESS and CHANGE-REQUEST, which pion
// does not implement.
package binding

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
)

// Config says where to listen. The zero Alternate turns RFC 5780 off.
type Config struct {
	// Listen is the primary address, e.g. 127.0.0.1:3478 (port 0 = pick one).
	Listen netip.AddrPort
	// Alternate is the second IP:port (coturn's alt address). When set, the
	// server also listens on primary IP:alt port, alt IP:primary port and
	// alt IP:alt port, and answers with OTHER-ADDRESS and RESPONSE-ORIGIN.
	// Port 0 picks one port free on both IPs.
	Alternate netip.AddrPort
	// Sockets is the number of SO_REUSEPORT sockets on Listen, one reader
	// per core (0 → runtime.GOMAXPROCS(0)); 1 where SO_REUSEPORT is missing.
	Sockets int
	// Software is the SOFTWARE attribute of every response ("" = none).
	Software string
}

// Stats counts what the server did; every field is read atomically.
type Stats struct {
	Answered  uint64 // Binding success responses sent (SendFails counts those the kernel refused)
	Rejected  uint64 // Binding error responses sent (400, 420)
	Malformed uint64 // datagrams that looked like a Binding request but did not decode: dropped
	Dropped   uint64 // non-Binding datagrams on the RFC 5780-only sockets: dropped
	SendFails uint64 // responses the kernel refused to send
}

// Socket slots. Bit 0 = alternate port, bit 1 = alternate IP, so the socket a
// CHANGE-REQUEST asks for is the receiving slot XOR the request's flags.
const (
	slotPrimary = 0
	slotAltPort = 1
	slotAltIP   = 2
	slotAltBoth = 3
	numSlots    = 4
)

// Server is a running Binding responder. It is safe for concurrent use.
type Server struct {
	primary  []*conn
	alt      [numSlots]*net.UDPConn // slots 1-3 when RFC 5780 is on; alt[0] is unused
	addrs    [numSlots]netip.AddrPort
	rfc5780  bool
	software []byte

	answered, rejected, malformed, dropped, sendFails atomic.Uint64

	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup
}

// Listen opens the sockets and starts the readers of the RFC 5780-only
// sockets. The primary sockets are read by whoever calls ReadFrom on
// PacketConns (pion/turn in production).
func Listen(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := cfg.Sockets
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	if !reusePortSupported {
		n = 1
	}
	s := &Server{rfc5780: cfg.Alternate.IsValid(), software: []byte(cfg.Software)}
	var socks [numSlots]*net.UDPConn
	var err error
	if s.rfc5780 {
		socks, err = bindQuad(cfg.Listen, cfg.Alternate, n > 1)
	} else {
		socks[slotPrimary], err = listenUDP(cfg.Listen, n > 1)
	}
	if err != nil {
		return nil, err
	}
	for i, c := range socks {
		if c != nil {
			s.addrs[i] = c.LocalAddr().(*net.UDPAddr).AddrPort()
		}
	}
	s.primary = append(s.primary, &conn{UDPConn: socks[slotPrimary], srv: s})
	for len(s.primary) < n {
		c, err := listenUDP(s.addrs[slotPrimary], true)
		if err != nil {
			closeAll(socks[:], s.primary)
			return nil, fmt.Errorf("binding: SO_REUSEPORT socket %d on %s: %w", len(s.primary), s.addrs[slotPrimary], err)
		}
		s.primary = append(s.primary, &conn{UDPConn: c, srv: s})
	}
	if n > 1 {
		if err := steerBySource(socks[slotPrimary], n); err != nil {
			closeAll(socks[:], s.primary)
			return nil, err
		}
	}
	for slot := slotAltPort; s.rfc5780 && slot < numSlots; slot++ {
		s.alt[slot] = socks[slot]
		s.wg.Add(1)
		go s.serveAlt(slot)
	}
	return s, nil
}

func (c Config) validate() error {
	if !c.Listen.Addr().IsValid() {
		return errors.New("binding: Listen address is not set")
	}
	if c.Sockets < 0 {
		return fmt.Errorf("binding: Sockets %d is negative", c.Sockets)
	}
	if !c.Alternate.IsValid() {
		return nil
	}
	// RFC 5780 §3: the alternate differs from the primary in both IP and
	// port, and the tests compare addresses, so neither can be a wildcard.
	p, a := c.Listen.Addr().Unmap(), c.Alternate.Addr().Unmap()
	switch {
	case p.IsUnspecified() || a.IsUnspecified():
		return fmt.Errorf("binding: RFC 5780 needs specific IPs, not %s and %s", p, a)
	case p.Is4() != a.Is4():
		return fmt.Errorf("binding: primary %s and alternate %s are different address families", p, a)
	case p == a:
		return fmt.Errorf("binding: alternate IP %s must differ from the primary IP", a)
	case c.Listen.Port() != 0 && c.Listen.Port() == c.Alternate.Port():
		return fmt.Errorf("binding: alternate port %d must differ from the primary port", c.Alternate.Port())
	}
	return nil
}

// bindQuad binds the four RFC 5780 sockets. With a port 0 it lets the kernel
// pick one on one IP and tries to take the same port on the other; a port
// taken there means a retry, at most pickAttempts times.
func bindQuad(primary, alt netip.AddrPort, reuse bool) (socks [numSlots]*net.UDPConn, err error) {
	const pickAttempts = 20
	pIP, aIP := primary.Addr().Unmap(), alt.Addr().Unmap()
	for range pickAttempts {
		socks, err = tryQuad(pIP, aIP, primary.Port(), alt.Port(), reuse)
		if err == nil || (primary.Port() != 0 && alt.Port() != 0) {
			return socks, err
		}
	}
	return socks, fmt.Errorf("binding: no port pair free on both %s and %s after %d attempts: %w", pIP, aIP, pickAttempts, err)
}

func tryQuad(pIP, aIP netip.Addr, pPort, aPort uint16, reuse bool) ([numSlots]*net.UDPConn, error) {
	var socks [numSlots]*net.UDPConn
	var err error
	// Bind the slots whose port is fixed or already known first.
	order := [numSlots]int{slotPrimary, slotAltIP, slotAltBoth, slotAltPort}
	for _, slot := range order {
		ip, port := pIP, pPort
		if slot&slotAltIP != 0 {
			ip = aIP
		}
		if slot&slotAltPort != 0 {
			port = aPort
		}
		socks[slot], err = listenUDP(netip.AddrPortFrom(ip, port), reuse && slot == slotPrimary)
		if err != nil {
			closeAll(socks[:], nil)
			return socks, err
		}
		got := socks[slot].LocalAddr().(*net.UDPAddr).AddrPort().Port()
		if slot&slotAltPort != 0 {
			aPort = got
		} else {
			pPort = got
		}
		if pPort == aPort {
			closeAll(socks[:], nil)
			return socks, fmt.Errorf("binding: kernel picked the same port %d twice", got)
		}
	}
	return socks, nil
}

func closeAll(socks []*net.UDPConn, conns []*conn) {
	for _, c := range socks {
		if c != nil {
			_ = c.Close()
		}
	}
	for _, c := range conns {
		_ = c.Close()
	}
}

// PacketConns returns the sockets on the primary address, for pion/turn's
// UDP listeners: Binding requests are answered inside ReadFrom and never
// returned; every other datagram comes out unchanged.
func (s *Server) PacketConns() []net.PacketConn {
	out := make([]net.PacketConn, len(s.primary))
	for i, c := range s.primary {
		out[i] = c
	}
	return out
}

// Addr is the bound primary address (with the port the kernel picked).
func (s *Server) Addr() netip.AddrPort { return s.addrs[slotPrimary] }

// OtherAddr is the bound alternate IP:port, or the zero value without RFC 5780.
func (s *Server) OtherAddr() netip.AddrPort { return s.addrs[slotAltBoth] }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Answered:  s.answered.Load(),
		Rejected:  s.rejected.Load(),
		Malformed: s.malformed.Load(),
		Dropped:   s.dropped.Load(),
		SendFails: s.sendFails.Load(),
	}
}

// Close closes every socket and waits for the RFC 5780 readers to stop.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for _, c := range s.primary {
			errs = append(errs, c.UDPConn.Close())
		}
		for _, c := range s.alt {
			if c != nil {
				errs = append(errs, c.Close())
			}
		}
		s.wg.Wait()
		for i, err := range errs {
			if errors.Is(err, net.ErrClosed) { // pion closed its listeners first
				errs[i] = nil
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// serveAlt reads one RFC 5780-only socket until it is closed. Only Binding
// requests are answered here; TURN on these addresses is not offered.
func (s *Server) serveAlt(slot int) {
	defer s.wg.Done()
	conn := s.alt[slot]
	r := newResponder()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP-induced ECONNREFUSED: the socket is still good
		}
		if !looksLikeBindingRequest(buf[:n]) {
			s.dropped.Add(1)
			continue
		}
		s.answer(r, slot, conn, buf[:n], from)
	}
}

// answer builds the response for one Binding request and sends it from the
// socket the request asked for.
func (s *Server) answer(r *responder, slot int, recv *net.UDPConn, pkt []byte, from netip.AddrPort) {
	out, ok := s.respond(r, slot, pkt, from)
	if !ok {
		s.malformed.Add(1)
		return
	}
	conn := recv
	if out != slot {
		conn = s.socket(out)
	}
	// Counted before the send, so that a client holding its answer sees it
	// counted.
	if r.res.Type.Class == classErrorResponse {
		s.rejected.Add(1)
	} else {
		s.answered.Add(1)
	}
	if _, err := conn.WriteToUDPAddrPort(r.res.Raw, r.to); err != nil {
		s.sendFails.Add(1)
	}
}

func (s *Server) socket(slot int) *net.UDPConn {
	if slot == slotPrimary {
		return s.primary[0].UDPConn
	}
	return s.alt[slot]
}

// conn is one primary socket as pion/turn sees it.
type conn struct {
	*net.UDPConn
	srv *Server

	mu sync.Mutex // guards r: pion reads each socket from one goroutine, but ReadFrom may be called concurrently
	r  *responder
}

// ReadFrom returns the next datagram that is not a Binding request; Binding
// requests are answered here, from this socket or, for CHANGE-REQUEST, from
// the alternate socket asked for.
func (c *conn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, from, err := c.UDPConn.ReadFromUDPAddrPort(p)
		if err != nil {
			return n, nil, err
		}
		if !looksLikeBindingRequest(p[:n]) {
			return n, net.UDPAddrFromAddrPort(from), nil
		}
		c.mu.Lock()
		if c.r == nil {
			c.r = newResponder()
		}
		c.srv.answer(c.r, slotPrimary, c.UDPConn, p[:n], from)
		c.mu.Unlock()
	}
}

// Close closes this socket only; Server.Close closes them all.
func (c *conn) Close() error { return c.UDPConn.Close() }
