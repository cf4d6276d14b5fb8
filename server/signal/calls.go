package signal

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/parley-rtc/parley/api"
)

// Calls (the SIP flavour): call.invite forks to every live session of the
// callee; the first device to accept wins, and the call becomes a private
// room of two whose id is the call id. The state machine is documented in
// api/parley.openrpc.json (call.invite's x-doc, rendered in PROTOCOL.md).
// A call and its room change in the same transactions as every other
// membership change.

// DefaultCallLifetime is how long an invite rings without lifetimeSec;
// the schema bounds lifetimeSec to 1…300.
const DefaultCallLifetime = 60 * time.Second

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

// CallOutcomes are how a call's setup concludes (Observer.CallOutcome,
// and answered), each call counted once.
var CallOutcomes = []string{"answered", "busy", "declined", "canceled", "timeout", "offline", "unavailable"}

// outcomeOf maps an end reason before an answer to its outcome.
var outcomeOf = map[string]string{
	endCanceled: "canceled", endBusy: "busy", endDeclined: "declined",
	endTimeout: "timeout", endUnavailable: "unavailable",
}

// ownCalls counts the calls a session takes part in as caller or party of
// an active call (not those ringing on it).
func ownCalls(t *txn, session string) int {
	n := 0
	for _, id := range t.Index(CallsOfSession, session) {
		if c := t.Call(id); c != nil && (c.Caller == session || c.State == api.CallStateActive) {
			n++
		}
	}
	return n
}

// answered counts the active calls a session is a party of.
func answered(t *txn, session string) int {
	n := 0
	for _, id := range t.Index(CallsOfSession, session) {
		if c := t.Call(id); c != nil && c.State == api.CallStateActive {
			n++
		}
	}
	return n
}

// newCallID picks an id that no live room or call holds. Call ids are the
// server's: a call's room is named by its id, so a caller-chosen id would
// reserve that room id for as long as the call rang.
func newCallID(t *txn) string {
	for {
		if id := NewID(16); idTaken(t, id) == nil {
			return id
		}
	}
}

// Invitation is a validated call.invite.
type Invitation struct {
	To       string
	Metadata []byte
	Lifetime time.Duration
}

// Invite starts a call from a session to every device of the callee that
// is not busy. It returns the call's id and when it stops ringing.
func (c *Core) Invite(ctx context.Context, ref *Ref, inv Invitation) (id string, expires time.Time, err error) {
	l := c.cfg.Limits
	var outcome string
	err = c.update(ctx, func(t *txn) error {
		outcome = ""
		s, err := c.caller(t, ref)
		if err != nil {
			return err
		}
		if ownCalls(t, s.ID) >= l.MaxCallsPerSession {
			return api.ErrTooLarge(fmt.Sprintf("a session may take part in at most %d calls at a time", l.MaxCallsPerSession))
		}
		if n := t.Len(InvitesOfCaller, s.Identity); n >= l.MaxInvitesPerCaller {
			return api.ErrTooLarge(fmt.Sprintf("identity %q has %d unanswered invites, its maximum; wait for an answer or call.cancel one", s.Identity, n))
		}
		if n := t.Len(InvitesOfPair, InvitePair(s.Identity, inv.To)); n >= l.MaxInvitesPerPair {
			return api.ErrTooLarge(fmt.Sprintf("unanswered invites to %q: you have %d, the maximum; wait for an answer or call.cancel one", inv.To, n))
		}
		devices := t.Index(SessionsOfIdentity, inv.To)
		if len(devices) == 0 {
			outcome = "offline"
			return api.ErrUnavailable(fmt.Sprintf("%q has no session on this server", inv.To))
		}
		var forks []string
		for _, d := range devices {
			if answered(t, d) < l.MaxCallsPerSession {
				forks = append(forks, d)
			}
		}
		if len(forks) == 0 {
			outcome = "busy"
			return api.ErrRoomFull(fmt.Sprintf("busy: every session of %q is in its maximum of %d answered calls", inv.To, l.MaxCallsPerSession))
		}
		now := c.now()
		call := &Call{
			ID: newCallID(t), Caller: s.ID, CallerIdentity: s.Identity, Callee: inv.To, Metadata: inv.Metadata,
			State: api.CallStateCalling, Forks: forks, InvitedAt: now, ExpiresAt: now.Add(inv.Lifetime),
		}
		t.PutCall(call)
		started := callData(call)
		started.SessionID, started.PeerID, started.Identity = s.ID, s.PeerID, s.Identity
		c.event(t, EventCallStarted, started)
		t.Broadcast(forks, Note{api.NotifyCallIncoming, &api.CallIncomingEvent{CallID: call.ID, From: s.Identity, Metadata: call.Metadata, ExpiresAt: call.ExpiresAt.Unix()}})
		t.SetTimer(Timer{TimerCall, call.ID, call.ExpiresAt})
		id, expires = call.ID, call.ExpiresAt
		log := c.sessionLog(s)
		t.afterCommit(func() {
			log.Info("call invited", slog.String("call", call.ID), slog.String("to", inv.To), slog.Int("devices", len(forks)))
		})
		return nil
	})
	if outcome != "" {
		c.obs.CallOutcome(outcome)
	}
	return id, expires, err
}

