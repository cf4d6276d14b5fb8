package cluster

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/testkit"
	"github.com/parley-rtc/parley/internal/testkit/redisproc"
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
			sender, receiver := c.roomOfTwo("sender", "receiver")
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
					code := rpcCode(err)
					if code == 0 { // the connection ended
						break
					}
					if code != 503 && code != 401 {
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

// TestRedisUnreachable: while Redis does not answer (stopped past the
// nodes' leases), /readyz answers 503 and requests, new sessions included,
// 503 store_unavailable with retryAfterMs; open connections stay open.
// When Redis answers again the nodes take their leases back (nobody reaped
// them), /readyz is 200 again, and the sessions carry on where they were.
func TestRedisUnreachable(t *testing.T) {
	c := newCluster(t, 2, nil)
	alice, bob := c.roomOfTwo("alice", "bob")
	c.redis.Pause()
	start := time.Now()
	paused := true
	defer func() {
		if paused {
			c.redis.Resume()
		}
	}()
	testkit.Eventually(t, "/readyz to answer 503", func() bool { return readyz(c.nodes[0]) == http.StatusServiceUnavailable })
	t.Logf("/readyz 503 after %s", time.Since(start).Round(time.Millisecond))
	_, err := tryConnect(t, c.nodes[0].URL(), "carol")
	if rpcCode(err) != 503 || !strings.Contains(err.Error(), "store_unavailable") || !strings.Contains(err.Error(), "retryAfterMs") {
		t.Fatalf("a new session while Redis is away: %v, want 503 store_unavailable with retryAfterMs", err)
	}
	if _, err := alice.call("message.send", map[string]any{"roomId": "r", "data": "lost?"}); rpcCode(err) != 503 {
		t.Fatalf("a request while Redis is away: %v, want 503", err)
	}
	t.Logf("refusals by %s", time.Since(start).Round(time.Millisecond))
	c.redis.Resume()
	start = time.Now()
	paused = false
	testkit.Eventually(t, "/readyz to answer 200", func() bool { return readyz(c.nodes[0]) == http.StatusOK && readyz(c.nodes[1]) == http.StatusOK })
	t.Logf("/readyz 200 %s after Redis came back", time.Since(start).Round(time.Millisecond))
	alice.must("message.send", map[string]any{"roomId": "r", "data": "back"})
	if n := bob.expect("message.received", 5*time.Second, "presence.changed"); n.str("data") != "back" {
		t.Fatalf("bob got %v", n.Params)
	}
	connect(t, c.nodes[0].URL(), "carol")
}

// readyz is a node's /readyz status.
func readyz(n *node) int {
	res, err := http.Get("http://" + n.Addr + "/readyz")
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// TestSentinelFailover: nodes find the primary through Sentinel; when it
// dies, Sentinel promotes its replica and the nodes follow. The replica
// may lack the primary's last writes (replication is asynchronous), so,
// as after a restart, the sessions' logs count as lost: the receiver's
// connection closes and its resume answers 410, never a silent gap.
func TestSentinelFailover(t *testing.T) {
	primary := redisproc.Start(t)
	replica := redisproc.Start(t, "--replicaof", "127.0.0.1", strings.Split(primary.Addr, ":")[1])
	sentinel := redisproc.StartSentinel(t, "parley", primary)
	testkit.Eventually(t, "the replica to sync", func() bool { return replica.Info(t, "replication", "master_link_status") == "up" })
	c := newClusterOn(t, 2, primary, []string{"--redis-url", "redis://127.0.0.1:1/0", "--redis-sentinel-master", "parley", "--redis-sentinel-addrs", sentinel.Addr})
	sender, receiver := c.roomOfTwo("sender", "receiver")
	got := 0
	for i := range 50 {
		sender.must("message.send", map[string]any{"roomId": "r", "to": receiver.peerID, "data": strconv.Itoa(i)})
	}
	primary.Kill()
	start := time.Now()
	for {
		n, err := receiver.next(30 * time.Second)
		if err != nil {
			if !strings.Contains(err.Error(), "closed") {
				t.Fatalf("after %d messages: %v, want the connection closed", got, err)
			}
			break
		}
		if n.Method == "message.received" {
			if i, _ := strconv.Atoi(n.str("data")); i != got {
				t.Fatalf("message %d arrived as message %d: a silent gap", i, got)
			}
			got++
		}
	}
	var err error
	testkit.Eventually(t, "a node to answer the resume", func() bool {
		err = receiver.resume(c.nodes[0].URL())
		return rpcCode(err) != 503
	})
	if rpcCode(err) != 410 || !strings.Contains(err.Error(), "log was lost") {
		t.Fatalf("resume after the failover: %v, want 410 resume_gap", err)
	}
	t.Logf("failover: the receiver read %d messages in order, then its connection closed after %s; resume: 410", got, time.Since(start).Round(time.Millisecond))
}
