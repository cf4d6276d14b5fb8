package server

import (
	"cmp"
	"container/list"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/diag"
	"github.com/parley-rtc/parley/server/signal"
)

// ICE failure explained: clients report what their peer connections saw
// (diag.report), the server keeps each side's latest report per pair and
// joins them with the TURN record of both identities (package diag names
// the cause). A pair's outcome is counted once per change of result, when
// both sides have reported it or diagGrace after the first did (so the
// cause counted is the one both reports give); a failure is also sent as
// the peer.connectionFailed webhook.
//
// The signaling core's per-pair record (offers, answers, candidates
// delivered, held, dropped, refused; signal.Core.Record) joins them as
// diag.Pair.Signaling: read from the store (so on any node of a cluster)
// while the pair stands, else as last read with a report (the peers
// left).

// Bounds of the reports kept.
const (
	diagMaxRooms  = 4096
	diagMaxPairs  = 64 // per room
	diagRetention = time.Hour
	diagGrace     = 5 * time.Second
)

// diagStore keeps the latest reports by room and pair.
type diagStore struct {
	mu     sync.Mutex
	rooms  map[string]*list.Element // of *diagRoom
	recent list.List                // most recently reported at the front
}

type diagRoom struct {
	id      string
	touched time.Time
	pairs   map[diagKey]*diagPair
}

// diagKey names a pair by its peer ids in order.
type diagKey struct{ a, b string }

func diagKeyOf(x, y string) diagKey {
	if x > y {
		x, y = y, x
	}
	return diagKey{x, y}
}

type diagPair struct {
	sides   [2]diagSide     // sides[0] is key.a
	sig     *diag.Signaling // the signaling record as last read
	touched time.Time
	counted api.DiagResult // the result last counted
	grace   *time.Timer    // counts the result if the other side stays silent
}

type diagSide struct {
	peerID, identity string
	report           *api.DiagReport
	at               time.Time
}

func newDiagStore() *diagStore { return &diagStore{rooms: make(map[string]*list.Element)} }

// record keeps a report from peer (of identity) about remote in room, and
// returns the pair; the store's lock is held until unlock is called.
func (d *diagStore) record(roomID string, from, to diagSide, now time.Time) (p *diagPair, unlock func()) {
	d.mu.Lock()
	// Drop rooms past their retention, and the least recent beyond the cap.
	for back := d.recent.Back(); back != nil; back = d.recent.Back() {
		if d.recent.Len() < diagMaxRooms && now.Sub(back.Value.(*diagRoom).touched) < diagRetention {
			break
		}
		d.removeLocked(back)
	}
	el, ok := d.rooms[roomID]
	if !ok {
		el = d.recent.PushFront(&diagRoom{id: roomID, pairs: make(map[diagKey]*diagPair)})
		d.rooms[roomID] = el
	}
	d.recent.MoveToFront(el)
	r := el.Value.(*diagRoom)
	r.touched = now
	k := diagKeyOf(from.peerID, to.peerID)
	p = r.pairs[k]
	if p == nil {
		if len(r.pairs) >= diagMaxPairs {
			r.dropOldestPair()
		}
		p = &diagPair{sides: [2]diagSide{{peerID: k.a}, {peerID: k.b}}}
		r.pairs[k] = p
	}
	p.touched = now
	i := 0
	if from.peerID == k.b {
		i = 1
	}
	p.sides[i] = from
	if p.sides[1-i].identity == "" {
		p.sides[1-i].identity = to.identity
	}
	return p, d.mu.Unlock
}

func (d *diagStore) removeLocked(el *list.Element) {
	r := d.recent.Remove(el).(*diagRoom)
	delete(d.rooms, r.id)
	for _, p := range r.pairs {
		if p.grace != nil {
			p.grace.Stop()
		}
	}
}

func (r *diagRoom) dropOldestPair() {
	var oldest diagKey
	var at time.Time
	for k, p := range r.pairs {
		if at.IsZero() || p.touched.Before(at) {
			oldest, at = k, p.touched
		}
	}
	if p := r.pairs[oldest]; p.grace != nil {
		p.grace.Stop()
	}
	delete(r.pairs, oldest)
}

// diagPairCopy is a pair as pairs returns it.
type diagPairCopy struct {
	sides [2]diagSide
	sig   *diag.Signaling
}