// expireCall ends a call nobody answered within its lifetime.
func (c *Core) expireCall(t *txn, id string) {
	call := t.Call(id)
	if call == nil || call.State == api.CallStateActive {
		return
	}
	c.endCall(t, call, 408, endTimeout, "", append([]string{call.Caller}, call.Forks...))
}

// lookup finds a call that a session is a party of (the caller, a ringing
// device, or the answerer): anything else is not found, so calls are not
// probed by id.
func lookup(t *txn, session, id string) (*Call, error) {
	c := t.Call(id)
	if c == nil || (c.Caller != session && !slices.Contains(c.Forks, session) && c.Answerer != session) {
		return nil, api.ErrCallNotFound(fmt.Sprintf("no call %q of yours (it ended, or never existed)", id))
	}
	return c, nil
}

// wrongState is the 409 for a request the call's state does not allow.
func wrongState(c *Call, method string) error {
	return api.ErrConflict(fmt.Sprintf("call %q is %s; %s is not allowed in that state", c.ID, c.State, method))
}

// calleeDevice checks that session is a ringing device of c (for ringing,
// accept, reject).
func calleeDevice(c *Call, session, method string) error {
	if c.State == api.CallStateActive {
		return wrongState(c, method)
	}
	if !slices.Contains(c.Forks, session) {
		return api.ErrForbidden(fmt.Sprintf("only a ringing device of the callee may send %s", method))
	}
	return nil
}

// partyCall reads the caller's session and a call of its.
func (c *Core) partyCall(t *txn, ref *Ref, id string) (*Session, *Call, error) {
	s, err := c.caller(t, ref)
	if err != nil {
		return nil, nil, err
	}
	call, err := lookup(t, s.ID, id)
	return s, call, err
}

// Ringing relays a 180 to the caller.
func (c *Core) Ringing(ctx context.Context, ref *Ref, id string) error {
	return c.update(ctx, func(t *txn) error {
		s, call, err := c.partyCall(t, ref, id)
		if err != nil {
			return err
		}
		if err := calleeDevice(call, s.ID, api.MethodCallRinging); err != nil {
			return err
		}
		call.State = api.CallStateRinging
		t.PutCall(call)
		t.Notify(call.Caller, Note{api.NotifyCallRinging, &api.CallRingingEvent{CallID: call.ID, By: s.Identity}})
		return nil
	})
}

