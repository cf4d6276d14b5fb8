package cluster

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestKillANode: a room spread over three nodes (sender, receiver and a
// watcher, one on each); the sender streams numbered messages to the
// receiver and the receiver's node is SIGKILLed at a random point. Once the
// cluster reaped the dead node (the watcher sees the receiver reconnecting)
// the receiver resumes on another node with its lastSeq: it gets every
// message exactly once and in order, as the same peer, and the watcher
// sees it connected again.
func TestKillANode(t *testing.T) {
	runs, messages := size(2, 5), size(300, 1000)
	for run := range runs {
		t.Run("run"+strconv.Itoa(run), func(t *testing.T) { killRun(t, messages) })
	}
}

// reapWithin bounds how long the cluster takes to reap a dead node: its
// lease (3 s), the reaper's tick, and the reaper's own 6 s of health
// after it started.
const reapWithin = 20 * time.Second

func killRun(t *testing.T, messages int) {
	c := newCluster(t, 3, nil, "--replay-messages", "2048", "--queue-messages", "4096")
	sender := connect(t, c.nodes[0].URL(), "sender")
	receiver := connect(t, c.nodes[1].URL(), "receiver")
	watcher := connect(t, c.nodes[2].URL(), "watcher")
	for _, cl := range []*client{watcher, sender, receiver} {
		cl.join("r")
	}
	watcher.expect("room.peerJoined", reapWithin, "presence.changed")
	watcher.expect("room.peerJoined", reapWithin, "presence.changed")

	killAt := 1 + rand.IntN(messages-2)
	var killed time.Time
	for i := range messages {
		if i == killAt {
			c.nodes[1].kill()
			killed = time.Now()
		}
		sender.must("message.send", map[string]any{"roomId": "r", "to": receiver.peerID, "data": strconv.Itoa(i)})
	}
	// What reached the receiver before its node died, then the drop.
	got := make([]int, 0, messages)
	read := func() error {
		for len(got) < messages {
			n, err := receiver.next(time.Second)
			if err != nil {
				return err
			}
			if n.Method == "message.received" {
				i, _ := strconv.Atoi(n.str("data"))
				got = append(got, i)
			}
		}
		return nil
	}
	if err := read(); err == nil {
		t.Fatal("the receiver's connection outlived its node")
	}
	before := len(got)
	if n := watcher.expect("room.peerState", reapWithin, "presence.changed"); n.str("peerId") != receiver.peerID || n.str("state") != "reconnecting" {
		t.Fatalf("the watcher saw %v, want the receiver reconnecting", n.Params)
	}
	reaped := time.Since(killed)
	if err := receiver.resume(c.nodes[2].URL()); err != nil {
		t.Fatalf("resume on another node: %v", err)
	}
	if err := read(); err != nil {
		t.Fatalf("after the resume, %d of %d messages: %v", len(got), messages, err)
	}
	for i, m := range got {
		if m != i {
			t.Fatalf("message %d is %d: lost, repeated or out of order (%v…)", i, m, got[max(0, i-3):min(len(got), i+3)])
		}
	}
	if n := watcher.expect("room.peerState", 5*time.Second, "presence.changed"); n.str("peerId") != receiver.peerID || n.str("state") != "connected" {
		t.Fatalf("the watcher saw %v, want the receiver connected", n.Params)
	}
	t.Logf("killed at message %d, %d read before the kill, reaped after %s; all %d in order", killAt, before, reaped.Round(time.Millisecond), messages)
}
