package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/gorilla/websocket"

	"github.com/parley-rtc/parley/internal/rpctest"
	"github.com/parley-rtc/parley/internal/testkit"
)

// closeNormally says goodbye (close frame 1000): the session ends at once.
func closeNormally(t testing.TB, c *rpctest.Client) {
	t.Helper()
	if err := c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")); err != nil {
		t.Fatal(err)
	}
}

// resumeParams is session.connect's resume member for p's session.
func resumeParams(p *peer, lastSeq int64) map[string]any {
	return map[string]any{"resume": map[string]any{
		"sessionId": p.session["sessionId"], "resumeToken": p.session["resumeToken"], "lastSeq": lastSeq,
	}}
}

// resumeOn dials a new connection and resumes p's session on it; p then
// uses the new connection.
func (ts *testServer) resumeOn(t testing.TB, p *peer, lastSeq int64) error {
	t.Helper()
	c := ts.dial(t, nil)
	var res map[string]any
	if err := c.CallInto("session.connect", resumeParams(p, lastSeq), &res); err != nil {
		return err
	}
	if res["resumed"] != true || res["peerId"] != p.peerID {
		t.Fatalf("resume result %v: want resumed with peer %s", res, p.peerID)
	}
	if res["resumeToken"] == p.session["resumeToken"] {
		t.Fatal("the resume token did not rotate")
	}
	p.Client, p.session = c, res
	return nil
}

type seqParams struct {
	Seq    int64          `json:"seq"`
	PeerID string         `json:"peerId"`
	State  string         `json:"state"`
	Reason string         `json:"reason"`
	Data   map[string]int `json:"data"`
}

// expectState waits for room.peerState about peerID.
func expectState(t testing.TB, p *peer, peerID, state string) {
	t.Helper()
	var ps seqParams
	if err := p.Expect("room.peerState", &ps); err != nil {
		t.Fatal(err)
	}
	if ps.PeerID != peerID || ps.State != state {
		t.Fatalf("room.peerState = %+v, want %s %s", ps, peerID, state)
	}
}

// TestResumeLosslessUnderCuts streams 1,000 numbered directed messages to
// bob while his TCP connection is cut at a random point; bob resumes from
// the last seq he processed and sees 1..1000 exactly once, in order, with
// the same peer id, and alice sees him reconnecting and connected again.
func TestResumeLosslessUnderCuts(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Limits.ReplayMessages = 2048
		c.Limits.QueueMessages = 4096
	})
	const total = 1000
	for run := range 5 {
		t.Run(fmt.Sprint(run), func(t *testing.T) {
			room := fmt.Sprint("cut-", run)
			alice, bob := ts.roomOfTwo(t, room)
			cuts := []int{rand.IntN(total-1) + 1}
			if run%2 == 1 { // two cuts in one stream
				cuts = append(cuts, cuts[0]+rand.IntN(total-cuts[0]))
			}

			sendErr := make(chan error, 1)
			go func() {
				for n := 1; n <= total; n++ {
					if _, err := alice.Call("message.send", map[string]any{"roomId": room, "to": bob.peerID, "data": map[string]int{"n": n}}); err != nil {
						sendErr <- fmt.Errorf("message %d: %w", n, err)
						return
					}
				}
				sendErr <- nil
			}()

			var lastSeq int64
			next := 1
			for next <= total {
				f, err := bob.Next()
				if err != nil {
					t.Fatalf("after message %d: %v", next-1, err)
				}
				var p seqParams
				if err := json.Unmarshal(f.Params, &p); err != nil {
					t.Fatal(err)
				}
				if p.Seq != lastSeq+1 {
					t.Fatalf("seq %d after %d", p.Seq, lastSeq)
				}
				lastSeq = p.Seq
				if f.Method != "message.received" {
					continue
				}
				if p.Data["n"] != next {
					t.Fatalf("got message %d, want %d", p.Data["n"], next)
				}
				next++
				if len(cuts) > 0 && p.Data["n"] == cuts[0] {
					cuts = cuts[1:]
					_ = bob.Close() // the TCP connection ends mid-stream
					expectState(t, alice, bob.peerID, "reconnecting")
					if err := ts.resumeOn(t, bob, lastSeq); err != nil {
						t.Fatalf("resume after message %d: %v", next-1, err)
					}
					expectState(t, alice, bob.peerID, "connected")
				}
			}
			if err := <-sendErr; err != nil {
				t.Fatal(err)
			}
			// Nothing more: a round trip flushes anything still queued.
			bob.must("room.get", map[string]any{"roomId": room})
			if n := bob.Pending(); n != 0 {
				f, _ := bob.Next()
				t.Fatalf("%d extra notifications after the stream, first %s %s", n, f.Method, f.Params)
			}
		})
	}
}

