package server

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-rtc/parley/api"
)

// Negotiation help: the server follows each pair of peers' offers and
// answers, so it can settle glare (crossed offers), hold candidates that
// outrun their offer, and route ICE-restart requests to the side that
// offered last.
const (
	// heldCandidatesMax bounds the candidates held per pair and direction
	// before any offer was delivered.
	heldCandidatesMax = 64
	// heldCandidateTTL is how long a held candidate waits for its offer.
	heldCandidateTTL = 45 * time.Second
	// offerOutstandingTTL: an offer unanswered for this long no longer
	// counts as outstanding for glare (its answerer may never have
	// applied it), so the other side's offers are not refused forever.
	offerOutstandingTTL = 30 * time.Second
	// restartMinGap and restartsPerMinute rate-limit ice.restart per pair.
	restartMinGap     = 5 * time.Second
	restartsPerMinute = 5
)

// pairKey names a pair of peers of a room; lo sorts before hi.
type pairKey struct{ lo, hi string }

// pairOf is the pair of from and to, and from's side in it (0: lo, 1: hi).
func pairOf(from, to string) (pairKey, int) {
	if from < to {
		return pairKey{from, to}, 0
	}
	return pairKey{to, from}, 1
}

// negotiation is the server's view of one pair's offer/answer exchange.
// Guarded by room.neg.
type negotiation struct {
	offered bool         // an offer has been delivered in this pair
	offerer int          // the side whose offer was delivered last
	pending [2]time.Time // when each side's unanswered offer was delivered; zero: none
	// held are candidates from each side sent before any offer was
	// delivered, in arrival order; timer drops them after heldCandidateTTL.
	held  [2][]heldCandidate
	timer *time.Timer
	// restarts are the times of the ice.restart requests relayed in the
	// last minute, oldest first.
	restarts []time.Time
}

type heldCandidate struct {
	ev *api.IceCandidateEvent
	at time.Time
}

// pairLocked finds or makes the negotiation of key; room.neg must be held.
func (r *room) pairLocked(key pairKey) *negotiation {
	n := r.pairs[key]
	if n == nil {
		if r.pairs == nil {
			r.pairs = make(map[pairKey]*negotiation)
		}
		n = &negotiation{}
		r.pairs[key] = n
	}
	return n
}

// forgetPeer drops the negotiations of a peer that left; hub.mu must be
// held for writing.
func (r *room) forgetPeer(peerID string) {
	r.neg.Lock()
	defer r.neg.Unlock()
	for k, n := range r.pairs {
		if k.lo == peerID || k.hi == peerID {
			n.stopTimer()
			delete(r.pairs, k)
		}
	}
}

// forgetPairs drops every negotiation (the room closed).
func (r *room) forgetPairs() {
	r.neg.Lock()
	defer r.neg.Unlock()
	for k, n := range r.pairs {
		n.stopTimer()
		delete(r.pairs, k)
	}
}

func (n *negotiation) stopTimer() {
	if n.timer != nil {
		n.timer.Stop()
		n.timer = nil
	}
}

// joinedBefore reports whether a joined r before b (b is then the polite
// side of the pair); hub.mu must be held.
func (r *room) joinedBefore(a, b *session) bool {
	for _, m := range r.members {
		switch m.sess {
		case a:
			return true
		case b:
			return false
		}
	}
	return false
}

// relayTarget finds the member to of the room s is in; hub.mu must be held.
func (h *hub) relayTarget(s *session, roomID, to string) (*room, *member, error) {
	if to == s.peerID {
		return nil, nil, api.ErrBadRequest("to is your own peer id")
	}
	r, err := h.memberRoomLocked(s, roomID)
	if err != nil {
		return nil, nil, err
	}
	m := r.member(to)
	if m == nil {
		return nil, nil, api.ErrPeerNotFound(fmt.Sprintf("peer %q is not in room %q", to, roomID))
	}
	return r, m, nil
}

