package redisstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/redis/go-redis/v9"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/server/signal"
)

// The keys (DESIGN.md): records are hashes s:{id}, r:{id}, c:{id},
// p:{room}:{lo}:{hi} with their version v and the record r; a room's pairs
// are the set pairs:{room}; an index is the sorted set ix:{name}:{key}
// with its version in the hash ixv; a session's log is the stream
// log:{id} and its description the hash logm:{id}.

type recKind uint8

const (
	kindSession recKind = iota
	kindRoom
	kindCall
	kindPair
)

// record is one record as the transaction holds it.
type record struct {
	kind recKind
	key  string // without the prefix
	id   string // sessions, rooms, calls
	room string // pairs
	pair signal.PairKey
	// v is the version as read, "" if it did not exist; read: it was
	// read, so Commit checks v.
	v    string
	read bool
	val  any // *signal.Session, …; nil: none (absent or deleted)
	// dirty: written (put or deleted) in this transaction; cur: its index
	// entries as last written (as read until then).
	dirty bool
	cur   []signal.Entry
	// A session as read: the node of its connection, and which one.
	node string
	gen  uint64
}

// ixKey names one key of an index.
type ixKey struct {
	ix  signal.Index
	key string
}

func (k ixKey) redisKey() string { return "ix:" + k.ix.String() + ":" + k.key }
func (k ixKey) field() string    { return k.ix.String() + ":" + k.key }

// checked reports whether reads of an index are version-checked. The
// global ones are not: every session or room created would conflict with
// every other, so their caps (MaxRooms) are approximate across nodes.
func checked(ix signal.Index) bool {
	return ix != signal.SessionsAll && ix != signal.SessionsOfNode && ix != signal.RoomsAll
}

// member is an index entry as Redis keeps it: scores in microseconds, so
// they fit a double exactly (nanoseconds since 1970 do not).
type member struct {
	id    string
	score int64
}

func score(ns int64) int64 { return ns / 1000 }

// ixRead is an index as read: its members by score (full), or only how
// many (ZCARD), and its version.
type ixRead struct {
	members []member
	v       string
	count   int
	full    bool
}

// change is an index entry written in the transaction: present with a
// score, or removed.
type change struct {
	score   int64
	present bool
}

type note struct {
	frame signal.SharedFrame
	to    []string
}

type attachReq struct {
	id    string
	conn  signal.Conn
	after int64
}

type closeReq struct {
	id     string
	node   string
	gen    uint64
	reason signal.CloseReason
	text   string
	local  *local // the connection on this node as the transaction found it
}

type ackReq struct {
	id  string
	seq int64
}

type timerOp struct {
	at  time.Time // when it falls due (Redis keeps it to the ms)
	set bool
}

// tx is one transaction. Reads go to Redis once per record or index
// (later reads hand out what the first returned), writes wait for Commit.
type tx struct {
	st  *Store
	ctx context.Context
	err error

	recs    map[string]*record
	ixs     map[ixKey]*ixRead
	changes map[ixKey]map[string]change
	pairs   map[string][]signal.PairKey // a room's pairs as read
	pairOps map[string]map[signal.PairKey]bool
	deleted map[string]bool // sessions deleted so far (Notify skips them)
	logs    map[string]signal.LogInfo

	notes    []note
	acks     []ackReq
	attaches []attachReq
	detaches []string
	closes   []closeReq
	timers   map[string]timerOp
	fired    map[string]int64 // Fired: timer member → due (ms) checked
	events   []signal.AppEvent
	counts   []countOp
}

// countOp adds n to a counter (field) of a pair's hash.
type countOp struct {
	key, field string
	n          int
}

var txs = sync.Pool{New: func() any {
	return &tx{
		recs:    make(map[string]*record),
		ixs:     make(map[ixKey]*ixRead),
		changes: make(map[ixKey]map[string]change),
		pairs:   make(map[string][]signal.PairKey),
		pairOps: make(map[string]map[signal.PairKey]bool),
		deleted: make(map[string]bool),
		logs:    make(map[string]signal.LogInfo),
		timers:  make(map[string]timerOp),
		fired:   make(map[string]int64),
	}
}}

