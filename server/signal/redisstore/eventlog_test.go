package redisstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/internal/testkit/redisproc"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/server/signal"
)

// TestEventLog: events committed on two nodes land in one stream in
// commit order (consecutive cursors, roomSeq per room), trimmed to
// EventRetain; a webhook URL's lease is held by one node at a time, only
// the holder records finished deliveries, and a node that takes the lease
// over after it lapsed reads where delivery stood.
func TestEventLog(t *testing.T) {
	srv := redisproc.Start(t)
	cfg := func(node string) signal.StoreConfig {
		return signal.StoreConfig{Node: node, Encode: rpc.AppendNotification, ReplayMessages: 16, ReplayBytes: 1 << 16, EventRetain: 4}
	}
	a, b := open(t, srv, "ev:", cfg("n1")), open(t, srv, "ev:", cfg("n2"))
	ctx := context.Background()
	publish := func(st signal.Store, typ, room string) {
		t.Helper()
		tx := st.Begin(ctx)
		tx.Event(signal.AppEvent{Event: api.Event{Type: typ, Timestamp: signal.EventTime(time.Now()), Data: api.EventData{RoomID: room, SessionID: "s"}}, Last: typ == signal.EventRoomFinished})
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	publish(a, signal.EventRoomStarted, "r")
	publish(b, signal.EventPeerJoined, "r")
	publish(a, signal.EventSessionStarted, "")
	publish(b, signal.EventRoomFinished, "r")
	publish(a, signal.EventRoomStarted, "r")
	evs, more, oldest, err := b.Events().List(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for i, e := range evs {
		if i > 0 && e.Data.Cursor != evs[i-1].Data.Cursor+1 {
			t.Errorf("cursor %d after %d", e.Data.Cursor, evs[i-1].Data.Cursor)
		}
		seqs = append(seqs, e.Data.RoomSeq)
	}
	// The first of five was trimmed (EventRetain 4); r's roomSeq starts
	// over after room.finished; the session event has none.
	if len(evs) != 4 || more || oldest != evs[0].Data.Cursor || evs[0].Type != signal.EventPeerJoined || !slices.Equal(seqs, []int64{2, 0, 3, 1}) {
		t.Fatalf("List = %d events (roomSeqs %v), more %v, oldest %d", len(evs), seqs, more, oldest)
	}
	page, more, _, _ := a.Events().List(ctx, evs[1].Data.Cursor, 1)
	if len(page) != 1 || !more || page[0].Data.Cursor != evs[2].Data.Cursor {
		t.Fatalf("a page of one after the second: %v, more %v", page, more)
	}

	const url = "https://backend.example/hooks"
	la, lb := a.Events(), b.Events()
	if err := la.Start(ctx, url); err != nil {
		t.Fatal(err)
	}
	if ok, err := la.Lease(ctx, url, 300*time.Millisecond); !ok || err != nil {
		t.Fatalf("n1 leases: %v %v", ok, err)
	}
	if err := lb.Release(ctx, url); err != nil {
		t.Fatal(err)
	}
	if ok, _ := lb.Lease(ctx, url, 300*time.Millisecond); ok {
		t.Fatal("n2 took a lease n1 holds")
	}
	// A new URL's delivery starts from now: the stream's last event.
	last := evs[3].Data.Cursor
	if low, done, err := la.Delivered(ctx, url); err != nil || low != last || len(done) != 0 {
		t.Fatalf("a new URL's Delivered = %d %v %v, want from %d", low, done, err, last)
	}
	publish(a, signal.EventPeerJoined, "r")
	publish(b, signal.EventPeerJoined, "r")
	if ok, _ := lb.Done(ctx, url, "room/r", last+1); ok {
		t.Fatal("n2 recorded a delivery without the lease")
	}
	if ok, err := la.Done(ctx, url, "room/r", last+1); !ok || err != nil {
		t.Fatalf("n1 records a delivery: %v %v", ok, err)
	}
	time.Sleep(400 * time.Millisecond) // n1's lease lapses
	if ok, _ := lb.Lease(ctx, url, time.Second); !ok {
		t.Fatal("n2 could not take a lapsed lease")
	}
	if ok, _ := la.Done(ctx, url, "room/r", last+2); ok {
		t.Fatal("n1 recorded a delivery after losing the lease")
	}
	low, done, err := lb.Delivered(ctx, url)
	if err != nil || low != last || len(done) != 1 || done["room/r"] != last+1 {
		t.Fatalf("Delivered after the takeover = %d %v %v", low, done, err)
	}
	if err := lb.Low(ctx, url, last+1); err != nil {
		t.Fatal(err)
	}
	if low, done, _ := lb.Delivered(ctx, url); low != last+1 || len(done) != 0 {
		t.Fatalf("after Low: low %d, done %v (a key finished at the low-water cursor is dropped)", low, done)
	}
	if err := lb.Start(ctx, url); err != nil {
		t.Fatal(err)
	}
	if low, _, _ := lb.Delivered(ctx, url); low != last+1 {
		t.Fatalf("Start moved a known URL's delivery to %d", low)
	}
	if err := lb.Release(ctx, url); err != nil {
		t.Fatal(err)
	}
	if ok, _ := la.Lease(ctx, url, time.Second); !ok {
		t.Fatal("n1 could not take the lease n2 released")
	}
	if ok, _ := lb.Lease(ctx, url, time.Second); ok {
		t.Fatal("n2 took the lease back from n1")
	}

	// Read waits for the next event.
	last += 2
	if got, err := lb.Read(ctx, last, 10, 50*time.Millisecond); err != nil || len(got) != 0 {
		t.Fatalf("Read with nothing new = %v, %v", got, err)
	}
	published := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		tx := a.Begin(ctx)
		tx.Event(signal.AppEvent{Event: api.Event{Type: signal.EventPeerLeft, Timestamp: signal.EventTime(time.Now()), Data: api.EventData{RoomID: "r"}}})
		published <- tx.Commit()
	}()
	got, err := lb.Read(ctx, last, 10, 5*time.Second)
	if perr := <-published; perr != nil {
		t.Fatal(perr)
	}
	if err != nil || len(got) != 1 || got[0].Data.Cursor != last+1 || got[0].Data.RoomSeq != 4 {
		t.Fatalf("Read waiting = %+v, %v", got, err)
	}
}
