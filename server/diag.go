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
	"github.com/parley-rtc/parley/server/signal/redisstore"
	"github.com/parley-rtc/parley/turn"
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
//
// Where it is all kept is a diagRecord: on a single node its memory
// (memDiag, and the co-hosted TURN server's own record); in cluster mode
// Redis (redisstore.Diag), which every node's reports and every node's
// TURN events go to, so that any node explains a pair whichever nodes its
// peers, their TURN servers and the admin are on. The count's "once" is
// the record's too: Claim sets the pair's counted result, and only the
// caller that changed it counts.

// Bounds of the reports kept (and, in cluster mode, of the TURN events:
// turn.RecordIdentities and turn.RecordEvents, as each node's own record).
const (
	diagMaxRooms  = 4096
	diagMaxPairs  = 64 // per room
	diagRetention = time.Hour
	diagGrace     = 5 * time.Second
	// diagTURNQueue bounds a cluster node's TURN events not yet written
	// to Redis; beyond it they are dropped rather than waited for.
	diagTURNQueue = 4096
)

// diagRecord keeps the reports by room and pair, and reads the TURN
// events by identity.
type diagRecord interface {
	// Report keeps from's report as its side (side) of the pair, the
	// other side's identity where the pair has no report of it, and sig
	// (if not nil) as its signaling record; it returns the pair.
	Report(ctx context.Context, room string, key signal.PairKey, side int, from, other signal.DiagSide, sig *signal.PairCounts) (signal.DiagPair, error)
	// Claim sets the pair's counted result to r unless it is r already:
	// true if it did (the caller counts).
	Claim(ctx context.Context, room string, key signal.PairKey, r api.DiagResult) (bool, error)
	// Pair is one pair of a room; Pairs the room's pairs (of peer, if
	// given): false if the room has none reported within the retention.
	Pair(ctx context.Context, room string, key signal.PairKey) (signal.DiagPair, bool, error)
	Pairs(ctx context.Context, room, peer string) ([]signal.DiagPair, bool, error)
	// TURNEvents are the TURN servers' records of the identities.
	TURNEvents(ctx context.Context, identities ...string) (map[string][]api.TurnEvent, error)
}

// newDiagRecord keeps the record in Redis in cluster mode (where this
// node's TURN events go too: turnEventSink), else in memory.
func (s *Server) newDiagRecord() diagRecord {
	if s.redis != nil {
		return s.redis.Diag(redisstore.DiagLimits{
			Retention: diagRetention, Rooms: diagMaxRooms, PairsPerRoom: diagMaxPairs,
			Identities: turn.RecordIdentities, EventsPerIdentity: turn.RecordEvents, Queue: diagTURNQueue,
		})
	}
	return newMemDiag(s.now, s.TURN)
}

// turnEventSink is what the co-hosted TURN server tells its events to: in
// cluster mode the Redis record's queue (it never blocks), else nothing
// (the TURN server's own record is the memory one's).
func (s *Server) turnEventSink() func(identity string, e turn.Event) {
	d, ok := s.diag.(*redisstore.Diag)
	if !ok {
		return nil
	}
	return func(identity string, e turn.Event) { d.RecordTURN(identity, apiTurnEvent(e)) }
}

func apiTurnEvent(ev turn.Event) api.TurnEvent {
	e := api.TurnEvent{At: ev.At.UnixMilli(), Kind: api.TurnEventKind(ev.Kind.String()), Count: int64(ev.Count)}
	if ev.Addr.IsValid() {
		e.Address = ev.Addr.String()
	}
	return e
}

// memDiag is a single node's record: the reports in memory, the least
// recently reported room dropped first, and the co-hosted TURN server's
// record.
type memDiag struct {
	now  func() time.Time
	turn func() *turn.Server

	mu     sync.Mutex
	rooms  map[string]*list.Element // of *diagRoom
	recent list.List                // most recently reported at the front
}

type diagRoom struct {
	id      string
	touched time.Time
	pairs   map[signal.PairKey]*diagPair
}

type diagPair struct {
	signal.DiagPair
	touched time.Time
}

func newMemDiag(now func() time.Time, turn func() *turn.Server) *memDiag {
	return &memDiag{now: now, turn: turn, rooms: make(map[string]*list.Element)}
}

