package rpc

import "github.com/gorilla/websocket"

// CloseReason says why a connection ended. Its String is logged, used as a
// metric label and sent as the close frame's text; Code is the WebSocket
// close code. Application codes live in 4000–4999 (RFC 6455 §7.4.2) and
// mirror the HTTP status they resemble: 4001 ≈ 401, 4029 ≈ 429, 4503 ≈ 503.
type CloseReason uint8

// The close reasons. Their codes are part of the protocol (api/PROTOCOL.md).
const (
	CloseNormal          CloseReason = iota // 1000: either side ended the session
	CloseGoingAway                          // 1001: the server is stopping or the client navigated away
	CloseProtocolError                      // 1002: a WebSocket protocol violation
	CloseUnsupportedData                    // 1003: a binary frame; the protocol is JSON text
	CloseInvalidUTF8                        // 1007: a text message or close reason that is not UTF-8
	CloseTooLarge                           // 1009: a frame over the read limit
	CloseInternal                           // 1011: an internal server error
	CloseUnauthenticated                    // 4001: credentials refused
	CloseAuthTimeout                        // 4002: no session.connect in time
	CloseReplaced                           // 4008: the same session connected elsewhere
	CloseSlowConsumer                       // 4009: the outbound queue filled: the client fell behind a burst
	CloseWriteTimeout                       // 4011: a write did not complete in time: the client stopped reading
	ClosePingTimeout                        // 4010: no pong (or any frame) within the pong timeout
	CloseRateLimited                        // 4029: far over the request rate limit
	CloseDraining                           // 4503: the server is shutting down and takes no new sessions
	CloseResumeElsewhere                    // 4307: cluster mode: resume the session on another node now
	ClosePeerGone                           // the TCP connection ended without a close frame; nothing is sent
	numCloseReasons
)

var closeReasons = [numCloseReasons]struct {
	name string
	code int
}{
	CloseNormal:          {"normal", websocket.CloseNormalClosure},
	CloseGoingAway:       {"going_away", websocket.CloseGoingAway},
	CloseProtocolError:   {"protocol_error", websocket.CloseProtocolError},
	CloseUnsupportedData: {"binary_frame", websocket.CloseUnsupportedData},
	CloseInvalidUTF8:     {"invalid_utf8", websocket.CloseInvalidFramePayloadData},
	CloseTooLarge:        {"too_large", websocket.CloseMessageTooBig},
	CloseInternal:        {"internal_error", websocket.CloseInternalServerErr},
	CloseUnauthenticated: {"unauthenticated", 4001},
	CloseAuthTimeout:     {"auth_timeout", 4002},
	CloseReplaced:        {"replaced", 4008},
	CloseSlowConsumer:    {"slow_consumer", 4009},
	CloseWriteTimeout:    {"write_timeout", 4011},
	ClosePingTimeout:     {"ping_timeout", 4010},
	CloseRateLimited:     {"rate_limited", 4029},
	CloseDraining:        {"draining", 4503},
	CloseResumeElsewhere: {"resume_elsewhere", 4307},
	ClosePeerGone:        {"peer_gone", websocket.CloseAbnormalClosure},
}

func (r CloseReason) String() string {
	if r >= numCloseReasons {
		return "unknown"
	}
	return closeReasons[r].name
}

// Code is the WebSocket close code sent for r (1006 for ClosePeerGone,
// which is never sent: RFC 6455 reserves it for "no close frame").
func (r CloseReason) Code() int {
	if r >= numCloseReasons {
		return websocket.CloseInternalServerErr
	}
	return closeReasons[r].code
}

// cutOff reports a reason that drops what is queued: the client cannot or
// will not read it.
func (r CloseReason) cutOff() bool {
	return r == CloseSlowConsumer || r == CloseWriteTimeout || r == ClosePeerGone
}

// CloseReasons lists every reason, for docs and metric pre-registration.
func CloseReasons() []CloseReason {
	all := make([]CloseReason, numCloseReasons)
	for i := range all {
		all[i] = CloseReason(i)
	}
	return all
}

// closeReasonFromPeer maps the close code a client sent (gorilla reports a
// TCP connection that ended without a close frame as 1006).
func closeReasonFromPeer(code int) CloseReason {
	switch code {
	case websocket.CloseGoingAway:
		return CloseGoingAway
	case websocket.CloseAbnormalClosure:
		return ClosePeerGone
	}
	return CloseNormal
}