// TestResumeWindowExpiry: a session that does not come back within the
// window leaves its rooms with reason timeout, exactly once, and a late
// resume is 404.
func TestResumeWindowExpiry(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Limits.ResumeWindow = 100e6 }) // 100 ms
	alice, bob := ts.roomOfTwo(t, "w")
	_ = bob.Close()
	expectState(t, alice, bob.peerID, "reconnecting")
	var left seqParams
	if err := alice.Expect("room.peerLeft", &left); err != nil {
		t.Fatal(err)
	}
	if left.PeerID != bob.peerID || left.Reason != "timeout" {
		t.Fatalf("room.peerLeft = %+v, want bob timeout", left)
	}
	info := alice.must("room.get", map[string]any{"roomId": "w"})
	if n := alice.Pending(); n != 0 {
		t.Fatalf("%d notifications after the timeout's peerLeft", n)
	}
	var room struct {
		Peers []map[string]any `json:"peers"`
	}
	_ = json.Unmarshal(info, &room)
	if len(room.Peers) != 1 {
		t.Fatalf("room after the timeout: %s", info)
	}
	rpcError(t, ts.resumeOn(t, bob, 0), 404, "session_not_found")
}

// TestResumeRefusals: bad tokens (1,000 of them), a used token, a lastSeq
// from the future and a gap are refused with errors that name the
// problem, without the server holding anything for them.
func TestResumeRefusals(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Limits.ReplayMessages = 4 })
	alice, bob := ts.roomOfTwo(t, "g")
	_ = bob.Close()
	expectState(t, alice, bob.peerID, "reconnecting")

	// The clients first: each holds a large notification buffer of its own.
	var clients []*rpctest.Client
	for range 10 {
		clients = append(clients, ts.dial(t, nil))
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	baseline := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for w, c := range clients {
		wg.Go(func() {
			for i := range 100 {
				params := resumeParams(bob, 0)
				params["resume"] = map[string]any{"sessionId": bob.session["sessionId"], "resumeToken": fmt.Sprintf("guess-%d-%d", w, i), "lastSeq": 0}
				_, err := c.Call("session.connect", params)
				if e, ok := err.(*rpctest.Error); !ok || e.Code != 401 {
					t.Errorf("bad token %d/%d: %v, want 401", w, i, err)
					return
				}
			}
			_ = c.Close()
		})
	}
	wg.Wait()
	goroutinesSettle(t, baseline-len(clients)*2) // each closed client had a reader and a server-side goroutine
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 4<<20 {
		t.Errorf("heap grew %d bytes over 1,000 refused resumes", grown)
	}

	c := ts.dial(t, nil)
	_, err := c.Call("session.connect", resumeParams(bob, 99))
	rpcError(t, err, 400, "ahead")
	_, err = c.Call("session.connect", map[string]any{"identity": "mallory", "resume": resumeParams(bob, 0)["resume"]})
	rpcError(t, err, 403, "another identity")

	// The gap: more notifications than the buffer holds while bob is away.
	for i := range 6 {
		alice.must("message.send", map[string]any{"roomId": "g", "to": bob.peerID, "data": i})
	}
	_, err = c.Call("session.connect", resumeParams(bob, 1))
	rpcError(t, err, 410, "resume_gap")
	var left seqParams
	if err := alice.Expect("room.peerLeft", &left); err != nil || left.Reason != "disconnected" {
		t.Fatalf("after the gap alice got %+v %v, want peerLeft disconnected", left, err)
	}
	// A full rejoin, and the snapshot in seq order.
	bob2 := ts.connect(t, "bob")
	must := bob2.must("room.join", map[string]any{"roomId": "g", "rejoin": true})
	var joined struct {
		Peers []map[string]any `json:"peers"`
	}
	_ = json.Unmarshal(must, &joined)
	var snap struct {
		Seq   int64            `json:"seq"`
		Peers []map[string]any `json:"peers"`
	}
	if err := bob2.Expect("room.snapshot", &snap); err != nil {
		t.Fatal(err)
	}
	if len(joined.Peers) != 1 || snap.Seq != 1 || len(snap.Peers) != 1 || snap.Peers[0]["peerId"] != alice.peerID || snap.Peers[0]["polite"] != true {
		t.Fatalf("room.snapshot = %+v", snap)
	}
	// The session is gone for good: its token is no use.
	_, err = c.Call("session.connect", resumeParams(bob, 0))
	rpcError(t, err, 404, "session_not_found")
}

