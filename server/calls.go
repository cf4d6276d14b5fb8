package server

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
)

// Calls (the SIP flavour): call.invite forks to every live session of the
// callee; the first device to accept wins, and the call becomes a private
// room of two whose id is the call id. The state machine is documented in
// api/parley.openrpc.json (call.invite's x-doc, rendered in PROTOCOL.md).
// Calls live in the hub, under hub.mu, so that seating the parties and
// ending a call are atomic with every other membership change.

// defaultCallLifetime is how long an invite rings without lifetimeSec; the
// schema bounds lifetimeSec to 1…300. Limits.MaxCallsPerSession bounds the
// calls a session takes part in at once as caller or party of an active
// call, and so when a callee device is busy (486): calls ringing on a
// device do not count, or any caller could make a callee busy by ringing
// it (Limits.MaxInvitesPerCaller and MaxInvitesPerPair bound those).
const defaultCallLifetime = 60 * time.Second

// sipCall is one call. Guarded by hub.mu.
type sipCall struct {
	id        string
	caller    *session
	callee    string // identity
	metadata  jsontext.Value
	state     api.CallState
	forks     []*session // callee devices still ringing (calling, ringing)
	invitedAt time.Time
	expiresAt time.Time
	timer     *time.Timer
	room      *room // while active
}

// The end reasons of call.ended (api.CallEndReason documents them).
const (
	endHangup            = "hangup"
	endAnsweredElsewhere = "answered_elsewhere"
	endCanceled          = "canceled"
	endBusy              = "busy"
	endDeclined          = "declined"
	endTimeout           = "timeout"
	endUnavailable       = "unavailable"
)

// The outcomes of parley_calls_total: how each call's setup concluded,
// counted once per call.
var callOutcomes = []string{"answered", "busy", "declined", "canceled", "timeout", "offline", "unavailable"}

// outcomeOf maps an end reason before an answer to its outcome.
var outcomeOf = map[string]string{
	endCanceled: "canceled", endBusy: "busy", endDeclined: "declined",
	endTimeout: "timeout", endUnavailable: "unavailable",
}

func (c *sipCall) hasFork(s *session) bool { return slices.Contains(c.forks, s) }

// invitePair is a caller identity and a callee identity.
type invitePair struct{ caller, callee string }

// ownCallsLocked counts the calls s takes part in as caller or party of
// an active call (not those ringing on it).
func (h *hub) ownCallsLocked(s *session) int {
	n := 0
	for _, c := range h.callsOf[s] {
		if c.caller == s || c.state == api.CallStateActive {
			n++
		}
	}
	return n
}

// answeredLocked counts the active calls s is a party of.
func (h *hub) answeredLocked(s *session) int {
	n := 0
	for _, c := range h.callsOf[s] {
		if c.state == api.CallStateActive {
			n++
		}
	}
	return n
}

// unansweredDoneLocked: c is answered or ends unanswered, so it no longer
// counts against its caller's invite caps. Called once per call, when its
// state leaves calling/ringing.
func (h *hub) unansweredDoneLocked(c *sipCall) {
	caller, pair := c.caller.identity, invitePair{c.caller.identity, c.callee}
	if h.invitesBy[caller]--; h.invitesBy[caller] <= 0 {
		delete(h.invitesBy, caller)
	}
	if h.invitesTo[pair]--; h.invitesTo[pair] <= 0 {
		delete(h.invitesTo, pair)
	}
}

// newCallIDLocked picks an id that no live room or call holds. Call ids
// are the server's: a call's room is named by its id, so a caller-chosen
// id would reserve that room id for as long as the call rang.
func (h *hub) newCallIDLocked() string {
	for {
		if id := newID(16); h.idTakenLocked(id) == nil {
			return id
		}
	}
}

// trackLocked and untrackLocked keep the per-session index of calls.
func (h *hub) trackLocked(s *session, c *sipCall) {
	m := h.callsOf[s]
	if m == nil {
		m = make(map[string]*sipCall)
		h.callsOf[s] = m
	}
	m[c.id] = c
}

