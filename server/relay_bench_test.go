package server

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/gorilla/websocket"
)

// rawPeer connects a bare WebSocket, opens a session and joins room. The
// test client's bookkeeping would dominate what a benchmark measures.
func rawPeer(b *testing.B, ts *testServer, identity, room string) (*websocket.Conn, string) {
	b.Helper()
	ws, peerID := openPeer(b, ts, identity, room)
	b.Cleanup(func() { ws.Close() })
	return ws, peerID
}

// openPeer is rawPeer leaving the close to the caller.
func openPeer(b *testing.B, ts *testServer, identity, room string) (*websocket.Conn, string) {
	b.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(ts.wsURL, nil)
	if err != nil {
		b.Fatal(err)
	}
	call := func(req string, out any) {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
			b.Fatal(err)
		}
		_, reply, err := ws.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal(reply, out, json.RejectUnknownMembers(false)); err != nil {
			b.Fatalf("%s: %v", reply, err)
		}
	}
	var connected struct {
		Result struct {
			PeerID string `json:"peerId"`
		} `json:"result"`
	}
	call(fmt.Sprintf(`{"jsonrpc":"2.0","method":"session.connect","params":{"identity":%q},"id":1}`, identity), &connected)
	var joined struct{}
	call(fmt.Sprintf(`{"jsonrpc":"2.0","method":"room.join","params":{"roomId":%q,"create":true},"id":2}`, room), &joined)
	return ws, connected.Result.PeerID
}

// benchLimits lifts the limits a flood would trip: the rate limit (a
// refused call is never relayed) and the outbound queue's caps (a receiver
// goroutine that waits for a core on a loaded machine would otherwise be
// cut off as a slow consumer, and the run would fail with "not in room").
func benchLimits(c *Config) {
	c.Limits.RatePerSecond = 1e9
	c.Limits.RateBurst = 1e9
	c.Limits.QueueMessages = 1 << 20
	c.Limits.QueueBytes = 1 << 30
}

// BenchmarkRelayICECandidate measures one ice.candidate through the whole
// server over loopback WebSockets: read, decode, validate, dispatch, relay
// to the other peer's queue, encode, write.
func BenchmarkRelayICECandidate(b *testing.B) {
	benchRelay(b, func(i int, to string) []byte {
		return fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"ice.candidate","id":%d,"params":{"roomId":"bench","to":%q,"candidate":{"candidate":%q,"sdpMid":"0","sdpMLineIndex":0}}}`,
			i, to, sampleCandidate)
	})
}

// BenchmarkRelaySDP measures one 4 KB sdp.answer (an offer's relay but for
// the glare bookkeeping) through the whole server, as
// BenchmarkRelayICECandidate does a candidate.
func BenchmarkRelaySDP(b *testing.B) {
	b.SetBytes(int64(len(offer4K)))
	benchRelay(b, func(i int, to string) []byte {
		return fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"sdp.answer","id":%d,"params":{"roomId":"bench","to":%q,"sdp":%q}}`, i, to, offer4K)
	})
}

// benchRelay sends b.N frames (frame(i, the receiver's peer id)) from one
// peer of a room to the other, after an offer, and waits until the other
// has read b.N messages. The sender keeps a bounded window of calls in
// flight; see benchLimits for the limits lifted.
func benchRelay(b *testing.B, frame func(i int, to string) []byte) {
	ts := startServer(b, benchLimits)
	sender, _ := rawPeer(b, ts, "alice", "bench")
	receiver, bobID := rawPeer(b, ts, "bob", "bench")
	if _, _, err := sender.ReadMessage(); err != nil { // room.peerJoined
		b.Fatal(err)
	}
	// The common path: the pair's offer went first, so candidates are
	// relayed at once, not held for it.
	offer := fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"sdp.offer","id":-1,"params":{"roomId":"bench","to":%q,"sdp":%q}}`, bobID, sampleSDP)
	if err := sender.WriteMessage(websocket.TextMessage, offer); err != nil {
		b.Fatal(err)
	}
	for _, ws := range []*websocket.Conn{sender, receiver} { // the reply, the sdp.offer
		if _, msg, err := ws.ReadMessage(); err != nil || bytes.Contains(msg, []byte(`"error"`)) {
			b.Fatalf("offer: %s %v", msg, err)
		}
	}
	frames := make([][]byte, 64) // made before the timer starts
	for i := range frames {
		frames[i] = frame(i, bobID)
	}
	const window = 128
	acks := make(chan error, window)
	got := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for range b.N {
			_, reply, err := sender.ReadMessage()
			if err == nil && bytes.Contains(reply, []byte(`"error"`)) {
				err = fmt.Errorf("relay refused: %s", reply)
			}
			acks <- err
			if err != nil {
				return
			}
		}
	}()
	go func() {
		for range b.N {
			if _, _, err := receiver.ReadMessage(); err != nil {
				got <- err
				return
			}
		}
		got <- nil
	}()
	inFlight := 0
	for i := range b.N {
		if inFlight == window {
			if err := <-acks; err != nil {
				b.Fatal(err)
			}
			inFlight--
		}
		if err := sender.WriteMessage(websocket.TextMessage, frames[i%len(frames)]); err != nil {
			b.Fatal(err)
		}
		inFlight++
	}
	timeout := time.After(time.Minute)
	for done := false; !done; {
		select {
		case err := <-got:
			if err != nil {
				b.Fatal(err)
			}
			done = true
		case err := <-acks: // an early refusal fails the run instead of a hang
			if err != nil {
				b.Fatal(err)
			}
		case <-timeout:
			b.Fatalf("receiver got fewer than %d messages within a minute", b.N)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "relayed/s")
}

// BenchmarkJoin measures what siglab's join does but the relay: two peers
// dial, open a session and join a new room, the first sees the second
// join, and both leave.
func BenchmarkJoin(b *testing.B) {
	ts := startServer(b, benchLimits)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		room := fmt.Sprintf("join%d", i)
		alice, _ := openPeer(b, ts, fmt.Sprintf("a%d", i), room)
		bob, _ := openPeer(b, ts, fmt.Sprintf("b%d", i), room)
		if _, _, err := alice.ReadMessage(); err != nil { // room.peerJoined
			b.Fatal(err)
		}
		alice.Close()
		bob.Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}

// BenchmarkBroadcastMessage measures one message.send to a room of ten:
// the sender's call and nine deliveries, each read by its receiver.
func BenchmarkBroadcastMessage(b *testing.B) {
	ts := startServer(b, benchLimits)
	const receivers = 9
	sender, _ := rawPeer(b, ts, "sender", "bench")
	peers := make([]*websocket.Conn, receivers)
	for i := range peers {
		peers[i], _ = rawPeer(b, ts, fmt.Sprintf("r%d", i), "bench")
	}
	done := make(chan error, receivers)
	for i, ws := range peers {
		for range receivers - 1 - i { // room.peerJoined of those who joined later
			if _, _, err := ws.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
		go func() {
			for range b.N {
				if _, _, err := ws.ReadMessage(); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range receivers { // room.peerJoined of every receiver
		if _, _, err := sender.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
	frame := []byte(`{"jsonrpc":"2.0","method":"message.send","id":1,"params":{"roomId":"bench","data":{"kind":"chat","text":"hello, room"}}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := sender.WriteMessage(websocket.TextMessage, frame); err != nil {
			b.Fatal(err)
		}
		_, reply, err := sender.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if bytes.Contains(reply, []byte(`"error"`)) {
			b.Fatalf("message.send refused: %s", reply)
		}
	}
	for range receivers {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}
