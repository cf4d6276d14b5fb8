package turn

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/stun/v4"
)

const (
	// firstFrameTimeout bounds a TCP/TLS connection that never sends a
	// request (including the TLS handshake): it holds a goroutine.
	firstFrameTimeout = 10 * time.Second
	// idleTimeout closes a TCP/TLS connection silent for longer than any
	// allocation can live without a Refresh (pion caps lifetimes at 1h).
	idleTimeout = time.Hour + time.Minute
)

// inspect looks at one inbound STUN/TURN message before pion does and
// reports whether pion should see it. It answers itself where pion would
// answer wrongly or too late:
//
//   - CreatePermission, ChannelBind and Connect naming a peer the relay policy
//     refuses get 403 Forbidden (RFC 8656 §9.1, §12.1: "the server MAY ...
//     reject the request with a 403"), for every XOR-PEER-ADDRESS in the
//     request. pion would grant the earlier peers of a multi-peer
//     CreatePermission before refusing a later one, and answers a refused
//     ChannelBind with 401.
//   - CreatePermission and ChannelBind that would take an allocation past its
//     permission cap get 508 Insufficient Capacity (RFC 8656 §9.1).
//   - Send indications to a refused peer are dropped (indications have no
//     answer).
//   - Allocate while draining gets 508 Insufficient Capacity (RFC 8656 §7.2:
//     the server cannot allocate now), so the client tries another server.
//
// The error responses carry MESSAGE-INTEGRITY, so only correctly signed
// requests are answered here; anything else goes on to pion, which answers
// 401 without creating state. With several secrets, inspect also records
// which secret signed each request (see authenticator).
func (s *Server) inspect(pkt []byte, src, local net.Addr, send func([]byte)) bool {
	if !stun.IsMessage(pkt) {
		return true // ChannelData, or garbage pion will drop
	}
	var t stun.MessageType
	t.ReadValue(binary.BigEndian.Uint16(pkt[0:2]))
	isRequest := t.Class == stun.ClassRequest
	namesPeers := isRequest && (t.Method == stun.MethodCreatePermission || t.Method == stun.MethodChannelBind || t.Method == stun.MethodConnect) ||
		t.Class == stun.ClassIndication && t.Method == stun.MethodSend
	needsSecret := isRequest && t.Method != stun.MethodBinding && len(s.creds.secrets) > 1
	drained := isRequest && t.Method == stun.MethodAllocate && s.draining.Load()
	if !namesPeers && !needsSecret && !drained {
		return true
	}
	m := &stun.Message{Raw: append([]byte(nil), pkt...)}
	if m.Decode() != nil {
		return true
	}
	var key []byte
	signed := false
	if isRequest && m.Contains(stun.AttrMessageIntegrity) {
		key, signed = s.auth.verify(m)
	}
	if !namesPeers && !drained {
		return true
	}
	// refuse answers a signed request with code; an unsigned one goes on to
	// pion, which answers 401; a Send indication is dropped.
	refuse := func(code stun.ErrorCode) bool {
		switch {
		case !isRequest:
			return false
		case !signed:
			return true
		}
		send(errorResponse(m, code, key))
		return false
	}
	if drained {
		return refuse(stun.CodeInsufficientCapacity)
	}
	peers, ok := peerAddrs(m)
	if !ok {
		// pion reads only the first XOR-PEER-ADDRESS of a ChannelBind,
		// Connect or Send, and grants a CreatePermission's peers up to a
		// malformed one: a bad peer must not carry good ones past the policy
		// and the cap unchecked.
		return refuse(stun.CodeBadRequest)
	}
	for _, p := range peers {
		if s.peerAllowed(p) {
			continue
		}
		s.stats.deniedPeers.Add(1)
		s.log.Debug("turn: peer refused by relay policy", "peer", p.Addr(), "method", t.Method.String())
		if signed { // a request pion will not see: record it for its identity
			s.recordSigned(m, EventPeerDenied, netip.AddrPortFrom(p.Addr().Unmap(), p.Port()))
		}
		return refuse(stun.CodeForbidden)
	}
	if t.Method == stun.MethodCreatePermission || t.Method == stun.MethodChannelBind {
		ips := make([]netip.Addr, len(peers))
		for i, p := range peers {
			ips[i] = p.Addr()
		}
		if !s.perms.fits(tupleOf(src, local), ips) {
			s.stats.quotaHits.Add(1)
			if signed {
				s.recordSigned(m, EventPermissionQuota, netip.AddrPort{})
			}
			return refuse(stun.CodeInsufficientCapacity)
		}
	}
	return true
}

// recordSigned records kind for the identity of m, a request whose
// MESSAGE-INTEGRITY verified (so its USERNAME is its sender's).
func (s *Server) recordSigned(m *stun.Message, kind EventKind, addr netip.AddrPort) {
	var user stun.Username
	if user.GetFrom(m) == nil {
		s.recordUsername(user.String(), kind, addr)
	}
}

