package signaltest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/server/signal"
)

func init() {
	register(
		scenario{"RelaysStampFrom", relaysStampFrom},
		scenario{"RelayRefusals", relayRefusals},
		scenario{"Glare", glare},
		scenario{"GlareOfferOutstandingLapses", glareOutstandingLapses},
		scenario{"HeldCandidatesFollowOffer", heldCandidatesFollowOffer},
		scenario{"HeldCandidatesBounded", heldCandidatesBounded},
		scenario{"HeldCandidatesExpire", heldCandidatesExpire},
		scenario{"IceRestartLimits", iceRestartLimits},
		scenario{"MessagesToTheRoom", messagesToTheRoom},
		scenario{"ConcurrentRelaysKeepOrder", concurrentRelays},
	)
}

// relaysStampFrom: offer, answer, candidates (and end of candidates) and
// messages reach their peer with from stamped by the core, whatever the
// sender put there, and in seq order.
func relaysStampFrom(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("r")
	e.must(e.core.RelayOffer(ctx(), alice.ref, bob.peerID(), &api.SdpOfferEvent{RoomID: "r", From: "someone-else", SDP: rawSampleSDP}))
	if o := bob.expect(api.NotifySdpOffer); str(o, "from") != alice.peerID() || str(o, "sdp") != sampleSDP || str(o, "roomId") != "r" {
		t.Fatalf("sdp.offer = %v", o)
	}
	e.must(bob.answer("r", alice))
	if a := alice.expect(api.NotifySdpAnswer); str(a, "from") != bob.peerID() {
		t.Fatalf("sdp.answer = %v", a)
	}
	e.must(alice.candidate("r", bob, candidate(5000)))
	if c := bob.expect(api.NotifyIceCandidate); str(c, "from") != alice.peerID() || str(c["candidate"].(map[string]any), "candidate") != candidate(5000).Candidate {
		t.Fatalf("ice.candidate = %v", c)
	}
	e.must(alice.candidate("r", bob, nil))
	if c := bob.expect(api.NotifyIceCandidate); c["candidate"] != nil {
		t.Fatalf("end of candidates relayed as %v", c["candidate"])
	}
	e.must(bob.send("r", alice.peerID(), "psst"))
	if m := alice.expect(api.NotifyMessageReceived); str(m, "from") != bob.peerID() || m["private"] != true || str(m, "data") != "psst" {
		t.Fatalf("message.received = %v", m)
	}
	alice.quiet()
	bob.quiet()
}

// relayRefusals: to oneself, to nobody, outside one's rooms.
func relayRefusals(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("r")
	wantErr(t, alice.offer("r", alice), 400, "own peer id")
	wantErr(t, alice.send("r", alice.peerID(), "x"), 400, "own peer id")
	err := e.core.RelayOffer(ctx(), alice.ref, "nobody", &api.SdpOfferEvent{RoomID: "r", SDP: rawSampleSDP})
	wantErr(t, err, 404, "peer_not_found")
	wantErr(t, alice.send("r", "nobody", "x"), 404, "peer_not_found")
	wantErr(t, alice.offer("other", bob), 404, "room_not_found")
	wantErr(t, alice.candidate("other", bob, candidate(1)), 404, "room_not_found")
	carol := e.connect("carol")
	carol.join("elsewhere")
	wantErr(t, carol.answer("r", alice), 404, "room_not_found")
	bob.quiet()
}

// glare: crossed offers in each order: the impolite side's (alice's, the
// earlier joiner) offer is always delivered, the polite side's colliding
// one refused with 491; an answer clears the offer it answers.
func glare(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("g")
	e.must(alice.offer("g", bob))
	wantErr(t, bob.offer("g", alice), 491, "glare")
	bob.expect(api.NotifySdpOffer)
	e.must(bob.answer("g", alice))
	alice.expect(api.NotifySdpAnswer)
	e.must(bob.offer("g", alice)) // answered: bob may renegotiate
	alice.expect(api.NotifySdpOffer)
	e.must(alice.answer("g", bob))
	bob.expect(api.NotifySdpAnswer)

	// bob (polite) first: alice's crossing offer still goes through, and
	// bob's no longer counts as outstanding.
	e.must(bob.offer("g", alice))
	e.must(alice.offer("g", bob))
	alice.expect(api.NotifySdpOffer)
	bob.expect(api.NotifySdpOffer)
	wantErr(t, bob.offer("g", alice), 491, "polite side")
	e.must(bob.answer("g", alice))
	alice.expect(api.NotifySdpAnswer)
	alice.quiet()
	bob.quiet()
}

// glareOutstandingLapses: an offer unanswered for 30 s no longer counts
// as outstanding, so the polite side's offer is delivered.
func glareOutstandingLapses(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("g")
	e.must(alice.offer("g", bob))
	e.clock.Advance(29 * time.Second)
	wantErr(t, bob.offer("g", alice), 491, "glare")
	e.clock.Advance(time.Second)
	e.must(bob.offer("g", alice))
	bob.expect(api.NotifySdpOffer)
	alice.expect(api.NotifySdpOffer)
}

