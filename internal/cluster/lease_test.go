package cluster

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLeaseLapse: a node stopped (SIGSTOP) past its lease is reaped by the
// others (its session's peers see it reconnecting); when it wakes
// (SIGCONT) it writes nothing, not even the request its client sent while
// it slept: it closes its connections (4307) and exits. The session
// resumes on another node.
func TestLeaseLapse(t *testing.T) {
	c := newCluster(t, 3, nil)
	alice, bob := c.roomOfTwo("alice", "bob")

	victim := c.nodes[1]
	victim.signal(syscall.SIGSTOP)
	stale := make(chan error, 1)
	go func() {
		_, err := bob.call("message.send", map[string]any{"roomId": "r", "to": alice.peerID, "data": "stale"})
		stale <- err
	}()
	if n := alice.expect("room.peerState", reapWithin, "presence.changed"); n.str("peerId") != bob.peerID || n.str("state") != "reconnecting" {
		t.Fatalf("alice saw %v, want bob reconnecting", n.Params)
	}
	victim.signal(syscall.SIGCONT)
	if err := <-stale; err == nil {
		t.Fatal("the reaped node answered bob's request as if it held his session")
	}
	if code, _, err := bob.conn.CloseCode(); err != nil || code != 4307 {
		t.Fatalf("bob's connection on the reaped node closed with %d (%v), want 4307", code, err)
	}
	select {
	case <-victim.Done():
		if err := victim.Err(); err == nil || !strings.Contains(err.Error(), "exit status") {
			t.Fatalf("the reaped node exited with %v, want an error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reaped node is still running")
	}
	if err := bob.resume(c.nodes[2].URL()); err != nil {
		t.Fatalf("bob resumes on another node: %v", err)
	}
	bob.must("message.send", map[string]any{"roomId": "r", "to": alice.peerID, "data": "fresh"})
	for {
		n := alice.expect("message.received", 5*time.Second, "presence.changed", "room.peerState")
		if d := n.str("data"); d == "stale" {
			t.Fatal("alice got the request bob sent to the node while it slept")
		} else if d == "fresh" {
			break
		}
	}
}
