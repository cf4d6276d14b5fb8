// Package memstore is the signaling state of one node in memory: the
// Store of a server without Redis.
//
// It runs one transaction at a time under one mutex, so a transaction's
// reads and writes are the state (records are handed out as they are
// kept, and a change is seen at once), nothing conflicts, and Commit only
// unlocks. A connection's Deliver and Close run under the mutex (rpc.Conn
// queues without blocking); timers fire on their own goroutines and run
// their transactions like any other.
package memstore

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"

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
	rooms    map[string]*signal.Room
	calls    map[string]*signal.Call
	pairs    map[string]map[signal.PairKey]*pair // by room
	// index holds the indexes; entries what each record was last indexed
	// under (records change in place, so the old entries are kept here).
	index   map[ixKey]map[string]position
	entries map[recKey][]signal.Entry
	added   uint64 // orders an index's ties
	timers  map[timerKey]*timer
	events  eventNumbers
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

// session is a session's record with what only this node has of it: its
// log (epoch: the log's identity, the record's Epoch until LoseLog) and
// its connection.
type session struct {
	rec   *signal.Session
	log   replayLog
	epoch string
	conn  signal.Conn
}

type ixKey struct {
	ix  signal.Index
	key string
}

type position struct {
	score int64
	added uint64
}

type recKind uint8

const (
	kindSession recKind = iota
	kindRoom
	kindCall
)

type recKey struct {
	kind recKind
	id   string
}

type timerKey struct {
	kind signal.TimerKind
	id   string
}

type timer struct {
	t    signal.Timer
	stop func() bool
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
		rooms:    make(map[string]*signal.Room),
		calls:    make(map[string]*signal.Call),
		pairs:    make(map[string]map[signal.PairKey]*pair),
		index:    make(map[ixKey]map[string]position),
		entries:  make(map[recKey][]signal.Entry),
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
		s.log = replayLog{maxFrames: s.log.maxFrames, maxBytes: s.log.maxBytes}
		s.epoch = ""
	}
}

// reindex moves record id to the index entries it has now.
func (st *Store) reindex(kind recKind, id string, now []signal.Entry) {
	key := recKey{kind, id}
	old := st.entries[key]
	for _, e := range old {
		if !slices.Contains(now, e) {
			if m := st.index[ixKey{e.Index, e.Key}]; m != nil {
				delete(m, id)
				if len(m) == 0 {
					delete(st.index, ixKey{e.Index, e.Key})
				}
			}
		}
	}
	for _, e := range now {
		if !slices.Contains(old, e) {
			m := st.index[ixKey{e.Index, e.Key}]
			if m == nil {
				m = make(map[string]position)
				st.index[ixKey{e.Index, e.Key}] = m
			}
			st.added++
			m[id] = position{e.Score, st.added}
		}
	}
	if now == nil {
		delete(st.entries, key)
	} else {
		st.entries[key] = now
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

func (t *tx) Room(id string) *signal.Room { return t.st.rooms[id] }
func (t *tx) Call(id string) *signal.Call { return t.st.calls[id] }

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

func (t *tx) Index(ix signal.Index, key string) []string {
	m := t.st.index[ixKey{ix, key}]
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b string) int {
		pa, pb := m[a], m[b]
		return cmp.Or(cmp.Compare(pa.score, pb.score), cmp.Compare(pa.added, pb.added))
	})
	return out
}

func (t *tx) Len(ix signal.Index, key string) int { return len(t.st.index[ixKey{ix, key}]) }

func (t *tx) Log(id string) signal.LogInfo {
	s := t.st.sessions[id]
	if s == nil {
		return signal.LogInfo{}
	}
	b := &s.log
	return signal.LogInfo{Epoch: s.epoch, First: b.first, Last: b.last, Acked: b.acked, Len: b.n, Bytes: b.bytes}
}

func (t *tx) PutSession(rec *signal.Session) {
	st := t.st
	s := st.sessions[rec.ID]
	if s == nil {
		s = &session{log: replayLog{maxFrames: st.cfg.ReplayMessages, maxBytes: st.cfg.ReplayBytes}, epoch: rec.Epoch}
		st.sessions[rec.ID] = s
	}
	s.rec = rec
	st.reindex(kindSession, rec.ID, signal.SessionEntries(rec))
}

func (t *tx) DeleteSession(id string) {
	delete(t.st.sessions, id)
	t.st.reindex(kindSession, id, nil)
}

func (t *tx) PutRoom(r *signal.Room) {
	t.st.rooms[r.ID] = r
	t.st.reindex(kindRoom, r.ID, signal.RoomEntries(r))
}

func (t *tx) DeleteRoom(id string) {
	delete(t.st.rooms, id)
	t.st.reindex(kindRoom, id, nil)
}

func (t *tx) PutCall(c *signal.Call) {
	t.st.calls[c.ID] = c
	t.st.reindex(kindCall, c.ID, signal.CallEntries(c))
}

func (t *tx) DeleteCall(id string) {
	delete(t.st.calls, id)
	t.st.reindex(kindCall, id, nil)
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
	s.log.add(frame)
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

func (t *tx) SetTimer(tm signal.Timer) {
	st := t.st
	key := timerKey{tm.Kind, tm.ID}
	if old := st.timers[key]; old != nil {
		old.stop()
	}
	set := &timer{t: tm}
	set.stop = st.cfg.Clock.AfterFunc(tm.Due.Sub(st.cfg.Clock.Now()), func() { st.fire(tm) })
	st.timers[key] = set
}

func (t *tx) CancelTimer(kind signal.TimerKind, id string) {
	key := timerKey{kind, id}
	if tm := t.st.timers[key]; tm != nil {
		tm.stop()
		delete(t.st.timers, key)
	}
}

func (t *tx) Fired(tm signal.Timer) bool {
	key := timerKey{tm.Kind, tm.ID}
	set := t.st.timers[key]
	if set == nil || !set.t.Due.Equal(tm.Due) {
		return false
	}
	delete(t.st.timers, key)
	return true
}

func (t *tx) Err() error    { return nil }
func (t *tx) Commit() error { t.st.mu.Unlock(); return nil }
func (t *tx) Abort()        { t.st.mu.Unlock() }
