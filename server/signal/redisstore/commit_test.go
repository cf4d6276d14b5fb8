package redisstore

import (
	"context"
	"reflect"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/internal/testkit/redisproc"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/server/signal"
)

// TestCommitIsIdempotent: a commit sent twice (go-redis retries a command
// whose reply was lost) appends once, and the second answer is the first.
func TestCommitIsIdempotent(t *testing.T) {
	srv := redisproc.Start(t)
	opts, err := ParseURL(srv.URL(0), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := New(ctx, Config{StoreConfig: signal.StoreConfig{Node: "n1", Encode: rpc.AppendNotification, ReplayMessages: 16, ReplayBytes: 1 << 16}, Redis: opts})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	put := st.Begin(ctx)
	put.PutSession(&signal.Session{ID: "s1", Node: "n2", Gen: 1, State: signal.Attached, Epoch: "e1"})
	if err := put.Commit(); err != nil {
		t.Fatal(err)
	}
	note := st.Begin(ctx)
	note.Notify("s1", signal.Note{Method: api.NotifyMessageReceived, Event: &api.MessageReceivedEvent{RoomID: "r", From: "p", MessageID: "m", Data: jsontext.Value(`"x"`)}})
	args, err := note.(*tx).build()
	if err != nil {
		t.Fatal(err)
	}
	note.Abort()
	first, err := commitScript.Run(ctx, st.rdb, nil, args...).Slice()
	if err != nil {
		t.Fatal(err)
	}
	again, err := commitScript.Run(ctx, st.rdb, nil, args...).Slice()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, again) {
		t.Fatalf("the retry answered %v, the commit %v", again, first)
	}
	if n := st.rdb.XLen(ctx, st.p+"log:s1").Val(); n != 1 {
		t.Fatalf("the log holds %d frames after a commit sent twice, want 1", n)
	}
}