func (h *hub) untrackLocked(s *session, c *sipCall) {
	if m := h.callsOf[s]; m != nil {
		delete(m, c.id)
		if len(m) == 0 {
			delete(h.callsOf, s)
		}
	}
}

// callInvite is a validated call.invite.
type callInvite struct {
	to       string
	metadata jsontext.Value
	lifetime time.Duration
}

// invite starts a call from caller to the given devices of the callee.
// registry.mu must be held (so devices are the callee's live sessions and
// the caller's session is not ending meanwhile).
func (h *hub) invite(caller *session, devices []*session, inv callInvite, now time.Time) (*sipCall, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ownCallsLocked(caller) >= h.limits.MaxCallsPerSession {
		return nil, api.ErrTooLarge(fmt.Sprintf("a session may take part in at most %d calls at a time", h.limits.MaxCallsPerSession))
	}
	pair := invitePair{caller.identity, inv.to}
	if n := h.invitesBy[pair.caller]; n >= h.limits.MaxInvitesPerCaller {
		return nil, api.ErrTooLarge(fmt.Sprintf("identity %q has %d unanswered invites, its maximum; wait for an answer or call.cancel one", pair.caller, n))
	}
	if n := h.invitesTo[pair]; n >= h.limits.MaxInvitesPerPair {
		return nil, api.ErrTooLarge(fmt.Sprintf("unanswered invites to %q: you have %d, the maximum; wait for an answer or call.cancel one", inv.to, n))
	}
	if len(devices) == 0 {
		h.callMetrics.outcome("offline")
		return nil, api.ErrUnavailable(fmt.Sprintf("%q has no session on this server", inv.to))
	}
	var forks []*session
	for _, d := range devices {
		if h.answeredLocked(d) < h.limits.MaxCallsPerSession {
			forks = append(forks, d)
		}
	}
	if len(forks) == 0 {
		h.callMetrics.outcome("busy")
		return nil, api.ErrRoomFull(fmt.Sprintf("busy: every session of %q is in its maximum of %d answered calls", inv.to, h.limits.MaxCallsPerSession))
	}
	c := &sipCall{
		id: h.newCallIDLocked(), caller: caller, callee: inv.to, metadata: inv.metadata, state: api.CallStateCalling,
		forks: forks, invitedAt: now, expiresAt: now.Add(inv.lifetime),
	}
	h.calls[c.id] = c
	h.invitesBy[pair.caller]++
	h.invitesTo[pair]++
	h.trackLocked(caller, c)
	ev := &api.CallIncomingEvent{CallID: c.id, From: caller.identity, Metadata: c.metadata, ExpiresAt: c.expiresAt.Unix()}
	for _, d := range forks {
		h.trackLocked(d, c)
		_ = api.SendCallIncoming(d, ev)
	}
	c.timer = time.AfterFunc(inv.lifetime, func() { h.expireCall(c) })
	caller.log.Info("call invited", "call", c.id, "to", inv.to, "devices", len(forks))
	return c, nil
}

// expireCall ends a call nobody answered within its lifetime.
func (h *hub) expireCall(c *sipCall) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.calls[c.id] != c || c.state == api.CallStateActive {
		return
	}
	h.endCallLocked(c, 408, endTimeout, "", append([]*session{c.caller}, c.forks...))
}

// lookupLocked finds a call that s is a party of (the caller, a ringing
// device, or a party of the active call): anything else is not found, so
// calls are not probed by id.
func (h *hub) lookupLocked(s *session, id string) (*sipCall, error) {
	c := h.calls[id]
	if c == nil || h.callsOf[s][id] != c {
		return nil, api.ErrCallNotFound(fmt.Sprintf("no call %q of yours (it ended, or never existed)", id))
	}
	return c, nil
}