// heldCandidatesFollowOffer: candidates sent before the pair's first offer
// are held and arrive right after it, in order, both ways; later ones are
// relayed at once; a message overtakes the held ones.
func heldCandidatesFollowOffer(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("early")
	for port := 5000; port < 5005; port++ {
		e.must(alice.candidate("early", bob, candidate(port)))
	}
	e.must(alice.candidate("early", bob, nil))
	e.must(bob.candidate("early", alice, candidate(6000)))
	e.must(alice.send("early", bob.peerID(), "before the offer"))
	if m := bob.expect(api.NotifyMessageReceived); str(m, "data") != "before the offer" {
		t.Fatalf("got %v", m)
	}
	alice.quiet()

	e.must(alice.offer("early", bob))
	bob.expect(api.NotifySdpOffer)
	for port := 5000; port < 5005; port++ {
		c := bob.expect(api.NotifyIceCandidate)
		if got := str(c["candidate"].(map[string]any), "candidate"); got != candidate(port).Candidate || str(c, "from") != alice.peerID() {
			t.Fatalf("candidate %d: got %v", port, c)
		}
	}
	if c := bob.expect(api.NotifyIceCandidate); c["candidate"] != nil {
		t.Fatalf("want end of candidates, got %v", c)
	}
	if c := alice.expect(api.NotifyIceCandidate); str(c["candidate"].(map[string]any), "candidate") != candidate(6000).Candidate {
		t.Fatalf("got %v", c)
	}
	e.must(bob.candidate("early", alice, candidate(6001)))
	alice.expect(api.NotifyIceCandidate)
	e.must(alice.candidate("early", bob, candidate(5005)))
	bob.expect(api.NotifyIceCandidate)
	// A renegotiation delivers its offer alone: what was held went once.
	e.must(bob.answer("early", alice))
	alice.expect(api.NotifySdpAnswer)
	e.must(alice.offer("early", bob))
	bob.expect(api.NotifySdpOffer)
	e.noTimer(signal.TimerHeld, "early "+min(alice.peerID(), bob.peerID())+" "+max(alice.peerID(), bob.peerID()))
	alice.quiet()
	bob.quiet()
}

// heldCandidatesBounded: a pair holds at most HeldCandidatesMax candidates
// per direction; a peer leaving drops its pairs and what they held.
func heldCandidatesBounded(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("bounded")
	for i := range signal.HeldCandidatesMax {
		e.must(alice.candidate("bounded", bob, candidate(5000+i)))
	}
	wantErr(t, alice.candidate("bounded", bob, candidate(4000)), 413, "waiting for an offer")
	e.must(bob.candidate("bounded", alice, candidate(4000))) // the other direction has its own bound
	e.must(e.core.Leave(ctx(), bob.ref, "bounded"))
	tx := e.store.Begin(ctx())
	pairs := tx.Pairs("bounded")
	e.must(tx.Commit())
	if len(pairs) != 0 {
		t.Fatalf("pairs %v kept after bob left", pairs)
	}
	// bob back: a new pair, nothing held from before.
	bob.join("bounded")
	e.must(alice.offer("bounded", bob))
	bob.expectSkipping(api.NotifySdpOffer, api.NotifyPresenceChanged)
	bob.quiet(api.NotifyPresenceChanged)
	for _, f := range alice.drain() {
		if f.Method == api.NotifyIceCandidate {
			t.Fatalf("alice got a candidate held before bob left: %v", f.Params)
		}
	}
}

// heldCandidatesExpire: a held candidate waits HeldCandidateTTL for its
// offer; the older ones go, the younger stay (in order) and are delivered
// with the offer, and the timer stops when none is left.
func heldCandidatesExpire(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("h")
	e.must(alice.candidate("h", bob, candidate(1)))
	e.clock.Advance(10 * time.Second)
	e.must(alice.candidate("h", bob, candidate(2)))
	e.must(bob.candidate("h", alice, candidate(3)))
	e.clock.Advance(44 * time.Second) // 1 went at 45 s; 2 and 3 are 44 s old
	e.must(alice.candidate("h", bob, candidate(4)))
	e.clock.Advance(2 * time.Second) // 2 and 3 went at 45 s; 4 is 2 s old
	e.must(alice.offer("h", bob))
	bob.expect(api.NotifySdpOffer)
	if c := bob.expect(api.NotifyIceCandidate); str(c["candidate"].(map[string]any), "candidate") != candidate(4).Candidate {
		t.Fatalf("the one young candidate: got %v", c)
	}
	bob.quiet()
	alice.quiet()

	carol, dave := e.connect("carol"), e.connect("dave")
	carol.join("h2")
	dave.join("h2")
	carol.drain()
	e.must(carol.candidate("h2", dave, candidate(7)))
	e.clock.Advance(signal.HeldCandidateTTL)
	e.must(carol.offer("h2", dave))
	dave.expect(api.NotifySdpOffer)
	dave.quiet(api.NotifyPresenceChanged)
}

