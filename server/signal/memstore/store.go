// Package memstore is the signaling state of one node in memory: the
// Store of a server without Redis.
//
// It runs one transaction at a time under one mutex, so a transaction's
// reads and writes are the state (records are handed out as they are
// kept, and a change is seen at once), nothing conflicts, and Commit only
// unlocks. A connection's Deliver and Close run under the mutex (rpc.Conn
// queues without blocking); due timers fire on the clock's goroutine and run
// their transactions like any other.
package memstore

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/parley-rtc/parley/server/signal"
)

// Store keeps the state in maps.
type Store struct {
	cfg  signal.StoreConfig
	log  *slog.Logger
	fire func(signal.Timer)

	mu       sync.Mutex
	tx       tx // the one transaction, reused
	sessions map[string]*session
	rooms    map[string]*indexed[signal.Room]
	calls    map[string]*indexed[signal.Call]
	pairs    map[string]map[signal.PairKey]*pair // by room
	index    [signal.Indexes]index
	scratch  []signal.Entry // a record's entries, computed to compare with its last
	added    uint64         // orders an index's ties
	// timers are the timers set (timers.go); those not yet due wait in
	// the heap due, under one clock timer set for armedFor (stopClock
	// nil: none), armGen telling its settings apart.
	timers    map[timerKey]*timer
	due       timerHeap
	timerSeq  uint64
	armedFor  time.Time
	stopClock func() bool
	armGen    uint64
	events    eventNumbers
	// frame is the buffer notifications are encoded into, reused: the
	// log and the connection keep copies.
	frame []byte
}

// maxReusedFrame bounds the encoding buffer a store keeps between
// notifications: a rare large one (a long room.updated) is let go.
const maxReusedFrame = 64 << 10

// pair is a pair's record and its signaling counters.
type pair struct {
	rec    *signal.Pair
	counts signal.PairCounts
}

// indexed is a record with the index entries it was last indexed under
// (records change in place, so the old entries are kept), and when it was
// made, which orders the whole-set indexes' ties (see wholeSet).
type indexed[T any] struct {
	rec     *T
	entries []signal.Entry
	added   uint64
}

// session is a session's record with what only this node has of it: its
// log (whose identity is the record's Epoch, which never changes, or none
// once lost: LoseLog) and its connection.
type session struct {
	indexed[signal.Session]
	log     replayLog
	logLost bool
	conn    signal.Conn
}

// New makes an empty store.
func New(cfg signal.StoreConfig) *Store {
	if cfg.Clock == nil {
		cfg.Clock = signal.SystemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	st := &Store{
		cfg:      cfg,
		log:      cfg.Log,
		fire:     func(signal.Timer) {},
		sessions: make(map[string]*session),
		rooms:    make(map[string]*indexed[signal.Room]),
		calls:    make(map[string]*indexed[signal.Call]),
		pairs:    make(map[string]map[signal.PairKey]*pair),
		timers:   make(map[timerKey]*timer),
		events:   newEventNumbers(cfg.Clock.Now()),
	}
	st.tx.st = st
	return st
}

var _ signal.Store = (*Store)(nil)

// Begin locks the store for one transaction.
func (st *Store) Begin(context.Context) signal.Tx {
	st.mu.Lock()
	return &st.tx
}

// Timers sets what a due timer runs.
func (st *Store) Timers(fire func(signal.Timer)) { st.fire = fire }

// Conn is a session's connection.
func (st *Store) Conn(id string) signal.Conn {
	st.mu.Lock()
	defer st.mu.Unlock()
	if s := st.sessions[id]; s != nil {
		return s.conn
	}
	return nil
}

// Dataset is "": the state lives and dies with the node.
func (st *Store) Dataset() string { return "" }

// Pending lists the timers set (diagnostics and tests).
func (st *Store) Pending() []signal.Timer {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]signal.Timer, 0, len(st.timers))
	for _, tm := range st.timers {
		out = append(out, tm.t)
	}
	return out
}

// LoseLog drops a session's log and its identity (tests: what a Redis
// failover does to one).
func (st *Store) LoseLog(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if s := st.sessions[id]; s != nil {
		s.log = replayLog{}
		s.logLost = true
	}
}