// TestResumeTokenSingleUse: after a resume the old token is refused; a
// resume while the server still holds the old connection takes over from
// it (4008) without peers seeing a drop.
func TestResumeTokenSingleUse(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.roomOfTwo(t, "s")
	used := resumeParams(bob, 0)
	old := bob.Client
	if err := ts.resumeOn(t, bob, 0); err != nil {
		t.Fatal(err)
	}
	if code, _, err := old.CloseCode(); err != nil || code != 4008 {
		t.Fatalf("the superseded connection closed with %d %v, want 4008", code, err)
	}
	c := ts.dial(t, nil)
	_, err := c.Call("session.connect", used)
	rpcError(t, err, 401, "resumeToken")
	alice.must("message.send", map[string]any{"roomId": "s", "data": "hi"})
	bob.expect("message.received")
	if n := alice.Pending(); n != 0 {
		f, _ := alice.Next()
		t.Fatalf("alice saw %s %s for a resume that needed no reconnect", f.Method, f.Params)
	}
}

// TestDuplicateIdentityPolicies: multi allows two sessions, takeover
// replaces the old one (session.replaced, 4008, peerLeft replaced), reject
// refuses the new one with 409; a resume is never a duplicate.
func TestDuplicateIdentityPolicies(t *testing.T) {
	t.Run("multi", func(t *testing.T) {
		ts := startServer(t)
		a1, a2 := ts.connect(t, "ann"), ts.connect(t, "ann")
		if a1.peerID == a2.peerID {
			t.Fatal("two sessions share a peer id")
		}
		joinRoom(a1, "m")
		joinRoom(a2, "m")
		a1.expect("room.peerJoined")
	})
	t.Run("takeover", func(t *testing.T) {
		ts := startServer(t, func(c *Config) { c.DuplicateIdentity = DuplicateTakeover })
		watcher, old := ts.connect(t, "w"), ts.connect(t, "ann")
		joinRoom(watcher, "t")
		joinRoom(old, "t")
		watcher.expect("room.peerJoined")
		fresh := ts.connect(t, "ann")
		var rep seqParams
		if err := old.Expect("session.replaced", &rep); err != nil || rep.Seq == 0 {
			t.Fatalf("session.replaced: %+v %v", rep, err)
		}
		if code, _, err := old.CloseCode(); err != nil || code != 4008 {
			t.Fatalf("old connection closed with %d %v, want 4008", code, err)
		}
		var left seqParams
		if err := watcher.Expect("room.peerLeft", &left); err != nil || left.PeerID != old.peerID || left.Reason != "replaced" {
			t.Fatalf("watcher got %+v %v, want peerLeft replaced", left, err)
		}
		c := ts.dial(t, nil)
		_, err := c.Call("session.connect", resumeParams(old, 0))
		rpcError(t, err, 404, "session_not_found")
		fresh.must("room.join", map[string]any{"roomId": "t"})
	})
	t.Run("reject", func(t *testing.T) {
		ts := startServer(t, func(c *Config) { c.DuplicateIdentity = DuplicateReject })
		first := ts.connect(t, "ann")
		c := ts.dial(t, nil)
		_, err := c.Call("session.connect", map[string]any{"identity": "ann"})
		rpcError(t, err, 409, "duplicate-identity policy: reject")
		_ = first.Close()
		// Its own resume is not a duplicate, attached or detached.
		if err := ts.resumeOn(t, first, 0); err != nil {
			t.Fatal(err)
		}
		// After a goodbye the identity is free again.
		closeNormally(t, first.Client)
		testkit.Eventually(t, "ann's session to end", func() bool { return len(ts.srv.core.SessionsOf(context.Background(), "ann")) == 0 })
		ts.connect(t, "ann")
	})
}