// wrongState is the 409 for a request the call's state does not allow.
func wrongState(c *sipCall, method string) error {
	return api.ErrConflict(fmt.Sprintf("call %q is %s; %s is not allowed in that state", c.id, c.state, method))
}

// calleeDevice checks that s is a ringing device of c (for ringing, accept,
// reject).
func calleeDevice(c *sipCall, s *session, method string) error {
	if c.state == api.CallStateActive {
		return wrongState(c, method)
	}
	if !c.hasFork(s) {
		return api.ErrForbidden(fmt.Sprintf("only a ringing device of the callee may send %s", method))
	}
	return nil
}

// ringing relays a 180 to the caller.
func (h *hub) ringing(s *session, id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookupLocked(s, id)
	if err != nil {
		return err
	}
	if err := calleeDevice(c, s, api.MethodCallRinging); err != nil {
		return err
	}
	c.state = api.CallStateRinging
	_ = api.SendCallRinging(c.caller, &api.CallRingingEvent{CallID: c.id, By: s.identity})
	return nil
}

// accept answers c on s: the call room is created with both parties seated.
func (h *hub) accept(s *session, id string, now time.Time) (*api.RoomJoinResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookupLocked(s, id)
	if err != nil {
		return nil, err
	}
	if err := calleeDevice(c, s, api.MethodCallAccept); err != nil {
		return nil, err
	}
	for _, p := range []*session{c.caller, s} {
		if len(p.rooms) >= h.limits.MaxRoomsPerSession {
			return nil, api.ErrTooLarge(fmt.Sprintf("a session may be in at most %d rooms", h.limits.MaxRoomsPerSession))
		}
	}
	if h.ownCallsLocked(s) >= h.limits.MaxCallsPerSession {
		return nil, api.ErrTooLarge(fmt.Sprintf("a session may take part in at most %d calls at a time", h.limits.MaxCallsPerSession))
	}
	if _, exists := h.rooms[c.id]; exists { // room.create refuses live call ids; this would be a bug
		return nil, api.ErrConflict(fmt.Sprintf("a room %q already exists", c.id))
	}
	if len(h.rooms) >= h.limits.MaxRooms {
		return nil, api.ErrTooLarge(fmt.Sprintf("this server holds its maximum of %d rooms", h.limits.MaxRooms))
	}
	c.timer.Stop()
	r := &room{id: c.id, maxPeers: 2, locked: true, metadata: c.metadata, createdAt: now, hadPeers: true, call: c}
	h.rooms[r.id] = r
	callerSeat := &member{sess: c.caller, peer: api.Peer{PeerID: c.caller.peerID, Identity: c.caller.identity, Role: api.RoleOwner}}
	calleeSeat := &member{sess: s, peer: api.Peer{PeerID: s.peerID, Identity: s.identity, Role: api.RoleParticipant}}
	r.members = []*member{callerSeat, calleeSeat}
	c.caller.rooms[r.id] = r
	s.rooms[r.id] = r
	c.room = r
	h.unansweredDoneLocked(c)
	c.state = api.CallStateActive
	others := slices.DeleteFunc(slices.Clone(c.forks), func(o *session) bool { return o == s })
	c.forks = nil
	for _, o := range others {
		h.untrackLocked(o, c)
		_ = api.SendCallEnded(o, &api.CallEndedEvent{CallID: c.id, Code: 200, Reason: endAnsweredElsewhere, By: s.identity})
	}
	_ = api.SendCallAccepted(c.caller, &api.CallAcceptedEvent{CallID: c.id, By: s.identity, Peer: calleeSeat.peer})
	_ = api.SendRoomPeerJoined(c.caller, &api.RoomPeerJoinedEvent{RoomID: r.id, Peer: calleeSeat.peer})
	h.callMetrics.answered(now.Sub(c.invitedAt))
	s.log.Info("call accepted", "call", c.id)
	// As room.join answers a later joiner: the earlier one is polite to it.
	peer := callerSeat.peer
	peer.Polite = true
	return &api.RoomJoinResult{RoomID: r.id, Self: calleeSeat.peer, Peers: []api.Peer{peer}}, nil
}

