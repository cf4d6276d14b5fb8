package server

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/gorilla/websocket"
)

// BenchmarkDiagReport measures one diag.report through the whole server
// over a loopback WebSocket, answered with its verdict: the record kept
// (memory, or Redis with PARLEY_TEST_STORE=redis), the signaling and TURN
// records read, the cause named.
func BenchmarkDiagReport(b *testing.B) {
	ts := startServer(b, benchLimits)
	alice, _ := rawPeer(b, ts, "alice", "bench")
	_, bobID := rawPeer(b, ts, "bob", "bench")
	if _, _, err := alice.ReadMessage(); err != nil { // room.peerJoined
		b.Fatal(err)
	}
	req := fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"diag.report","id":1,"params":{"roomId":"bench","peerId":%q,"report":`+
		`{"trigger":"failed","connectionState":"failed","iceConnectionState":"failed","signalingState":"stable","iceTransportPolicy":"all",`+
		`"local":{"host":1},"remote":{"host":1},"remoteCandidates":1,"elapsedMs":16000,"agent":"bench"}}}`, bobID)
	b.ReportAllocs()
	for b.Loop() {
		if err := alice.WriteMessage(websocket.TextMessage, req); err != nil {
			b.Fatal(err)
		}
		_, reply, err := alice.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if !bytes.Contains(reply, []byte(`"result":{`)) {
			b.Fatalf("reply %s", reply)
		}
	}
}
