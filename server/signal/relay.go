package signal

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/parley-rtc/parley/api"
)

// Relays and negotiation help: the server stamps from, and follows each
// pair of peers' offers and answers, so it can settle glare (crossed
// offers), hold candidates that outrun their offer, and route ICE-restart
// requests to the side that offered last.
const (
	// HeldCandidatesMax bounds the candidates held per pair and direction
	// before any offer was delivered.
	HeldCandidatesMax = 64
	// HeldCandidateTTL is how long a held candidate waits for its offer.
	HeldCandidateTTL = 45 * time.Second
	// offerOutstandingTTL: an offer unanswered for this long no longer
	// counts as outstanding for glare (its answerer may never have
	// applied it), so the other side's offers are not refused forever.
	offerOutstandingTTL = 30 * time.Second
	// restartMinGap and restartsPerMinute rate-limit ice.restart per pair.
	restartMinGap     = 5 * time.Second
	restartsPerMinute = 5
)

// pairOf is the pair of from and to, and from's side in it (0: Lo, 1: Hi).
func pairOf(from, to string) (PairKey, int) {
	if from < to {
		return PairKey{from, to}, 0
	}
	return PairKey{to, from}, 1
}

// pairTimerID names a pair's TimerHeld (ids have no spaces).
func pairTimerID(room string, key PairKey) string {
	return room + " " + key.Lo + " " + key.Hi
}

func parsePairTimerID(id string) (room string, key PairKey, ok bool) {
	parts := strings.Split(id, " ")
	if len(parts) != 3 {
		return "", PairKey{}, false
	}
	return parts[0], PairKey{parts[1], parts[2]}, true
}

// relayTarget finds the seat of peer to in the room ref's session is in.
func (c *Core) relayTarget(t *txn, ref *Ref, roomID, to string) (*Room, *Seat, error) {
	if to == ref.PeerID {
		return nil, nil, api.ErrBadRequest("to is your own peer id")
	}
	if _, err := c.caller(t, ref); err != nil {
		return nil, nil, err
	}
	r := t.Room(roomID)
	if r == nil || seatOf(r, "", ref.ID) == nil {
		return nil, nil, api.ErrRoomNotFound(fmt.Sprintf("you are not in room %q", roomID))
	}
	target := seatOf(r, to, "")
	if target == nil {
		return nil, nil, api.ErrPeerNotFound(fmt.Sprintf("peer %q is not in room %q", to, roomID))
	}
	return r, target, nil
}

// relayPair runs fn in a transaction with the room of ref's session, the
// seat of peer to in it, their pair's key and ref's side of it.
func (c *Core) relayPair(ctx context.Context, ref *Ref, roomID, to string, fn func(t *txn, r *Room, target *Seat, key PairKey, side int) error) error {
	key, side := pairOf(ref.PeerID, to)
	return c.update(ctx, func(t *txn) error {
		if t.prefetches() {
			t.prefetch(Want{Kind: WantSession, ID: ref.ID}, Want{Kind: WantRoom, ID: roomID}, Want{Kind: WantPair, ID: roomID, Pair: key})
		}
		r, target, err := c.relayTarget(t, ref, roomID, to)
		if err != nil {
			return err
		}
		return fn(t, r, target, key, side)
	})
}

// iceEvents recycles RelayCandidate's events, the one record a relayed
// candidate allocated outside its decoding and encoding: a store encodes
// a notification before its transaction ends, and a held candidate is
// kept by value, so nothing refers to the event once it returns.
var iceEvents = sync.Pool{New: func() any { return new(api.IceCandidateEvent) }}

