package parley_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/gorilla/websocket"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/clients/go/parley"
	"github.com/parley-rtc/parley/internal/testkit/clusterproc"
)

// fast reconnects: the first attempt after a drop within 1–5 ms.
var fast = parley.Backoff{Initial: 5 * time.Millisecond, Max: 100 * time.Millisecond}

// opened records when a client's session opened (again), for the time
// from a node's death to the client's resume.
type opened struct {
	mu    sync.Mutex
	times []time.Time
	ch    chan struct{}
}

func newOpened() *opened { return &opened{ch: make(chan struct{}, 100)} }

func (o *opened) onState(s parley.State, _ error) {
	if s != parley.StateOpen {
		return
	}
	o.mu.Lock()
	o.times = append(o.times, time.Now())
	o.mu.Unlock()
	o.ch <- struct{}{}
}

// after is the first time the session opened after t.
func (o *opened) after(t time.Time) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, at := range o.times {
		if at.After(t) {
			return at
		}
	}
	return time.Time{}
}

// numbers collects the numbered messages a client receives.
type numbers struct {
	mu  sync.Mutex
	got []int
	ch  chan int
}

func receiveNumbers(c *parley.Client) *numbers {
	n := &numbers{ch: make(chan int, 10000)}
	c.OnMessageReceived(func(ev *api.MessageReceivedEvent) {
		i, _ := strconv.Atoi(string(ev.Data))
		n.mu.Lock()
		n.got = append(n.got, i)
		n.mu.Unlock()
		n.ch <- i
	})
	return n
}