func (d *memDiag) Report(_ context.Context, roomID string, key signal.PairKey, side int, from, other signal.DiagSide, sig *signal.PairCounts) (signal.DiagPair, error) {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	// Drop rooms past their retention, and the least recent beyond the cap.
	for back := d.recent.Back(); back != nil; back = d.recent.Back() {
		if d.recent.Len() < diagMaxRooms && now.Sub(back.Value.(*diagRoom).touched) < diagRetention {
			break
		}
		delete(d.rooms, d.recent.Remove(back).(*diagRoom).id)
	}
	el, ok := d.rooms[roomID]
	if !ok {
		el = d.recent.PushFront(&diagRoom{id: roomID, pairs: make(map[signal.PairKey]*diagPair)})
		d.rooms[roomID] = el
	}
	d.recent.MoveToFront(el)
	r := el.Value.(*diagRoom)
	r.touched = now
	p := r.pairs[key]
	if p == nil {
		if len(r.pairs) >= diagMaxPairs {
			r.dropOldestPair()
		}
		p = &diagPair{DiagPair: signal.DiagPair{Key: key, Sides: [2]signal.DiagSide{{PeerID: key.Lo}, {PeerID: key.Hi}}}}
		r.pairs[key] = p
	}
	p.touched = now
	p.Sides[side] = from
	if p.Sides[1-side].Identity == "" {
		p.Sides[1-side].Identity = other.Identity
	}
	if sig != nil {
		p.Signaling = sig
	}
	return p.DiagPair, nil
}

func (r *diagRoom) dropOldestPair() {
	var oldest signal.PairKey
	var at time.Time
	for k, p := range r.pairs {
		if at.IsZero() || p.touched.Before(at) {
			oldest, at = k, p.touched
		}
	}
	delete(r.pairs, oldest)
}

// pairLocked is roomID's pair of key, nil if none within the retention.
func (d *memDiag) pairLocked(roomID string, key signal.PairKey) *diagPair {
	if r := d.roomLocked(roomID); r != nil {
		return r.pairs[key]
	}
	return nil
}

// roomLocked is roomID's record, nil if none within the retention.
func (d *memDiag) roomLocked(roomID string) *diagRoom {
	el, ok := d.rooms[roomID]
	if !ok || d.now().Sub(el.Value.(*diagRoom).touched) >= diagRetention {
		return nil
	}
	return el.Value.(*diagRoom)
}

func (d *memDiag) Claim(_ context.Context, roomID string, key signal.PairKey, r api.DiagResult) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.pairLocked(roomID, key)
	if p == nil || p.Counted == r {
		return false, nil
	}
	p.Counted = r
	return true, nil
}

func (d *memDiag) Pair(_ context.Context, roomID string, key signal.PairKey) (signal.DiagPair, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.pairLocked(roomID, key); p != nil {
		return p.DiagPair, true, nil
	}
	return signal.DiagPair{}, false, nil
}

func (d *memDiag) Pairs(_ context.Context, roomID, peerID string) ([]signal.DiagPair, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.roomLocked(roomID)
	if r == nil {
		return nil, false, nil
	}
	var out []signal.DiagPair
	for k, p := range r.pairs {
		if peerID == "" || k.Lo == peerID || k.Hi == peerID {
			out = append(out, p.DiagPair)
		}
	}
	return out, true, nil
}

func (d *memDiag) TURNEvents(_ context.Context, identities ...string) (map[string][]api.TurnEvent, error) {
	t := d.turn()
	if t == nil {
		return nil, nil
	}
	var out map[string][]api.TurnEvent // made for the first event: most identities have none
	for _, id := range identities {
		for _, ev := range t.Events(id) {
			if out == nil {
				out = make(map[string][]api.TurnEvent, len(identities))
			}
			out[id] = append(out[id], apiTurnEvent(ev))
		}
	}
	return out, nil
}

// diagGraces are the pairs whose outcome this node counts after the
// grace unless both sides report it first.
type diagGraces struct {
	mu      sync.Mutex
	pending map[diagGraceKey]bool
}

type diagGraceKey struct {
	room string
	key  signal.PairKey
}

