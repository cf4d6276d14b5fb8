package server

import (
	"context"
	"fmt"

	"github.com/parley-rtc/parley/api"
)

// Presence (the XMPP flavour). Each session (device) has a status and a
// note; an identity's presence is the most available status over its live
// sessions (attached or reconnecting: a resumable drop changes nothing),
// with that device's note, and offline when it has none. Changes go as
// presence.changed to the sessions that follow the identity
// (presence.subscribe) and to every session sharing a room with one of its
// sessions (members follow each other implicitly while they share a room),
// never to the identity's own sessions unless they subscribed. All of it is
// guarded by registry.mu (lock order: registry.mu, hub.mu, session.mu).

// presenceState is the registry's presence book.
type presenceState struct {
	device    map[*session]devicePresence
	followers map[string]map[*session]struct{} // identity → sessions following it
	follows   map[*session]map[string]struct{} // session → identities it follows
	tick      uint64
}

// devicePresence is what one session set; at orders ties (latest wins).
type devicePresence struct {
	status api.PresenceSetStatus
	note   string
	at     uint64
}

// rank orders statuses from the most available.
var rank = map[api.PresenceSetStatus]int{
	api.PresenceSetStatusAvailable: 4, api.PresenceSetStatusAway: 3,
	api.PresenceSetStatusXa: 2, api.PresenceSetStatusDnd: 1,
}

func (p *presenceState) init() {
	if p.device == nil {
		p.device = make(map[*session]devicePresence)
		p.followers = make(map[string]map[*session]struct{})
		p.follows = make(map[*session]map[string]struct{})
	}
}

// presenceLocked aggregates identity's presence over its live sessions.
func (r *registry) presenceLocked(identity string) api.Presence {
	r.pres.init()
	out := api.Presence{Identity: identity, Status: api.PresenceStatusOffline}
	best := devicePresence{}
	for _, s := range r.byIdentity[identity] {
		out.Devices++
		d, ok := r.pres.device[s]
		if !ok {
			d = devicePresence{status: api.PresenceSetStatusAvailable}
		}
		if rank[d.status] > rank[best.status] || (rank[d.status] == rank[best.status] && d.at > best.at) {
			best = d
		}
	}
	if out.Devices > 0 {
		out.Status = api.PresenceStatus(best.status)
		out.Note = best.note
	}
	return out
}

// publishPresenceLocked sends identity's presence to its followers and to
// the members of rooms its sessions are in. registry.mu must be held.
func (s *Server) publishPresenceLocked(identity string) {
	reg := s.reg
	pr := reg.presenceLocked(identity)
	to := make(map[*session]struct{})
	for f := range reg.pres.followers[identity] {
		to[f] = struct{}{}
	}
	s.hub.mu.RLock()
	for _, o := range reg.byIdentity[identity] {
		for _, r := range o.rooms {
			for _, m := range r.members {
				if m.sess.identity != identity {
					to[m.sess] = struct{}{}
				}
			}
		}
	}
	s.hub.mu.RUnlock()
	ev := &api.PresenceChangedEvent{Identity: pr.Identity, Status: pr.Status, Note: pr.Note, Devices: pr.Devices}
	for f := range to {
		if f.state != sessionEnded {
			_ = api.SendPresenceChanged(f, ev)
		}
	}
}

// presenceSessionEndedLocked forgets an ended session's presence and
// follows and publishes its identity's new presence (offline if it was the
// last). registry.mu must be held; sess has left the registry and its
// rooms, so members of rooms it alone shared learn of it by room.peerLeft,
// not presence.changed: the implicit follow ends with the shared room.
func (s *Server) presenceSessionEndedLocked(sess *session) {
	p := &s.reg.pres
	p.init()
	delete(p.device, sess)
	for id := range p.follows[sess] {
		unfollow(p, sess, id)
	}
	delete(p.follows, sess)
	s.publishPresenceLocked(sess.identity)
}

func unfollow(p *presenceState, sess *session, identity string) {
	if f := p.followers[identity]; f != nil {
		delete(f, sess)
		if len(f) == 0 {
			delete(p.followers, identity)
		}
	}
	if f := p.follows[sess]; f != nil {
		delete(f, identity)
	}
}

// PresenceSet sets this device's status and note.
func (s *Server) PresenceSet(ctx context.Context, p *api.PresenceSetParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodPresenceSet)
	if err != nil {
		return nil, err
	}
	reg := s.reg
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if sess.state == sessionEnded {
		return nil, api.ErrUnauthenticated("this session has ended")
	}
	reg.pres.init()
	before := reg.presenceLocked(sess.identity)
	reg.pres.tick++
	reg.pres.device[sess] = devicePresence{status: p.Status, note: p.Note, at: reg.pres.tick}
	if reg.presenceLocked(sess.identity) != before {
		s.publishPresenceLocked(sess.identity)
	}
	return &api.Empty{}, nil
}

// PresenceSubscribe follows identities and returns their presence now.
func (s *Server) PresenceSubscribe(ctx context.Context, p *api.PresenceSubscribeParams) (*api.PresenceListResult, error) {
	sess, err := sessionOf(ctx, api.MethodPresenceSubscribe)
	if err != nil {
		return nil, err
	}
	reg := s.reg
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if sess.state == sessionEnded {
		return nil, api.ErrUnauthenticated("this session has ended")
	}
	pr := &reg.pres
	pr.init()
	mine := pr.follows[sess]
	fresh := 0
	for _, id := range dedupe(p.Identities) {
		if _, ok := mine[id]; !ok {
			fresh++
		}
	}
	if limit := s.cfg.Limits.MaxPresenceFollows; len(mine)+fresh > limit {
		return nil, api.ErrTooLarge(fmt.Sprintf("a session may follow at most %d identities (it follows %d)", limit, len(mine)))
	}
	if mine == nil {
		mine = make(map[string]struct{})
		pr.follows[sess] = mine
	}
	out := &api.PresenceListResult{Presences: make([]api.Presence, 0, len(p.Identities))}
	for _, id := range p.Identities {
		mine[id] = struct{}{}
		f := pr.followers[id]
		if f == nil {
			f = make(map[*session]struct{})
			pr.followers[id] = f
		}
		f[sess] = struct{}{}
		out.Presences = append(out.Presences, reg.presenceLocked(id))
	}
	return out, nil
}

// PresenceUnsubscribe stops following identities.
func (s *Server) PresenceUnsubscribe(ctx context.Context, p *api.PresenceUnsubscribeParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodPresenceUnsubscribe)
	if err != nil {
		return nil, err
	}
	reg := s.reg
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.pres.init()
	for _, id := range p.Identities {
		unfollow(&reg.pres, sess, id)
	}
	if len(reg.pres.follows[sess]) == 0 {
		delete(reg.pres.follows, sess)
	}
	return &api.Empty{}, nil
}

// PresenceGet reads identities' presence.
func (s *Server) PresenceGet(ctx context.Context, p *api.PresenceGetParams) (*api.PresenceListResult, error) {
	if _, err := sessionOf(ctx, api.MethodPresenceGet); err != nil {
		return nil, err
	}
	reg := s.reg
	reg.mu.Lock()
	defer reg.mu.Unlock()
	out := &api.PresenceListResult{Presences: make([]api.Presence, 0, len(p.Identities))}
	for _, id := range p.Identities {
		out.Presences = append(out.Presences, reg.presenceLocked(id))
	}
	return out, nil
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