// reject refuses c on s: 603 ends it for all; 486 drops this device.
func (h *hub) reject(s *session, id string, code int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookupLocked(s, id)
	if err != nil {
		return err
	}
	if err := calleeDevice(c, s, api.MethodCallReject); err != nil {
		return err
	}
	if code == 603 {
		h.endCallLocked(c, 603, endDeclined, s.identity, append([]*session{c.caller}, c.forks...), s)
		return nil
	}
	h.dropForkLocked(c, s, 486, endBusy)
	return nil
}

// dropForkLocked stops c ringing on device d; with no device left, the call
// ends for the caller with code and reason.
func (h *hub) dropForkLocked(c *sipCall, d *session, code int64, reason string) {
	c.forks = slices.DeleteFunc(c.forks, func(o *session) bool { return o == d })
	h.untrackLocked(d, c)
	if len(c.forks) == 0 {
		h.endCallLocked(c, code, reason, c.callee, []*session{c.caller})
	}
}

// cancel withdraws an unanswered call (the caller only).
func (h *hub) cancel(s *session, id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookupLocked(s, id)
	if err != nil {
		return err
	}
	if c.caller != s {
		return api.ErrForbidden("only the caller may cancel a call; a callee device rejects it")
	}
	if c.state == api.CallStateActive {
		return wrongState(c, api.MethodCallCancel)
	}
	h.endCallLocked(c, 487, endCanceled, s.identity, c.forks)
	return nil
}

// hangup ends an active call (either party).
func (h *hub) hangup(s *session, id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookupLocked(s, id)
	if err != nil {
		return err
	}
	if c.state != api.CallStateActive {
		return wrongState(c, api.MethodCallHangup)
	}
	h.hangupLocked(c, s)
	return nil
}

// hangupLocked ends active call c on behalf of party s: the other party
// gets call.ended, and the call's room closes.
func (h *hub) hangupLocked(c *sipCall, s *session) {
	var others []*session
	if c.room != nil {
		for _, m := range c.room.members {
			if m.sess != s {
				others = append(others, m.sess)
			}
		}
	}
	h.endCallLocked(c, 200, endHangup, s.identity, others)
}

// endCallLocked ends c: notify (but skip) get call.ended, the call leaves
// the hub and its sessions, and its room, if any, closes.
func (h *hub) endCallLocked(c *sipCall, code int64, reason, by string, notify []*session, skip ...*session) {
	if h.calls[c.id] != c {
		return
	}
	delete(h.calls, c.id)
	c.timer.Stop()
	if c.state != api.CallStateActive {
		h.unansweredDoneLocked(c)
	}
	ev := &api.CallEndedEvent{CallID: c.id, Code: code, Reason: reason, By: by}
	for _, s := range notify {
		if !slices.Contains(skip, s) {
			_ = api.SendCallEnded(s, ev)
		}
	}
	h.untrackLocked(c.caller, c)
	for _, d := range c.forks {
		h.untrackLocked(d, c)
	}
	c.forks = nil
	if r := c.room; r != nil {
		for _, m := range r.members {
			h.untrackLocked(m.sess, c)
		}
		r.call = nil
		c.room = nil
		if h.rooms[r.id] == r {
			h.closeLocked(r, "call_ended")
		}
	} else {
		h.callMetrics.outcome(outcomeOf[reason])
	}
	c.caller.log.Info("call ended", "call", c.id, "code", code, "reason", reason)
}