// tx is the store's transaction: the store itself, locked.
type tx struct{ st *Store }

func (t *tx) Session(id string) *signal.Session {
	if s := t.st.sessions[id]; s != nil {
		return s.rec
	}
	return nil
}

func (t *tx) Room(id string) *signal.Room {
	if r := t.st.rooms[id]; r != nil {
		return r.rec
	}
	return nil
}

func (t *tx) Call(id string) *signal.Call {
	if c := t.st.calls[id]; c != nil {
		return c.rec
	}
	return nil
}

func (t *tx) Pair(room string, key signal.PairKey) *signal.Pair {
	if p := t.st.pairs[room][key]; p != nil {
		return p.rec
	}
	return nil
}

func (t *tx) Pairs(room string) []signal.PairKey {
	m := t.st.pairs[room]
	out := make([]signal.PairKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (t *tx) Index(ix signal.Index, key string) []string { return t.st.list(ix, key) }
func (t *tx) Len(ix signal.Index, key string) int        { return t.st.count(ix, key) }

func (t *tx) Log(id string) signal.LogInfo {
	s := t.st.sessions[id]
	if s == nil {
		return signal.LogInfo{}
	}
	b := &s.log
	epoch := s.rec.Epoch
	if s.logLost {
		epoch = ""
	}
	return signal.LogInfo{Epoch: epoch, First: b.first, Last: b.last, Acked: b.acked, Len: b.n, Bytes: b.bytes}
}

func (t *tx) PutSession(rec *signal.Session) {
	st := t.st
	s := st.sessions[rec.ID]
	if s == nil {
		s = &session{indexed: indexed[signal.Session]{added: st.nextAdded()}}
		st.sessions[rec.ID] = s
	}
	s.put(st, rec.ID, rec, signal.SessionEntries)
}

func (t *tx) DeleteSession(id string) {
	if s := t.st.sessions[id]; s != nil {
		t.st.reindex(id, &s.entries, nil)
		delete(t.st.sessions, id)
	}
}

func (t *tx) PutRoom(r *signal.Room) { putRecord(t.st, t.st.rooms, r.ID, r, signal.RoomEntries) }
func (t *tx) DeleteRoom(id string)   { deleteRecord(t.st, t.st.rooms, id) }
func (t *tx) PutCall(c *signal.Call) { putRecord(t.st, t.st.calls, c.ID, c, signal.CallEntries) }
func (t *tx) DeleteCall(id string)   { deleteRecord(t.st, t.st.calls, id) }

// putRecord keeps rec as record id of m and indexes it.
func putRecord[T any](st *Store, m map[string]*indexed[T], id string, rec *T, entries func([]signal.Entry, *T) []signal.Entry) {
	r := m[id]
	if r == nil {
		r = &indexed[T]{added: st.nextAdded()}
		m[id] = r
	}
	r.put(st, id, rec, entries)
}

// put makes rec the record and moves it to the index entries it has now.
func (r *indexed[T]) put(st *Store, id string, rec *T, entries func([]signal.Entry, *T) []signal.Entry) {
	r.rec = rec
	st.scratch = slices.DeleteFunc(entries(st.scratch[:0], rec), wholeSetEntry)
	st.reindex(id, &r.entries, st.scratch)
}

// deleteRecord drops record id of m and its index entries.
func deleteRecord[T any](st *Store, m map[string]*indexed[T], id string) {
	if r := m[id]; r != nil {
		st.reindex(id, &r.entries, nil)
		delete(m, id)
	}
}

func (t *tx) PutPair(room string, p *signal.Pair) {
	m := t.st.pairs[room]
	if m == nil {
		m = make(map[signal.PairKey]*pair)
		t.st.pairs[room] = m
	}
	if old := m[p.Key]; old != nil {
		old.rec = p
		return
	}
	m[p.Key] = &pair{rec: p}
}

func (t *tx) Count(room string, key signal.PairKey, side int, c signal.Counter, n int) {
	if p := t.st.pairs[room][key]; p != nil {
		p.counts[side][c] += int64(n)
	}
}

func (t *tx) Counts(room string, key signal.PairKey) signal.PairCounts {
	if p := t.st.pairs[room][key]; p != nil {
		return p.counts
	}
	return signal.PairCounts{}
}

func (t *tx) DeletePair(room string, key signal.PairKey) {
	if m := t.st.pairs[room]; m != nil {
		delete(m, key)
		if len(m) == 0 {
			delete(t.st.pairs, room)
		}
	}
}

// Notify encodes the event with the session's next seq, keeps the frame
// in the session's log and queues it on its connection, if it has one.
// It never blocks: a client too slow to keep up is cut off by its
// connection (slow_consumer) instead of slowing the sender, and can
// resume from the log, so a failure to queue is only logged.
func (t *tx) Notify(to string, n signal.Note) {
	s := t.st.sessions[to]
	if s == nil {
		return
	}
	n.Event.SetSeq(s.log.last + 1)
	frame, err := t.st.cfg.Encode(t.st.frame[:0], n.Method, n.Event)
	if err != nil {
		t.st.log.Error("notification not encoded", "session", to, "method", n.Method, "err", err)
		return
	}
	t.st.push(s, n.Method, frame)
}

// Broadcast encodes the event once, and splices each session's seq in.
func (t *tx) Broadcast(to []string, n signal.Note) {
	if len(to) < 2 {
		for _, id := range to {
			t.Notify(id, n)
		}
		return
	}
	shared, err := signal.EncodeShared(t.st.cfg.Encode, n)
	if err == nil {
		for _, id := range to {
			if s := t.st.sessions[id]; s != nil {
				t.st.push(s, n.Method, shared.AppendAt(t.st.frame[:0], s.log.last+1))
			}
		}
		return
	}
	t.st.log.Error("notification not encoded once for its recipients", "method", n.Method, "err", err)
	for _, id := range to {
		t.Notify(id, n)
	}
}

// push records frame (the session's next seq) and sends it live; both
// copy it, so its buffer is kept for the next frame.
func (st *Store) push(s *session, method string, frame []byte) {
	s.log.add(frame, st.cfg.ReplayMessages, st.cfg.ReplayBytes)
	if s.conn != nil {
		if err := s.conn.Deliver(frame); err != nil {
			st.log.Debug("notification not queued", "session", s.rec.ID, "method", method, "err", err)
		}
	}
	if cap(frame) <= maxReusedFrame {
		st.frame = frame[:0]
	}
}

func (t *tx) Ack(id string, seq int64) {
	if s := t.st.sessions[id]; s != nil {
		s.log.ack(seq)
	}
}

// Attach replays the log after seq after to conn, then makes it the
// session's: under the store's lock nothing newer can be queued between.
func (t *tx) Attach(id string, conn signal.Conn, after int64) {
	s := t.st.sessions[id]
	if s == nil {
		return
	}
	s.conn = conn
	conn.Attached() // before the replay, which a pre-auth queue could not hold
	frames, _ := s.log.since(after)
	for _, f := range frames {
		if err := conn.Deliver(f); err != nil {
			t.st.log.Debug("replay not queued", "session", id, "err", err)
			break
		}
	}
}

func (t *tx) Detach(id string) {
	if s := t.st.sessions[id]; s != nil {
		s.conn = nil
	}
}

func (t *tx) CloseConn(id string, reason signal.CloseReason, text string) {
	if s := t.st.sessions[id]; s != nil && s.conn != nil {
		conn := s.conn
		s.conn = nil
		conn.Close(reason, text)
	}
}

func (t *tx) SetTimer(tm signal.Timer)                     { t.st.setTimer(tm) }
func (t *tx) CancelTimer(kind signal.TimerKind, id string) { t.st.dropTimer(timerKey{kind, id}) }

func (t *tx) Fired(tm signal.Timer) bool {
	set := t.st.timers[timerKey{tm.Kind, tm.ID}]
	if set == nil || !set.t.Due.Equal(tm.Due) {
		return false
	}
	t.st.dropTimer(timerKey{tm.Kind, tm.ID})
	return true
}

func (t *tx) Err() error    { return nil }
func (t *tx) Commit() error { t.st.mu.Unlock(); return nil }
func (t *tx) Abort()        { t.st.mu.Unlock() }
