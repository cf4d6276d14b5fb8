package signal

import (
	"context"
	"fmt"

	"github.com/parley-rtc/parley/api"
)

// The per-pair signaling record: what the core did with each direction of
// a pair's messages (offers, answers and candidates delivered, candidates
// held and dropped, sends refused), so that a failed connection can be
// explained from the server's side (package diag). The counters live with
// the pair in the store and are written in the commit of the relay they
// count, without a version (counting commutes), so any node of a cluster
// counts and reads them.

// Counter names one count of a pair's record.
type Counter uint8

const (
	// CountOffers, CountAnswers and CountCandidates count what was
	// delivered (held candidates when their offer flushed them).
	CountOffers Counter = iota
	CountAnswers
	CountCandidates
	// CountHeld counts candidates held for the pair's first offer,
	// CountDropped the held ones that expired or went with a peer that
	// left.
	CountHeld
	CountDropped
	// CountGlare and CountTooLarge count sends refused: 491 glare, and 413
	// (an SDP or candidate over the size limit, or too many held).
	CountGlare
	CountTooLarge
	// Counters is how many there are.
	Counters
)

// PairCounts is a pair's record: PairCounts[side][counter] counts what
// that side (0: the pair's Lo, 1: Hi) sent.
type PairCounts [2][Counters]int64

// count adds one to a counter of the side of key that sent.
func count(t *txn, room string, key PairKey, side int, c Counter, n int) {
	if n > 0 {
		t.Count(room, key, side, c, n)
	}
}

// Record is the signaling record of peers a and b of a room, oriented:
// [0] what a sent b, [1] what b sent a; false if the room has no record
// of the pair (they never exchanged anything, or one of them left).
func (c *Core) Record(ctx context.Context, roomID, a, b string) (rec PairCounts, ok bool, err error) {
	if a == b {
		return rec, false, api.ErrBadRequest(fmt.Sprintf("a pair needs two peers; %q twice", a))
	}
	key, side := pairOf(a, b)
	err = c.update(ctx, func(t *txn) error {
		if t.Pair(roomID, key) == nil {
			return nil
		}
		counts := t.Counts(roomID, key)
		rec, ok = PairCounts{counts[side], counts[1-side]}, true
		return nil
	})
	return rec, ok, err
}

// TooLarge counts a send (method, of size bytes) from ref's session to
// peer to in a room that the server refused as too large (413) before it
// reached the core, and tells the room's watchers. A sender outside the
// room counts nothing.
func (c *Core) TooLarge(ctx context.Context, ref *Ref, roomID, to, method string, bytes int) {
	_ = c.relayPair(ctx, ref, roomID, to, func(t *txn, r *Room, _ *Seat, key PairKey, side int) error {
		if t.Pair(r.ID, key) == nil {
			t.PutPair(r.ID, &Pair{Key: key})
		}
		count(t, r.ID, key, side, CountTooLarge, 1)
		c.tell(t, r, api.AdminSignalEvent{Method: method, From: ref.PeerID, To: to, Outcome: api.SignalOutcomeRefused, Code: api.CodeTooLarge, Bytes: int64(bytes)})
		return nil
	})
}
