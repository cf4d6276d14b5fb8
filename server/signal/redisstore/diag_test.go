package redisstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/internal/testkit/redisproc"
	"github.com/parley-rtc/parley/server/signal"
	"github.com/parley-rtc/parley/server/signal/redisstore"
)

// stepClock moves on a second at each Now, so that every write of a test
// is ordered (the caps drop the least recent).
type stepClock struct{ n atomic.Int64 }

func (c *stepClock) Now() time.Time {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(c.n.Add(1)) * time.Second)
}

func (*stepClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

var diagLimits = redisstore.DiagLimits{Retention: time.Hour, Rooms: 2, PairsPerRoom: 2, Identities: 2, EventsPerIdentity: 3, Queue: 64}

// newDiag is a Diag with diagLimits on srv, and a client of srv that
// reads its keys (under prefix).
func newDiag(t *testing.T, srv *redisproc.Server) (d *redisstore.Diag, rdb *redis.Client, prefix string) {
	prefix = fmt.Sprintf("d%d:", prefixes.Add(1))
	st := open(t, srv, prefix, signal.StoreConfig{Node: "n1", Clock: &stepClock{}})
	opts, err := redis.ParseURL(srv.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	rdb = redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return st.Diag(diagLimits), rdb, prefix
}

func report(trigger api.DiagTrigger) *api.DiagReport {
	return &api.DiagReport{Trigger: trigger, ConnectionState: "failed", ElapsedMs: 16000, Agent: "test"}
}

// TestDiagReports: a pair keeps each side's latest report (the other
// side's identity until it reports), its signaling record as last given,
// and its counted result, which one Claim per change sets.
func TestDiagReports(t *testing.T) {
	ctx := context.Background()
	d, _, _ := newDiag(t, redisproc.Start(t))
	key := signal.PairKey{Lo: "pa", Hi: "pb"}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sig := &signal.PairCounts{{1, 0, 3}, {0, 1, 2}}

	p, err := d.Report(ctx, "r", key, 1, signal.DiagSide{PeerID: "pb", Identity: "bob", Report: report(api.DiagTriggerFailed), At: at},
		signal.DiagSide{PeerID: "pa", Identity: "ann"}, sig)
	if err != nil {
		t.Fatal(err)
	}
	if p.Sides[0].Identity != "ann" || p.Sides[0].Report != nil || p.Sides[1].Report == nil || !p.Sides[1].At.Equal(at) || *p.Signaling != *sig || p.Counted != "" {
		t.Fatalf("after bob's report: %+v", p)
	}
	p, err = d.Report(ctx, "r", key, 0, signal.DiagSide{PeerID: "pa", Identity: "ann", Report: report(api.DiagTriggerChecking), At: at},
		signal.DiagSide{PeerID: "pb", Identity: "bob"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Sides[0].Report.Trigger != api.DiagTriggerChecking || p.Sides[1].Report.Trigger != api.DiagTriggerFailed || *p.Signaling != *sig {
		t.Fatalf("after ann's report (bob's kept, the record as last given): %+v", p)
	}

	claims := []struct {
		key    signal.PairKey
		result api.DiagResult
		want   bool
	}{
		{key, api.DiagResultFailed, true},
		{key, api.DiagResultFailed, false}, // counted already (by this node or another)
		{key, api.DiagResultConnected, true},
		{signal.PairKey{Lo: "pa", Hi: "px"}, api.DiagResultFailed, false}, // no such pair
	}
	for _, c := range claims {
		if got, err := d.Claim(ctx, "r", c.key, c.result); err != nil || got != c.want {
			t.Fatalf("Claim(%v, %s) = %v, %v; want %v", c.key, c.result, got, err, c.want)
		}
	}
	if got, ok, err := d.Pair(ctx, "r", key); err != nil || !ok || got.Counted != api.DiagResultConnected {
		t.Fatalf("Pair = %+v, %v, %v", got, ok, err)
	}

	lists := []struct {
		room, peer string
		pairs      int
		ok         bool
	}{
		{"r", "", 1, true},
		{"r", "pb", 1, true},
		{"r", "nobody", 0, true},
		{"elsewhere", "", 0, false},
	}
	for _, l := range lists {
		pairs, ok, err := d.Pairs(ctx, l.room, l.peer)
		if err != nil || len(pairs) != l.pairs || ok != l.ok {
			t.Fatalf("Pairs(%q, %q) = %d pairs, %v, %v; want %d, %v", l.room, l.peer, len(pairs), ok, err, l.pairs, l.ok)
		}
	}
}

// TestDiagBounds: reports are bounded per room and in rooms, TURN events
// per identity (repeats folded) and in identities, and every key expires
// with the retention.
func TestDiagBounds(t *testing.T) {
	ctx := context.Background()
	d, rdb, prefix := newDiag(t, redisproc.Start(t))
	put := func(room, lo, hi string) {
		t.Helper()
		if _, err := d.Report(ctx, room, signal.PairKey{Lo: lo, Hi: hi}, 0, signal.DiagSide{PeerID: lo, Report: report(api.DiagTriggerFailed)}, signal.DiagSide{PeerID: hi}, nil); err != nil {
			t.Fatal(err)
		}
	}
	put("r1", "a", "b")
	put("r1", "a", "c")
	put("r1", "a", "d") // drops a-b, the least recent of r1
	pairs, _, err := d.Pairs(ctx, "r1", "")
	if err != nil || len(pairs) != 2 || pairs[0].Key.Hi == "b" || pairs[1].Key.Hi == "b" {
		t.Fatalf("r1 keeps %+v, %v; want a-c and a-d", pairs, err)
	}
	if n := rdb.HLen(ctx, prefix+"dg:r1").Val(); n != 4 {
		t.Fatalf("r1's hash has %d fields, want 4 (two pairs' sides)", n)
	}
	put("r2", "a", "b")
	put("r3", "a", "b") // drops r1, the least recent room
	if _, ok, _ := d.Pairs(ctx, "r1", ""); ok {
		t.Fatal("r1 outlived the room cap")
	}
	if n := rdb.Exists(ctx, prefix+"dg:r1", prefix+"dgp:r1").Val(); n != 0 {
		t.Fatalf("%d of r1's keys left", n)
	}

	ev := func(kind api.TurnEventKind, addr string) api.TurnEvent {
		return api.TurnEvent{At: 1000, Kind: kind, Address: addr, Count: 1}
	}
	for _, e := range []api.TurnEvent{
		ev(api.TurnEventKindAuthExpired, ""), ev(api.TurnEventKindAuthExpired, ""), // folded
		ev(api.TurnEventKindPeerDenied, "192.0.2.1:9"), ev(api.TurnEventKindPeerDenied, "192.0.2.2:9"),
		ev(api.TurnEventKindAllocated, "203.0.113.1:50000"), // the fourth: the first goes
	} {
		d.RecordTURN("ann", e)
	}
	d.RecordTURN("bob", ev(api.TurnEventKindAuthWrong, ""))
	got, err := d.TURNEvents(ctx, "ann", "bob")
	if err != nil {
		t.Fatal(err)
	}
	want := []api.TurnEvent{ev(api.TurnEventKindPeerDenied, "192.0.2.1:9"), ev(api.TurnEventKindPeerDenied, "192.0.2.2:9"), ev(api.TurnEventKindAllocated, "203.0.113.1:50000")}
	if fmt.Sprint(got["ann"]) != fmt.Sprint(want) || len(got["bob"]) != 1 {
		t.Fatalf("TURN events %+v; want ann's %+v and bob's one", got, want)
	}
	d.RecordTURN("cy", ev(api.TurnEventKindAuthExpired, ""))
	d.RecordTURN("cy", ev(api.TurnEventKindAuthExpired, ""))
	if got, err = d.TURNEvents(ctx, "ann", "cy"); err != nil || got["ann"] != nil || len(got["cy"]) != 1 || got["cy"][0].Count != 2 {
		t.Fatalf("after a third identity: %+v, %v; want ann's gone (the cap), cy's folded", got, err)
	}

	for _, k := range []string{"dg:r3", "dgp:r3", "dgt:cy", "dgt:bob"} {
		if ttl := rdb.PTTL(ctx, prefix+k).Val(); ttl <= 0 || ttl > diagLimits.Retention {
			t.Errorf("%s expires in %v, want within %v", k, ttl, diagLimits.Retention)
		}
	}
}

// TestDiagQueueNeverBlocks: with nobody draining the queue (the store
// closed), RecordTURN drops what does not fit instead of waiting.
func TestDiagQueueNeverBlocks(t *testing.T) {
	srv := redisproc.Start(t)
	st := open(t, srv, fmt.Sprintf("d%d:", prefixes.Add(1)), signal.StoreConfig{Node: "n1"})
	d := st.Diag(redisstore.DiagLimits{Retention: time.Hour, Rooms: 1, PairsPerRoom: 1, Identities: 1, EventsPerIdentity: 1, Queue: 1})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		d.RecordTURN("ann", api.TurnEvent{Kind: api.TurnEventKindAuthWrong, Count: 1})
	}
}
