package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/redis/go-redis/v9"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/server/signal"
)

// ICE failure explained across a cluster: the clients' diag.report per
// room and pair, and the TURN events per identity, are kept in Redis
// (diag.lua), so that admin.diag.explain on any node joins what every
// node saw: alice's report to node 1, bob's to node 2, the 401s of node
// 2's TURN. Everything is bounded by count and expires with
// DiagLimits.Retention.

//go:embed diag.lua
var diagLua string

var diagScript = redis.NewScript(diagLua)

// DiagLimits bound what Diag keeps.
type DiagLimits struct {
	// Retention is how long a room's reports, and an identity's TURN
	// events, outlive their last write.
	Retention time.Duration
	// Rooms and PairsPerRoom bound the reports; Identities and
	// EventsPerIdentity the TURN events.
	Rooms, PairsPerRoom           int
	Identities, EventsPerIdentity int
	// Queue bounds the TURN events waiting to be written; beyond it they
	// are dropped (and logged), never waited for.
	Queue int
}

// Diag is the cluster's diag.report record and TURN events.
type Diag struct {
	st      *Store
	lim     DiagLimits
	queue   chan turnEvent
	flushes chan chan struct{}
	dropped atomic.Int64
}

// turnEvent is one TURN event of an identity, queued.
type turnEvent struct {
	identity string
	ev       api.TurnEvent
}

// turnBatch bounds the events one diag.lua call writes.
const turnBatch = 256

// Diag starts the cluster's diag record with lim: a goroutine writes the
// queued TURN events until the store closes. Call it once.
func (st *Store) Diag(lim DiagLimits) *Diag {
	d := &Diag{st: st, lim: lim, queue: make(chan turnEvent, max(lim.Queue, 1)), flushes: make(chan chan struct{})}
	st.wg.Add(1)
	go d.drain()
	return d
}

// run runs an op of diag.lua at the store's clock's now.
func (d *Diag) run(ctx context.Context, op string, args ...any) *redis.Cmd {
	return diagScript.Run(ctx, d.st.rdb, nil, append([]any{d.st.p, op, d.st.cfg.Clock.Now().UnixMilli(), d.lim.Retention.Milliseconds()}, args...)...)
}

// pairField names a pair in a room's hash.
func pairField(k signal.PairKey) string { return k.Lo + " " + k.Hi }

// Report keeps side's report as its side of the pair (the other side,
// without a report, is kept only where the pair has none), with the
// signaling record if sig is not nil, and returns the pair as it stands:
// one round trip.
func (d *Diag) Report(ctx context.Context, room string, key signal.PairKey, side int, from, other signal.DiagSide, sig *signal.PairCounts) (signal.DiagPair, error) {
	f, err := json.Marshal(&from)
	if err != nil {
		return signal.DiagPair{}, fmt.Errorf("redisstore: encode report: %w", err)
	}
	o, err := json.Marshal(&other)
	if err != nil {
		return signal.DiagPair{}, fmt.Errorf("redisstore: encode report: %w", err)
	}
	var s []byte
	if sig != nil {
		if s, err = json.Marshal(sig); err != nil {
			return signal.DiagPair{}, fmt.Errorf("redisstore: encode signaling record: %w", err)
		}
	}
	res, err := d.run(ctx, "report", room, pairField(key), side, f, o, s, d.lim.PairsPerRoom, d.lim.Rooms).Slice()
	if err != nil {
		return signal.DiagPair{}, fmt.Errorf("redisstore: diag report: %w", err)
	}
	p, _, err := decodePair(key, res)
	return p, err
}

// Claim sets the pair's counted result to r unless it is r already;
// true if this call changed it (its caller counts the outcome, once
// cluster-wide).
func (d *Diag) Claim(ctx context.Context, room string, key signal.PairKey, r api.DiagResult) (bool, error) {
	n, err := d.run(ctx, "count", room, pairField(key), string(r)).Int()
	if err != nil {
		return false, fmt.Errorf("redisstore: diag count: %w", err)
	}
	return n == 1, nil
}

// Pair is a room's record of a pair; false if it has none.
func (d *Diag) Pair(ctx context.Context, room string, key signal.PairKey) (signal.DiagPair, bool, error) {
	f := pairField(key)
	res, err := d.st.rdb.HMGet(ctx, d.st.p+"dg:"+room, f+" 0", f+" 1", f+" s", f+" c").Result()
	if err != nil {
		return signal.DiagPair{}, false, fmt.Errorf("redisstore: diag pair: %w", err)
	}
	return decodePair(key, res)
}

