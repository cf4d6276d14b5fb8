package server

import (
	"log/slog"
	"sync"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
)

// event is a generated notification type: every one carries a seq.
type event interface{ SetSeq(int64) }

// session is one authenticated client. Its room memberships are owned by the
// hub (and guarded by the hub's lock); its own lock only orders notifications.
type session struct {
	id          string
	peerID      string
	identity    string
	resumeToken string
	grants      Grants
	conn        *rpc.Conn
	log         *slog.Logger

	// rooms is guarded by hub.mu.
	rooms map[string]*room

	mu  sync.Mutex
	seq int64
}

// Notify stamps the next seq on params (a generated event) and queues it on
// the session's connection. It never blocks: a client too slow to keep up is
// cut off by rpc.Conn (slow_consumer) instead of slowing the sender, so the
// error is only logged.
func (s *session) Notify(method string, params any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev, ok := params.(event); ok {
		s.seq++
		ev.SetSeq(s.seq)
	}
	if err := s.conn.Notify(method, params); err != nil {
		s.log.Debug("notification not queued", "method", method, "err", err)
	}
	return nil
}

// The generated Send* functions deliver through sessions.
var _ api.Notifier = (*session)(nil)