// Accept answers a call on a session: the call's room is made with both
// parties seated. Of two devices accepting at once exactly one wins: the
// other's transaction conflicts, runs again, and finds the call active.
func (c *Core) Accept(ctx context.Context, ref *Ref, id string) (out *api.RoomJoinResult, err error) {
	l := c.cfg.Limits
	var setup time.Duration
	err = c.update(ctx, func(t *txn) error {
		s, call, err := c.partyCall(t, ref, id)
		if err != nil {
			return err
		}
		if err := calleeDevice(call, s.ID, api.MethodCallAccept); err != nil {
			return err
		}
		for _, p := range []string{call.Caller, s.ID} {
			if t.Len(RoomsOfSession, p) >= l.MaxRoomsPerSession {
				return api.ErrTooLarge(fmt.Sprintf("a session may be in at most %d rooms", l.MaxRoomsPerSession))
			}
		}
		if ownCalls(t, s.ID) >= l.MaxCallsPerSession {
			return api.ErrTooLarge(fmt.Sprintf("a session may take part in at most %d calls at a time", l.MaxCallsPerSession))
		}
		if t.Room(call.ID) != nil { // room.create refuses live call ids; this would be a bug
			return api.ErrConflict(fmt.Sprintf("a room %q already exists", call.ID))
		}
		if t.Len(RoomsAll, "") >= l.MaxRooms {
			return api.ErrTooLarge(fmt.Sprintf("this server holds its maximum of %d rooms", l.MaxRooms))
		}
		caller := t.Session(call.Caller)
		if caller == nil { // a caller that ends ends its calls; this would be a bug
			return api.ErrCallNotFound(fmt.Sprintf("call %q has no caller", call.ID))
		}
		now := c.now()
		t.CancelTimer(TimerCall, call.ID)
		callerSeat := Seat{Session: caller.ID, JoinedAt: now, Peer: api.Peer{PeerID: caller.PeerID, Identity: caller.Identity, Role: api.RoleOwner}}
		calleeSeat := Seat{Session: s.ID, JoinedAt: now, Peer: api.Peer{PeerID: s.PeerID, Identity: s.Identity, Role: api.RoleParticipant}}
		room := &Room{ID: call.ID, MaxPeers: 2, Locked: true, Metadata: call.Metadata, CreatedAt: now, HadPeers: true, Call: call.ID,
			Seats: []Seat{callerSeat, calleeSeat}}
		t.PutRoom(room)
		others := slices.DeleteFunc(slices.Clone(call.Forks), func(o string) bool { return o == s.ID })
		call.State, call.Forks, call.Answerer, call.AnsweredAt = api.CallStateActive, nil, s.ID, now
		t.PutCall(call)
		answered := callData(call)
		answered.SessionID, answered.PeerID, answered.Identity = s.ID, s.PeerID, s.Identity
		c.event(t, EventCallAnswered, answered)
		c.roomStarted(t, room, nil)
		c.peerJoined(t, room, &callerSeat)
		c.peerJoined(t, room, &calleeSeat)
		t.Broadcast(others, Note{api.NotifyCallEnded, &api.CallEndedEvent{CallID: call.ID, Code: 200, Reason: endAnsweredElsewhere, By: s.Identity}})
		t.Notify(call.Caller, Note{api.NotifyCallAccepted, &api.CallAcceptedEvent{CallID: call.ID, By: s.Identity, Peer: calleeSeat.Peer}})
		t.Notify(call.Caller, Note{api.NotifyRoomPeerJoined, &api.RoomPeerJoinedEvent{RoomID: call.ID, Peer: calleeSeat.Peer}})
		setup = now.Sub(call.InvitedAt)
		log := c.sessionLog(s)
		t.afterCommit(func() { log.Info("call accepted", slog.String("call", call.ID)) })
		// As room.join answers a later joiner: the earlier one is polite to it.
		peer := callerSeat.Peer
		peer.Polite = true
		out = &api.RoomJoinResult{RoomID: call.ID, Self: calleeSeat.Peer, Peers: []api.Peer{peer}}
		return nil
	})
	if err == nil {
		c.obs.CallAnswered(setup)
	}
	return out, err
}

// Reject refuses a call on a session: 603 ends it for all; 486 drops this
// device.
func (c *Core) Reject(ctx context.Context, ref *Ref, id string, code int) error {
	return c.update(ctx, func(t *txn) error {
		s, call, err := c.partyCall(t, ref, id)
		if err != nil {
			return err
		}
		if err := calleeDevice(call, s.ID, api.MethodCallReject); err != nil {
			return err
		}
		if code == 603 {
			c.endCall(t, call, 603, endDeclined, s.Identity, append([]string{call.Caller}, call.Forks...), s.ID)
			return nil
		}
		c.dropFork(t, call, s.ID, 486, endBusy)
		return nil
	})
}

// dropFork stops a call ringing on device d; with no device left, the
// call ends for the caller with code and reason.
func (c *Core) dropFork(t *txn, call *Call, d string, code int64, reason string) {
	call.Forks = slices.DeleteFunc(slices.Clone(call.Forks), func(o string) bool { return o == d })
	if len(call.Forks) == 0 {
		c.endCall(t, call, code, reason, call.Callee, []string{call.Caller})
		return
	}
	t.PutCall(call)
}