// pairs returns copies of roomID's pairs (those with peerID, if given);
// false if the room has no report within the retention.
func (d *diagStore) pairs(roomID, peerID string, now time.Time) ([]diagPairCopy, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	el, ok := d.rooms[roomID]
	if !ok || now.Sub(el.Value.(*diagRoom).touched) >= diagRetention {
		return nil, false
	}
	var out []diagPairCopy
	for k, p := range el.Value.(*diagRoom).pairs {
		if peerID == "" || k.a == peerID || k.b == peerID {
			out = append(out, diagPairCopy{p.sides, p.sig})
		}
	}
	return out, true
}

// DiagReport keeps a client's report about one of its peer connections
// and answers with the pair's diagnosis as it stands.
func (s *Server) DiagReport(ctx context.Context, p *api.DiagReportParams) (*api.DiagVerdict, error) {
	sess, err := sessionOf(ctx, api.MethodDiagReport)
	if err != nil {
		return nil, err
	}
	if p.PeerID == sess.PeerID {
		return nil, api.ErrBadRequest("peerId is your own peer id: name the remote peer of the connection")
	}
	info, err := s.core.Get(ctx, sess, p.RoomID)
	if err != nil {
		return nil, err
	}
	remote := diagSide{peerID: p.PeerID}
	for _, peer := range info.Peers {
		if peer.PeerID == p.PeerID {
			remote.identity = peer.Identity
		}
	}
	now := s.now()
	report := p.Report
	k := diagKeyOf(sess.PeerID, p.PeerID) // the pair's sides' order
	sig := s.signaling(ctx, p.RoomID, k.a, k.b)
	pair, unlock := s.diag.record(p.RoomID, diagSide{peerID: sess.PeerID, identity: sess.Identity, report: &report, at: now}, remote, now)
	if sig != nil {
		pair.sig = sig
	}
	sides := pair.sides
	verdict := s.explain(sides, pair.sig)
	// The outcome is counted now if both sides report it, else after the
	// grace if the pair still stands there.
	if verdict.Result != api.DiagResultUnknown && verdict.Result != pair.counted {
		if sides[0].report != nil && sides[1].report != nil && sides[0].report.Trigger == sides[1].report.Trigger {
			s.countOutcome(p.RoomID, pair, sides, verdict)
		} else if pair.grace == nil {
			pair.grace = time.AfterFunc(diagGrace, func() { s.graceOver(p.RoomID, pair, sides) })
		}
	}
	unlock()
	return &verdict, nil
}

// graceOver counts a pair's outcome that only one side reported (sides:
// the pair's, for their peer ids).
func (s *Server) graceOver(roomID string, pair *diagPair, sides [2]diagSide) {
	sig := s.signaling(context.Background(), roomID, sides[0].peerID, sides[1].peerID)
	s.diag.mu.Lock()
	defer s.diag.mu.Unlock()
	pair.grace = nil
	if sig != nil {
		pair.sig = sig
	}
	if v := s.explain(pair.sides, pair.sig); v.Result != api.DiagResultUnknown && v.Result != pair.counted {
		s.countOutcome(roomID, pair, pair.sides, v)
	}
}

// countOutcome counts the pair's result with its cause and sends a
// failure as peer.connectionFailed. The store's lock is held.
func (s *Server) countOutcome(roomID string, pair *diagPair, sides [2]diagSide, v api.DiagVerdict) {
	pair.counted = v.Result
	if pair.grace != nil {
		pair.grace.Stop()
		pair.grace = nil
	}
	s.iceOutcomes.WithLabelValues(string(v.Result), v.Cause).Inc()
	if v.Result != api.DiagResultFailed {
		return
	}
	// The peer is the one the cause is about, else one that failed.
	failed, other := sides[0], sides[1]
	if v.PeerID == other.peerID || v.PeerID == "" && (failed.report == nil || failed.report.Trigger != api.DiagTriggerFailed) {
		failed, other = other, failed
	}
	err := s.core.Publish(context.Background(), signal.EventPeerConnectionFailed, api.EventData{
		RoomID: roomID, PeerID: failed.peerID, Identity: failed.identity,
		RemotePeerID: other.peerID, RemoteIdentity: other.identity,
		Cause: v.Cause, Explanation: v.Explanation,
	})
	if err != nil {
		s.log.Warn("peer.connectionFailed not published", "room", roomID, "err", err)
	}
}

// explain runs the cause engine over a pair's sides, the TURN record and
// the signaling record (nil: none).
func (s *Server) explain(sides [2]diagSide, sig *diag.Signaling) api.DiagVerdict {
	return diag.Explain(diag.Pair{A: s.diagSide(sides[0]), B: s.diagSide(sides[1]), Signaling: sig})
}

