package server

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/gorilla/websocket"

	"github.com/parley-rtc/parley/internal/testkit"
)

// TestSlowConsumerIsCutOff: among 50 peers that read, one never reads. The
// room is flooded (bounded by count); the silent one is closed with
// slow_consumer and every reader still gets every message.
func TestSlowConsumerIsCutOff(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Limits.MaxPeersPerRoom = 64
		c.Limits.MaxConnsPerIP = 64
		// Room traffic must fit a live reader's queue even when the machine
		// is so loaded that its writer goroutine waits for a core (64 did
		// not, at load average 3.6); the silent peer's 50 kB frames still
		// overflow QueueBytes within a few messages.
		c.Limits.QueueMessages = 1024
		c.Limits.QueueBytes = 256 << 10
		c.Limits.WriteTimeout = time.Second
	})

	baseline := runtime.NumGoroutine() // the test server's own loops included

	// The silent peer: a raw socket with a tiny receive buffer that joins
	// and then never reads again.
	silent := dialSilent(t, ts)

	readers := make([]*peer, 50)
	for i := range readers {
		readers[i] = ts.connect(t, fmt.Sprintf("r%d", i))
		joinRoom(readers[i], "flood")
	}
	sender := readers[0]
	// Room-wide traffic every reader must get in full, and directed bulk
	// for the silent peer that overflows the kernel's socket buffers and
	// then its outbound queue. Both loops are bounded in count.
	const messages = 2000
	bulk := strings.Repeat("x", 50_000)
	cutOff := func() bool { return strings.Contains(ts.logs.String(), "identity=silent reason=slow_consumer") }
	for i := range messages {
		sender.must("message.send", map[string]any{"roomId": "flood", "data": fmt.Sprintf("%d", i)})
		if i < 500 && !cutOff() {
			// Refused with 404 once the silent peer is gone: that is fine.
			_, _ = sender.Call("message.send", map[string]any{"roomId": "flood", "to": silent.peerID, "data": bulk})
		}
	}
	defer func() {
		if t.Failed() {
			for _, line := range strings.Split(ts.logs.String(), "\n") {
				if strings.Contains(line, "silent") {
					t.Log(line)
				}
			}
		}
	}()
	// The close frame cannot always get through a full socket; when it
	// does, it must say why. The server's log always does.
	testkit.Eventually(t, "the silent peer's session to end as slow_consumer", cutOff)
	if code, reason := silent.closeCode(t); code != -1 && (code != 4009 || reason != "slow_consumer") {
		t.Fatalf("silent peer closed with %d %q, want 4009 slow_consumer", code, reason)
	}
	for i, r := range readers[1:] {
		got := 0
		for got < messages {
			f, err := r.Next()
			if err != nil {
				t.Fatalf("reader %d after %d messages: %v", i+1, got, err)
			}
			if f.Method == "message.received" {
				got++
			}
		}
	}
	for _, r := range readers {
		_ = r.Close()
	}
	goroutinesSettle(t, baseline+4) // +4: a loop or two started since (the TURN server's, Redis' pool)
}

// silentPeer joins a room over a raw WebSocket and then stops reading.
type silentPeer struct {
	ws     *websocket.Conn
	peerID string
}

func dialSilent(t *testing.T, ts *testServer) *silentPeer {
	t.Helper()
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return c, err
	}}
	ws, _, err := d.Dial(ts.wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	var connected struct {
		Result struct {
			PeerID string `json:"peerId"`
		} `json:"result"`
	}
	for i, req := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"session.connect","params":{"identity":"silent"}}`,
		`{"jsonrpc":"2.0","id":2,"method":"room.join","params":{"roomId":"flood","create":true}}`,
	} {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
			t.Fatal(err)
		}
		_, msg, err := ws.ReadMessage()
		if err != nil || !strings.Contains(string(msg), `"result"`) {
			t.Fatalf("silent peer step %d: %s %v", i, msg, err)
		}
		if i == 0 {
			if err := json.Unmarshal(msg, &connected, json.RejectUnknownMembers(false)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return &silentPeer{ws: ws, peerID: connected.Result.PeerID}
}

// closeCode finally reads: past whatever was queued, to the close frame.
func (s *silentPeer) closeCode(t *testing.T) (int, string) {
	t.Helper()
	_ = s.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := s.ws.ReadMessage(); err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code, ce.Text
			}
			return -1, err.Error()
		}
	}
}
