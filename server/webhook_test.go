package server

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/internal/testkit/webhookrecv"
)

const hookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// TestWebhookRoomsCallsInOrder: rooms changing at once, and a call, reach
// a backend verifying with the standardwebhooks npm package as events in
// each room's order (roomSeq 1, 2, …); the first delivery is refused and
// retried with the same webhook-id while its room waits; every delivery
// is one of admin.events.list's events, numbered alike.
func TestWebhookRoomsCallsInOrder(t *testing.T) {
	recv := webhookrecv.Start(t, hookSecret)
	recv.Set(t, webhookrecv.Mode{Refuse: 1})
	ts := startServer(t, func(c *Config) {
		c.Webhook.URLs = []string{recv.URL}
		c.Webhook.Secrets = []string{hookSecret}
		c.Webhook.FirstRetry = 100 * time.Millisecond
	})
	ops := admin(t, ts)
	const rooms, members, rounds = 4, 3, 3
	var wg sync.WaitGroup
	for r := range rooms {
		peers := make([]*peer, members)
		for i := range peers {
			peers[i] = ts.connect(t, fmt.Sprintf("r%dp%d", r, i))
		}
		room := fmt.Sprint("room", r)
		wg.Go(func() {
			for range rounds {
				for _, p := range peers {
					if _, err := p.Call("room.join", map[string]any{"roomId": room, "create": true}); err != nil {
						t.Errorf("join %s: %v", room, err)
					}
				}
				for _, p := range peers {
					if _, err := p.Call("room.leave", map[string]any{"roomId": room}); err != nil {
						t.Errorf("leave %s: %v", room, err)
					}
				}
			}
		})
	}
	alice, bob := ts.connect(t, "alice"), ts.connect(t, "bob")
	id := invite(t, alice, map[string]any{"to": "bob"})
	bob.expect("call.incoming")
	bob.must("call.accept", map[string]any{"callId": id})
	alice.must("call.hangup", map[string]any{"callId": id})
	wg.Wait()

	// Every event: sessions, rooms (8 a round: started, 3 joined, 3 left,
	// finished) and the call's 9.
	want := 1 + rooms*members + 2 + rooms*rounds*(2+2*members) + 9
	evs := waitEvents(t, ops, want)
	byID := make(map[string]api.Event, len(evs))
	for _, e := range evs {
		byID[fmt.Sprintf("msg_%d", e.Data.Cursor)] = e
	}
	all := recv.WaitFor(t, "every event accepted", func(d []webhookrecv.Delivery) bool { return len(webhookrecv.Accepted(d)) >= want })
	if dups := webhookrecv.InOrder(t, all); dups != 0 {
		t.Errorf("%d duplicates from one node", dups)
	}
	if all[0].Status != 500 || !retriedLater(all) {
		t.Errorf("the refused first delivery %+v was not retried with its id", all[0])
	}
	for _, d := range webhookrecv.Accepted(all) {
		e, ok := byID[d.ID]
		if !ok || e.Type != d.Type || e.Data.RoomSeq != d.RoomSeq || e.Data.Cursor != d.Cursor {
			t.Errorf("delivery %+v is not admin.events.list's %+v", d, e)
		}
	}
	var call []string
	for _, e := range evs {
		if e.Data.RoomID == id {
			call = append(call, fmt.Sprintf("%s:%d", e.Type, e.Data.RoomSeq))
		}
	}
	if got := fmt.Sprint(call); got != "[call.started:1 call.answered:2 room.started:3 peer.joined:4 peer.joined:5 call.ended:6 peer.left:7 peer.left:8 room.finished:9]" {
		t.Errorf("the call's events %s", got)
	}
}

// retriedLater reports whether the first delivery's id was accepted later.
func retriedLater(all []webhookrecv.Delivery) bool {
	for _, d := range all[1:] {
		if d.ID == all[0].ID && d.Status/100 == 2 {
			return true
		}
	}
	return false
}
