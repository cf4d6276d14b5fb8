package cluster

import (
	"sync"
	"testing"
	"time"
)

// TestDoubleAccept: 100 times, a callee with two devices on two nodes
// (the caller on a third) accepts one call on both at once: exactly one
// accept wins, the other device is refused and told answered_elsewhere,
// and the caller is told the winner once.
func TestDoubleAccept(t *testing.T) {
	c := newCluster(t, 3, nil)
	caller := connect(t, c.nodes[0].URL(), "caller")
	devices := []*client{connect(t, c.nodes[1].URL(), "callee"), connect(t, c.nodes[2].URL(), "callee")}
	wins := [2]int{}
	for round := range 100 {
		var invite struct {
			CallID string `json:"callId"`
		}
		if err := caller.conn.CallInto("call.invite", map[string]any{"to": "callee"}, &invite); err != nil {
			t.Fatalf("round %d: call.invite: %v", round, err)
		}
		for _, d := range devices {
			d.expect("call.incoming", 5*time.Second, "presence.changed")
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, d := range devices {
			wg.Go(func() { _, errs[i] = d.call("call.accept", map[string]any{"callId": invite.CallID}) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err == nil {
				if winner >= 0 {
					t.Fatalf("round %d: both devices won the call", round)
				}
				winner = i
			} else if code := rpcCode(err); code != 409 && code != 404 {
				t.Fatalf("round %d: the losing accept: %v", round, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no device won: %v", round, errs)
		}
		wins[winner]++
		loser := devices[1-winner]
		if n := loser.expect("call.ended", 5*time.Second, "presence.changed"); n.str("reason") != "answered_elsewhere" {
			t.Fatalf("round %d: the other device got %v", round, n.Params)
		}
		caller.expect("call.accepted", 5*time.Second, "presence.changed")
		caller.expect("room.peerJoined", 5*time.Second, "presence.changed")
		caller.must("call.hangup", map[string]any{"callId": invite.CallID})
		devices[winner].expect("call.ended", 5*time.Second, "presence.changed", "room.peerJoined")
		devices[winner].expect("room.closed", 5*time.Second, "presence.changed", "room.peerLeft")
		caller.expect("room.closed", 5*time.Second, "presence.changed", "room.peerLeft")
	}
	t.Logf("100 races: device 1 won %d, device 2 won %d", wins[0], wins[1])
}