// relayCandidate relays a candidate, or holds it while its pair has had
// no offer delivered. The common path (an offer was delivered) takes the
// room's negotiation lock once and allocates nothing.
func (h *hub) relayCandidate(s *session, roomID, to string, ev *api.IceCandidateEvent) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	r, m, err := h.relayTarget(s, roomID, to)
	if err != nil {
		return err
	}
	key, side := pairOf(s.peerID, to)
	r.neg.Lock()
	if n := r.pairs[key]; n == nil || !n.offered {
		err := r.holdLocked(key, side, ev)
		r.neg.Unlock()
		return err
	}
	r.neg.Unlock()
	// Once offered, a pair never holds again, so nothing held can be
	// flushed after this: sending outside the lock keeps the order.
	_ = api.SendIceCandidate(m.sess, ev)
	return nil
}

// holdLocked keeps a candidate until its pair's first offer is delivered;
// room.neg must be held.
func (r *room) holdLocked(key pairKey, side int, ev *api.IceCandidateEvent) error {
	n := r.pairLocked(key)
	if len(n.held[side]) >= heldCandidatesMax {
		return api.ErrTooLarge(fmt.Sprintf("%d candidates are already waiting for an offer between you and this peer; send the offer first", heldCandidatesMax))
	}
	n.held[side] = append(n.held[side], heldCandidate{ev: ev, at: time.Now()})
	if n.timer == nil {
		n.timer = time.AfterFunc(heldCandidateTTL, func() { r.expireHeld(key, n) })
	}
	return nil
}

// expireHeld drops the held candidates of n older than heldCandidateTTL
// and waits for the next one, if any.
func (r *room) expireHeld(key pairKey, n *negotiation) {
	r.neg.Lock()
	defer r.neg.Unlock()
	if r.pairs[key] != n || n.timer == nil {
		return
	}
	n.timer = nil
	now := time.Now()
	var next time.Time
	for side := range n.held {
		kept := n.held[side][:0]
		for _, c := range n.held[side] {
			if now.Sub(c.at) < heldCandidateTTL {
				kept = append(kept, c)
				if next.IsZero() || c.at.Before(next) {
					next = c.at
				}
			}
		}
		clear(n.held[side][len(kept):])
		n.held[side] = kept
	}
	if !next.IsZero() {
		n.timer = time.AfterFunc(next.Add(heldCandidateTTL).Sub(now), func() { r.expireHeld(key, n) })
	}
}

// relayOffer delivers an offer unless it collides with the other side's
// outstanding offer and its sender is the polite side (the later joiner):
// then it is refused with 491 glare. A delivered offer is followed by the
// candidates held for the pair, in order.
func (h *hub) relayOffer(s *session, roomID, to string, now time.Time, ev *api.SdpOfferEvent) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	r, m, err := h.relayTarget(s, roomID, to)
	if err != nil {
		return err
	}
	key, side := pairOf(s.peerID, to)
	other := 1 - side
	r.neg.Lock()
	defer r.neg.Unlock()
	n := r.pairLocked(key)
	if t := n.pending[other]; !t.IsZero() && now.Sub(t) < offerOutstandingTTL {
		if r.joinedBefore(m.sess, s) {
			return api.ErrGlare(fmt.Sprintf("peer %q's offer to you is outstanding and you are the polite side: answer it (roll yours back)", to))
		}
		// The impolite side wins; the polite side rolls its offer back.
		n.pending[other] = time.Time{}
	}
	n.pending[side] = now
	n.offered = true
	n.offerer = side
	_ = api.SendSdpOffer(m.sess, ev)
	if n.timer != nil || len(n.held[0])+len(n.held[1]) > 0 {
		for _, c := range n.held[side] {
			_ = api.SendIceCandidate(m.sess, c.ev)
		}
		for _, c := range n.held[other] {
			_ = api.SendIceCandidate(s, c.ev)
		}
		n.held = [2][]heldCandidate{}
		n.stopTimer()
	}
	return nil
}

