package server

import (
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
)

// TestAdminRoomsWatch: an admin session watching a room gets its
// signaling as admin.signal, metadata only unless it asked for frames;
// the method needs the admin grant and a WebSocket session.
func TestAdminRoomsWatch(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.roomOfTwo(t, "call")
	ops := admin(t, ts)
	info := call[map[string]any](t, ops, "admin.rooms.watch", map[string]any{"roomId": "call"})
	if peers, _ := info["peers"].([]any); len(peers) != 2 {
		t.Fatalf("admin.rooms.watch answered %v, want the room and its peers", info)
	}
	alice.must("sdp.offer", map[string]any{"roomId": "call", "to": bob.peerID, "sdp": sampleSDP})
	_, err := bob.Call("sdp.offer", map[string]any{"roomId": "call", "to": alice.peerID, "sdp": sampleSDP})
	rpcError(t, err, 491, "glare")
	// The size is the SDP's, or its JSON text's (escapes included).
	quoted, _ := json.Marshal(sampleSDP)
	for _, want := range []struct{ outcome, from string }{{"delivered", alice.peerID}, {"refused", bob.peerID}} {
		ev := ops.expect("admin.signal")
		size, _ := ev["bytes"].(float64)
		if ev["method"] != "sdp.offer" || ev["outcome"] != want.outcome || ev["from"] != want.from || ev["sdp"] != nil || size < float64(len(sampleSDP)) || size > float64(len(quoted)-2) {
			t.Fatalf("admin.signal %v, want sdp.offer %s from %s, %d bytes, no SDP", ev, want.outcome, want.from, len(sampleSDP))
		}
	}

	call[map[string]any](t, ops, "admin.rooms.watch", map[string]any{"roomId": "call", "frames": true})
	bob.must("sdp.answer", map[string]any{"roomId": "call", "to": alice.peerID, "sdp": sampleSDP})
	if ev := ops.expect("admin.signal"); ev["method"] != "sdp.answer" || ev["sdp"] != sampleSDP {
		t.Fatalf("with frames: %v", ev)
	}

	_, err = alice.Call("admin.rooms.watch", map[string]any{"roomId": "call"})
	rpcError(t, err, 403, "admin.rooms.watch needs the admin grant")
	_, err = ops.Call("admin.rooms.watch", map[string]any{"roomId": "nowhere"})
	rpcError(t, err, 404, "nowhere")
	status, body := post(t, ts, `{"jsonrpc":"2.0","id":1,"method":"admin.rooms.watch","params":{"roomId":"call"}}`, true)
	if status != 200 || !strings.Contains(body, "needs a WebSocket session") {
		t.Fatalf("over POST /rpc: %d %s", status, body)
	}
}