// Pairs are a room's pairs (those of peer, if given); false if the room
// has no report within the retention.
func (d *Diag) Pairs(ctx context.Context, room, peer string) ([]signal.DiagPair, bool, error) {
	h, err := d.st.rdb.HGetAll(ctx, d.st.p+"dg:"+room).Result()
	if err != nil {
		return nil, false, fmt.Errorf("redisstore: diag pairs: %w", err)
	}
	if len(h) == 0 {
		return nil, false, nil
	}
	var out []signal.DiagPair
	for field := range h {
		lo, rest, _ := strings.Cut(field, " ")
		hi, which, _ := strings.Cut(rest, " ")
		if which != "0" || peer != "" && lo != peer && hi != peer {
			continue
		}
		f := lo + " " + hi
		p, ok, err := decodePair(signal.PairKey{Lo: lo, Hi: hi}, []any{h[f+" 0"], h[f+" 1"], h[f+" s"], h[f+" c"]})
		if err != nil {
			return nil, false, err
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, true, nil
}

// decodePair decodes a pair's fields: both sides, its signaling record
// and its counted result (absent: nil, or "").
func decodePair(key signal.PairKey, fields []any) (signal.DiagPair, bool, error) {
	p := signal.DiagPair{Key: key}
	if len(fields) < 4 {
		return p, false, errors.New("redisstore: diag pair: short answer")
	}
	str := func(v any) string { s, _ := v.(string); return s }
	ok := false
	for i := range p.Sides {
		if s := str(fields[i]); s != "" {
			if err := json.Unmarshal([]byte(s), &p.Sides[i]); err != nil {
				return p, false, fmt.Errorf("redisstore: diag pair %s: %w", pairField(key), err)
			}
			ok = true
		}
	}
	if s := str(fields[2]); s != "" {
		p.Signaling = new(signal.PairCounts)
		if err := json.Unmarshal([]byte(s), p.Signaling); err != nil {
			return p, false, fmt.Errorf("redisstore: diag pair %s: %w", pairField(key), err)
		}
	}
	p.Counted = api.DiagResult(str(fields[3]))
	return p, ok, nil
}

// RecordTURN queues an event of this node's TURN server for identity.
// It never blocks (the TURN server calls it on its hot path): a full
// queue drops the event, and the drop is logged.
func (d *Diag) RecordTURN(identity string, ev api.TurnEvent) {
	select {
	case d.queue <- turnEvent{identity, ev}:
	default:
		d.dropped.Add(1)
	}
}

// TURNEvents are the identities' TURN events, every node's, oldest
// first. This node's queued events are written first, so that a report
// right after a refusal sees it.
func (d *Diag) TURNEvents(ctx context.Context, identities ...string) (map[string][]api.TurnEvent, error) {
	d.flush(ctx)
	cmds := make([]*redis.StringSliceCmd, len(identities))
	_, err := d.st.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range identities {
			cmds[i] = p.LRange(ctx, d.st.p+"dgt:"+id, 0, -1)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: TURN events: %w", err)
	}
	out := make(map[string][]api.TurnEvent, len(identities))
	for i, id := range identities {
		for _, e := range cmds[i].Val() {
			if ev, ok := parseTURNEvent(e); ok {
				out[id] = append(out[id], ev)
			}
		}
	}
	return out, nil
}

// parseTURNEvent reads "{kind}|{address}|{at}|{count}".
func parseTURNEvent(s string) (api.TurnEvent, bool) {
	parts := strings.Split(s, "|")
	if len(parts) != 4 {
		return api.TurnEvent{}, false
	}
	at, err1 := strconv.ParseInt(parts[2], 10, 64)
	n, err2 := strconv.ParseInt(parts[3], 10, 64)
	return api.TurnEvent{Kind: api.TurnEventKind(parts[0]), Address: parts[1], At: at, Count: n}, err1 == nil && err2 == nil
}

// flush waits (within ctx) until the events queued before it are written.
func (d *Diag) flush(ctx context.Context) {
	done := make(chan struct{})
	select {
	case d.flushes <- done:
	case <-ctx.Done():
		return
	case <-d.st.ctx.Done():
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// drain writes the queued TURN events, up to turnBatch per round trip,
// until the store closes.
func (d *Diag) drain() {
	defer d.st.wg.Done()
	batch := make([]turnEvent, 0, turnBatch)
	for {
		var done chan struct{}
		select {
		case <-d.st.ctx.Done():
			return
		case e := <-d.queue:
			batch = append(batch, e)
		case done = <-d.flushes:
		}
		// Take what else is queued, in batches.
	take:
		for {
			select {
			case e := <-d.queue:
				if batch = append(batch, e); len(batch) == turnBatch {
					d.write(batch)
					batch = batch[:0]
				}
			default:
				break take
			}
		}
		d.write(batch)
		batch = batch[:0]
		if done != nil {
			close(done)
		}
	}
}

// write writes a batch of TURN events in one diag.lua call.
func (d *Diag) write(batch []turnEvent) {
	if n := d.dropped.Swap(0); n > 0 {
		d.st.log.Warn("TURN events not shared with the cluster: their queue was full", "dropped", n)
	}
	if len(batch) == 0 {
		return
	}
	args := make([]any, 0, 2+5*len(batch))
	args = append(args, d.lim.EventsPerIdentity, d.lim.Identities)
	for _, e := range batch {
		args = append(args, e.identity, string(e.ev.Kind), e.ev.Address, e.ev.At, max(e.ev.Count, 1))
	}
	ctx, cancel := context.WithTimeout(d.st.ctx, 5*time.Second)
	defer cancel()
	if err := d.run(ctx, "turn", args...).Err(); err != nil {
		d.st.log.Warn("TURN events not shared with the cluster", "events", len(batch), "err", err)
	}
}
