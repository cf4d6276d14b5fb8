package abuse

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// batchOf is a batch of n copies of request, a format with one %d for
// the id.
func batchOf(n int, request string) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, request, i)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// TestPreAuthDiscoverBatch is issue 16's first attack: unauthenticated
// sockets each send one 3.3 KB frame, a batch of 64 rpc.discover, and never
// read. The server queued 64 × 62 KB for each (100 sockets took it from
// 21.6 to 746 MiB). Before session.connect a batch holds at most 4
// requests and rpc.discover is answered once, so each socket gets one
// short error.
func TestPreAuthDiscoverBatch(t *testing.T) {
	sockets, addrs := size(30, 300), size(1, 3)
	tg := start(t, 4096, "--no-turn", "--log-level", "warn")
	s := tg.siege(t)
	batch := batchOf(64, `{"jsonrpc":"2.0","id":%d,"method":"rpc.discover"}`)
	conns := make([]*websocket.Conn, sockets)
	for i := range conns {
		ws, err := tg.rawWS(t, source(i%addrs), 4096)
		if err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, batch); err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
		conns[i] = ws
	}
	tg.settle(t, 10*time.Second)
	s.bounded(t, s.during(t), 16+float64(sockets)/10, 20+3*sockets)

	// The defence: each socket was answered with one short error.
	for i, ws := range conns[:min(len(conns), 10)] {
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, reply, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
		if len(reply) > 1024 || !strings.Contains(string(reply), `"code":-32600`) {
			t.Fatalf("socket %d: the batch was answered with %d bytes (%.200s…), want one short -32600 error", i, len(reply), reply)
		}
	}
	m := tg.metrics(t)
	in, out := m[`parley_preauth_bytes_total{direction="in"}`], m[`parley_preauth_bytes_total{direction="out"}`]
	t.Logf("pre-auth bytes: %.0f in, %.0f out", in, out)
	if in < float64(sockets*len(batch)) || out > float64(sockets*1024) {
		t.Errorf("pre-auth bytes %.0f in (want ≥ %d), %.0f out (want ≤ %d)", in, sockets*len(batch), out, sockets*1024)
	}
	for _, ws := range conns {
		_ = ws.NetConn().Close()
	}
	s.after(t)
}

// TestPreAuthDiscoverLoops: readers that do read loop on rpc.discover
// without authenticating (issue 16: 40 loops pushed 222 MB/s and a
// legitimate request took 480–730 ms instead of 0.18 ms). Each connection
// gets the document once; the loops reconnect for more, paying a handshake
// per copy, and the probe keeps its latency.
func TestPreAuthDiscoverLoops(t *testing.T) {
	loops, hold := size(4, 40), time.Duration(size(1, 5))*time.Second
	tg := start(t, 4096, "--no-turn", "--log-level", "warn")
	s := tg.siege(t)
	var received, documents, conns atomic.Int64
	during := s.hold(t, loops, hold, func(ctx context.Context, i int) {
		for ctx.Err() == nil {
			ws, err := tg.dialWS(source(i%4), 0)
			if err != nil {
				time.Sleep(10 * time.Millisecond) // refused: over the address's cap
				continue
			}
			conns.Add(1)
			for id := 0; ctx.Err() == nil; id++ {
				req := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"rpc.discover"}`, id)
				if ws.WriteMessage(websocket.TextMessage, []byte(req)) != nil {
					break
				}
				_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, reply, err := ws.ReadMessage()
				if err != nil {
					break
				}
				received.Add(int64(len(reply)))
				if !bytes.Contains(reply, []byte(`"result"`)) {
					break // refused: a new connection for the next copy
				}
				documents.Add(1)
			}
			_ = ws.NetConn().Close()
		}
	})
	secs := hold.Seconds()
	t.Logf("%d loops: %.1f MB/s to unauthenticated clients, %.0f documents/s over %.0f connections/s",
		loops, float64(received.Load())/secs/1e6, float64(documents.Load())/secs, float64(conns.Load())/secs)
	s.bounded(t, during, 64, 20+4*loops)
	if documents.Load() > conns.Load() {
		t.Errorf("%d documents over %d connections: rpc.discover must be answered once per connection", documents.Load(), conns.Load())
	}
	s.after(t)
}
