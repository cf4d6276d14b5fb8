package server

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/parley-rtc/parley/rpc"
)

// serveWS upgrades GET /rpc and hands the connection to its own goroutine.
// Returning from the handler matters for memory: until it does, net/http
// keeps the request, its headers and 8 KiB of bufio buffers alive for the
// whole life of the connection (measured: half an idle connection's heap).
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
	ws, err := s.upgrader.Upgrade(w, r)
	if err != nil {
		s.log.Debug("websocket upgrade failed", "remote", remote, "err", err)
		return // the upgrader has answered
	}
	go s.serveConn(ws, remote)
}

// serveConn runs one upgraded connection until it closes.
func (s *Server) serveConn(ws *websocket.Conn, remote netip.Addr) {
	l := s.cfg.Limits
	conn := rpc.NewConn(ws, rpc.ConnConfig{
		ReadLimit:        l.MaxFrameBytes,
		MaxQueueMessages: l.QueueMessages,
		MaxQueueBytes:    l.QueueBytes,
		WriteTimeout:     l.WriteTimeout,
		PingInterval:     l.PingInterval,
		PongTimeout:      l.PongTimeout,
		PreAuth:          rpc.PreAuthLimits{QueueBytes: l.PreAuthQueueBytes, MaxBatch: l.PreAuthMaxBatch},
		Logger:           s.log,
		Stats:            &s.rpcStats,
	})
	if !s.track(conn) {
		// Serve after Close runs the close handshake and releases the socket.
		conn.Close(rpc.CloseDraining, "server is shutting down")
		conn.Serve(context.Background(), s.mux)
		return
	}
	defer s.untrack(conn)

	st := &connState{conn: conn, remote: remote, limiter: rate.NewLimiter(rate.Limit(l.RatePerSecond), l.RateBurst)}
	authTimer := time.AfterFunc(l.AuthTimeout, func() {
		if st.sess.Load() == nil {
			conn.Close(rpc.CloseAuthTimeout, fmt.Sprintf("no session.connect within %s", l.AuthTimeout))
		}
	})
	reason := conn.Serve(context.WithValue(context.Background(), connStateKey{}, st), s.mux)
	authTimer.Stop()
	if sess := st.sess.Load(); sess != nil {
		s.connEnded(sess, reason)
	}
}

// track registers a live connection for shutdown; false once closing.
func (s *Server) track(c *rpc.Conn) bool {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
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
