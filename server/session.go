package server

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
)

// event is a generated notification type: every one carries a seq.
type event interface{ SetSeq(int64) }

// sessionState is where a session stands in its life (see registry).
type sessionState uint8

const (
	// sessionAttached: it has a connection.
	sessionAttached sessionState = iota
	// sessionDetached: its connection dropped; it keeps its seats for the
	// resume window, and notifications go to its replay buffer only.
	sessionDetached
	// sessionEnded: it is gone (closed, timed out, replaced); final.
	sessionEnded
)

// session is one authenticated client. Its room memberships are owned by the
// hub (and guarded by the hub's lock); its lifecycle fields by the
// registry's lock; its own lock orders notifications and guards the
// connection they go to.
type session struct {
	id       string
	peerID   string
	identity string
	log      *slog.Logger
	// held are the grants of the latest token (a resume may bring a fresh
	// one); grants() reads them against clock.
	held  atomic.Pointer[sessionGrants]
	clock func() time.Time

	// rooms is guarded by hub.mu.
	rooms map[string]*room

	// Guarded by registry.mu.
	remote      netip.Addr // the address of its latest connection
	resumeToken string
	state       sessionState
	window      *time.Timer // runs while detached
	detachedBy  *rpc.Conn   // the connection whose drop started the window
	refresh     *time.Timer // ice.serversRefreshed (negotiation.go)

	mu     sync.Mutex
	conn   *rpc.Conn // nil while detached or ended
	seq    int64
	replay replayBuffer
}

// grants is what the session may do now: its token's grants until that
// token expires, then none. A session outlives its token (its seats and
// relays go on), its rights do not: a resume with a fresh token renews
// them.
func (s *session) grants() Grants {
	g := s.held.Load()
	if g.expiredAt(s.clock()) {
		return noGrants
	}
	return g.Grants
}

// forbidden refuses what the session's grants do not allow: 403 with msg,
// or 401 when the grants lapsed with their token (a fresh one is the fix).
func (s *session) forbidden(msg string) error {
	if g := s.held.Load(); g.expiredAt(s.clock()) {
		return api.ErrUnauthenticated(fmt.Sprintf("%s: your token expired at %s; resume or reconnect with a fresh token", msg, g.expires.UTC().Format(time.RFC3339)))
	}
	return api.ErrForbidden(msg)
}

// expiredAt reports whether g lapsed by now; grants without a token never do.
func (g *sessionGrants) expiredAt(now time.Time) bool {
	return !g.expires.IsZero() && !now.Before(g.expires)
}

// Notify stamps the next seq on params (a generated event), keeps the frame
// in the replay buffer and queues it on the session's connection, if it has
// one. It never blocks: a client too slow to keep up is cut off by rpc.Conn
// (slow_consumer) instead of slowing the sender, and can resume from the
// buffer, so the error is only logged.
func (s *session) Notify(method string, params any) error {
	ev, ok := params.(event)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok {
		if s.conn != nil {
			s.logQueueFailure(method, s.conn.Notify(method, params))
		}
		return nil
	}
	ev.SetSeq(s.seq + 1)
	frame, err := rpc.EncodeNotification(method, params)
	if err != nil {
		s.log.Error("notification not encoded", "method", method, "err", err)
		return err
	}
	s.seq++
	s.pushLocked(method, frame)
	return nil
}

// notifyShared queues e, stamped with the next seq, as Notify would.
func (s *session) notifyShared(e *sharedEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.pushLocked(e.method, e.frame(s.seq))
}

// pushLocked records frame (with seq s.seq) for replay and sends it live.
func (s *session) pushLocked(method string, frame []byte) {
	s.replay.add(s.seq, frame)
	if s.conn != nil {
		s.logQueueFailure(method, s.conn.NotifyRaw(frame))
	}
}

func (s *session) logQueueFailure(method string, err error) {
	if err != nil {
		s.log.Debug("notification not queued", "method", method, "err", err)
	}
}

// currentConn is the session's connection, nil while detached.
func (s *session) currentConn() *rpc.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// The generated Send* functions deliver through sessions.
var _ api.Notifier = (*session)(nil)

// replayBuffer keeps a session's latest notification frames for resume,
// bounded by count and bytes and trimmed by the client's acks: frames[i]
// has seq first+i, and the last one, if any, is the session's latest seq.
type replayBuffer struct {
	frames    [][]byte
	first     int64
	bytes     int
	acked     int64 // the highest seq the client acknowledged (session.ack)
	maxFrames int
	maxBytes  int
}

func (b *replayBuffer) add(seq int64, frame []byte) {
	if len(b.frames) == 0 {
		b.first = seq
	}
	b.frames = append(b.frames, frame)
	b.bytes += len(frame)
	for len(b.frames) > 0 && (len(b.frames) > b.maxFrames || b.bytes > b.maxBytes) {
		b.dropFirst()
	}
}

// ack drops the frames up to seq: the client has processed them, so no
// resume of its will ask for them.
func (b *replayBuffer) ack(seq int64) {
	if seq <= b.acked {
		return
	}
	b.acked = seq
	for len(b.frames) > 0 && b.first <= seq {
		b.dropFirst()
	}
}

func (b *replayBuffer) dropFirst() {
	b.bytes -= len(b.frames[0])
	b.frames[0] = nil
	b.frames = b.frames[1:]
	b.first++
}

// since returns the frames with seq > lastSeq, and false if some of them
// are no longer buffered. latest is the session's current seq.
func (b *replayBuffer) since(lastSeq, latest int64) ([][]byte, bool) {
	if lastSeq >= latest {
		return nil, true
	}
	if len(b.frames) == 0 || lastSeq+1 < b.first {
		return nil, false
	}
	return b.frames[lastSeq+1-b.first:], true
}

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
