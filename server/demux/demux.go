// Package demux shares one TLS listening port between HTTPS (WebSockets
// included) and STUN/TURN, so that a client behind a firewall that lets
// only TCP 443 out reaches both signaling and a relay. It tells them apart
// by the first bytes of each connection:
//
//   - before TLS: a TLS record (a handshake, content type 22) versus a STUN
//     message (the two top bits zero, the magic cookie 0x2112A442 at bytes
//     4-8, RFC 8489 §5), so plain TURN over TCP works on the port too;
//   - after the TLS handshake: STUN versus HTTP, the same way; a client
//     that negotiated the ALPN protocol "stun.turn" (RFC 7443) is TURN
//     without looking, and one that negotiated "acme-tls/1" (RFC 8737) is
//     an ACME CA reading its challenge certificate, closed once it has.
//
// The sniff and the handshake share one deadline, so a client that sends
// nothing holds a goroutine for at most that long.
package demux

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// ALPN protocol names (RFC 7301 registry).
const (
	ALPNTURN = "stun.turn"  // RFC 7443
	ALPNACME = "acme-tls/1" // RFC 8737
	ALPNHTTP = "http/1.1"
)

// DefaultTimeout bounds the sniff when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Config says where each kind of connection goes.
type Config struct {
	// TLS terminates TLS. Its NextProtos should include ALPNHTTP, and
	// ALPNTURN when STUN is set (a TURN client offering only that would
	// fail the handshake otherwise).
	TLS *tls.Config
	// STUN takes every connection that carries STUN/TURN, plain TCP or
	// inside TLS (TLS ones report their state through ConnectionState);
	// nil: none, and such connections are closed.
	STUN func(net.Conn)
	// Timeout bounds the first bytes and the TLS handshake together
	// (DefaultTimeout if zero).
	Timeout time.Duration
	// Log gets a debug line for each connection dropped before it was
	// sorted out (nil: none).
	Log *slog.Logger
}

// Listen wraps ln: Accept returns the HTTPS connections, already past
// their handshake (TLS ones report their state through ConnectionState);
// STUN/TURN ones go to cfg.STUN. Close closes ln.
func Listen(ln net.Listener, cfg Config) net.Listener {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	l := &listener{Listener: ln, cfg: cfg, accepted: make(chan accepted), done: make(chan struct{}), sorting: make(map[net.Conn]struct{})}
	go l.acceptLoop()
	return l
}

type accepted struct {
	conn net.Conn
	err  error
}

type listener struct {
	net.Listener
	cfg      Config
	accepted chan accepted
	done     chan struct{}
	once     sync.Once
	closeErr error // the inner listener's Close, returned by every Close

	mu      sync.Mutex
	sorting map[net.Conn]struct{} // connections being sorted, closed by Close
}

// acceptLoop accepts connections and sorts each in a goroutine of its own,
// so one slow client delays nobody. An accept error goes to Accept's
// caller, which decides whether to go on (http.Server pauses after a
// temporary one, so a full file table is not retried in a busy loop).
func (l *listener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case l.accepted <- accepted{err: err}:
			case <-l.done:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go l.sort(c)
	}
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case a := <-l.accepted:
		return a.conn, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes the connections not sorted out yet.
// It may be called more than once, and at once from several goroutines
// (http.Server.Serve closes its listener when Accept fails, which closing
// it makes happen): each call returns the first one's result.
func (l *listener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.closeErr = l.Listener.Close()
		l.mu.Lock()
		for c := range l.sorting {
			_ = c.Close()
		}
		l.mu.Unlock()
	})
	return l.closeErr
}

// track lists c among the connections being sorted (false: the listener
// is closed), untrack takes it off.
func (l *listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
		return false
	default:
	}
	l.sorting[c] = struct{}{}
	return true
}

func (l *listener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.sorting, c)
	l.mu.Unlock()
}

// sort finds out what c carries and hands it on, or closes it.
func (l *listener) sort(c net.Conn) {
	if !l.track(c) {
		_ = c.Close()
		return
	}
	conn, stun, err := l.classify(c)
	l.untrack(c)
	if err != nil {
		l.cfg.Log.Debug("demux: connection dropped", "remote", c.RemoteAddr().String(), "err", err)
		_ = c.Close()
		return
	}
	if conn == nil {
		_ = c.Close()
		return
	}
	// Whoever reads it next sets its own deadlines.
	if err := conn.SetDeadline(time.Time{}); err != nil {
		_ = conn.Close()
		return
	}
	if stun {
		l.cfg.STUN(conn)
		return
	}
	select {
	case l.accepted <- accepted{conn: conn}:
	case <-l.done:
		_ = conn.Close()
	}
}