// TestSessionAck: acknowledged notifications leave the replay buffer (as a
// request or as a notification), an ack from the future is refused, a
// resume from the acknowledged seq replays only what came after, and one
// from before it is a gap.
func TestSessionAck(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.roomOfTwo(t, "a")
	var last seqParams
	for i := range 10 {
		alice.must("message.send", map[string]any{"roomId": "a", "to": bob.peerID, "data": map[string]int{"n": i}})
		if err := bob.Expect("message.received", &last); err != nil {
			t.Fatal(err)
		}
	}
	replay := func() (acked int64, frames int) {
		info, err := ts.srv.core.SessionInfo(context.Background(), bob.session["sessionId"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return info.AckedSeq, int(info.ReplayMessages)
	}
	if acked, frames := replay(); acked != 0 || frames != int(last.Seq) {
		t.Fatalf("before any ack: acked %d, %d frames kept; want 0, %d", acked, frames, last.Seq)
	}

	bob.must("session.ack", map[string]any{"seq": last.Seq - 5})
	if acked, frames := replay(); acked != last.Seq-5 || frames != 5 {
		t.Fatalf("after acking %d: acked %d, %d frames kept; want 5", last.Seq-5, acked, frames)
	}
	_, err := bob.Call("session.ack", map[string]any{"seq": last.Seq + 1})
	rpcError(t, err, 400, "ahead")
	bob.must("session.ack", map[string]any{"seq": 1}) // below the last ack: nothing changes
	// As a notification: nothing is answered, the ack is taken all the same.
	if err := bob.Send(fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"session.ack","params":{"seq":%d}}`, last.Seq-3)); err != nil {
		t.Fatal(err)
	}
	bob.must("room.get", map[string]any{"roomId": "a"}) // the ack was read before this
	if acked, frames := replay(); acked != last.Seq-3 || frames != 3 {
		t.Fatalf("after the notification: acked %d, %d frames kept; want %d, 3", acked, frames, last.Seq-3)
	}

	_ = bob.Close()
	expectState(t, alice, bob.peerID, "reconnecting")
	if err := ts.resumeOn(t, bob, last.Seq-3); err != nil {
		t.Fatal(err)
	}
	expectState(t, alice, bob.peerID, "connected")
	var got []int
	for range 3 {
		var m struct {
			Data map[string]int `json:"data"`
		}
		if err := bob.Expect("message.received", &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Data["n"])
	}
	if !slices.Equal(got, []int{7, 8, 9}) {
		t.Fatalf("replayed messages %v, want 7 8 9", got)
	}

	_ = bob.Close()
	expectState(t, alice, bob.peerID, "reconnecting")
	rpcError(t, ts.resumeOn(t, bob, last.Seq-4), 410, "resume_gap")
}
