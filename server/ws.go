package server

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/parley-rtc/parley/rpc"
)

// serveWS upgrades GET /rpc and starts the connection. Nothing waits on
// it: returning from the handler lets net/http drop the request, its
// headers and 8 KiB of bufio buffers (half an idle connection's heap,
// measured), and an idle connection has no goroutine (rpc.Conn.Start).
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if s.closing.Load() {
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	if !s.originAllowed(r) {
		s.refuseOrigin(w, r)
		return
	}
	remote := remoteAddr(r)
	conn, err := s.upgrader.Upgrade(w, r)
	if err != nil {
		s.log.Debug("websocket upgrade failed", "remote", remote, "err", err)
		return // the upgrader has answered
	}
	l := s.cfg.Limits
	st := &connState{conn: conn, limiter: fullBucket(bucketClock(), l.RateBurst)}
	if !s.track(st) {
		// Start after Close runs the close handshake and releases the socket.
		conn.Close(rpc.CloseDraining, "server is shutting down")
		conn.Start(context.Background(), s.mux)
		return
	}
	conn.Start(st, s.mux)
}

// connConfig bounds the WebSocket connections by the server's limits.
func (s *Server) connConfig() rpc.ConnConfig {
	l := s.cfg.Limits
	return rpc.ConnConfig{
		ReadLimit:        l.MaxFrameBytes,
		MaxQueueMessages: l.QueueMessages,
		MaxQueueBytes:    l.QueueBytes,
		WriteTimeout:     l.WriteTimeout,
		PingInterval:     l.PingInterval,
		PongTimeout:      l.PongTimeout,
		PreAuth: rpc.PreAuthLimits{
			QueueBytes:  l.PreAuthQueueBytes,
			MaxBatch:    l.PreAuthMaxBatch,
			Timeout:     l.AuthTimeout,
			TimeoutText: fmt.Sprintf("no session.connect within %s", l.AuthTimeout),
		},
		Logger:  s.log,
		OnClose: s.connClosed,
		Stats:   &s.rpcStats,
	}
}

// connClosed ends what a connection held: its session detaches (or ends)
// and it no longer counts for shutdown.
func (s *Server) connClosed(conn *rpc.Conn, reason rpc.CloseReason) {
	s.connsMu.Lock()
	st, tracked := s.conns[conn]
	s.connsMu.Unlock()
	if !tracked {
		return // refused while draining
	}
	if sess := st.sess.Load(); sess != nil {
		s.connEnded(sess, reason)
	}
	s.untrack(conn)
}

// track registers a live connection for shutdown; false once closing.
func (s *Server) track(st *connState) bool {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[st.conn] = st
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *rpc.Conn) {
	s.connsMu.Lock()
	delete(s.conns, c)
	s.connsMu.Unlock()
	s.wg.Done()
}

// remoteAddr is the peer address of the TCP connection. Proxy headers are
// not trusted: a client could forge them to dodge the per-IP cap.
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
