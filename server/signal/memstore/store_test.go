package memstore_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/parley-rtc/parley/rpc"

	"github.com/parley-rtc/parley/server/signal"
	"github.com/parley-rtc/parley/server/signal/memstore"
	"github.com/parley-rtc/parley/server/signal/signaltest"
)

// TestScenarios runs the core's scenario suite on the memory store.
func TestScenarios(t *testing.T) {
	signaltest.Run(t, func(_ testing.TB, cfg signal.StoreConfig) signal.Store { return memstore.New(cfg) })
}

// idleConn is a connection that takes every frame and keeps none.
type idleConn struct{}

func (idleConn) Attached()                        {}
func (idleConn) Deliver([]byte) error             { return nil }
func (idleConn) Close(signal.CloseReason, string) {}

// BenchmarkIdleJoined measures what siglab's conns measurement holds in
// the store: each op opens two sessions (with the ICE refresh timer a
// server with TURN sets) and seats them in a new room, and they stay.
// heap-B/session is the live heap each session costs once collected;
// allocs/op and B/op count the join's garbage too.
func BenchmarkIdleJoined(b *testing.B) {
	store := memstore.New(signal.StoreConfig{Node: "node-1", Encode: rpc.AppendNotification, ReplayMessages: 256, ReplayBytes: 256 << 10})
	core := signal.New(signal.Config{Limits: signal.Limits{
		MaxRoomsPerSession: 16, MaxPeersPerRoom: 16, MaxRooms: 1 << 30,
	}, Node: "node-1", RefreshEvery: time.Hour}, store)
	ctx := context.Background()
	open := func(identity string) *signal.Ref {
		o, err := core.Open(ctx, signal.Connection{Conn: idleConn{}, Remote: "127.0.0.1"}, signal.Credentials{Identity: identity, Grants: signal.Grants{Create: true}})
		if err != nil {
			b.Fatal(err)
		}
		return o.Ref
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		room := "room-" + strconv.Itoa(i)
		for _, who := range [2]string{"a", "b"} {
			if _, err := core.Join(ctx, open(who+strconv.Itoa(i)), signal.JoinRequest{RoomID: room, Create: true}); err != nil {
				b.Fatal(err)
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(2*b.N), "heap-B/session")
	runtime.KeepAlive(store)
}
