package cluster

import (
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestDrainMigrates: SIGTERM on a node of a cluster migrates its sessions:
// each is told session.draining {resumeElsewhere: true}, its connection
// closes with 4307, and it resumes on another node without losing a
// message sent meanwhile; the drained node exits as soon as none is left.
func TestDrainMigrates(t *testing.T) {
	c := newCluster(t, 2, nil)
	alice, bob := c.roomOfTwo("alice", "bob")
	const messages = 200
	sent := make(chan error, 1)
	go func() {
		for i := range messages {
			if _, err := alice.call("message.send", map[string]any{"roomId": "r", "to": bob.peerID, "data": strconv.Itoa(i)}); err != nil {
				sent <- err
				return
			}
			if i == messages/4 {
				c.nodes[1].signal(syscall.SIGTERM)
			}
		}
		sent <- nil
	}()
	got, drained := 0, false
	started := time.Now()
	for got < messages {
		n, err := bob.next(5 * time.Second)
		if err != nil {
			if !drained {
				t.Fatalf("bob's connection ended before session.draining: %v", err)
			}
			if code, text, _ := bob.conn.CloseCode(); code != 4307 {
				t.Fatalf("bob's connection closed with %d %q, want 4307", code, text)
			}
			if err := bob.resume(c.nodes[0].URL()); err != nil {
				t.Fatalf("bob resumes elsewhere: %v", err)
			}
			continue
		}
		switch n.Method {
		case "session.draining":
			if n.Params["resumeElsewhere"] != true {
				t.Fatalf("session.draining = %v", n.Params)
			}
			drained = true
		case "message.received":
			if i, _ := strconv.Atoi(n.str("data")); i != got {
				t.Fatalf("message %d arrived as message %d", i, got)
			}
			got++
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.nodes[1].Done():
		if err := c.nodes[1].Err(); err != nil {
			t.Fatalf("the drained node exited with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the drained node still runs with no session left")
	}
	t.Logf("bob migrated and read all %d messages in %s", messages, time.Since(started).Round(time.Millisecond))
}
