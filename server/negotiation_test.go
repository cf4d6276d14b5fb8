package server

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/testkit"
	"github.com/parley-rtc/parley/server/signal"
)

// pairInRoom connects alice, then bob, into room; alice joined first, so
// bob is the polite side of the pair.
func pairInRoom(t *testing.T, ts *testServer, room string) (alice, bob *peer) {
	t.Helper()
	alice, bob = ts.connect(t, "alice"), ts.connect(t, "bob")
	alice.must("room.join", map[string]any{"roomId": room, "create": true})
	var joined struct {
		Peers []struct {
			PeerID string `json:"peerId"`
			Polite bool   `json:"polite"`
		} `json:"peers"`
	}
	if err := bob.CallInto("room.join", map[string]any{"roomId": room}, &joined); err != nil {
		t.Fatal(err)
	}
	if len(joined.Peers) != 1 || !joined.Peers[0].Polite {
		t.Fatalf("bob's roster %+v: bob (the later joiner) must be polite towards alice", joined.Peers)
	}
	if ev := alice.expect("room.peerJoined"); ev["peer"].(map[string]any)["polite"] == true {
		t.Fatalf("alice is polite towards bob in %v", ev)
	}
	return alice, bob
}

func candidate(port int) map[string]any {
	return map[string]any{"candidate": fmt.Sprintf("candidate:1 1 udp 2130706431 192.0.2.1 %d typ host", port), "sdpMid": "0"}
}

// TestEarlyCandidatesFollowOffer: candidates sent before the pair's first
// offer are held and arrive right after it, in order, both ways; later
// ones are relayed at once.
func TestEarlyCandidatesFollowOffer(t *testing.T) {
	ts := startServer(t)
	alice, bob := pairInRoom(t, ts, "early")
	for port := 5000; port < 5005; port++ {
		alice.must("ice.candidate", map[string]any{"roomId": "early", "to": bob.peerID, "candidate": candidate(port)})
	}
	alice.must("ice.candidate", map[string]any{"roomId": "early", "to": bob.peerID, "candidate": nil})
	bob.must("ice.candidate", map[string]any{"roomId": "early", "to": alice.peerID, "candidate": candidate(6000)})
	// A message sent after the candidates overtakes them: they are held.
	alice.must("message.send", map[string]any{"roomId": "early", "to": bob.peerID, "data": "before the offer"})
	if ev := bob.expect("message.received"); ev["data"] != "before the offer" {
		t.Fatalf("got %v", ev)
	}

	alice.must("sdp.offer", map[string]any{"roomId": "early", "to": bob.peerID, "sdp": sampleSDP})
	if ev := bob.expect("sdp.offer"); ev["from"] != alice.peerID {
		t.Fatalf("offer %v", ev)
	}
	for port := 5000; port < 5005; port++ {
		ev := bob.expect("ice.candidate")
		if got := ev["candidate"].(map[string]any)["candidate"]; got != candidate(port)["candidate"] || ev["from"] != alice.peerID {
			t.Fatalf("candidate %d: got %v", port, ev)
		}
	}
	if ev := bob.expect("ice.candidate"); ev["candidate"] != nil {
		t.Fatalf("want end of candidates, got %v", ev)
	}
	// bob's early candidate goes to alice once the pair has an offer.
	if ev := alice.expect("ice.candidate"); ev["candidate"].(map[string]any)["candidate"] != candidate(6000)["candidate"] {
		t.Fatalf("got %v", ev)
	}
	// From now on candidates are relayed at once, both ways.
	bob.must("ice.candidate", map[string]any{"roomId": "early", "to": alice.peerID, "candidate": candidate(6001)})
	if ev := alice.expect("ice.candidate"); ev["candidate"].(map[string]any)["candidate"] != candidate(6001)["candidate"] {
		t.Fatalf("got %v", ev)
	}
	alice.must("ice.candidate", map[string]any{"roomId": "early", "to": bob.peerID, "candidate": candidate(5005)})
	bob.expect("ice.candidate")
	if n := alice.Pending() + bob.Pending(); n != 0 {
		t.Fatalf("%d notifications more than expected", n)
	}
}

// TestEarlyCandidatesBounded: a pair holds at most signal.HeldCandidatesMax
// candidates per direction; a peer leaving drops what was held for it.
func TestEarlyCandidatesBounded(t *testing.T) {
	ts := startServer(t)
	alice, bob := pairInRoom(t, ts, "bounded")
	for i := range signal.HeldCandidatesMax {
		alice.must("ice.candidate", map[string]any{"roomId": "bounded", "to": bob.peerID, "candidate": candidate(5000 + i)})
	}
	_, err := alice.Call("ice.candidate", map[string]any{"roomId": "bounded", "to": bob.peerID, "candidate": candidate(4000)})
	rpcError(t, err, 413, "waiting for an offer")
	// The other direction has its own bound.
	bob.must("ice.candidate", map[string]any{"roomId": "bounded", "to": alice.peerID, "candidate": candidate(4000)})
	bob.must("room.leave", map[string]any{"roomId": "bounded"})
	alice.expect("room.peerLeft")
	tx := ts.srv.store.Begin(context.Background())
	pairs := len(tx.Pairs("bounded"))
	tx.Abort()
	if pairs != 0 {
		t.Fatalf("%d pairs kept after bob left", pairs)
	}
}

