package parley

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sourcegraph/jsonrpc2"
)

// Error is an error answer from the server: a JSON-RPC error whose data
// carries Parley's reason token (and, where it applies, the offending
// field and a retry delay). Get it with errors.As; Code is one of the
// api.Code* constants or a standard JSON-RPC code (-32602 for bad params).
type Error struct {
	Code         int64
	Message      string
	Reason       string // e.g. room_not_found
	Field        string // for -32602: the dotted path of the bad param
	RetryAfterMs int64  // for 429 and 503: when to try again
}

func (e *Error) Error() string {
	// For -32602 the reason is prose the message already carries; the
	// field is what to add.
	if e.Field != "" {
		return fmt.Sprintf("parley: %s (%d, field %s)", e.Message, e.Code, e.Field)
	}
	if e.Reason != "" {
		return fmt.Sprintf("parley: %s (%d %s)", e.Message, e.Code, e.Reason)
	}
	return fmt.Sprintf("parley: %s (%d)", e.Message, e.Code)
}

// CodeOf returns the code of the *Error in err's chain, or 0.
func CodeOf(err error) int64 {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return 0
}

// ReasonOf returns the reason of the *Error in err's chain, or "".
func ReasonOf(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Reason
	}
	return ""
}

var (
	// ErrNotConnected is returned by calls made while the client is
	// reconnecting (or that were in flight when the connection dropped):
	// the client does not queue calls, because a queued sdp.offer or
	// ice.candidate would reach a peer that has since moved on. Wait for
	// StateOpen and call again.
	ErrNotConnected = errors.New("parley: not connected")
	// ErrClosed is returned by calls made after Close, or after the
	// client gave up reconnecting.
	ErrClosed = errors.New("parley: client closed")
)

// fromRPC turns a jsonrpc2 error into an *Error (a server answer) or
// lostInFlight (the connection ended under the call); others pass.
func fromRPC(err error) error {
	if re, ok := errors.AsType[*jsonrpc2.Error](err); ok {
		e := &Error{Code: re.Code, Message: re.Message}
		if re.Data != nil {
			var data struct {
				Reason       string `json:"reason"`
				Field        string `json:"field"`
				RetryAfterMs int64  `json:"retryAfterMs"`
			}
			// Data that is not an object (a foreign server) leaves the
			// code and message, which still say what went wrong.
			if json.Unmarshal(*re.Data, &data) == nil {
				e.Reason, e.Field, e.RetryAfterMs = data.Reason, data.Field, data.RetryAfterMs
			}
		}
		return e
	}
	if errors.Is(err, jsonrpc2.ErrClosed) {
		return lostInFlight{}
	}
	return err
}

// lostInFlight is the error of a call in flight when its connection
// dropped: ErrNotConnected (call again once open) and ErrConnectionLost
// (the server may have carried it out).
type lostInFlight struct{}

func (lostInFlight) Error() string { return "parley: connection lost with the call in flight" }

func (lostInFlight) Is(target error) bool {
	return target == ErrNotConnected || target == ErrConnectionLost
}