// classify reads c's first bytes (and its TLS handshake) within the
// timeout. It returns the connection to hand on, with the bytes it read
// put back, and whether it carries STUN; a nil connection with no error
// is one that has been answered and should be closed.
func (l *listener) classify(c net.Conn) (net.Conn, bool, error) {
	deadline := time.Now().Add(l.cfg.Timeout)
	if err := c.SetDeadline(deadline); err != nil {
		return nil, false, err
	}
	head, err := readHead(c)
	if err != nil {
		return nil, false, err
	}
	switch {
	case isSTUN(head):
		if l.cfg.STUN == nil {
			return nil, false, errors.New("STUN/TURN on a port that does not serve it")
		}
		return &replay{Conn: c, head: head}, true, nil
	case head[0] != recordTypeHandshake:
		if isHTTP(head) {
			// As net/http answers plain HTTP on an HTTPS port.
			_, _ = io.WriteString(c, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			return nil, false, nil
		}
		return nil, false, errors.New("neither TLS nor STUN")
	}
	tc := tls.Server(&replay{Conn: c, head: head}, l.cfg.TLS)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, false, err
	}
	switch tc.ConnectionState().NegotiatedProtocol {
	case ALPNACME:
		return nil, false, nil // the CA has seen the challenge certificate; it closes
	case ALPNTURN:
		return tc, l.cfg.STUN != nil, nil
	}
	inner, err := readHead(tc)
	if err != nil {
		return nil, false, err
	}
	secured := &secureReplay{replay{Conn: tc, head: inner}, tc}
	if isSTUN(inner) {
		if l.cfg.STUN == nil {
			return nil, false, errors.New("STUN/TURN over TLS on a port that does not serve it")
		}
		return secured, true, nil
	}
	return secured, false, nil
}

const (
	recordTypeHandshake = 0x16       // TLS ContentType handshake (RFC 8446 §5.1)
	stunMagicCookie     = 0x2112A442 // RFC 8489 §5
	stunHeadLen         = 8          // type, length, magic cookie
)

// readHead reads the first bytes of c: one when they cannot be STUN
// (a TLS record, HTTP), else enough to see the magic cookie.
func readHead(c io.Reader) ([]byte, error) {
	buf := make([]byte, stunHeadLen)
	n, err := io.ReadAtLeast(c, buf, 1)
	if err != nil {
		return nil, err
	}
	if buf[0]&0xC0 == 0 && n < stunHeadLen {
		m, err := io.ReadFull(c, buf[n:])
		n += m
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, err
		}
	}
	return buf[:n], nil
}

// isSTUN reports whether head starts a STUN message: the two top bits zero
// and the magic cookie at bytes 4-8 (RFC 8489 §5, §7.1).
func isSTUN(head []byte) bool {
	return len(head) >= stunHeadLen && head[0]&0xC0 == 0 && binary.BigEndian.Uint32(head[4:8]) == stunMagicCookie
}

// isHTTP reports whether head starts like an HTTP/1 request line.
func isHTTP(head []byte) bool {
	for _, m := range []string{"GET ", "POST", "HEAD", "PUT ", "DELE", "OPTI", "PATC", "CONN", "TRAC"} {
		if bytes.HasPrefix([]byte(m), head) || bytes.HasPrefix(head, []byte(m)) {
			return true
		}
	}
	return false
}

// replay is a connection whose first bytes were read already: Read returns
// them first.
type replay struct {
	net.Conn
	head []byte
}

func (r *replay) Read(p []byte) (int, error) {
	if len(r.head) > 0 {
		n := copy(p, r.head)
		if r.head = r.head[n:]; len(r.head) == 0 {
			r.head = nil
		}
		return n, nil
	}
	return r.Conn.Read(p)
}

// secureReplay is a replay of a TLS connection, which reports its state.
type secureReplay struct {
	replay
	tls *tls.Conn
}

// ConnectionState is the TLS connection's.
func (s *secureReplay) ConnectionState() tls.ConnectionState { return s.tls.ConnectionState() }