// TestGlare: crossed offers in each order, then both peers offering at
// once 100 times: the impolite side's (alice's) offer is always delivered,
// the polite side's (bob's) colliding one refused with 491 glare, and
// every round ends in one completed offer/answer.
func TestGlare(t *testing.T) {
	ts := startServer(t)
	alice, bob := pairInRoom(t, ts, "glare")
	offer := func(p, to *peer) error {
		_, err := p.Call("sdp.offer", map[string]any{"roomId": "glare", "to": to.peerID, "sdp": sampleSDP})
		return err
	}
	answer := func(p, to *peer) {
		p.must("sdp.answer", map[string]any{"roomId": "glare", "to": to.peerID, "sdp": sampleSDP})
		to.expect("sdp.answer")
	}

	// alice (impolite) offers first: bob's crossing offer gets 491.
	if err := offer(alice, bob); err != nil {
		t.Fatal(err)
	}
	err := offer(bob, alice)
	rpcError(t, err, 491, `"reason":"glare"`)
	bob.expect("sdp.offer")
	answer(bob, alice)
	// Answered: bob may offer (renegotiate) now.
	if err := offer(bob, alice); err != nil {
		t.Fatal(err)
	}
	alice.expect("sdp.offer")
	answer(alice, bob)

	// bob (polite) offers first: alice's crossing offer is still
	// delivered, and bob's no longer counts as outstanding.
	if err := offer(bob, alice); err != nil {
		t.Fatal(err)
	}
	if err := offer(alice, bob); err != nil {
		t.Fatalf("the impolite side's offer was refused: %v", err)
	}
	alice.expect("sdp.offer")
	bob.expect("sdp.offer")
	if err := offer(bob, alice); err == nil {
		t.Fatal("bob offered over alice's outstanding offer")
	}
	answer(bob, alice) // bob rolled back and answers alice's offer

	for round := range 100 {
		var wg sync.WaitGroup
		var aliceErr, bobErr error
		wg.Go(func() { aliceErr = offer(alice, bob) })
		wg.Go(func() { bobErr = offer(bob, alice) })
		wg.Wait()
		if aliceErr != nil {
			t.Fatalf("round %d: alice's offer refused: %v", round, aliceErr)
		}
		if bobErr == nil {
			// bob's came first; alice ignores it (impolite).
			if ev := alice.expect("sdp.offer"); ev["from"] != bob.peerID {
				t.Fatalf("round %d: %v", round, ev)
			}
		} else {
			rpcError(t, bobErr, 491, "glare")
		}
		bob.expect("sdp.offer")
		answer(bob, alice)
		if n := alice.Pending() + bob.Pending(); n != 0 {
			t.Fatalf("round %d: %d notifications more than expected", round, n)
		}
	}
}

// TestIceRestart: ice.restart over the wire: refused before any offer
// (409), relayed to the pair's offerer with its reason, and rate limited
// with retryAfterMs (the limits themselves are the core's: scenario
// IceRestartLimits).
func TestIceRestart(t *testing.T) {
	ts := startServer(t)
	alice, bob := pairInRoom(t, ts, "restart")
	params := map[string]any{"roomId": "restart", "to": alice.peerID, "reason": "network changed"}
	_, err := bob.Call("ice.restart", params)
	rpcError(t, err, 409, "no offer")
	alice.must("sdp.offer", map[string]any{"roomId": "restart", "to": bob.peerID, "sdp": sampleSDP})
	bob.expect("sdp.offer")
	bob.must("ice.restart", params)
	if ev := alice.expect("ice.restartRequested"); ev["from"] != bob.peerID || ev["roomId"] != "restart" || ev["reason"] != "network changed" {
		t.Fatalf("ice.restartRequested = %v", ev)
	}
	_, err = bob.Call("ice.restart", params)
	rpcError(t, err, 429, "retryAfterMs")
	if n := alice.Pending() + bob.Pending(); n != 0 {
		t.Fatalf("%d notifications more than expected", n)
	}
}

// TestIceServersRefreshed: with a short credential TTL every session gets
// fresh TURN credentials at half of it; the timer ends with the session.
func TestIceServersRefreshed(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.TURN.CredentialTTL = 2 * time.Second
		c.Limits.ResumeWindow = 50 * time.Millisecond // a dropped connection ends the session soon
	})
	alice := ts.connect(t, "alice")
	first := alice.session["iceServers"].([]any)[0].(map[string]any)
	prevUser, prevExp := first["username"], alice.session["iceServersExpiresAt"].(float64)
	for i := range 2 {
		ev := alice.expect("ice.serversRefreshed")
		servers := ev["iceServers"].([]any)
		turn := servers[0].(map[string]any)
		exp := ev["expiresAt"].(float64)
		if turn["username"] == prevUser || turn["credential"] == "" || exp <= prevExp {
			t.Fatalf("refresh %d: %v (before: %v, %v)", i, ev, prevUser, prevExp)
		}
		prevUser, prevExp = turn["username"], exp
	}
	id := alice.session["sessionId"].(string)
	if err := alice.Close(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the session to end and its refresh timer to stop", func() bool {
		_, err := ts.srv.core.SessionInfo(context.Background(), id)
		return err != nil && !slices.ContainsFunc(ts.srv.store.(interface{ Pending() []signal.Timer }).Pending(), func(tm signal.Timer) bool { return tm.ID == id })
	})
}