// Begin starts a transaction. While this node's lease has lapsed (Redis
// away), it fails at once: the request answers 503 instead of waiting for
// Redis' timeouts.
func (st *Store) Begin(ctx context.Context) signal.Tx {
	t := txs.Get().(*tx)
	t.st, t.ctx = st, ctx
	if !st.leaseLive() {
		t.err = ErrLeaseLost
	}
	return t
}

// release returns the transaction to the pool.
func (t *tx) release() {
	clear(t.recs)
	clear(t.ixs)
	clear(t.changes)
	clear(t.pairs)
	clear(t.pairOps)
	clear(t.deleted)
	clear(t.logs)
	clear(t.timers)
	clear(t.fired)
	clear(t.notes)
	clear(t.attaches)
	clear(t.closes)
	clear(t.events)
	t.events = t.events[:0]
	t.notes, t.acks, t.attaches, t.detaches, t.closes, t.counts = t.notes[:0], t.acks[:0], t.attaches[:0], t.detaches[:0], t.closes[:0], t.counts[:0]
	t.st, t.ctx, t.err = nil, nil, nil
	txs.Put(t)
}

func (t *tx) fail(err error) {
	if t.err == nil && err != nil {
		t.err = err
	}
}

func (t *tx) Err() error { return t.err }
func (t *tx) Abort()     { t.release() }

// The records' encoding: nil slices stay nil (a nil Grants.Rooms admits
// every room, an empty one none; nil Metadata is none), whatever the
// types' own JSON tags omit.
var recordOptions = json.JoinOptions(
	json.FormatNilSliceAsNull(true),
	json.FormatNilMapAsNull(true),
	json.WithMarshalers(json.JoinMarshalers(
		json.MarshalToFunc(func(enc *jsontext.Encoder, g signal.Grants) error {
			return json.MarshalEncode(enc, grantsRecord(g), json.FormatNilSliceAsNull(true))
		}),
		json.MarshalToFunc(func(enc *jsontext.Encoder, e api.IceCandidateEvent) error {
			return json.MarshalEncode(enc, candidateRecord{e.RoomID, e.From, e.Candidate})
		}),
	)),
	json.WithUnmarshalers(json.JoinUnmarshalers(
		json.UnmarshalFromFunc(func(dec *jsontext.Decoder, g *signal.Grants) error {
			var r grantsRecord
			err := json.UnmarshalDecode(dec, &r)
			*g = signal.Grants(r)
			return err
		}),
		json.UnmarshalFromFunc(func(dec *jsontext.Decoder, e *api.IceCandidateEvent) error {
			var r candidateRecord
			err := json.UnmarshalDecode(dec, &r)
			*e = api.IceCandidateEvent{RoomID: r.RoomID, From: r.From, Candidate: r.Candidate}
			return err
		}),
	)),
)

// candidateRecord is a held candidate's event without its seq: the event's
// own decoding refuses seq 0, which a held one has.
type candidateRecord struct {
	RoomID    string                `json:"roomId"`
	From      string                `json:"from"`
	Candidate *api.IceCandidateInit `json:"candidate"`
}

// grantsRecord is signal.Grants without omitempty.
type grantsRecord struct {
	Rooms     []string `json:"rooms"`
	Create    bool     `json:"create"`
	Moderator bool     `json:"moderator"`
	Admin     bool     `json:"admin"`
	Owner     []string `json:"owner"`
}

// get reads a record (once per transaction).
func (t *tx) get(kind recKind, key string, fill func(*record)) *record {
	if r := t.recs[key]; r != nil {
		return r
	}
	r := t.newRecord(kind, key, fill)
	if t.err != nil {
		return r
	}
	vals, err := t.st.rdb.HMGet(t.ctx, t.st.p+key, "v", "r").Result()
	if err != nil {
		t.fail(err)
		return r
	}
	t.decode(r, vals)
	return r
}

// newRecord makes the transaction's entry of a record about to be read.
func (t *tx) newRecord(kind recKind, key string, fill func(*record)) *record {
	r := &record{kind: kind, key: key, read: true}
	fill(r)
	t.recs[key] = r
	return r
}