// Cancel withdraws an unanswered call (the caller only).
func (c *Core) Cancel(ctx context.Context, ref *Ref, id string) error {
	return c.update(ctx, func(t *txn) error {
		s, call, err := c.partyCall(t, ref, id)
		if err != nil {
			return err
		}
		if call.Caller != s.ID {
			return api.ErrForbidden("only the caller may cancel a call; a callee device rejects it")
		}
		if call.State == api.CallStateActive {
			return wrongState(call, api.MethodCallCancel)
		}
		c.endCall(t, call, 487, endCanceled, s.Identity, call.Forks)
		return nil
	})
}

// Hangup ends an active call (either party).
func (c *Core) Hangup(ctx context.Context, ref *Ref, id string) error {
	return c.update(ctx, func(t *txn) error {
		s, call, err := c.partyCall(t, ref, id)
		if err != nil {
			return err
		}
		if call.State != api.CallStateActive {
			return wrongState(call, api.MethodCallHangup)
		}
		c.hangup(t, call, s)
		return nil
	})
}

// hangup ends active call on behalf of party s: the other party gets
// call.ended, and the call's room closes.
func (c *Core) hangup(t *txn, call *Call, s *Session) {
	var others []string
	if r := t.Room(call.ID); r != nil && r.Call == call.ID {
		others = seated(r, s.ID)
	}
	c.endCall(t, call, 200, endHangup, s.Identity, others)
}

// endCall ends a call: notify (but skip) get call.ended, the call goes,
// and its room, if any, closes.
func (c *Core) endCall(t *txn, call *Call, code int64, reason, by string, notify []string, skip ...string) {
	if t.Call(call.ID) == nil {
		return
	}
	t.DeleteCall(call.ID)
	t.CancelTimer(TimerCall, call.ID)
	to := slices.DeleteFunc(slices.Clone(notify), func(s string) bool { return slices.Contains(skip, s) })
	t.Broadcast(to, Note{api.NotifyCallEnded, &api.CallEndedEvent{CallID: call.ID, Code: code, Reason: reason, By: by}})
	c.callEnded(t, call, code, reason)
	if r := t.Room(call.ID); r != nil && r.Call == call.ID {
		r.Call = ""
		t.PutRoom(r)
		c.closeRoom(t, r, RoomFinishedCall)
	} else if o := outcomeOf[reason]; o != "" {
		t.afterCommit(func() { c.obs.CallOutcome(o) })
	}
	t.afterCommit(func() { c.log.Info("call ended", "call", call.ID, "code", code, "reason", reason) })
}

// endCallsOf ends or leaves every call of a session that ended (not a
// resumable drop): a caller's unanswered call is canceled, a ringing
// device stops ringing, an active call is hung up.
func (c *Core) endCallsOf(t *txn, s *Session) {
	for _, id := range t.Index(CallsOfSession, s.ID) {
		call := t.Call(id)
		switch {
		case call == nil:
		case call.State == api.CallStateActive:
			c.hangup(t, call, s)
		case call.Caller == s.ID:
			c.endCall(t, call, 487, endCanceled, s.Identity, call.Forks)
		default:
			c.dropFork(t, call, s.ID, 480, endUnavailable)
		}
	}
}

// callRoomLeft: a party left the call's room (room.leave, a kick): that
// hangs the call up.
func (c *Core) callRoomLeft(t *txn, r *Room, session string) {
	call := t.Call(r.Call)
	if call == nil {
		return
	}
	var by string
	if s := t.Session(session); s != nil {
		by = s.Identity
	}
	c.endCall(t, call, 200, endHangup, by, seated(r, session))
}

// callRoomClosing: the call's room is being closed by something other than
// the call ending (admin.rooms.close, shutdown): the call ends.
func (c *Core) callRoomClosing(t *txn, r *Room) {
	id := r.Call
	r.Call = ""
	t.PutRoom(r)
	call := t.Call(id)
	if call == nil {
		return
	}
	t.DeleteCall(id)
	t.CancelTimer(TimerCall, id)
	t.Broadcast(seated(r, ""), Note{api.NotifyCallEnded, &api.CallEndedEvent{CallID: id, Code: 200, Reason: endHangup}})
	c.callEnded(t, call, 200, endHangup)
}
