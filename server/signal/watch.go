package signal

import (
	"context"
	"fmt"
	"slices"

	"github.com/parley-rtc/parley/api"
)

// The server view of a room's signaling (admin.rooms.watch): an admin
// session that watches a room is told every relay in it as admin.signal,
// in the relay's own commit, as a notification like any other: so it
// reaches the watcher on whichever node it is attached, in the order the
// commits happened, and a watcher that resumes misses nothing. Watchers
// are kept on the room's record, so a relay learns of them from the read
// it makes anyway; a room without watchers pays one length check.

// MaxWatchers bounds the watchers of one room.
const MaxWatchers = 8

// Watcher is a session that watches a room's signaling; Frames: it is
// told the payloads too (SDPs and candidates carry IP addresses).
type Watcher struct {
	Session string
	Frames  bool
}

// Watch makes ref's session a watcher of a room (frames: with payloads)
// and returns the room as it stands. Watchers whose session has ended
// are dropped on the way. The caller checks the admin grant.
func (c *Core) Watch(ctx context.Context, ref *Ref, roomID string, frames bool) (out *api.RoomInfo, err error) {
	err = c.update(ctx, func(t *txn) error {
		if _, err := c.caller(t, ref); err != nil {
			return err
		}
		r := t.Room(roomID)
		if r == nil {
			return api.ErrRoomNotFound(fmt.Sprintf("no room %q", roomID))
		}
		kept := slices.DeleteFunc(slices.Clone(r.Watchers), func(w Watcher) bool {
			return w.Session == ref.ID || t.Session(w.Session) == nil
		})
		if len(kept) >= MaxWatchers {
			return api.ErrTooLarge(fmt.Sprintf("room %q has %d watchers, the most it keeps", roomID, MaxWatchers))
		}
		r.Watchers = append(kept, Watcher{Session: ref.ID, Frames: frames})
		t.PutRoom(r)
		out = info(r)
		return nil
	})
	return out, err
}

// Unwatch stops ref's session watching a room (nothing if it did not).
func (c *Core) Unwatch(ctx context.Context, ref *Ref, roomID string) error {
	return c.update(ctx, func(t *txn) error {
		if _, err := c.caller(t, ref); err != nil {
			return err
		}
		r := t.Room(roomID)
		if r == nil {
			return nil
		}
		i := slices.IndexFunc(r.Watchers, func(w Watcher) bool { return w.Session == ref.ID })
		if i < 0 {
			return nil
		}
		r.Watchers = slices.Delete(slices.Clone(r.Watchers), i, i+1)
		t.PutRoom(r)
		return nil
	})
}

// tell sends r's watchers ev (method, from, to, outcome, code, count,
// bytes and the payload set) as admin.signal; those that did not ask for
// frames get it without the payload.
func (c *Core) tell(t *txn, r *Room, ev api.AdminSignalEvent) {
	if r == nil || len(r.Watchers) == 0 {
		return
	}
	ev.RoomID, ev.At = r.ID, c.now().UnixMilli()
	if ev.Count == 0 {
		ev.Count = 1
	}
	var full, meta []string
	for _, w := range r.Watchers {
		if w.Frames {
			full = append(full, w.Session)
		} else {
			meta = append(meta, w.Session)
		}
	}
	if len(full) > 0 {
		e := ev
		t.Broadcast(full, Note{api.NotifyAdminSignal, &e})
	}
	if len(meta) > 0 {
		e := api.AdminSignalEvent{RoomID: ev.RoomID, Method: ev.Method, From: ev.From, To: ev.To, At: ev.At, Outcome: ev.Outcome, Code: ev.Code, Count: ev.Count, Bytes: ev.Bytes}
		t.Broadcast(meta, Note{api.NotifyAdminSignal, &e})
	}
}

// candidateSignal is the admin.signal of a candidate from → to.
func candidateSignal(from, to string, cand *api.IceCandidateInit, outcome api.SignalOutcome) api.AdminSignalEvent {
	ev := api.AdminSignalEvent{Method: api.MethodIceCandidate, From: from, To: to, Outcome: outcome, Candidate: cand}
	if cand != nil {
		ev.Bytes = int64(len(cand.Candidate))
	}
	return ev
}

// offerSignal and answerSignal are the admin.signal of an offer or an
// answer to peer to.
func offerSignal(ev *api.SdpOfferEvent, to string, outcome api.SignalOutcome) api.AdminSignalEvent {
	return api.AdminSignalEvent{Method: api.MethodSdpOffer, From: ev.From, To: to, Outcome: outcome, Bytes: int64(len(ev.SDP.Literal()) - 2), SDP: ev.SDP}
}

func answerSignal(ev *api.SdpAnswerEvent, to string, outcome api.SignalOutcome) api.AdminSignalEvent {
	return api.AdminSignalEvent{Method: api.MethodSdpAnswer, From: ev.From, To: to, Outcome: outcome, Bytes: int64(len(ev.SDP.Literal()) - 2), SDP: ev.SDP}
}