// relayAnswer delivers an answer; the offer it answers is no longer
// outstanding.
func (h *hub) relayAnswer(s *session, roomID, to string, ev *api.SdpAnswerEvent) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	r, m, err := h.relayTarget(s, roomID, to)
	if err != nil {
		return err
	}
	key, side := pairOf(s.peerID, to)
	r.neg.Lock()
	defer r.neg.Unlock()
	if n := r.pairs[key]; n != nil {
		n.pending[1-side] = time.Time{}
	}
	_ = api.SendSdpAnswer(m.sess, ev)
	return nil
}

// requestRestart relays ice.restart to the pair's current offerer, at
// most once per restartMinGap and restartsPerMinute a minute per pair.
func (h *hub) requestRestart(s *session, roomID, to string, now time.Time, reason string) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	r, m, err := h.relayTarget(s, roomID, to)
	if err != nil {
		return err
	}
	key, side := pairOf(s.peerID, to)
	r.neg.Lock()
	defer r.neg.Unlock()
	n := r.pairs[key]
	switch {
	case n == nil || !n.offered:
		return api.ErrConflict(fmt.Sprintf("no offer has been delivered between you and peer %q: there is no ICE session to restart", to))
	case n.offerer == side:
		return api.ErrConflict(fmt.Sprintf("you made the current offer to peer %q: restart ICE yourself (createOffer with iceRestart)", to))
	}
	i := 0
	for i < len(n.restarts) && now.Sub(n.restarts[i]) >= time.Minute {
		i++
	}
	n.restarts = n.restarts[i:]
	if k := len(n.restarts); k > 0 && now.Sub(n.restarts[k-1]) < restartMinGap {
		return errRestartLimited(fmt.Sprintf("ICE restarts of a pair must be %s apart", restartMinGap), n.restarts[k-1].Add(restartMinGap).Sub(now))
	}
	if len(n.restarts) >= restartsPerMinute {
		return errRestartLimited(fmt.Sprintf("at most %d ICE restarts a minute per pair", restartsPerMinute), n.restarts[0].Add(time.Minute).Sub(now))
	}
	n.restarts = append(n.restarts, now)
	if reason == "" {
		reason = "requested"
	}
	_ = api.SendIceRestartRequested(m.sess, &api.IceRestartRequestedEvent{RoomID: r.id, From: s.peerID, Reason: reason})
	return nil
}

func errRestartLimited(msg string, wait time.Duration) error {
	e := api.ErrRateLimited(msg)
	e.Data.(*api.ErrorData).RetryAfterMs = max(wait.Milliseconds(), 0) + 1
	return e
}

// IceRestart asks the pair's current offerer to restart ICE.
func (s *Server) IceRestart(ctx context.Context, p *api.IceRestartParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodIceRestart)
	if err != nil {
		return nil, err
	}
	if err := s.hub.requestRestart(sess, p.RoomID, p.To, s.now(), p.Reason); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// minRefresh bounds how often a session's ICE servers are refreshed,
// whatever the credential TTL.
const minRefresh = time.Second

// refreshEvery is the period of ice.serversRefreshed: half the TURN
// credential TTL, so fresh credentials arrive long before the old expire.
func (s *Server) refreshEvery() time.Duration {
	return max(s.cfg.TURN.CredentialTTL/2, minRefresh)
}

// scheduleRefresh starts sess's ice.serversRefreshed timer (with TURN on,
// the only credentials that expire). One timer per session, stopped when
// it ends (endLocked).
func (s *Server) scheduleRefresh(sess *session) {
	if s.turn.srv == nil {
		return
	}
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	if sess.state == sessionEnded || sess.refresh != nil {
		return
	}
	sess.refresh = time.AfterFunc(s.refreshEvery(), func() { s.refreshICE(sess) })
}

// refreshICE pushes fresh ICE servers to sess (kept for replay while it is
// detached) and schedules the next refresh.
func (s *Server) refreshICE(sess *session) {
	servers, expires := s.iceServers(sess.identity)
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	if sess.state == sessionEnded || sess.refresh == nil {
		return
	}
	_ = api.SendIceServersRefreshed(sess, &api.IceServersRefreshedEvent{ICEServers: servers, ExpiresAt: expires})
	sess.refresh.Reset(s.refreshEvery())
}
