// Package webhook delivers Parley's events to app backends as Standard
// Webhooks (signed POSTs, https://www.standardwebhooks.com) and keeps the
// latest ones for admin.events.list. It knows HTTP and the signing scheme,
// nothing of rooms or sessions: the signaling core hands it events through
// Sink, and package server wires the two.
//
// A room's events are delivered in order, per URL: the next goes once the
// previous got a 2xx or was given up. Different rooms (and sessions) go in
// parallel. Memory is bounded: a queue per URL (a full one drops its
// oldest event) and a retained log of the latest events.
package webhook

import "github.com/parley-rtc/parley/api"

// The event types (api.Event.Type).
const (
	SessionStarted = "session.started"
	SessionEnded   = "session.ended"
	RoomStarted    = "room.started"
	RoomFinished   = "room.finished"
	PeerJoined     = "peer.joined"
	PeerLeft       = "peer.left"
	CallStarted    = "call.started"
	CallAnswered   = "call.answered"
	CallEnded      = "call.ended"
	// PeerConnectionFailed: a pair of peers could not connect, with the
	// cause (see package diag).
	PeerConnectionFailed = "peer.connectionFailed"
)

// What each event's data carries (the rest is left empty):
//
//	session.started        sessionId, peerId, identity
//	session.ended          sessionId, peerId, identity, reason (the close reason, or timeout), durationMs
//	room.started           roomId, (sessionId, peerId, identity of whoever made it, if a session did)
//	room.finished          roomId, reason, durationMs
//	peer.joined            roomId, sessionId, peerId, identity
//	peer.left              roomId, sessionId, peerId, identity, reason (api.PeerLeftReason), durationMs
//	call.started           roomId = callId, callId, caller, callee, (sessionId, peerId of the caller)
//	call.answered          roomId = callId, callId, caller, callee, (sessionId, peerId of the answering device)
//	call.ended             roomId = callId, callId, caller, callee, code, reason, durationMs (from the answer)
//	peer.connectionFailed  roomId, peerId, identity, remotePeerId, remoteIdentity, cause, explanation
//
// Sink takes the events of the signaling core. Publish returns at once
// and cannot fail: the core calls it while holding its locks, in the order
// things happened, and that order is the events' order (cursor, and
// roomSeq within a room). data.Cursor and data.RoomSeq are the sink's to
// set; the rest is the caller's. An event with a RoomID is ordered within
// its room (call events carry the call id as RoomID); one without, within
// its SessionID.
type Sink interface {
	Publish(eventType string, data api.EventData)
}