// peerAddrs decodes every XOR-PEER-ADDRESS of m; false if one is malformed.
// A request without any passes (pion answers 400).
func peerAddrs(m *stun.Message) ([]netip.AddrPort, bool) {
	var out []netip.AddrPort
	err := m.ForEach(stun.AttrXORPeerAddress, func(m *stun.Message) error {
		var a stun.XORMappedAddress
		if err := a.GetFromAs(m, stun.AttrXORPeerAddress); err != nil {
			return err
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok || a.Port < 0 || a.Port > 0xFFFF {
			return errors.New("bad peer address")
		}
		out = append(out, netip.AddrPortFrom(ip, uint16(a.Port)))
		return nil
	})
	return out, err == nil
}

// errorResponse builds a signed error response to request m.
func errorResponse(m *stun.Message, code stun.ErrorCode, key []byte) []byte {
	res, err := stun.Build(
		stun.NewTransactionIDSetter(m.TransactionID),
		stun.NewType(m.Type.Method, stun.ClassErrorResponse),
		code,
		stun.MessageIntegrity(key),
	)
	if err != nil { // only a setter failing to encode, which these do not
		panic(fmt.Sprintf("turn: build %d response: %v", code, err))
	}
	return res.Raw
}

// suppress401 reports whether an outbound 401 to dst is over its source IP's
// rate and should not be sent.
func (s *Server) suppress401(p []byte, dst net.Addr) bool {
	if !stun.IsMessage(p) {
		return false
	}
	var t stun.MessageType
	t.ReadValue(binary.BigEndian.Uint16(p[0:2]))
	if t.Class != stun.ClassErrorResponse {
		return false
	}
	m := &stun.Message{Raw: append([]byte(nil), p...)}
	var code stun.ErrorCodeAttribute
	if m.Decode() != nil || code.GetFrom(m) != nil || code.Code != stun.CodeUnauthorized {
		return false
	}
	if s.unauthorized.allow(addrPortOf(dst).Addr(), time.Now()) {
		return false
	}
	s.stats.unauthorized.Add(1)
	return true
}

// guardedPacketConn is a UDP listener socket as pion reads it.
type guardedPacketConn struct {
	net.PacketConn
	srv *Server
}

func (c *guardedPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		if c.srv.inspect(p[:n], addr, c.LocalAddr(), func(b []byte) { _, _ = c.PacketConn.WriteTo(b, addr) }) {
			return n, addr, nil
		}
	}
}

func (c *guardedPacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.srv.suppress401(p, addr) {
		return len(p), nil
	}
	return c.PacketConn.WriteTo(p, addr)
}

// guardedListener hands pion TCP/TLS connections whose frames pass inspect.
type guardedListener struct {
	net.Listener
	srv *Server
}

// Accept returns the next connection within the per-IP cap; one over it is
// closed here and counted, and Accept goes on to the next.
func (l *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := addrPortOf(c.RemoteAddr())
		if !l.srv.streams.acquire(src.Addr()) {
			l.srv.stats.streamsRefused.Add(1)
			_ = c.Close()
			continue
		}
		l.srv.streamClients.Store(src, streamTransport(c))
		return &guardedConn{Conn: c, srv: l.srv, r: bufio.NewReader(c), src: src}, nil
	}
}

// streamTransport names a stream's transport for the admin listing: tls
// for a TLS connection (*tls.Conn, or a wrapper that reports its TLS
// state), tcp otherwise.
func streamTransport(c net.Conn) string {
	if _, ok := c.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return "tls"
	}
	return "tcp"
}

// perIPCount counts open streams per client address against max.
type perIPCount struct {
	max int
	mu  sync.Mutex
	n   map[netip.Addr]int
}

func (p *perIPCount) acquire(ip netip.Addr) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[ip] >= p.max {
		return false
	}
	p.n[ip]++
	return true
}

func (p *perIPCount) release(ip netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[ip]--; p.n[ip] <= 0 {
		delete(p.n, ip)
	}
}

// guardedConn reframes the stream (RFC 8656 §12.5: STUN messages and padded
// ChannelData back to back) so each frame can be inspected, and returns the
// admitted bytes to pion's own framing reader unchanged.
type guardedConn struct {
	net.Conn
	srv     *Server
	r       *bufio.Reader
	started bool
	pending []byte
	src     netip.AddrPort // counted in srv.streams and listed in srv.streamClients until Close

	closeOnce sync.Once
	closeErr  error
}

// Close closes the connection and frees its place under the per-IP cap.
func (c *guardedConn) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.Conn.Close()
		c.srv.streams.release(c.src.Addr())
		c.srv.streamClients.Delete(c.src)
	})
	return c.closeErr
}

func (c *guardedConn) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		frame, err := c.readFrame()
		if err != nil {
			return 0, err
		}
		if c.srv.inspect(frame, c.RemoteAddr(), c.LocalAddr(), func(b []byte) { _, _ = c.Conn.Write(b) }) {
			c.pending = frame
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *guardedConn) readFrame() ([]byte, error) {
	timeout := idleTimeout
	if !c.started {
		timeout, c.started = firstFrameTimeout, true
	}
	if err := c.Conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, fmt.Errorf("turn: set read deadline: %w", err)
	}
	hdr, err := c.r.Peek(4)
	if err != nil {
		return nil, err
	}
	length := int(binary.BigEndian.Uint16(hdr[2:4]))
	var size int
	switch {
	case hdr[0]&0xC0 == 0: // STUN: the two top bits are zero (RFC 8489 §5)
		size = 20 + length
	case hdr[0]&0xC0 == 0x40: // ChannelData 0x4000-0x7FFF, padded to 4 over streams
		size = 4 + (length+3)&^3
	default:
		return nil, errors.New("turn: stream carries neither STUN nor ChannelData")
	}
	frame := make([]byte, size)
	if _, err := io.ReadFull(c.r, frame); err != nil {
		return nil, err
	}
	return frame, nil
}

func (c *guardedConn) Write(p []byte) (int, error) {
	if c.srv.suppress401(p, c.RemoteAddr()) {
		return len(p), nil
	}
	return c.Conn.Write(p)
}
