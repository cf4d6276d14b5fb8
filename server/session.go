package server

import (
	"bytes"
	"fmt"
	"log/slog"
	"strconv"
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
	s.logQueueFailure(method, s.conn.Notify(method, params))
	return nil
}

// notifyShared queues e, stamped with the next seq, as Notify would.
func (s *session) notifyShared(e *sharedEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.logQueueFailure(e.method, s.conn.NotifyRaw(e.frame(s.seq)))
}

func (s *session) logQueueFailure(method string, err error) {
	if err != nil {
		s.log.Debug("notification not queued", "method", method, "err", err)
	}
}

// The generated Send* functions deliver through sessions.
var _ api.Notifier = (*session)(nil)

// sharedEvent is a notification for several sessions, encoded once: their
// frames differ only in seq, which notifyShared splices in. Encoding it per
// session cost a full JSON encoding per recipient (for room.updated, of
// the whole member list).
type sharedEvent struct {
	method     string
	head, tail []byte // a session's frame is head, its seq, tail
}

// frame is the event's frame for a session at seq.
func (e *sharedEvent) frame(seq int64) []byte {
	var digits [20]byte
	n := strconv.AppendInt(digits[:0], seq, 10)
	frame := make([]byte, 0, len(e.head)+len(n)+len(e.tail))
	frame = append(frame, e.head...)
	frame = append(frame, n...)
	return append(frame, e.tail...)
}

// seqZero is where a generated event's frame, encoded with seq 0, has its
// seq: the generator makes seq every event's first member.
var seqZero = []byte(`,"params":{"seq":0`)

// Notify makes a sharedEvent an api.Notifier, so that the generated Send
// functions encode into it.
func (e *sharedEvent) Notify(method string, params any) error {
	ev, ok := params.(event)
	if !ok {
		return fmt.Errorf("%s: a shared notification must be an event", method)
	}
	ev.SetSeq(0)
	frame, err := rpc.EncodeNotification(method, params)
	if err != nil {
		return err
	}
	i := bytes.Index(frame, seqZero)
	if i < 0 {
		return fmt.Errorf("%s: seq is not the first member of its params", method)
	}
	end := i + len(seqZero)
	e.method, e.head, e.tail = method, frame[:end-1], frame[end:]
	return nil
}
