package server

import (
	"fmt"
	"time"

	"github.com/parley-rtc/parley/api"
)

// drainPoll is how often a draining node checks whether its last session
// has gone, so it can exit before the deadline.
const drainPoll = 100 * time.Millisecond

// Drain takes this node out of service gracefully: /readyz answers 503,
// session.connect refuses new sessions with 503 DRAINING (retryAfterMs:
// the time left) while resumes still work, TURN refuses new allocations and
// keeps the live ones, and every session gets session.draining once. Serve
// returns at the deadline, or as soon as no session is left, and shuts down
// what remains. A second call keeps the first deadline.
func (s *Server) Drain(timeout time.Duration) {
	deadline := s.now().Add(timeout)
	if !s.drainAt.CompareAndSwap(0, deadline.UnixMilli()) {
		return
	}
	// Under the registry's lock, so a session opened concurrently either
	// sees draining or is in the list that gets session.draining.
	s.reg.mu.Lock()
	s.draining.Store(true)
	sessions := make([]*session, 0, len(s.reg.byID))
	for _, sess := range s.reg.byID {
		sessions = append(sessions, sess)
	}
	s.reg.mu.Unlock()
	if t := s.TURN(); t != nil {
		t.Drain()
	}
	for _, sess := range sessions {
		_ = api.SendSessionDraining(sess, &api.SessionDrainingEvent{Deadline: deadline.UnixMilli(), RetryAfterMs: timeout.Milliseconds()})
	}
	s.log.Info("draining", "deadline", deadline, "sessions", len(sessions))
	go s.awaitDrained(deadline)
}

// awaitDrained closes s.drained at the deadline, or once no session is left.
func (s *Server) awaitDrained(deadline time.Time) {
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for s.now().Before(deadline) && s.reg.count() > 0 {
		<-tick.C
	}
	close(s.drained)
}

// drainDeadline is when a draining node exits; zero if it is not draining.
func (s *Server) drainDeadline() time.Time {
	if ms := s.drainAt.Load(); ms != 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}

// errDraining refuses a new session on a draining node.
func (s *Server) errDraining() error {
	e := api.ErrDraining(fmt.Sprintf("this node is draining until %s; connect again later", s.drainDeadline().UTC().Format(time.RFC3339)))
	e.Data.(*api.ErrorData).RetryAfterMs = max(time.Until(s.drainDeadline()).Milliseconds(), 0) + 1
	return e
}