// start reports whether k had no grace running, and marks it running.
func (g *diagGraces) start(k diagGraceKey) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pending[k] {
		return false
	}
	if g.pending == nil {
		g.pending = make(map[diagGraceKey]bool)
	}
	g.pending[k] = true
	return true
}

func (g *diagGraces) end(k diagGraceKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.pending, k)
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
	remote := signal.DiagSide{PeerID: p.PeerID}
	for _, peer := range info.Peers {
		if peer.PeerID == p.PeerID {
			remote.Identity = peer.Identity
		}
	}
	report := p.Report
	key, side := signal.DiagPairOf(sess.PeerID, p.PeerID)
	from := signal.DiagSide{PeerID: sess.PeerID, Identity: sess.Identity, Report: &report, At: s.now()}
	pair, err := s.diag.Report(ctx, p.RoomID, key, side, from, remote, s.signaling(ctx, p.RoomID, key))
	if err != nil {
		return nil, s.core.StoreError("write", err)
	}
	verdict := s.explain(ctx, pair)
	// The outcome is counted now if both sides report it, else after the
	// grace if the pair still stands there.
	if verdict.Result != api.DiagResultUnknown && verdict.Result != pair.Counted {
		a, b := pair.Sides[0].Report, pair.Sides[1].Report
		if a != nil && b != nil && a.Trigger == b.Trigger {
			s.countOutcome(ctx, p.RoomID, pair, verdict)
		} else if k := (diagGraceKey{p.RoomID, key}); s.graces.start(k) {
			time.AfterFunc(diagGrace, func() { s.graceOver(k) })
		}
	}
	return &verdict, nil
}

// graceOver counts a pair's outcome that only one side reported, unless
// it was counted meanwhile (on any node).
func (s *Server) graceOver(k diagGraceKey) {
	s.graces.end(k)
	ctx := context.Background()
	pair, ok, err := s.diag.Pair(ctx, k.room, k.key)
	if err != nil {
		s.log.Warn("diag: pair not read after the grace", "room", k.room, "err", err)
	}
	if !ok {
		return
	}
	if sig := s.signaling(ctx, k.room, k.key); sig != nil {
		pair.Signaling = sig
	}
	if v := s.explain(ctx, pair); v.Result != api.DiagResultUnknown && v.Result != pair.Counted {
		s.countOutcome(ctx, k.room, pair, v)
	}
}

// countOutcome counts the pair's result with its cause and sends a
// failure as peer.connectionFailed, unless the result was counted
// already (by another report, or another node).
func (s *Server) countOutcome(ctx context.Context, roomID string, pair signal.DiagPair, v api.DiagVerdict) {
	won, err := s.diag.Claim(ctx, roomID, pair.Key, v.Result)
	if err != nil {
		s.log.Warn("diag: outcome not counted", "room", roomID, "err", err)
	}
	if !won {
		return
	}
	s.iceOutcomes.WithLabelValues(string(v.Result), v.Cause).Inc()
	if v.Result != api.DiagResultFailed {
		return
	}
	// The peer is the one the cause is about, else one that failed.
	failed, other := pair.Sides[0], pair.Sides[1]
	if v.PeerID == other.PeerID || v.PeerID == "" && (failed.Report == nil || failed.Report.Trigger != api.DiagTriggerFailed) {
		failed, other = other, failed
	}
	err = s.core.Publish(context.Background(), signal.EventPeerConnectionFailed, api.EventData{
		RoomID: roomID, PeerID: failed.PeerID, Identity: failed.Identity,
		RemotePeerID: other.PeerID, RemoteIdentity: other.Identity,
		Cause: v.Cause, Explanation: v.Explanation,
	})
	if err != nil {
		s.log.Warn("peer.connectionFailed not published", "room", roomID, "err", err)
	}
}

// explain runs the cause engine over a pair, with its sides' TURN records.
func (s *Server) explain(ctx context.Context, pair signal.DiagPair) api.DiagVerdict {
	return s.explainWith(pair, s.turnEvents(ctx, pair.Sides[0].Identity, pair.Sides[1].Identity))
}