// until waits for the message numbered last.
func (n *numbers) until(t *testing.T, last int) []int {
	t.Helper()
	for {
		if receive(t, n.ch, fmt.Sprintf("message %d", last)) == last {
			break
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.got)
}

// checkOnce checks that got holds every number of sent exactly once, in
// order, and of the others (sends whose answer was lost with their
// connection) none twice.
func checkOnce(t *testing.T, got []int, sent map[int]bool, total int) {
	t.Helper()
	seen := map[int]bool{}
	for i, n := range got {
		if seen[n] || (i > 0 && n < got[i-1]) {
			t.Fatalf("message %d repeated or out of order: …%v…", n, got[max(0, i-3):min(len(got), i+3)])
		}
		seen[n] = true
	}
	for n := range total {
		if sent[n] && !seen[n] {
			t.Fatalf("message %d was sent (answered) but never arrived", n)
		}
	}
}

// pair joins a and b to room r and waits until a knows b is there.
func pair(t *testing.T, a, b *parley.Client, room string) {
	t.Helper()
	joined := hooked(a.OnRoomPeerJoined, 10)
	if _, err := a.RoomJoin(ctx(t), &api.RoomJoinParams{RoomID: room, Create: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.RoomJoin(ctx(t), &api.RoomJoinParams{RoomID: room}); err != nil {
		t.Fatal(err)
	}
	receive(t, joined, "peerJoined")
}

// send sends message n from c to peer in room, retrying while c is not
// connected; it reports whether the server answered (a send whose
// connection ended under it may or may not have been relayed).
func send(c *parley.Client, room, peer string, n int) (answered bool) {
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		_, err := c.MessageSend(ctx, &api.MessageSendParams{RoomID: room, To: peer, Data: jsontext.Value(strconv.Itoa(n))})
		cancel()
		if err == nil {
			return true
		}
		if !errors.Is(err, parley.ErrNotConnected) || errors.Is(err, parley.ErrConnectionLost) {
			return false // refused, or lost in flight: it may have been carried out
		}
	}
	return false
}

// TestResumesOnAnotherNode: bob's client knows the three nodes of a
// cluster; his node is SIGKILLed while alice streams numbered messages to
// him through signaling. He resumes on another URL as the same peer and
// gets every message exactly once, in order. Logs the time from the kill
// to bob's session open again (p50/p99/max over the runs).
func TestResumesOnAnotherNode(t *testing.T) {
	const runs, total = 3, 300
	var took []time.Duration
	for run := range runs {
		t.Run("run"+strconv.Itoa(run), func(t *testing.T) {
			c := clusterproc.Start(t, binary, 3, "--replay-messages", "1024")
			urls := c.URLs()
			alice := dial(t, urls[0], "alice", parley.Options{URLs: urls, Reconnect: fast})
			o := newOpened()
			bob := dial(t, urls[1], "bob", parley.Options{URLs: urls, Reconnect: fast, OnState: o.onState})
			peerID := bob.Session().PeerID
			got := receiveNumbers(bob)
			pair(t, alice, bob, "r")

			killAt := 1 + rand.IntN(total-2)
			var killed time.Time
			sent := map[int]bool{}
			for n := range total {
				if n == killAt {
					c.Kill(1)
					killed = time.Now()
				}
				sent[n] = send(alice, "r", peerID, n)
				if !sent[n] {
					t.Fatalf("alice's send %d failed: her node is alive", n)
				}
			}
			checkOnce(t, got.until(t, total-1), sent, total)
			s := bob.Session()
			if s.PeerID != peerID || !s.Resumed || bob.URL() == urls[1] {
				t.Fatalf("bob after the kill: peer %s (was %s), resumed %v, on %s (killed: %s)", s.PeerID, peerID, s.Resumed, bob.URL(), urls[1])
			}
			took = append(took, o.after(killed).Sub(killed))
			t.Logf("killed at message %d; bob resumed on %s after %s", killAt, bob.URL(), took[len(took)-1].Round(time.Microsecond))
		})
	}
	logPercentiles(t, "SIGKILL to resumed (Go client)", took)
}

// logPercentiles logs p50, p99 and max of ds.
func logPercentiles(t *testing.T, what string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	t.Logf("%s over %d runs: p50 %s p99 %s max %s", what, len(ds), at(0.5).Round(time.Microsecond), at(0.99).Round(time.Microsecond), ds[len(ds)-1].Round(time.Microsecond))
}

// TestDialTriesEachURL: a first URL that refuses connections is passed
// for the next; a client with no URL at all is an error.
func TestDialTriesEachURL(t *testing.T) {
	p := devServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "ws://" + l.Addr().String() + "/rpc"
	_ = l.Close()
	c := dial(t, dead, "erin", parley.Options{URLs: []string{dead, p.URL()}})
	if c.URL() != p.URL() {
		t.Fatalf("connected to %s, want %s", c.URL(), p.URL())
	}
	if _, err := parley.Dial(ctx(t), "", parley.Options{Identity: "erin"}); err == nil {
		t.Fatal("Dial with no URL succeeded")
	}
}

// registry is a service registry of a cluster's nodes, as a PickURL would
// consult: nodes are listed when they start and delisted only once they
// have exited, so it still lists a draining node (the client's avoid list
// is what keeps it away).
type registry struct {
	mu   sync.Mutex
	urls []string
	next int
}

func (r *registry) add(url string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.urls = append(r.urls, url)
}

func (r *registry) remove(url string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.urls = slices.DeleteFunc(r.urls, func(u string) bool { return u == url })
}

// pick rotates over the listed nodes, passing over those to avoid.
func (r *registry) pick(_ context.Context, p parley.URLPick) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range r.urls {
		r.next = (r.next + 1) % len(r.urls)
		if u := r.urls[r.next]; !slices.Contains(p.Avoid, u) {
			return u, nil
		}
	}
	return "", errors.New("every node is leaving")
}

// TestRollingDrain: a rolling upgrade of a three-node cluster. Each node in
// turn gets a fresh node beside it and SIGTERM: its sessions are told to
// resume elsewhere (4307) and move, through a PickURL that reads a
// registry still listing the draining node, and the node exits once none
// is left. Meanwhile a sender broadcasts numbered messages to five
// receivers through signaling: each receiver gets every message the server
// answered exactly once, in order, and none twice. Logs how long each
// drain took to move its sessions and to exit.
func TestRollingDrain(t *testing.T) {
	c := clusterproc.Start(t, binary, 3)
	reg := &registry{urls: c.URLs()}
	type member struct {
		c    *parley.Client
		o    *opened
		got  *numbers
		name string
	}
	var members []*member
	for i, name := range []string{"sender", "r1", "r2", "r3", "r4", "r5"} {
		o := newOpened()
		m := &member{o: o, name: name}
		m.c = dial(t, c.Nodes[i%3].URL(), name, parley.Options{PickURL: reg.pick, Reconnect: fast, OnState: o.onState})
		m.got = receiveNumbers(m.c)
		members = append(members, m)
	}
	sender := members[0].c
	joined := hooked(sender.OnRoomPeerJoined, 10)
	for _, m := range members {
		if _, err := m.c.RoomJoin(ctx(t), &api.RoomJoinParams{RoomID: "r", Create: true}); err != nil {
			t.Fatal(err)
		}
	}
	for range len(members) - 1 {
		receive(t, joined, "peerJoined")
	}

	var mu sync.Mutex
	sent := map[int]bool{}
	stop, last := make(chan struct{}), make(chan int, 1)
	go func() {
		for n := 0; ; n++ {
			select {
			case <-stop:
				// One more the server answers: once it is in, all before it are.
				for ; !send(sender, "r", "", n); n++ {
				}
				mu.Lock()
				sent[n] = true
				mu.Unlock()
				last <- n
				return
			default:
			}
			ok := send(sender, "r", "", n)
			mu.Lock()
			sent[n] = ok
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()

	for i := range 3 {
		old := c.Nodes[i]
		reg.add(c.StartNode().URL())
		var on []*member
		for _, m := range members {
			if m.c.URL() == old.URL() {
				on = append(on, m)
			}
		}
		began := time.Now()
		c.Drain(i)
		select {
		case <-old.Done():
		case <-time.After(wait):
			t.Fatalf("node %d still runs %s after SIGTERM", i, wait)
		}
		exited := time.Since(began)
		reg.remove(old.URL())
		var moved time.Duration
		for _, m := range on {
			at := m.o.after(began)
			if at.IsZero() || m.c.URL() == old.URL() {
				t.Fatalf("%s did not move off the drained node (on %s)", m.name, m.c.URL())
			}
			moved = max(moved, at.Sub(began))
		}
		t.Logf("drain %d: %d sessions moved within %s of SIGTERM; the node exited after %s", i+1, len(on), moved.Round(time.Microsecond), exited.Round(time.Millisecond))
		time.Sleep(200 * time.Millisecond) // the stream goes on between drains
	}
	close(stop)
	final := receive(t, last, "the sender's last message")
	mu.Lock()
	defer mu.Unlock()
	answered := 0
	for _, ok := range sent {
		if ok {
			answered++
		}
	}
	for _, m := range members[1:] {
		checkOnce(t, m.got.until(t, final), sent, final+1)
	}
	t.Logf("%d messages sent, %d answered, every one received once by each of 5 receivers", final+1, answered)
}

// drainingNode is a node that refuses every session.connect as draining
// (503, retry after a minute), as a node of a cluster does while it
// migrates its sessions away.
func drainingNode(t *testing.T) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		var req struct {
			ID json.RawMessage `json:"id"`
		}
		if ws.ReadJSON(&req) != nil {
			return
		}
		_ = ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": req.ID, "error": map[string]any{
			"code": 503, "message": "this node is draining", "data": map[string]any{"reason": "draining", "retryAfterMs": 60000}}})
		_, _, _ = ws.ReadMessage() // until the client hangs up
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/rpc"
}

// TestDrainingRefusalPassedOver: a reconnect that a draining node refuses
// (503 with a minute's retryAfterMs) goes on at once to the next URL
// instead of waiting the minute (the ring then passes that node over:
// TestURLRing).
func TestDrainingRefusalPassedOver(t *testing.T) {
	first, last := devServer(t), devServer(t)
	draining := drainingNode(t)
	o := newOpened()
	c := dial(t, first.URL(), "erin", parley.Options{URLs: []string{first.URL(), draining, last.URL()}, Reconnect: fast, OnState: o.onState})
	receive(t, o.ch, "open")
	first.Kill()
	receive(t, o.ch, "open again") // refused by the draining node, then on the last
	if c.URL() != last.URL() {
		t.Fatalf("reconnected to %s, want %s", c.URL(), last.URL())
	}
}
