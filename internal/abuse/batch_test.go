package abuse

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/rpctest"
)

// abuseKey is the API key of a target started with --api-keys abuseKey.
const (
	abuseKID    = "abuse"
	abuseSecret = "0123456789abcdef0123456789abcdef"
	abuseKey    = abuseKID + ":" + abuseSecret
)

// session connects a dev session named identity.
func (tg *target) session(t *testing.T, identity string) *rpctest.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rpctest.Timeout)
	defer cancel()
	c, err := rpctest.Dial(ctx, tg.URL(), nil)
	if err != nil {
		t.Fatalf("%s: %v", identity, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Call("session.connect", map[string]any{"identity": identity}); err != nil {
		t.Fatalf("%s: session.connect: %v", identity, err)
	}
	return c
}

// post sends body to POST /rpc with the abuse API key and returns the reply.
func (tg *target) post(t *testing.T, body []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rpctest.Timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, tg.httpURL()+"/rpc", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(abuseKID, abuseSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /rpc: %v", err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST /rpc: %v", err)
	}
	return reply
}

// refusedBatch checks that reply refuses a whole batch as too long.
func refusedBatch(t *testing.T, how string, reply []byte) {
	t.Helper()
	if !bytes.HasPrefix(reply, []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32600`)) || !bytes.Contains(reply, []byte("at most 64")) {
		t.Fatalf("%s: a batch of 65 was answered %.300s, want one -32600 error (at most 64 requests)", how, reply)
	}
}

// TestRefusedBatchExecutesNothing is issue 16's fourth attack: a batch of
// 65 room.create was answered with one -32600 error, yet 64 rooms existed
// afterwards, over WebSocket and POST /rpc alike, and 65 message.send
// delivered 64 messages. The limit is checked before any element runs.
func TestRefusedBatchExecutesNothing(t *testing.T) {
	repeats := size(3, 100)
	tg := start(t, 4096, "--no-turn", "--api-keys", abuseKey, "--log-level", "warn")
	s := tg.siege(t)
	sender, receiver := tg.session(t, "sender"), tg.session(t, "receiver")
	for _, c := range []*rpctest.Client{sender, receiver} {
		if _, err := c.Call("room.join", map[string]any{"roomId": "batch", "create": true}); err != nil {
			t.Fatal(err)
		}
	}
	for r := range repeats {
		creates := batchOf(65, `{"jsonrpc":"2.0","id":%[1]d,"method":"room.create","params":{"roomId":"ws`+fmt.Sprint(r)+`-%[1]d"}}`)
		if err := sender.Send(creates); err != nil {
			t.Fatal(err)
		}
		f, err := sender.Response("null")
		if err != nil {
			t.Fatal(err)
		}
		refusedBatch(t, "WebSocket", f.Raw)
		refusedBatch(t, "POST /rpc", tg.post(t, batchOf(65, `{"jsonrpc":"2.0","id":%[1]d,"method":"room.create","params":{"roomId":"http`+fmt.Sprint(r)+`-%[1]d"}}`)))
		sends := batchOf(65, `{"jsonrpc":"2.0","id":%d,"method":"message.send","params":{"roomId":"batch","data":"hello"}}`)
		if err := sender.Send(sends); err != nil {
			t.Fatal(err)
		}
		if f, err = sender.Response("null"); err != nil {
			t.Fatal(err)
		}
		refusedBatch(t, "WebSocket", f.Raw)
	}
	s.bounded(t, s.during(t), 16, 20)
	// Rooms: the probe's and "batch"; messages: none, even a while later.
	time.Sleep(200 * time.Millisecond)
	rooms := tg.metrics(t)["parley_rooms_active"]
	delivered := 0
	for receiver.Pending() > 0 {
		if f, _ := receiver.Next(); f.Method == "message.received" {
			delivered++
		}
	}
	t.Logf("%d refused batches of 65 room.create over WebSocket and POST /rpc and of 65 message.send: %.0f rooms exist (2 before), %d messages delivered", repeats, rooms, delivered)
	if rooms != 2 || delivered != 0 {
		t.Errorf("refused batches executed: %.0f rooms (want 2), %d messages delivered (want 0)", rooms, delivered)
	}
	s.after(t)
}
