package abuse

import (
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/parley-rtc/parley/internal/rpctest"
)

// TestCallInviteFlood is issue 16 item 6: a caller with no room rights
// rings a victim with call.invite {lifetimeSec: 300} over and over, which
// made every other caller get 486 busy for five minutes; and call.invite
// {callId: "Q"} reserved the room id Q. The attacker's invites must stop at
// the caller's caps, another caller must still reach the victim, and a
// caller must not be able to choose a call id.
func TestCallInviteFlood(t *testing.T) {
	attackers, perAttacker := size(2, 20), 16
	tg := start(t, 1024, "--no-turn", "--log-level", "warn", "--max-conns-per-ip", "1000")
	p := tg.probe(t)
	baseline := p.latency(t, 50)
	before := tg.usage(t)
	t.Logf("before: %s", before)

	victim := tg.connectWith(t, map[string]any{"identity": "victim"})
	sessions := make([]*rpctest.Client, attackers)
	for i := range sessions {
		sessions[i] = tg.connectWith(t, map[string]any{"identity": "mallory"})
	}
	begin := time.Now()
	var mu sync.Mutex
	ringing, refused := 0, map[int64]int{}
	var wg sync.WaitGroup
	for _, c := range sessions {
		wg.Go(func() {
			for range perAttacker {
				err := callPaced(c, "call.invite", map[string]any{"to": "victim", "lifetimeSec": 300})
				mu.Lock()
				if err == nil {
					ringing++
				} else {
					refused[rpcCode(err)]++
				}
				mu.Unlock()
			}
		})
	}
	checkLatency(t, "during the attack", baseline, p.latency(t, 50))
	wg.Wait()
	during := tg.usage(t)
	t.Logf("attack: %d sessions of one identity × %d call.invite (lifetime 300 s) took %v: %d ringing, refused %v",
		attackers, perAttacker, time.Since(begin).Round(time.Millisecond), ringing, refused)
	t.Logf("after the attack: %s (RSS %+.1f MiB)", during, during.rssMiB-before.rssMiB)
	if ringing > 1 {
		t.Errorf("%d of the attacker's invites to one callee ring at once, want at most 1", ringing)
	}

	// Another caller reaches the victim, who answers.
	carol := tg.connectWith(t, map[string]any{"identity": "carol"})
	res, err := carol.Call("call.invite", map[string]any{"to": "victim"})
	if err != nil {
		t.Fatalf("carol's call.invite during the attack: %v (the victim must not be busy)", err)
	}
	var inv struct {
		CallID string `json:"callId"`
	}
	_ = json.Unmarshal(res, &inv)
	if _, err := victim.Call("call.accept", map[string]any{"callId": inv.CallID}); err != nil {
		t.Errorf("the victim's call.accept of carol's call: %v", err)
	}

	// A caller cannot reserve a room id by naming its call after it.
	if _, err := sessions[0].Call("call.invite", map[string]any{"to": "carol", "callId": "q"}); rpcCode(err) != -32602 {
		t.Errorf("call.invite with a callId: %v, want -32602 (call ids are the server's)", err)
	}
	if _, err := carol.Call("room.create", map[string]any{"roomId": "q"}); err != nil {
		t.Errorf("room.create q after call.invite {callId: q}: %v", err)
	}
	checkLatency(t, "after the attack", baseline, p.latency(t, 50))
	if grew := tg.usage(t).rssMiB - before.rssMiB; grew > 64 {
		t.Errorf("RSS grew by %.1f MiB, over 64 MiB", grew)
	}
}