// endCallsOf ends or leaves every call of a session that ended (not a
// resumable drop): a caller's unanswered call is canceled, a ringing
// device stops ringing, an active call is hung up.
func (h *hub) endCallsOf(s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.callsOf[s] {
		switch {
		case c.state == api.CallStateActive:
			h.hangupLocked(c, s)
		case c.caller == s:
			h.endCallLocked(c, 487, endCanceled, s.identity, c.forks)
		default:
			h.dropForkLocked(c, s, 480, endUnavailable)
		}
	}
}

// callRoomLeftLocked: a party left the call's room (room.leave, a kick):
// that hangs the call up.
func (h *hub) callRoomLeftLocked(r *room, s *session) {
	c := r.call
	h.untrackLocked(s, c) // no longer a member: hangupLocked untracks the rest
	h.hangupLocked(c, s)
}

// callRoomClosingLocked: the call's room is being closed by something other
// than the call ending (admin.rooms.close, shutdown): the call ends.
func (h *hub) callRoomClosingLocked(r *room) {
	c := r.call
	r.call = nil
	c.room = nil
	delete(h.calls, c.id)
	c.timer.Stop()
	ev := &api.CallEndedEvent{CallID: c.id, Code: 200, Reason: endHangup}
	for _, m := range r.members {
		h.untrackLocked(m.sess, c)
		_ = api.SendCallEnded(m.sess, ev)
	}
	h.untrackLocked(c.caller, c)
}

// --- handlers

// CallInvite starts a call.
func (s *Server) CallInvite(ctx context.Context, p *api.CallInviteParams) (*api.CallInviteResult, error) {
	sess, err := sessionOf(ctx, api.MethodCallInvite)
	if err != nil {
		return nil, err
	}
	if p.To == sess.identity {
		return nil, api.ErrBadRequest("to is your own identity")
	}
	if err := checkMetadata("metadata", p.Metadata, s.cfg.Limits.MaxMetadataBytes); err != nil {
		return nil, err
	}
	inv := callInvite{to: p.To, metadata: p.Metadata, lifetime: defaultCallLifetime}
	if p.LifetimeSec != 0 {
		inv.lifetime = time.Duration(p.LifetimeSec) * time.Second
	}
	reg := s.reg
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if sess.state == sessionEnded {
		return nil, api.ErrUnauthenticated("this session has ended")
	}
	c, err := s.hub.invite(sess, reg.byIdentity[p.To], inv, s.now())
	if err != nil {
		return nil, err
	}
	return &api.CallInviteResult{CallID: c.id, ExpiresAt: c.expiresAt.Unix()}, nil
}

// CallRinging tells the caller a device rings.
func (s *Server) CallRinging(ctx context.Context, p *api.CallRingingParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodCallRinging)
	if err != nil {
		return nil, err
	}
	if err := s.hub.ringing(sess, p.CallID); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// CallAccept answers a call.
func (s *Server) CallAccept(ctx context.Context, p *api.CallAcceptParams) (*api.RoomJoinResult, error) {
	sess, err := sessionOf(ctx, api.MethodCallAccept)
	if err != nil {
		return nil, err
	}
	return s.hub.accept(sess, p.CallID, s.now())
}

// CallReject refuses a call with 486 or 603.
func (s *Server) CallReject(ctx context.Context, p *api.CallRejectParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodCallReject)
	if err != nil {
		return nil, err
	}
	code := p.Code
	switch code {
	case 0:
		code = 603
	case 486, 603:
	default:
		return nil, rpc.InvalidParams("code", "must be 486 (busy here) or 603 (decline)")
	}
	if err := s.hub.reject(sess, p.CallID, int(code)); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// CallCancel withdraws an unanswered call.
func (s *Server) CallCancel(ctx context.Context, p *api.CallCancelParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodCallCancel)
	if err != nil {
		return nil, err
	}
	if err := s.hub.cancel(sess, p.CallID); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// CallHangup ends an answered call.
func (s *Server) CallHangup(ctx context.Context, p *api.CallHangupParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodCallHangup)
	if err != nil {
		return nil, err
	}
	if err := s.hub.hangup(sess, p.CallID); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}