// RelayCandidate relays a candidate (from stamped), or holds it while its
// pair has had no offer delivered. The common path (an offer was
// delivered) writes nothing but the notification.
func (c *Core) RelayCandidate(ctx context.Context, ref *Ref, to, roomID string, cand *api.IceCandidateInit) error {
	ev := iceEvents.Get().(*api.IceCandidateEvent)
	*ev = api.IceCandidateEvent{RoomID: roomID, From: ref.PeerID, Candidate: cand}
	defer func() {
		*ev = api.IceCandidateEvent{}
		iceEvents.Put(ev)
	}()
	return c.relayPair(ctx, ref, roomID, to, func(t *txn, r *Room, target *Seat, key PairKey, side int) error {
		if p := t.Pair(r.ID, key); p == nil || !p.Offered {
			return c.hold(t, r, key, side, p, ev)
		}
		t.Notify(target.Session, Note{api.NotifyIceCandidate, ev})
		count(t, r.ID, key, side, CountCandidates, 1)
		c.tell(t, r, candidateSignal(ev.From, to, ev.Candidate, api.SignalOutcomeDelivered))
		return nil
	})
}

// hold keeps a candidate until its pair's first offer is delivered.
func (c *Core) hold(t *txn, r *Room, key PairKey, side int, p *Pair, ev *api.IceCandidateEvent) error {
	room, to := r.ID, key.Hi
	if side == 1 {
		to = key.Lo
	}
	if p == nil {
		p = &Pair{Key: key}
	}
	if len(p.Held[side]) >= HeldCandidatesMax {
		count(t, room, key, side, CountTooLarge, 1)
		refused := candidateSignal(ev.From, to, ev.Candidate, api.SignalOutcomeRefused)
		refused.Code = api.CodeTooLarge
		c.tell(t, r, refused)
		return api.ErrTooLarge(fmt.Sprintf("%d candidates are already waiting for an offer between you and this peer; send the offer first", HeldCandidatesMax))
	}
	now := c.now()
	p.Held[side] = append(p.Held[side], HeldCandidate{Event: *ev, At: now})
	if p.HeldDue.IsZero() {
		p.HeldDue = now.Add(HeldCandidateTTL)
		t.SetTimer(Timer{TimerHeld, pairTimerID(room, key), p.HeldDue})
	}
	t.PutPair(room, p)
	count(t, room, key, side, CountHeld, 1)
	c.tell(t, r, candidateSignal(ev.From, to, ev.Candidate, api.SignalOutcomeHeld))
	return nil
}

// expireHeld drops the held candidates of a pair older than
// HeldCandidateTTL and waits for the next one, if any.
func (c *Core) expireHeld(t *txn, id string) {
	room, key, ok := parsePairTimerID(id)
	if !ok {
		return
	}
	p := t.Pair(room, key)
	if p == nil || p.HeldDue.IsZero() {
		return
	}
	p.HeldDue = time.Time{}
	now := c.now()
	r := t.Room(room)
	var next time.Time
	for side := range p.Held {
		kept := p.Held[side][:0]
		for _, h := range p.Held[side] {
			if now.Sub(h.At) < HeldCandidateTTL {
				kept = append(kept, h)
				if next.IsZero() || h.At.Before(next) {
					next = h.At
				}
			}
		}
		if n := len(p.Held[side]) - len(kept); n > 0 {
			count(t, room, key, side, CountDropped, n)
			from, to := key.Lo, key.Hi
			if side == 1 {
				from, to = to, from
			}
			c.tell(t, r, api.AdminSignalEvent{Method: api.MethodIceCandidate, From: from, To: to, Outcome: api.SignalOutcomeDropped, Count: int64(n)})
		}
		clear(p.Held[side][len(kept):])
		p.Held[side] = kept
	}
	if !next.IsZero() {
		p.HeldDue = next.Add(HeldCandidateTTL)
		t.SetTimer(Timer{TimerHeld, id, p.HeldDue})
	}
	t.PutPair(room, p)
}

// forgetPeer drops the pairs of a peer that left.
func (c *Core) forgetPeer(t *txn, room, peerID string) {
	for _, key := range t.Pairs(room) {
		if key.Lo == peerID || key.Hi == peerID {
			c.deletePair(t, room, key)
		}
	}
}