// decode fills r from what HMGET v r returned.
func (t *tx) decode(r *record, vals []any) {
	v, _ := vals[0].(string)
	raw, _ := vals[1].(string)
	if v == "" || raw == "" {
		return
	}
	r.v = v
	var err error
	switch r.kind {
	case kindSession:
		s := new(signal.Session)
		err = json.Unmarshal([]byte(raw), s, recordOptions)
		r.val, r.node, r.gen = s, s.Node, uint64(s.Gen)
		r.cur = signal.SessionEntries(nil, s)
	case kindRoom:
		room := new(signal.Room)
		err = json.Unmarshal([]byte(raw), room, recordOptions)
		r.val, r.cur = room, signal.RoomEntries(nil, room)
	case kindCall:
		c := new(signal.Call)
		err = json.Unmarshal([]byte(raw), c, recordOptions)
		r.val, r.cur = c, signal.CallEntries(nil, c)
	case kindPair:
		p := new(signal.Pair)
		err = json.Unmarshal([]byte(raw), p, recordOptions)
		r.val = p
	}
	if err != nil {
		t.fail(fmt.Errorf("record %s: %w", r.key, err))
		r.val = nil
	}
}

// want is a Want's record: its key, kind and how to fill it.
func want(w signal.Want) (recKind, string, func(*record)) {
	switch w.Kind {
	case signal.WantSession:
		return kindSession, sessionKey(w.ID), withID(w.ID)
	case signal.WantRoom:
		return kindRoom, roomKey(w.ID), withID(w.ID)
	case signal.WantCall:
		return kindCall, callKey(w.ID), withID(w.ID)
	default:
		return kindPair, pairKey(w.ID, w.Pair), func(r *record) { r.room, r.pair = w.ID, w.Pair }
	}
}

