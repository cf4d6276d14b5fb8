package signal

import (
	"context"
	"fmt"
	"slices"

	"github.com/parley-rtc/parley/api"
)

// Presence (the XMPP flavour). Each session (device) has a status and a
// note; an identity's presence is the most available status over its live
// sessions (attached or reconnecting: a resumable drop changes nothing),
// with that device's note, and offline when it has none. Changes go as
// presence.changed to the sessions that follow the identity
// (presence.subscribe) and to every session sharing a room with one of its
// sessions (members follow each other implicitly while they share a room),
// never to the identity's own sessions unless they subscribed.

// rank orders statuses from the most available.
var rank = map[api.PresenceSetStatus]int{
	api.PresenceSetStatusAvailable: 4, api.PresenceSetStatusAway: 3,
	api.PresenceSetStatusXa: 2, api.PresenceSetStatusDnd: 1,
}

// statusOf is what a session set, available if nothing.
func statusOf(d DevicePresence) DevicePresence {
	if d.Status == "" {
		d.Status = api.PresenceSetStatusAvailable
	}
	return d
}

// presence aggregates an identity's presence over its live sessions.
func presence(t *txn, identity string) api.Presence {
	out := api.Presence{Identity: identity, Status: api.PresenceStatusOffline}
	best := DevicePresence{}
	for _, id := range t.Index(SessionsOfIdentity, identity) {
		s := t.Session(id)
		if s == nil {
			continue
		}
		out.Devices++
		d := statusOf(s.Presence)
		if rank[d.Status] > rank[best.Status] || (rank[d.Status] == rank[best.Status] && d.At > best.At) {
			best = d
		}
	}
	if out.Devices > 0 {
		out.Status = api.PresenceStatus(best.Status)
		out.Note = best.Note
	}
	return out
}

// publishPresence sends an identity's presence to its followers and to the
// members of rooms its sessions are in.
func (c *Core) publishPresence(t *txn, identity string) {
	pr := presence(t, identity)
	to := t.Index(Followers, identity)
	for _, sid := range t.Index(SessionsOfIdentity, identity) {
		for _, rid := range t.Index(RoomsOfSession, sid) {
			r := t.Room(rid)
			if r == nil {
				continue
			}
			for _, seat := range r.Seats {
				if seat.Peer.Identity != identity && !slices.Contains(to, seat.Session) {
					to = append(to, seat.Session)
				}
			}
		}
	}
	t.Broadcast(to, Note{api.NotifyPresenceChanged, &api.PresenceChangedEvent{Identity: pr.Identity, Status: pr.Status, Note: pr.Note, Devices: pr.Devices}})
}

// SetPresence sets a session's (device's) status and note.
func (c *Core) SetPresence(ctx context.Context, ref *Ref, status api.PresenceSetStatus, note string) error {
	return c.update(ctx, func(t *txn) error {
		s, err := c.caller(t, ref)
		if err != nil {
			return err
		}
		before := presence(t, s.Identity)
		var at uint64
		for _, id := range t.Index(SessionsOfIdentity, s.Identity) {
			if o := t.Session(id); o != nil {
				at = max(at, o.Presence.At)
			}
		}
		s.Presence = DevicePresence{Status: status, Note: note, At: at + 1}
		t.PutSession(s)
		if presence(t, s.Identity) != before {
			c.publishPresence(t, s.Identity)
		}
		return nil
	})
}

// Subscribe follows identities and returns their presence now.
func (c *Core) Subscribe(ctx context.Context, ref *Ref, identities []string) (out []api.Presence, err error) {
	err = c.update(ctx, func(t *txn) error {
		s, err := c.caller(t, ref)
		if err != nil {
			return err
		}
		fresh := 0
		for _, id := range dedupe(identities) {
			if !slices.Contains(s.Follows, id) {
				fresh++
			}
		}
		if limit := c.cfg.Limits.MaxPresenceFollows; len(s.Follows)+fresh > limit {
			return api.ErrTooLarge(fmt.Sprintf("a session may follow at most %d identities (it follows %d)", limit, len(s.Follows)))
		}
		out = make([]api.Presence, 0, len(identities))
		for _, id := range identities {
			if !slices.Contains(s.Follows, id) {
				s.Follows = append(s.Follows, id)
			}
			out = append(out, presence(t, id))
		}
		t.PutSession(s)
		return nil
	})
	return out, err
}

// Unsubscribe stops following identities.
func (c *Core) Unsubscribe(ctx context.Context, ref *Ref, identities []string) error {
	return c.update(ctx, func(t *txn) error {
		s, err := c.caller(t, ref)
		if err != nil {
			return err
		}
		s.Follows = slices.DeleteFunc(slices.Clone(s.Follows), func(id string) bool { return slices.Contains(identities, id) })
		t.PutSession(s)
		return nil
	})
}

// Presence reads identities' presence.
func (c *Core) Presence(ctx context.Context, ref *Ref, identities []string) (out []api.Presence, err error) {
	err = c.update(ctx, func(t *txn) error {
		if _, err := c.caller(t, ref); err != nil {
			return err
		}
		out = make([]api.Presence, 0, len(identities))
		for _, id := range identities {
			out = append(out, presence(t, id))
		}
		return nil
	})
	return out, err
}

func dedupe(ids []string) []string {
	seen := make(map[string]struct{}, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}