func (c *Core) deletePair(t *txn, room string, key PairKey) {
	if p := t.Pair(room, key); p != nil && !p.HeldDue.IsZero() {
		t.CancelTimer(TimerHeld, pairTimerID(room, key))
	}
	t.DeletePair(room, key)
}

// joinedBefore reports whether session a took its seat in r before b (b
// is then the polite side of the pair).
func joinedBefore(r *Room, a, b string) bool {
	for _, s := range r.Seats {
		switch s.Session {
		case a:
			return true
		case b:
			return false
		}
	}
	return false
}

// RelayOffer delivers an offer (from stamped) unless it collides with the
// other side's outstanding offer and its sender is the polite side (the
// later joiner): then it is refused with 491 glare. A delivered offer is
// followed by the candidates held for the pair, in order.
func (c *Core) RelayOffer(ctx context.Context, ref *Ref, to string, ev *api.SdpOfferEvent) error {
	ev.From = ref.PeerID
	return c.relayPair(ctx, ref, ev.RoomID, to, func(t *txn, r *Room, target *Seat, key PairKey, side int) error {
		now := c.now()
		other := 1 - side
		p := t.Pair(r.ID, key)
		if p == nil {
			p = &Pair{Key: key}
		}
		if tp := p.Pending[other]; !tp.IsZero() && now.Sub(tp) < offerOutstandingTTL {
			if joinedBefore(r, target.Session, ref.ID) {
				count(t, r.ID, key, side, CountGlare, 1)
				refused := offerSignal(ev, to, api.SignalOutcomeRefused)
				refused.Code = api.CodeGlare
				c.tell(t, r, refused)
				return api.ErrGlare(fmt.Sprintf("peer %q's offer to you is outstanding and you are the polite side: answer it (roll yours back)", to))
			}
			// The impolite side wins; the polite side rolls its offer back.
			p.Pending[other] = time.Time{}
		}
		p.Pending[side] = now
		p.Offered = true
		p.Offerer = side
		t.Notify(target.Session, Note{api.NotifySdpOffer, ev})
		c.tell(t, r, offerSignal(ev, to, api.SignalOutcomeDelivered))
		flushed := [2]int{len(p.Held[0]), len(p.Held[1])}
		if !p.HeldDue.IsZero() || len(p.Held[0])+len(p.Held[1]) > 0 {
			for i := range p.Held[side] {
				t.Notify(target.Session, Note{api.NotifyIceCandidate, &p.Held[side][i].Event})
				c.tell(t, r, candidateSignal(ev.From, to, p.Held[side][i].Event.Candidate, api.SignalOutcomeReleased))
			}
			for i := range p.Held[other] {
				t.Notify(ref.ID, Note{api.NotifyIceCandidate, &p.Held[other][i].Event})
				c.tell(t, r, candidateSignal(to, ev.From, p.Held[other][i].Event.Candidate, api.SignalOutcomeReleased))
			}
			p.Held = [2][]HeldCandidate{}
			if !p.HeldDue.IsZero() {
				t.CancelTimer(TimerHeld, pairTimerID(r.ID, key))
				p.HeldDue = time.Time{}
			}
		}
		t.PutPair(r.ID, p)
		count(t, r.ID, key, side, CountOffers, 1)
		count(t, r.ID, key, 0, CountCandidates, flushed[0])
		count(t, r.ID, key, 1, CountCandidates, flushed[1])
		return nil
	})
}

// RelayAnswer delivers an answer (from stamped); the offer it answers is
// no longer outstanding. An answer to no offer is delivered too (the
// client knows its state), and recorded with a pair of its own.
func (c *Core) RelayAnswer(ctx context.Context, ref *Ref, to string, ev *api.SdpAnswerEvent) error {
	ev.From = ref.PeerID
	return c.relayPair(ctx, ref, ev.RoomID, to, func(t *txn, r *Room, target *Seat, key PairKey, side int) error {
		p := t.Pair(r.ID, key)
		if p == nil {
			p = &Pair{Key: key}
		}
		p.Pending[1-side] = time.Time{}
		t.PutPair(r.ID, p)
		t.Notify(target.Session, Note{api.NotifySdpAnswer, ev})
		count(t, r.ID, key, side, CountAnswers, 1)
		c.tell(t, r, answerSignal(ev, to, api.SignalOutcomeDelivered))
		return nil
	})
}

