package signaltest

import (
	"testing"

	"github.com/parley-rtc/parley/api"

	"github.com/parley-rtc/parley/server/signal"
)

func init() {
	register(scenario{"PairRecord", pairRecord})
}

// relayed is one direction of a pair's record, by name.
type relayed struct {
	offers, answers, candidates, held, dropped, glare, tooLarge int64
}

func relayedOf(c [signal.Counters]int64) relayed {
	return relayed{c[signal.CountOffers], c[signal.CountAnswers], c[signal.CountCandidates], c[signal.CountHeld],
		c[signal.CountDropped], c[signal.CountGlare], c[signal.CountTooLarge]}
}

// record reads the record of a and b in room: what a sent b, what b sent a.
func (e *env) record(room string, a, b *client) (ab, ba relayed, ok bool) {
	e.t.Helper()
	rec, ok, err := e.core.Record(ctx(), room, a.peerID(), b.peerID())
	e.must(err)
	return relayedOf(rec[0]), relayedOf(rec[1]), ok
}

// pairRecord: the per-pair signaling record counts, per direction, the
// offers, answers and candidates delivered (held ones when their offer
// flushes them), candidates held and dropped, and sends refused (491, 413),
// whichever side asks; it goes with the pair when a peer leaves.
func pairRecord(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("rec")
	if _, _, ok := e.record("rec", alice, bob); ok {
		t.Fatal("a record before anything was sent")
	}
	e.must(bob.candidate("rec", alice, candidate(1)))
	e.must(bob.candidate("rec", alice, candidate(2)))
	e.must(alice.offer("rec", bob))
	wantErr(t, bob.offer("rec", alice), 491, "glare")
	e.must(bob.answer("rec", alice))
	for port := range 3 {
		e.must(alice.candidate("rec", bob, candidate(10+port)))
	}
	e.core.TooLarge(ctx(), bob.ref, "rec", alice.peerID(), api.MethodSdpOffer, 70000)

	wantAB := relayed{offers: 1, candidates: 3}
	wantBA := relayed{answers: 1, candidates: 2, held: 2, glare: 1, tooLarge: 1}
	ab, ba, ok := e.record("rec", alice, bob)
	if !ok || ab != wantAB || ba != wantBA {
		t.Fatalf("alice→bob %+v, bob→alice %+v (ok %v); want %+v and %+v", ab, ba, ok, wantAB, wantBA)
	}
	if ba2, ab2, _ := e.record("rec", bob, alice); ab2 != ab || ba2 != ba {
		t.Fatalf("asked from bob's side: bob→alice %+v, alice→bob %+v", ba2, ab2)
	}

	// Held candidates that outlive their TTL are counted dropped.
	carol := e.connect("carol")
	carol.join("rec")
	e.must(carol.candidate("rec", alice, candidate(20)))
	e.clock.Advance(signal.HeldCandidateTTL)
	if cb, _, _ := e.record("rec", carol, alice); cb != (relayed{held: 1, dropped: 1}) {
		t.Fatalf("carol→alice %+v, want one held and dropped", cb)
	}

	e.must(e.core.Leave(ctx(), bob.ref, "rec"))
	if _, _, ok := e.record("rec", alice, bob); ok {
		t.Fatal("the record outlived bob's seat")
	}
	wantErr(t, func() error { _, _, err := e.core.Record(ctx(), "rec", "x", "x"); return err }(), 400, "two peers")
	alice.drain()
	carol.drain()
}