// signaling is the core's record of peers a and b in a room (A is a), nil
// if it has none (a store that failed is logged, and explains without).
func (s *Server) signaling(ctx context.Context, roomID, a, b string) *diag.Signaling {
	rec, ok, err := s.core.Record(ctx, roomID, a, b)
	if err != nil {
		s.log.Debug("diag: no signaling record", "room", roomID, "err", err)
	}
	if !ok || err != nil {
		return nil
	}
	return &diag.Signaling{AToB: relayOf(rec[0]), BToA: relayOf(rec[1])}
}

func relayOf(c [signal.Counters]int64) diag.Relay {
	return diag.Relay{
		Offers: int(c[signal.CountOffers]), Answers: int(c[signal.CountAnswers]), Candidates: int(c[signal.CountCandidates]),
		HeldCandidates: int(c[signal.CountHeld]), DroppedCandidates: int(c[signal.CountDropped]),
		Glare: int(c[signal.CountGlare]), TooLarge: int(c[signal.CountTooLarge]),
	}
}

func (s *Server) diagSide(d diagSide) diag.Side {
	return diag.Side{PeerID: d.peerID, Identity: d.identity, Report: d.report, ReportedAt: d.at, TURN: s.turnEvents(d.identity)}
}

// turnEvents is the co-hosted TURN server's record of identity.
func (s *Server) turnEvents(identity string) []api.TurnEvent {
	t := s.TURN()
	if t == nil || identity == "" {
		return nil
	}
	var out []api.TurnEvent
	for _, ev := range t.Events(identity) {
		e := api.TurnEvent{At: ev.At.UnixMilli(), Kind: api.TurnEventKind(ev.Kind.String()), Count: int64(ev.Count)}
		if ev.Addr.IsValid() {
			e.Address = ev.Addr.String()
		}
		out = append(out, e)
	}
	return out
}

// AdminDiagExplain explains every reported pair of a room.
func (s *Server) AdminDiagExplain(ctx context.Context, p *api.AdminDiagExplainParams) (*api.DiagExplanation, error) {
	if err := s.adminOf(ctx, api.MethodAdminDiagExplain); err != nil {
		return nil, err
	}
	pairs, ok := s.diag.pairs(p.RoomID, p.PeerID, s.now())
	if !ok {
		return nil, api.ErrRoomNotFound(fmt.Sprintf("no diag.report about room %q in the last %s", p.RoomID, diagRetention))
	}
	out := &api.DiagExplanation{RoomID: p.RoomID, Pairs: make([]api.DiagPair, 0, len(pairs))}
	for _, pair := range pairs {
		sides, sig := pair.sides, pair.sig
		if live := s.signaling(ctx, p.RoomID, sides[0].peerID, sides[1].peerID); live != nil {
			sig = live
		}
		out.Pairs = append(out.Pairs, api.DiagPair{A: s.explainSide(sides[0]), B: s.explainSide(sides[1]), Verdict: s.explain(sides, sig)})
	}
	rank := map[api.DiagResult]int{api.DiagResultFailed: 0, api.DiagResultChecking: 1, api.DiagResultUnknown: 2, api.DiagResultConnected: 3}
	slices.SortFunc(out.Pairs, func(x, y api.DiagPair) int {
		return cmp.Or(cmp.Compare(rank[x.Verdict.Result], rank[y.Verdict.Result]), cmp.Compare(x.A.PeerID, y.A.PeerID), cmp.Compare(x.B.PeerID, y.B.PeerID))
	})
	return out, nil
}

func (s *Server) explainSide(d diagSide) api.DiagSide {
	out := api.DiagSide{PeerID: d.peerID, Identity: d.identity, Report: d.report, Turn: s.turnEvents(d.identity)}
	if !d.at.IsZero() {
		out.ReportedAt = d.at.UnixMilli()
	}
	return out
}

// newICEOutcomes is parley_ice_outcomes_total. Its labels are bounded:
// result is api.DiagResult, cause one of diag.Causes.
func newICEOutcomes() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_ice_outcomes_total",
		Help: "Peer connections' outcomes from both sides' diag.report, each pair counted once per change of result (connected, failed, checking: still checking after 15 s), by cause (none when connected; see diag.report for the codes).",
	}, []string{"result", "cause"})
	c.WithLabelValues(string(api.DiagResultConnected), diag.CauseNone)
	c.WithLabelValues(string(api.DiagResultFailed), diag.CauseUnknown)
	return c
}