// RequestRestart relays ice.restart to the pair's current offerer, at
// most once per restartMinGap and restartsPerMinute a minute per pair.
func (c *Core) RequestRestart(ctx context.Context, ref *Ref, roomID, to, reason string) error {
	return c.relayPair(ctx, ref, roomID, to, func(t *txn, r *Room, target *Seat, key PairKey, side int) error {
		now := c.now()
		p := t.Pair(r.ID, key)
		switch {
		case p == nil || !p.Offered:
			return api.ErrConflict(fmt.Sprintf("no offer has been delivered between you and peer %q: there is no ICE session to restart", to))
		case p.Offerer == side:
			return api.ErrConflict(fmt.Sprintf("you made the current offer to peer %q: restart ICE yourself (createOffer with iceRestart)", to))
		}
		i := 0
		for i < len(p.Restarts) && now.Sub(p.Restarts[i]) >= time.Minute {
			i++
		}
		recent := p.Restarts[i:]
		if k := len(recent); k > 0 && now.Sub(recent[k-1]) < restartMinGap {
			return errRestartLimited(fmt.Sprintf("ICE restarts of a pair must be %s apart", restartMinGap), recent[k-1].Add(restartMinGap).Sub(now))
		}
		if len(recent) >= restartsPerMinute {
			return errRestartLimited(fmt.Sprintf("at most %d ICE restarts a minute per pair", restartsPerMinute), recent[0].Add(time.Minute).Sub(now))
		}
		p.Restarts = append(recent, now)
		t.PutPair(r.ID, p)
		if reason == "" {
			reason = "requested"
		}
		t.Notify(target.Session, Note{api.NotifyIceRestartRequested, &api.IceRestartRequestedEvent{RoomID: r.ID, From: ref.PeerID, Reason: reason}})
		c.tell(t, r, api.AdminSignalEvent{Method: api.MethodIceRestart, From: ref.PeerID, To: to, Outcome: api.SignalOutcomeDelivered, Reason: reason})
		return nil
	})
}

func errRestartLimited(msg string, wait time.Duration) error {
	e := api.ErrRateLimited(msg)
	e.Data.(*api.ErrorData).RetryAfterMs = max(wait.Milliseconds(), 0) + 1
	return e
}

// Send relays application data (from stamped) to one peer of a room, or
// with to == "" to every other member (message.send).
func (c *Core) Send(ctx context.Context, ref *Ref, to string, ev *api.MessageReceivedEvent) error {
	if to == ref.PeerID {
		return api.ErrBadRequest("to is your own peer id")
	}
	ev.From = ref.PeerID
	return c.update(ctx, func(t *txn) error {
		if t.prefetches() {
			t.prefetch(Want{Kind: WantSession, ID: ref.ID}, Want{Kind: WantRoom, ID: ev.RoomID})
		}
		if _, err := c.caller(t, ref); err != nil {
			return err
		}
		r := t.Room(ev.RoomID)
		if r == nil || seatOf(r, "", ref.ID) == nil {
			return api.ErrRoomNotFound(fmt.Sprintf("you are not in room %q", ev.RoomID))
		}
		if to == "" {
			t.Broadcast(seated(r, ref.ID), Note{api.NotifyMessageReceived, ev})
			return nil
		}
		target := seatOf(r, to, "")
		if target == nil {
			return api.ErrPeerNotFound(fmt.Sprintf("peer %q is not in room %q", to, ev.RoomID))
		}
		t.Notify(target.Session, Note{api.NotifyMessageReceived, ev})
		return nil
	})
}
