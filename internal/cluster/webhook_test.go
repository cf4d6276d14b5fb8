package cluster

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/internal/testkit/webhookrecv"
)

const hookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// TestWebhooksAcrossNodes: rooms whose members sit on two nodes, so that
// each room's events are committed by both, reach a backend (verifying
// with the standardwebhooks npm package) from one delivering node, in
// each room's order; that node is SIGKILLed with deliveries queued, and
// another takes over: every event arrives, in order per room, and none
// twice except an event in flight at the kill, sent again with its
// webhook-id. admin.events.list on any node lists the cluster's events.
func TestWebhooksAcrossNodes(t *testing.T) {
	recv := webhookrecv.Start(t, hookSecret)
	c := newCluster(t, 3, nil, "--webhook-url", recv.URL, "--webhook-secret", hookSecret)
	probe := connect(t, c.nodes[0].URL(), "probe")
	recv.WaitFor(t, "the first delivery", func(d []webhookrecv.Delivery) bool { return len(webhookrecv.Accepted(d)) > 0 })
	leader, others := c.deliverer(t)
	_ = probe

	// A slow backend: the leader's queue builds up.
	recv.Set(t, webhookrecv.Mode{DelayMs: 40})
	rooms, rounds := size(6, 12), size(4, 8)
	const members = 3
	var wg sync.WaitGroup
	for r := range rooms {
		peers := make([]*client, members)
		for i := range peers {
			peers[i] = connect(t, others[i%2].URL(), fmt.Sprintf("r%dp%d", r, i))
		}
		room := fmt.Sprint("room", r)
		wg.Go(func() {
			for range rounds {
				for _, p := range peers {
					if _, err := p.call("room.join", map[string]any{"roomId": room, "create": true}); err != nil {
						t.Errorf("%s joins %s: %v", p.identity, room, err)
					}
				}
				for _, p := range peers {
					if _, err := p.call("room.leave", map[string]any{"roomId": room}); err != nil {
						t.Errorf("%s leaves %s: %v", p.identity, room, err)
					}
				}
			}
		})
	}
	wg.Wait()
	events := listEvents(t, others[0])
	if want := 1 + rooms*members + rooms*rounds*(2+2*members); len(events) != want {
		t.Fatalf("admin.events.list lists %d events, want %d", len(events), want)
	}
	if other := listEvents(t, others[1]); len(other) != len(events) || other[len(other)-1].Data.Cursor != events[len(events)-1].Data.Cursor {
		t.Fatalf("the nodes list different events: %d and %d", len(events), len(other))
	}

	// Kill the delivering node with most deliveries still queued.
	before := recv.WaitFor(t, "a quarter delivered", func(d []webhookrecv.Delivery) bool { return len(webhookrecv.Accepted(d)) >= len(events)/4 })
	leader.kill()
	killedAt := len(webhookrecv.Accepted(before))
	recv.Set(t, webhookrecv.Mode{})
	all := recv.WaitFor(t, "every event accepted", func(d []webhookrecv.Delivery) bool { return acceptedAll(d, events) })
	dups := webhookrecv.InOrder(t, all)
	if dups > 16 { // --webhook-concurrency: the deliveries in flight at the kill
		t.Errorf("%d events delivered twice; at most the 16 in flight may be", dups)
	}
	got := map[string]int{}
	for _, d := range webhookrecv.Accepted(all) {
		got[d.ID]++
	}
	for id, n := range got {
		if n > 2 {
			t.Errorf("%s accepted %d times", id, n)
		}
	}
	delivering := 0
	for _, n := range others {
		if delivered(t, n) > 0 {
			delivering++
		}
	}
	if delivering != 1 {
		t.Errorf("%d surviving nodes delivered, want the one that took over", delivering)
	}
	t.Logf("%d events over 2 nodes' commits; the deliverer killed after %d accepted; %d sent twice", len(events), killedAt, dups)
}

// deliverer finds the node that delivers (the one whose deliveries are
// counted) and the others.
func (c *cluster) deliverer(t *testing.T) (*node, []*node) {
	t.Helper()
	var leader *node
	var others []*node
	for _, n := range c.nodes {
		if delivered(t, n) > 0 {
			if leader != nil {
				t.Fatalf("nodes %s and %s both delivered", leader.id, n.id)
			}
			leader = n
			continue
		}
		others = append(others, n)
	}
	if leader == nil {
		t.Fatal("no node counted the first delivery")
	}
	return leader, others
}

// delivered is a node's parley_webhook_delivered_total.
func delivered(t *testing.T, n *node) float64 {
	t.Helper()
	return metric(t, n, "parley_webhook_delivered_total")
}

// metric is the value of a series (its name and labels as /metrics
// writes them) on node n, 0 if n has none.
func metric(t *testing.T, n *node, series string) float64 {
	t.Helper()
	res, err := http.Get("http://" + n.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// listEvents pages through admin.events.list on n.
func listEvents(t *testing.T, n *node) []api.Event {
	t.Helper()
	var all []api.Event
	var after int64
	for {
		var page api.EventList
		adminWith(t, n, "admin.events.list", map[string]any{"after": after, "limit": 1000}, &page)
		all = append(all, page.Events...)
		if !page.More || len(page.Events) == 0 {
			return all
		}
		after = page.Events[len(page.Events)-1].Data.Cursor
	}
}

// acceptedAll reports whether every event was accepted, by webhook-id.
func acceptedAll(d []webhookrecv.Delivery, events []api.Event) bool {
	ok := map[string]bool{}
	for _, x := range webhookrecv.Accepted(d) {
		ok[x.ID] = true
	}
	for _, e := range events {
		if !ok[fmt.Sprintf("msg_%d", e.Data.Cursor)] {
			return false
		}
	}
	return true
}