func (s *Server) explainWith(pair signal.DiagPair, turnOf map[string][]api.TurnEvent) api.DiagVerdict {
	var sig *diag.Signaling
	if c := pair.Signaling; c != nil {
		sig = &diag.Signaling{AToB: relayOf(c[0]), BToA: relayOf(c[1])}
	}
	side := func(d signal.DiagSide) diag.Side {
		return diag.Side{PeerID: d.PeerID, Identity: d.Identity, Report: d.Report, ReportedAt: d.At, TURN: turnOf[d.Identity]}
	}
	return diag.Explain(diag.Pair{A: side(pair.Sides[0]), B: side(pair.Sides[1]), Signaling: sig})
}

// turnEvents are the TURN records of identities (a record that cannot be
// read is logged, and explains without).
func (s *Server) turnEvents(ctx context.Context, identities ...string) map[string][]api.TurnEvent {
	identities = slices.DeleteFunc(identities, func(id string) bool { return id == "" })
	if len(identities) == 0 {
		return nil
	}
	out, err := s.diag.TURNEvents(ctx, identities...)
	if err != nil {
		s.log.Debug("diag: no TURN record", "err", err)
	}
	return out
}

// signaling is the core's record of a pair in a room (Lo's sends first),
// nil if it has none (a store that failed is logged, and explains
// without).
func (s *Server) signaling(ctx context.Context, roomID string, key signal.PairKey) *signal.PairCounts {
	rec, ok, err := s.core.Record(ctx, roomID, key.Lo, key.Hi)
	if err != nil {
		s.log.Debug("diag: no signaling record", "room", roomID, "err", err)
	}
	if !ok || err != nil {
		return nil
	}
	return &rec
}

func relayOf(c [signal.Counters]int64) diag.Relay {
	return diag.Relay{
		Offers: int(c[signal.CountOffers]), Answers: int(c[signal.CountAnswers]), Candidates: int(c[signal.CountCandidates]),
		HeldCandidates: int(c[signal.CountHeld]), DroppedCandidates: int(c[signal.CountDropped]),
		Glare: int(c[signal.CountGlare]), TooLarge: int(c[signal.CountTooLarge]),
	}
}

// AdminDiagExplain explains every reported pair of a room.
func (s *Server) AdminDiagExplain(ctx context.Context, p *api.AdminDiagExplainParams) (*api.DiagExplanation, error) {
	if err := s.adminOf(ctx, api.MethodAdminDiagExplain); err != nil {
		return nil, err
	}
	pairs, ok, err := s.diag.Pairs(ctx, p.RoomID, p.PeerID)
	if err != nil {
		return nil, s.core.StoreError("read", err)
	}
	if !ok {
		return nil, api.ErrRoomNotFound(fmt.Sprintf("no diag.report about room %q in the last %s", p.RoomID, diagRetention))
	}
	var identities []string
	for _, pair := range pairs {
		for _, d := range pair.Sides {
			if !slices.Contains(identities, d.Identity) {
				identities = append(identities, d.Identity)
			}
		}
	}
	turnOf := s.turnEvents(ctx, identities...)
	out := &api.DiagExplanation{RoomID: p.RoomID, Pairs: make([]api.DiagPair, 0, len(pairs))}
	for _, pair := range pairs {
		if live := s.signaling(ctx, p.RoomID, pair.Key); live != nil {
			pair.Signaling = live
		}
		out.Pairs = append(out.Pairs, api.DiagPair{A: explainSide(pair.Sides[0], turnOf), B: explainSide(pair.Sides[1], turnOf), Verdict: s.explainWith(pair, turnOf)})
	}
	rank := map[api.DiagResult]int{api.DiagResultFailed: 0, api.DiagResultChecking: 1, api.DiagResultUnknown: 2, api.DiagResultConnected: 3}
	slices.SortFunc(out.Pairs, func(x, y api.DiagPair) int {
		return cmp.Or(cmp.Compare(rank[x.Verdict.Result], rank[y.Verdict.Result]), cmp.Compare(x.A.PeerID, y.A.PeerID), cmp.Compare(x.B.PeerID, y.B.PeerID))
	})
	return out, nil
}

func explainSide(d signal.DiagSide, turnOf map[string][]api.TurnEvent) api.DiagSide {
	out := api.DiagSide{PeerID: d.PeerID, Identity: d.Identity, Report: d.Report, Turn: turnOf[d.Identity]}
	if !d.At.IsZero() {
		out.ReportedAt = d.At.UnixMilli()
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
