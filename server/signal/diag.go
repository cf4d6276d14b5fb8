package signal

import (
	"time"

	"github.com/parley-rtc/parley/api"
)

// The diag.report record (ICE failure explained): each side's latest
// report about a pair's peer connection, kept beside the signaling
// record so that any node of a cluster explains the pair, whichever
// nodes its peers reported to. The server keeps it (server/diag.go): in
// its memory on a single node, in Redis in cluster mode (redisstore's
// Diag); these are the shapes both keep.

// DiagSide is one peer of a pair as the record has it: its identity and
// its latest report (nil until it sends one), received at At.
type DiagSide struct {
	PeerID   string          `json:"p"`
	Identity string          `json:"i,omitzero"`
	Report   *api.DiagReport `json:"r,omitzero"`
	At       time.Time       `json:"t,omitzero"`
}

// DiagPair is a pair's record: Sides[0] is Key.Lo. Signaling is the
// core's signaling record as last read with a report (nil: none), so
// that it outlives the peers' seats; Counted is the result last counted
// (parley_ice_outcomes_total, peer.connectionFailed), so that each
// change of result is counted once wherever it is seen.
type DiagPair struct {
	Key       PairKey
	Sides     [2]DiagSide
	Signaling *PairCounts
	Counted   api.DiagResult
}

// DiagPairOf is the key of peers a and b, and a's side of it.
func DiagPairOf(a, b string) (PairKey, int) { return pairOf(a, b) }
