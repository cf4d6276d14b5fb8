package signal

import (
	"context"
	"time"

	"github.com/parley-rtc/parley/api"
)

// Events for app backends (webhooks and admin.events.list) are part of
// the transaction that makes them happen: the core calls Tx.Event where
// the state changes, and the store numbers them in its commit (the
// cursor, and the roomSeq within their room), so their order is the
// state's order, on one node or across a cluster. The memory store hands
// them to StoreConfig.Events as it commits; the Redis store appends them
// to one stream in the commit script, and a delivering node reads them
// from there.

// The event types (api.Event.Type).
const (
	EventSessionStarted = "session.started"
	EventSessionEnded   = "session.ended"
	EventRoomStarted    = "room.started"
	EventRoomFinished   = "room.finished"
	EventPeerJoined     = "peer.joined"
	EventPeerLeft       = "peer.left"
	EventCallStarted    = "call.started"
	EventCallAnswered   = "call.answered"
	EventCallEnded      = "call.ended"
	// EventPeerConnectionFailed: a pair of peers could not connect, with
	// the cause (see package diag); the server publishes it (Core.Publish).
	EventPeerConnectionFailed = "peer.connectionFailed"
)

// What each event's data carries (the rest is left empty):
//
//	session.started        sessionId, peerId, identity
//	session.ended          sessionId, peerId, identity, reason (the close reason, or a PeerLeftReason), durationMs
//	room.started           roomId, (sessionId, peerId, identity of whoever made it, if a session did)
//	room.finished          roomId, reason (room finish reasons below, or admin.rooms.close's), durationMs
//	peer.joined            roomId, sessionId, peerId, identity
//	peer.left              roomId, sessionId, peerId, identity, reason (api.PeerLeftReason), durationMs
//	call.started           roomId = callId, callId, caller, callee, (sessionId, peerId, identity of the caller)
//	call.answered          roomId = callId, callId, caller, callee, (sessionId, peerId, identity of the answering device)
//	call.ended             roomId = callId, callId, caller, callee, code, reason, durationMs (from the answer)
//	peer.connectionFailed  roomId, peerId, identity, remotePeerId, remoteIdentity, cause, explanation
//
// An event with a RoomID is ordered within its room (a call's events
// carry the call id, which is also its room's); one without, within its
// SessionID.

// Why a room finished (room.finished's reason), besides the reason given
// to admin.rooms.close or a shutdown.
const (
	RoomFinishedEmpty   = "empty"         // its last peer left
	RoomFinishedExpired = "expired"       // nobody joined it in time
	RoomFinishedCreator = "creator_ended" // its creator's session ended before anyone joined
	RoomFinishedCall    = "call_ended"    // the call it was the room of ended
)

// EventSink takes a store's committed events, numbered, in commit order:
// the memory store's StoreConfig.Events (the server's webhook
// dispatcher). It must not block or call back into the core.
type EventSink interface {
	Publish(ev api.Event)
}

// AppEvent is an event for app backends as a transaction publishes it: Last marks the last
// event of its room (room.finished, or call.ended of a call that never
// had a room), after which the store forgets the room's roomSeq counter.
type AppEvent struct {
	api.Event
	Last bool
}

// EventTime formats an event's time: RFC 3339 in UTC with milliseconds.
func EventTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// event publishes an event in the transaction.
func (c *Core) event(t *txn, typ string, data api.EventData) {
	t.Event(AppEvent{Event: api.Event{Type: typ, Timestamp: EventTime(c.now()), Data: data}, Last: typ == EventRoomFinished})
}

// Publish publishes one event in a transaction of its own (what the
// server sees beside the core: peer.connectionFailed).
func (c *Core) Publish(ctx context.Context, typ string, data api.EventData) error {
	return c.update(ctx, func(t *txn) error {
		c.event(t, typ, data)
		return nil
	})
}

func sessionData(s *Session) api.EventData {
	return api.EventData{SessionID: s.ID, PeerID: s.PeerID, Identity: s.Identity}
}

// seatData is a seat's event data in room r.
func seatData(r *Room, seat *Seat) api.EventData {
	return api.EventData{RoomID: r.ID, SessionID: seat.Session, PeerID: seat.Peer.PeerID, Identity: seat.Peer.Identity}
}

// roomStarted publishes room.started for a room made by s (nil: an app
// backend).
func (c *Core) roomStarted(t *txn, r *Room, s *Session) {
	data := api.EventData{RoomID: r.ID}
	if s != nil {
		data = sessionData(s)
		data.RoomID = r.ID
	}
	c.event(t, EventRoomStarted, data)
}

// peerJoined publishes peer.joined for a seat just taken.
func (c *Core) peerJoined(t *txn, r *Room, seat *Seat) {
	c.event(t, EventPeerJoined, seatData(r, seat))
}

// peerLeft publishes peer.left for a seat just given up.
func (c *Core) peerLeft(t *txn, r *Room, seat *Seat, reason api.PeerLeftReason) {
	data := seatData(r, seat)
	data.Reason = string(reason)
	data.DurationMs = c.since(seat.JoinedAt)
	c.event(t, EventPeerLeft, data)
}

// roomFinished publishes room.finished, the room's last event.
func (c *Core) roomFinished(t *txn, r *Room, reason string) {
	c.event(t, EventRoomFinished, api.EventData{RoomID: r.ID, Reason: reason, DurationMs: c.since(r.CreatedAt)})
}

// callData is a call's event data.
func callData(call *Call) api.EventData {
	return api.EventData{RoomID: call.ID, CallID: call.ID, Caller: call.CallerIdentity, Callee: call.Callee}
}

// callEnded publishes call.ended; a call that never had a room ends its
// room's events with it.
func (c *Core) callEnded(t *txn, call *Call, code int64, reason string) {
	data := callData(call)
	data.Code, data.Reason = code, reason
	if !call.AnsweredAt.IsZero() {
		data.DurationMs = c.since(call.AnsweredAt)
	}
	t.Event(AppEvent{Event: api.Event{Type: EventCallEnded, Timestamp: EventTime(c.now()), Data: data}, Last: call.AnsweredAt.IsZero()})
}

// sessionEnded publishes session.ended.
func (c *Core) sessionEnded(t *txn, s *Session, reason string) {
	data := sessionData(s)
	data.Reason, data.DurationMs = reason, c.since(s.CreatedAt)
	c.event(t, EventSessionEnded, data)
}

// since is the milliseconds from then to now (0 for a zero then).
func (c *Core) since(then time.Time) int64 {
	if then.IsZero() {
		return 0
	}
	return max(c.now().Sub(then).Milliseconds(), 0)
}
