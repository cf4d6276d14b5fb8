package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// guardedListener is the HTTP server's listener. It closes at once, before
// net/http sees it, a connection that would put its source address over
// --max-conns-per-ip or take the process near its open-file limit; every
// connection it admits counts against its address until it closes,
// whether it stays HTTP or becomes a WebSocket. A plain listener let
// slow POSTs, unread responses and idle keep-alives hold descriptors
// outside any cap until accept failed with EMFILE for everyone.
type guardedListener struct {
	net.Listener
	s     *Server
	files *fileBudget
}

// Accept returns the next connection admitted. An accept that fails for
// want of descriptors is not returned: net/http would log it and retry in
// a loop; the pending connection is shed instead.
func (l *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				l.files.shed(l.Listener)
				l.s.refusedConns.files.Add(1)
				continue
			}
			return nil, err
		}
		if !l.files.admit() {
			l.s.refusedConns.files.Add(1)
			_ = c.Close()
			continue
		}
		ip := addrOf(c.RemoteAddr())
		if !l.s.acquireConn(ip) {
			l.s.refusedConns.perIP.Add(1)
			l.files.closed()
			_ = c.Close()
			l.s.log.Debug("connection refused: its address is at its cap", "remote", ip, "limit", l.s.cfg.Limits.MaxConnsPerIP)
			continue
		}
		return &admittedConn{Conn: c, l: l}, nil
	}
}

// admittedConn gives back its address's slot and its descriptor's place
// in the budget when it closes. It keeps no address nor closure of its
// own (32 B, not 96): its address is the socket's.
type admittedConn struct {
	net.Conn
	l        *guardedListener
	released atomic.Bool
}

// SyscallConn passes the socket's descriptor through: admittedConn adds
// nothing to reads and writes, so rpc.Conn may poll and write it directly.
func (c *admittedConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}

func (c *admittedConn) Close() error {
	ip := addrOf(c.RemoteAddr())
	err := c.Conn.Close()
	if c.released.CompareAndSwap(false, true) {
		c.l.s.releaseConn(ip)
		c.l.files.closed()
	}
	return err
}

func addrOf(a net.Addr) netip.Addr {
	if tcp, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(tcp.IP)
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// acquireConn counts a connection against its source address's cap, which
// the address's detached sessions count against too: when they fill it,
// the oldest of them ends to make room (see signal.Core.EndOldestDetached).
func (s *Server) acquireConn(ip netip.Addr) bool {
	limit := s.cfg.Limits.MaxConnsPerIP
	s.connsMu.Lock()
	open := s.perIP[ip]
	if open >= limit {
		s.connsMu.Unlock()
		return false
	}
	s.perIP[ip]++
	s.connsMu.Unlock()
	// In a cluster the count is Redis': a Redis that does not answer must
	// not hold up accepting (the count is then 0). The memory store
	// answers at once: no deadline's timer and context for it.
	ctx := context.Background()
	if s.cfg.clustered() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, detachedCountTimeout)
		defer cancel()
	}
	if open+s.core.DetachedFrom(ctx, ip.String()) >= limit {
		s.core.EndOldestDetached(ctx, ip.String())
	}
	return true
}

// detachedCountTimeout bounds the read of an address's detached sessions
// when a connection is accepted.
const detachedCountTimeout = 250 * time.Millisecond

func (s *Server) releaseConn(ip netip.Addr) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
}

// fileBudget says whether the process may take one more descriptor for a
// connection: the descriptors open (counted at most every
// fileRecountEvery, estimated in between from the connections admitted
// and closed since) must stay under the soft RLIMIT_NOFILE less a reserve
// for what else the process opens (TURN sockets, the metrics listener,
// files). Near the limit it refuses, logging once until it admits again.
type fileBudget struct {
	limit int // the soft limit less the reserve; 0: unknown, no check
	log   *slog.Logger

	mu        sync.Mutex
	counted   int       // open at the last count
	countedAt time.Time // when
	since     int       // admitted minus closed since the last count
	refusing  bool      // the last decision was a refusal

	spare *os.File // given up by shed to accept (and close) one connection
}

// fileRecountEvery bounds how often /proc/self/fd is read: near the limit
// every decision wants an exact count, and a flood must not turn that into
// a directory read per connection.
const fileRecountEvery = 50 * time.Millisecond

// newFileBudget reads the process's open-file limit; without one (not
// Linux) it admits everything.
func newFileBudget(log *slog.Logger) *fileBudget {
	b := &fileBudget{log: log}
	if soft := openFileLimit(); soft > 0 {
		b.limit = soft - fileReserve(soft)
		b.spare, _ = os.Open(os.DevNull)
	}
	return b
}

// fileReserve is what the budget keeps free of connections: 5% of the
// limit, at least 16.
func fileReserve(limit int) int {
	return max(16, limit/20)
}

// admit decides for one more connection and, if it may open, counts it.
func (b *fileBudget) admit() bool {
	if b.limit == 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	stale := now.Sub(b.countedAt) > time.Second
	if (stale || b.counted+b.since+1 >= b.limit) && now.Sub(b.countedAt) >= fileRecountEvery {
		if n := openFiles(); n > 0 {
			b.counted, b.countedAt, b.since = n, now, 0
		}
	}
	ok := b.counted+b.since+1 < b.limit
	switch {
	case !ok && !b.refusing:
		b.log.Warn("near the open-file limit: refusing new connections until some close",
			"open", b.counted+b.since, "limit", b.limit+fileReserve(b.limit), "reserved", fileReserve(b.limit))
	case ok && b.refusing:
		b.log.Info("accepting new connections again", "open", b.counted+b.since)
	}
	b.refusing = !ok
	if ok {
		b.since++
	}
	return ok
}

// closed counts a connection admitted by admit that closed.
func (b *fileBudget) closed() {
	if b.limit == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.since--
}

// shed answers an accept that failed for want of descriptors: the spare
// descriptor is given up so that the pending connection can be accepted
// and closed, instead of staying in the backlog and failing every accept.
// Without a spare it waits a little, so that a full process does not spin.
func (b *fileBudget) shed(ln net.Listener) {
	b.mu.Lock()
	if !b.refusing {
		b.log.Warn("at the open-file limit: shedding new connections until some close")
		b.refusing = true
	}
	spare := b.spare
	b.spare = nil
	b.mu.Unlock()
	if spare == nil {
		time.Sleep(10 * time.Millisecond)
	} else {
		_ = spare.Close()
		if c, err := ln.Accept(); err == nil {
			_ = c.Close()
		}
	}
	spare, _ = os.Open(os.DevNull)
	b.mu.Lock()
	b.spare = spare
	b.mu.Unlock()
}

// connRefusals count the connections guardedListener closed at accept,
// by reason, for /metrics.
type connRefusals struct {
	perIP atomic.Uint64
	files atomic.Uint64
}
