package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/testkit"
)

// TestWatchAcrossNodes: an admin watching a room from a third node gets
// the signaling of peers on the other two as admin.signal, in the order
// the relays committed: the server view of the ladder spans the cluster.
func TestWatchAcrossNodes(t *testing.T) {
	c := newCluster(t, 3, nil)
	alice, bob := c.roomOfTwo("alice", "bob")
	token := testkit.SignHS256("test", "0123456789abcdef0123456789abcdef", fmt.Sprintf(`{"sub":"ops","exp":%d,"admin":true}`, time.Now().Add(time.Hour).Unix()))
	ops, err := tryConnectWith(t, c.nodes[2].URL(), "ops", map[string]any{"token": token})
	if err != nil {
		t.Fatal(err)
	}
	ops.must("admin.rooms.watch", map[string]any{"roomId": "r"})
	const sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	cand := map[string]any{"candidate": "candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host", "sdpMid": "0"}
	bob.must("ice.candidate", map[string]any{"roomId": "r", "to": alice.peerID, "candidate": cand})
	alice.must("sdp.offer", map[string]any{"roomId": "r", "to": bob.peerID, "sdp": sdp})
	if _, err := bob.call("sdp.offer", map[string]any{"roomId": "r", "to": alice.peerID, "sdp": sdp}); rpcCode(err) != 491 {
		t.Fatalf("bob's crossing offer: %v, want 491", err)
	}
	bob.must("sdp.answer", map[string]any{"roomId": "r", "to": alice.peerID, "sdp": sdp})
	want := []struct{ method, outcome, from string }{
		{"ice.candidate", "held", bob.peerID},
		{"sdp.offer", "delivered", alice.peerID},
		{"ice.candidate", "released", bob.peerID},
		{"sdp.offer", "refused", bob.peerID},
		{"sdp.answer", "delivered", bob.peerID},
	}
	for i, w := range want {
		n := ops.expect("admin.signal", 5*time.Second)
		if n.str("method") != w.method || n.str("outcome") != w.outcome || n.str("from") != w.from || n.str("roomId") != "r" {
			t.Fatalf("admin.signal %d: %v, want %s %s from %s", i, n.Params, w.method, w.outcome, w.from)
		}
	}
}