// Prefetch reads what wants name and the transaction has not read, in one
// round trip.
func (t *tx) Prefetch(wants ...signal.Want) {
	if t.err != nil {
		return
	}
	type recordRead struct {
		r   *record
		cmd *redis.SliceCmd
	}
	type logRead struct {
		id  string
		cmd logCmds
	}
	var recs []recordRead
	var logs []logRead
	var boot *redis.StringCmd
	_, err := t.st.rdb.Pipelined(t.ctx, func(p redis.Pipeliner) error {
		for _, w := range wants {
			if w.Kind == signal.WantLog {
				if _, ok := t.logs[w.ID]; ok {
					continue
				}
				t.logs[w.ID] = signal.LogInfo{} // read below
				if boot == nil {
					boot = p.Get(t.ctx, t.st.p+"boot")
				}
				logs = append(logs, logRead{w.ID, t.readLog(p, w.ID)})
				continue
			}
			kind, key, fill := want(w)
			if t.recs[key] != nil {
				continue
			}
			recs = append(recs, recordRead{t.newRecord(kind, key, fill), p.HMGet(t.ctx, t.st.p+key, "v", "r")})
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		t.fail(err)
		return
	}
	for _, rr := range recs {
		t.decode(rr.r, rr.cmd.Val())
	}
	for _, l := range logs {
		t.logs[l.id] = l.cmd.info(boot.Val())
	}
}

func sessionKey(id string) string { return "s:" + id }
func roomKey(id string) string    { return "r:" + id }
func callKey(id string) string    { return "c:" + id }
func pairKey(room string, k signal.PairKey) string {
	return "p:" + room + ":" + k.Lo + ":" + k.Hi
}
func pairsKey(room string) string        { return "pairs:" + room }
func pairMember(k signal.PairKey) string { return k.Lo + " " + k.Hi }
func withID(id string) func(*record)     { return func(r *record) { r.id = id } }
func (t *tx) session(id string) *record  { return t.get(kindSession, sessionKey(id), withID(id)) }
func (t *tx) room(id string) *record     { return t.get(kindRoom, roomKey(id), withID(id)) }
func (t *tx) call(id string) *record     { return t.get(kindCall, callKey(id), withID(id)) }
func (t *tx) pairRec(room string, k signal.PairKey) *record {
	return t.get(kindPair, pairKey(room, k), func(r *record) { r.room, r.pair = room, k })
}

func (t *tx) Session(id string) *signal.Session {
	if s, ok := t.session(id).val.(*signal.Session); ok {
		return s
	}
	return nil
}

func (t *tx) Room(id string) *signal.Room {
	if r, ok := t.room(id).val.(*signal.Room); ok {
		return r
	}
	return nil
}

func (t *tx) Call(id string) *signal.Call {
	if c, ok := t.call(id).val.(*signal.Call); ok {
		return c
	}
	return nil
}

func (t *tx) Pair(room string, k signal.PairKey) *signal.Pair {
	if p, ok := t.pairRec(room, k).val.(*signal.Pair); ok {
		return p
	}
	return nil
}

func (t *tx) Pairs(room string) []signal.PairKey {
	keys, ok := t.pairs[room]
	if !ok && t.err == nil {
		members, err := t.st.rdb.SMembers(t.ctx, t.st.p+pairsKey(room)).Result()
		t.fail(err)
		for _, m := range members {
			if lo, hi, ok := strings.Cut(m, " "); ok {
				keys = append(keys, signal.PairKey{Lo: lo, Hi: hi})
			}
		}
		t.pairs[room] = keys
	}
	out := slices.Clone(keys)
	for k, present := range t.pairOps[room] {
		switch i := slices.Index(out, k); {
		case present && i < 0:
			out = append(out, k)
		case !present && i >= 0:
			out = slices.Delete(out, i, i+1)
		}
	}
	return out
}

// readIndex reads an index key from Redis (its members, or with count
// only how many).
func (t *tx) readIndex(k ixKey, count bool) *ixRead {
	if r := t.ixs[k]; r != nil && (r.full || count) {
		return r
	}
	r := &ixRead{}
	t.ixs[k] = r
	if t.err != nil {
		return r
	}
	// The version first, in one MULTI with the members (or their count).
	var v *redis.StringCmd
	var n *redis.IntCmd
	var zs *redis.ZSliceCmd
	_, err := t.st.rdb.TxPipelined(t.ctx, func(p redis.Pipeliner) error {
		if checked(k.ix) {
			v = p.HGet(t.ctx, t.st.p+"ixv", k.field())
		}
		if count {
			n = p.ZCard(t.ctx, t.st.p+k.redisKey())
		} else {
			zs = p.ZRangeWithScores(t.ctx, t.st.p+k.redisKey(), 0, -1)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		t.fail(err)
		return r
	}
	if v != nil {
		r.v = v.Val()
	}
	if count {
		r.count = int(n.Val())
		return r
	}
	r.full = true
	for _, z := range zs.Val() {
		r.members = append(r.members, member{z.Member.(string), int64(z.Score)})
	}
	r.count = len(r.members)
	return r
}

// Index lists an index key's ids by score (ties by id), as read and as
// changed by this transaction's writes.
func (t *tx) Index(ix signal.Index, key string) []string {
	k := ixKey{ix, key}
	r := t.readIndex(k, false)
	ch := t.changes[k]
	ms := r.members
	if len(ch) > 0 {
		ms = make([]member, 0, len(r.members)+len(ch))
		for _, m := range r.members {
			if _, changed := ch[m.id]; !changed {
				ms = append(ms, m)
			}
		}
		for id, c := range ch {
			if c.present {
				ms = append(ms, member{id, c.score})
			}
		}
		slices.SortFunc(ms, func(a, b member) int { return cmp.Or(cmp.Compare(a.score, b.score), strings.Compare(a.id, b.id)) })
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.id
	}
	return out
}

// Len counts an index key's ids: only counts them (ZCARD), unless this
// transaction changed the index.
func (t *tx) Len(ix signal.Index, key string) int {
	k := ixKey{ix, key}
	if len(t.changes[k]) == 0 {
		return t.readIndex(k, true).count
	}
	return len(t.Index(ix, key))
}

func (t *tx) Log(id string) signal.LogInfo {
	if info, ok := t.logs[id]; ok || t.err != nil {
		return info
	}
	var cmds logCmds
	var boot *redis.StringCmd
	_, err := t.st.rdb.Pipelined(t.ctx, func(p redis.Pipeliner) error {
		boot = p.Get(t.ctx, t.st.p+"boot")
		cmds = t.readLog(p, id)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		t.fail(err)
		return signal.LogInfo{}
	}
	info := cmds.info(boot.Val())
	t.logs[id] = info
	return info
}

// logCmds read a session's log: its description, length and first entry.
type logCmds struct {
	meta   *redis.SliceCmd
	length *redis.IntCmd
	first  *redis.XMessageSliceCmd
}

func (t *tx) readLog(p redis.Pipeliner, id string) logCmds {
	return logCmds{
		meta:   p.HMGet(t.ctx, t.st.p+"logm:"+id, "e", "b", "q", "a", "y"),
		length: p.XLen(t.ctx, t.st.p+"log:"+id),
		first:  p.XRangeN(t.ctx, t.st.p+"log:"+id, "-", "+", 1),
	}
}

// info is the log as read; written before Redis' current boot, it is
// lost (Epoch "").
func (c logCmds) info(boot string) signal.LogInfo {
	m := c.meta.Val()
	if len(m) < 5 {
		return signal.LogInfo{}
	}
	epoch, _ := m[0].(string)
	if b, _ := m[1].(string); b != cmp.Or(boot, "0") {
		epoch = ""
	}
	info := signal.LogInfo{Epoch: epoch, Last: atoi(m[2]), Acked: atoi(m[3]), Bytes: int(atoi(m[4])), Len: int(c.length.Val())}
	info.First = info.Last + 1
	if fs := c.first.Val(); len(fs) > 0 {
		info.First = streamSeq(fs[0].ID)
	}
	return info
}

// atoi reads a number HMGET returned (nil: 0).
func atoi(v any) int64 {
	s, _ := v.(string)
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// streamSeq is the seq of a log entry's id ("{seq}-0").
func streamSeq(id string) int64 {
	seq, _, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseInt(seq, 10, 64)
	return n
}

// put writes a record (new, or read) and moves its index entries.
func (t *tx) put(kind recKind, key, id string, val any, entries []signal.Entry) *record {
	r := t.recs[key]
	if r == nil {
		// Written without a read: it must not exist (ids are fresh).
		r = &record{kind: kind, key: key, id: id, read: true}
		t.recs[key] = r
	}
	r.val, r.dirty = val, true
	t.reindex(id, r.cur, entries)
	r.cur = entries
	return r
}

func (t *tx) del(key, id string) {
	r := t.recs[key]
	if r == nil {
		r = &record{key: key, id: id}
		t.recs[key] = r
	}
	r.val, r.dirty = nil, true
	t.reindex(id, r.cur, nil)
	r.cur = nil
}

// reindex records the move of id from the entries old to now.
func (t *tx) reindex(id string, old, now []signal.Entry) {
	for _, e := range old {
		if !slices.Contains(now, e) {
			t.change(ixKey{e.Index, e.Key}, id, change{})
		}
	}
	for _, e := range now {
		if !slices.Contains(old, e) {
			t.change(ixKey{e.Index, e.Key}, id, change{score: score(e.Score), present: true})
		}
	}
}

func (t *tx) change(k ixKey, id string, c change) {
	m := t.changes[k]
	if m == nil {
		m = make(map[string]change)
		t.changes[k] = m
	}
	m[id] = c
}

func (t *tx) PutSession(s *signal.Session) {
	t.put(kindSession, sessionKey(s.ID), s.ID, s, signal.SessionEntries(nil, s))
	delete(t.deleted, s.ID)
}

func (t *tx) DeleteSession(id string) {
	t.del(sessionKey(id), id)
	t.deleted[id] = true
}

func (t *tx) PutRoom(r *signal.Room) {
	t.put(kindRoom, roomKey(r.ID), r.ID, r, signal.RoomEntries(nil, r))
}
func (t *tx) DeleteRoom(id string) { t.del(roomKey(id), id) }
func (t *tx) PutCall(c *signal.Call) {
	t.put(kindCall, callKey(c.ID), c.ID, c, signal.CallEntries(nil, c))
}
func (t *tx) DeleteCall(id string) { t.del(callKey(id), id) }

func (t *tx) PutPair(room string, p *signal.Pair) {
	r := t.put(kindPair, pairKey(room, p.Key), "", p, nil)
	r.room, r.pair = room, p.Key
	t.pairOp(room, p.Key, true)
}

func (t *tx) DeletePair(room string, k signal.PairKey) {
	t.del(pairKey(room, k), "")
	t.pairOp(room, k, false)
}

// counterFields name a pair's counters in its hash, beside its record:
// n0 to n13, side by side.
var counterFields = func() (f [2][signal.Counters]string) {
	for side := range f {
		for c := range f[side] {
			f[side][c] = "n" + strconv.Itoa(side*int(signal.Counters)+c)
		}
	}
	return f
}()

// Count is an HINCRBY in the commit, in the pair's own hash (so
// DeletePair's DEL takes the counters along); it versions nothing.
func (t *tx) Count(room string, k signal.PairKey, side int, c signal.Counter, n int) {
	t.counts = append(t.counts, countOp{pairKey(room, k), counterFields[side][c], n})
}

// Counts reads a pair's counters as committed, plus this transaction's.
func (t *tx) Counts(room string, k signal.PairKey) signal.PairCounts {
	var out signal.PairCounts
	if t.err != nil {
		return out
	}
	key := pairKey(room, k)
	fields := make([]string, 0, 2*signal.Counters)
	for side := range counterFields {
		fields = append(fields, counterFields[side][:]...)
	}
	vals, err := t.st.rdb.HMGet(t.ctx, t.st.p+key, fields...).Result()
	if err != nil {
		t.fail(err)
		return out
	}
	for i, v := range vals {
		s, _ := v.(string)
		n, _ := strconv.ParseInt(s, 10, 64)
		out[i/int(signal.Counters)][i%int(signal.Counters)] = n
	}
	for _, op := range t.counts {
		if op.key != key {
			continue
		}
		for side := range counterFields {
			for c, f := range counterFields[side] {
				if f == op.field {
					out[side][c] += int64(op.n)
				}
			}
		}
	}
	return out
}

func (t *tx) pairOp(room string, k signal.PairKey, present bool) {
	m := t.pairOps[room]
	if m == nil {
		m = make(map[signal.PairKey]bool)
		t.pairOps[room] = m
	}
	m[k] = present
}

// Notify queues a notification, encoded now with seq 0: Commit's script
// assigns the seq.
func (t *tx) Notify(to string, n signal.Note) {
	t.Broadcast([]string{to}, n)
}

func (t *tx) Broadcast(to []string, n signal.Note) {
	ids := make([]string, 0, len(to))
	for _, id := range to {
		if !t.deleted[id] {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	frame, err := signal.EncodeShared(t.st.cfg.Encode, n)
	if err != nil {
		t.st.log.Error("notification not encoded", "method", n.Method, "err", err)
		return
	}
	t.notes = append(t.notes, note{frame, ids})
}

func (t *tx) Ack(id string, seq int64) { t.acks = append(t.acks, ackReq{id, seq}) }

func (t *tx) Attach(id string, conn signal.Conn, after int64) {
	t.attaches = append(t.attaches, attachReq{id, conn, after})
}

func (t *tx) Detach(id string) { t.detaches = append(t.detaches, id) }

// CloseConn closes the connection the session had as read: on this node
// the transaction takes it now (a resume here attaches another), on
// another its node is told.
func (t *tx) CloseConn(id string, reason signal.CloseReason, text string) {
	r := t.session(id)
	if r.val == nil && !r.dirty {
		return
	}
	node, gen := r.node, r.gen
	if r.v == "" { // made in this transaction
		s := r.val.(*signal.Session)
		node, gen = s.Node, uint64(s.Gen)
	}
	c := closeReq{id: id, node: node, gen: gen, reason: reason, text: strings.ReplaceAll(text, "\n", " ")}
	if node == t.st.node {
		c.local = t.st.localOf(id)
	}
	t.closes = append(t.closes, c)
}

func (t *tx) SetTimer(tm signal.Timer) {
	t.timers[timerMember(tm.Kind, tm.ID)] = timerOp{at: tm.Due, set: true}
}

func (t *tx) CancelTimer(kind signal.TimerKind, id string) {
	t.timers[timerMember(kind, id)] = timerOp{}
}

// Fired reads the timer: still due at t.Due (to the millisecond, the
// timers' precision), it is removed with the transaction, which commits
// only if nothing reset it meanwhile.
func (t *tx) Fired(tm signal.Timer) bool {
	if t.err != nil {
		return false
	}
	m := timerMember(tm.Kind, tm.ID)
	due, err := t.st.rdb.ZScore(t.ctx, t.st.p+"timers", m).Result()
	if errors.Is(err, redis.Nil) {
		return false
	}
	if err != nil {
		t.fail(err)
		return false
	}
	if int64(due) != tm.Due.UnixMilli() {
		return false
	}
	t.fired[m] = int64(due)
	if _, set := t.timers[m]; !set {
		t.timers[m] = timerOp{}
	}
	return true
}
