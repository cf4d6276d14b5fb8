package server

import (
	"context"
	"time"

	"github.com/parley-rtc/parley/rpc"
)

// drainPoll is how often a draining node checks whether its last session
// has gone, so it can exit before the deadline.
const drainPoll = 100 * time.Millisecond

// Drain takes this node out of service gracefully: /readyz answers 503,
// session.connect refuses new sessions with 503 DRAINING (retryAfterMs:
// the time left) while resumes still work, TURN refuses new allocations and
// keeps the live ones, and every session gets session.draining once. Serve
// returns at the deadline, or as soon as no session is left, and shuts down
// what remains. A second call keeps the first deadline. A node of a
// cluster migrates its sessions instead: session.draining says
// resumeElsewhere, their connections close with 4307 at once, and they
// resume on other nodes (resumes here are refused).
func (s *Server) Drain(timeout time.Duration) { s.drain(timeout, nil) }

// drain is Drain; asker is the connection that asked (admin.node.drain over
// WebSocket), which a cluster node migrates only after its answer.
func (s *Server) drain(timeout time.Duration, asker *rpc.Conn) {
	deadline := s.now().Add(timeout)
	if !s.drainAt.CompareAndSwap(0, deadline.UnixMilli()) {
		return
	}
	s.draining.Store(true)
	// The core refuses new sessions from now on, and tells every session
	// it holds, so one opened concurrently either was refused or is told.
	sessions, err := s.core.Drain(context.Background(), deadline, timeout)
	if err != nil {
		s.log.Error("draining: sessions not told", "err", err)
	}
	if t := s.TURN(); t != nil {
		t.Drain()
	}
	if s.redis != nil {
		s.migrate(asker)
	}
	s.log.Info("draining", "deadline", deadline, "sessions", sessions, "migrate", s.redis != nil)
	go s.awaitDrained(deadline)
}

// awaitDrained closes s.drained at the deadline, or once no session is
// left (in a cluster: none attached here; the dropped ones resume on
// other nodes).
func (s *Server) awaitDrained(deadline time.Time) {
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for s.now().Before(deadline) && s.sessionsLeft() > 0 {
		<-tick.C
	}
	close(s.drained)
}

func (s *Server) sessionsLeft() int {
	if s.redis != nil {
		return s.core.Count(context.Background()).Attached
	}
	return s.core.Sessions(context.Background())
}

// drainDeadline is when a draining node exits; zero if it is not draining.
func (s *Server) drainDeadline() time.Time {
	if ms := s.drainAt.Load(); ms != 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}
