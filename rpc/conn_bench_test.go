package rpc

import (
	"testing"

	"github.com/gorilla/websocket"
)

// BenchmarkConnEcho is one request/reply round trip over loopback: the cost
// of the reader, dispatch and writer hand-offs on a connection that idles
// between frames, as signaling connections do.
func BenchmarkConnEcho(b *testing.B) {
	url, _, _ := wsServer(b, echoMux(), ConnConfig{})
	ws := dial(b, url)
	req := []byte(`{"jsonrpc":"2.0","method":"echo","params":[1],"id":1}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := ws.WriteMessage(websocket.TextMessage, req); err != nil {
			b.Fatal(err)
		}
		if _, _, err := ws.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}