// iceRestartLimits: ice.restart reaches the current offerer only, at
// least 5 s apart and at most 5 a minute per pair (429 with retryAfterMs).
func iceRestartLimits(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("restart")
	restart := func(p, to *client, reason string) error {
		return e.core.RequestRestart(ctx(), p.ref, "restart", to.peerID(), reason)
	}
	wantErr(t, restart(bob, alice, ""), 409, "no offer")
	e.must(alice.offer("restart", bob))
	bob.expect(api.NotifySdpOffer)
	e.must(bob.answer("restart", alice))
	alice.expect(api.NotifySdpAnswer)
	wantErr(t, restart(alice, bob, ""), 409, "restart ICE yourself")
	wantErr(t, restart(bob, bob, ""), 400, "own peer id")
	steps := []struct {
		advance    time.Duration
		wantRetry  int64 // 0: relayed
		reasonSent string
	}{
		{0, 0, "network changed"},
		{4 * time.Second, 1001, ""},
		{999 * time.Millisecond, 2, ""},
		{time.Millisecond, 0, ""},
		{5 * time.Second, 0, ""},
		{5 * time.Second, 0, ""},
		{5 * time.Second, 0, ""}, // the fifth in 20 s
		{5 * time.Second, 35001, "too many"},
		{35 * time.Second, 0, ""}, // the first is a minute old now
		{time.Second, 4001, ""},
	}
	for i, st := range steps {
		e.clock.Advance(st.advance)
		err := restart(bob, alice, st.reasonSent)
		if st.wantRetry != 0 {
			wantErr(t, err, 429, fmt.Sprintf(`"retryAfterMs":%d`, st.wantRetry))
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		ev := alice.expect(api.NotifyIceRestartRequested)
		want := st.reasonSent
		if want == "" {
			want = "requested"
		}
		if str(ev, "from") != bob.peerID() || str(ev, "roomId") != "restart" || str(ev, "reason") != want {
			t.Fatalf("step %d: got %v", i, ev)
		}
	}
	// The limit is the pair's: alice asking bob (once he offered) shares it.
	e.must(bob.offer("restart", alice))
	alice.expect(api.NotifySdpOffer)
	wantErr(t, restart(alice, bob, ""), 429, "retryAfterMs")
	e.clock.Advance(5 * time.Second)
	e.must(restart(alice, bob, ""))
	bob.expect(api.NotifyIceRestartRequested)
	alice.quiet()
	bob.quiet()
}

// messagesToTheRoom: a room message reaches every other member (never the
// sender), with one message id.
func messagesToTheRoom(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	peers := make([]*client, 10)
	for i := range peers {
		peers[i] = e.connect(fmt.Sprint("p", i))
		if res := peers[i].join("big"); len(res.Peers) != i {
			t.Fatalf("peer %d sees %d peers", i, len(res.Peers))
		}
	}
	for _, p := range peers {
		p.drain()
	}
	e.must(peers[3].send("big", "", "hi all"))
	var id string
	for i, p := range peers {
		if i == 3 {
			p.quiet()
			continue
		}
		m := p.expect(api.NotifyMessageReceived)
		if str(m, "from") != peers[3].peerID() || m["private"] != false || (id != "" && str(m, "messageId") != id) {
			t.Fatalf("peer %d got %v", i, m)
		}
		id = str(m, "messageId")
	}
}

// concurrentRelays: two senders relaying to one receiver at once: every
// notification arrives once, each sender's in its order, seqs gapless.
func concurrentRelays(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("c")
	carol := e.connect("carol")
	carol.join("c")
	alice.drain()
	bob.drain()
	e.must(alice.offer("c", bob))
	e.must(carol.offer("c", bob))
	bob.drain()
	const n = 200
	var wg sync.WaitGroup
	for _, from := range []*client{alice, carol} {
		wg.Go(func() {
			for i := range n {
				if err := from.candidate("c", bob, candidate(i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	next := map[string]int{}
	for _, f := range bob.drain() {
		from := str(f.Params, "from")
		port := 0
		_, _ = fmt.Sscanf(str(f.Params["candidate"].(map[string]any), "candidate"), "candidate:1 1 udp 2130706431 192.0.2.1 %d", &port)
		if port != next[from] {
			t.Fatalf("from %s: candidate %d after %d", from, port, next[from]-1)
		}
		next[from]++
	}
	if next[alice.peerID()] != n || next[carol.peerID()] != n {
		t.Fatalf("bob got %v, want %d from each", next, n)
	}
}
