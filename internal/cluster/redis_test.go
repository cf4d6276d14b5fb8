package cluster

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRedisRestart: Redis is killed and restarted mid-stream, without its
// data and with it (AOF, fsync every second). The nodes reconnect; the
// receiver, whose node could not tell what the restart lost, has its
// connection closed, and its resume answers 410 resume_gap naming the
// loss. Before that, what it got is every message from the first, in
// order: a gap is never silent.
func TestRedisRestart(t *testing.T) {
	for _, tt := range []struct {
		name  string
		args  []string
		keep  bool
		cause string
	}{
		{"without its data", nil, false, "state was lost"},
		{"with AOF", []string{"--appendonly", "yes", "--appendfsync", "everysec"}, true, "log was lost"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 2, tt.args)
			sender := connect(t, c.nodes[0].URL(), "sender")
			receiver := connect(t, c.nodes[1].URL(), "receiver")
			sender.join("r")
			receiver.join("r")
			sender.expect("room.peerJoined", 5*time.Second, "presence.changed")
			got := 0
			send := func(i int) error {
				_, err := sender.call("message.send", map[string]any{"roomId": "r", "to": receiver.peerID, "data": strconv.Itoa(i)})
				return err
			}
			read := func(within time.Duration) error {
				for {
					n, err := receiver.next(within)
					if err != nil {
						return err
					}
					if n.Method != "message.received" {
						continue
					}
					if i, _ := strconv.Atoi(n.str("data")); i != got {
						t.Fatalf("message %d arrived as message %d: a silent gap", i, got)
					}
					got++
				}
			}
			for i := range 100 {
				if err := send(i); err != nil {
					t.Fatal(err)
				}
			}
			c.redis.Restart(tt.keep)
			// The sender keeps going: refused during the restart (503) or
			// once Redis lost its session (401), until its own connection
			// closes for the same reason as the receiver's.
			refused := 0
			for i := 100; i < 200; i++ {
				if err := send(i); err != nil {
					if strings.Contains(err.Error(), "closed") {
						break
					}
					if code := rpcCode(err); code != 503 && code != 401 {
						t.Fatalf("message %d: %v", i, err)
					}
					refused++
				}
			}
			if err := read(10 * time.Second); !strings.Contains(err.Error(), "closed") {
				t.Fatalf("after %d messages: %v, want the connection closed", got, err)
			}
			for _, cl := range []*client{receiver, sender} {
				err := cl.resume(c.nodes[0].URL())
				if rpcCode(err) != 410 || !strings.Contains(err.Error(), tt.cause) {
					t.Fatalf("%s resumes after the restart: %v, want 410 resume_gap saying the %s", cl.identity, err, tt.cause)
				}
			}
			t.Logf("the receiver read %d messages in order, then 410 (%d sends refused)", got, refused)
		})
	}
}
