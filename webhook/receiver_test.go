package webhook

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/internal/testkit/webhookrecv"
)

// These tests deliver to a receiver in Node that verifies every delivery
// with the standardwebhooks npm package: a third party's reading of the
// specification, not ours.

// oldSecret and newSecret are a rotation: the dispatcher signs with both.
const (
	oldSecret = testSecret
	newSecret = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MjQy"
)

func rotating(urls ...string) Config {
	c := testConfig(urls...)
	c.Secrets = []string{oldSecret, newSecret}
	return c
}

// TestReceiversVerify: during a rotation, a receiver that knows only the
// new secret and one that knows only the old both verify every delivery.
func TestReceiversVerify(t *testing.T) {
	knowsNew := webhookrecv.Start(t, newSecret)
	knowsOld := webhookrecv.Start(t, oldSecret)
	d := start(t, rotating(knowsNew.URL, knowsOld.URL))
	publish(d, SessionStarted, api.EventData{SessionID: "s1", Identity: "alice"})
	publish(d, PeerJoined, api.EventData{RoomID: "r", PeerID: "p1", Identity: "alice"})
	for _, r := range []*webhookrecv.Receiver{knowsNew, knowsOld} {
		got := r.WaitFor(t, "two deliveries", func(d []webhookrecv.Delivery) bool { return len(d) == 2 })
		for _, d := range got {
			if !d.Verified || d.Status != 204 {
				t.Fatalf("delivery %+v not verified", d)
			}
		}
		// The two are ordered apart (a session's events, a room's), so
		// they may arrive in either order.
		slices.SortFunc(got, func(a, b webhookrecv.Delivery) int { return cmp.Compare(a.Cursor, b.Cursor) })
		if got[0].Type != SessionStarted || got[1].Type != PeerJoined || got[1].RoomID != "r" || got[1].RoomSeq != 1 || got[1].Cursor != got[0].Cursor+1 {
			t.Fatalf("deliveries %+v", got)
		}
	}
}

// TestRetrySameIDOrderHolds: the first delivery is refused with 500; it is
// retried with the same webhook-id, and the room's later events wait for
// it, while another room's events go meanwhile.
func TestRetrySameIDOrderHolds(t *testing.T) {
	r := webhookrecv.Start(t, newSecret)
	r.Set(t, webhookrecv.Mode{Refuse: 1})
	c := rotating(r.URL)
	c.FirstRetry, c.MaxBackoff = 500*time.Millisecond, time.Second
	d := start(t, c)
	for range 3 {
		publish(d, PeerJoined, api.EventData{RoomID: "a"})
	}
	waitFor(t, "room a refused once", func() bool { return d.Stats().Retried == 1 })
	publish(d, PeerJoined, api.EventData{RoomID: "b"})
	all := r.WaitFor(t, "four accepted", func(d []webhookrecv.Delivery) bool { return len(webhookrecv.Accepted(d)) == 4 })
	var attempts []int
	for _, d := range all {
		if d.ID == all[0].ID {
			attempts = append(attempts, d.Status)
		}
	}
	if all[0].RoomID != "a" || fmt.Sprint(attempts) != "[500 204]" {
		t.Fatalf("want a1 refused, then a1 again with the same id (%s) accepted: %+v", all[0].ID, all)
	}
	var order []string
	for _, d := range webhookrecv.Accepted(all) {
		order = append(order, fmt.Sprintf("%s%d", d.RoomID, d.RoomSeq))
	}
	if got := fmt.Sprint(order); got != "[b1 a1 a2 a3]" {
		t.Fatalf("accepted in order %s, want [b1 a1 a2 a3]", got)
	}
}

// TestConcurrentRoomsKeepTheirOrder: rooms published from many goroutines
// at once, through a receiver that refuses every fifth delivery, each get
// their events in roomSeq order, each once.
func TestConcurrentRoomsKeepTheirOrder(t *testing.T) {
	r := webhookrecv.Start(t, newSecret)
	d := start(t, rotating(r.URL))
	const rooms, each = 12, 15
	r.Set(t, webhookrecv.Mode{Refuse: rooms})
	var wg sync.WaitGroup
	for i := range rooms {
		wg.Go(func() {
			for range each {
				publish(d, PeerJoined, api.EventData{RoomID: fmt.Sprintf("room%d", i)})
			}
		})
	}
	wg.Wait()
	got := r.WaitFor(t, "every event accepted", func(d []webhookrecv.Delivery) bool {
		return len(webhookrecv.Accepted(d)) >= rooms*each
	})
	next := map[string]int64{}
	for _, d := range webhookrecv.Accepted(got) {
		if d.RoomSeq != next[d.RoomID]+1 {
			t.Fatalf("room %s: roomSeq %d after %d", d.RoomID, d.RoomSeq, next[d.RoomID])
		}
		next[d.RoomID] = d.RoomSeq
	}
	if len(webhookrecv.Accepted(got)) != rooms*each {
		t.Fatalf("%d accepted, want %d", len(webhookrecv.Accepted(got)), rooms*each)
	}
}

// TestSlowReceiverDoesNotSlowPublish: with a receiver that holds every
// delivery for 2 s, publishing stays as fast as without one.
func TestSlowReceiverDoesNotSlowPublish(t *testing.T) {
	r := webhookrecv.Start(t, newSecret)
	r.Set(t, webhookrecv.Mode{DelayMs: 2000})
	d := start(t, rotating(r.URL))
	const n = 1000
	begin := time.Now()
	for i := range n {
		publish(d, PeerJoined, api.EventData{RoomID: fmt.Sprintf("room%d", i%50)})
	}
	took := time.Since(begin)
	// A publish costs microseconds; one that waited for the receiver
	// would take 2 s. The floor is generous for a loaded machine.
	if took > time.Second {
		t.Fatalf("%d publishes took %s with a slow receiver", n, took)
	}
	r.WaitFor(t, "the slow receiver got the first events", func(d []webhookrecv.Delivery) bool { return len(d) > 0 })
	t.Logf("%d publishes in %s (%s each) while the receiver holds each delivery 2 s", n, took, took/n)
}
