package rpc

import (
	"errors"
	"fmt"
)

// Standard JSON-RPC 2.0 error codes (spec §5.1).
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternalError  = -32603
)

// Error is a JSON-RPC 2.0 error object. Handlers return it to answer with a
// specific code; any other error becomes -32603 with no internals leaked.
type Error struct {
	Code    int64  `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("jsonrpc error %d: %s", e.Code, e.Message) }

// FieldData is the data member of a -32602 error: which param was wrong and why.
type FieldData struct {
	Reason string `json:"reason"`
	Field  string `json:"field"`
}

// FieldError says which param (a dotted JSON path, e.g. "candidate.sdpMid")
// is wrong and why. Generated param decoders return it; the dispatcher turns
// it into -32602.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "params: " + e.Reason
	}
	return fmt.Sprintf("params.%s: %s", e.Field, e.Reason)
}

// Prefixed returns err with parent prepended to its field path when err is a
// *FieldError, so nested decoders report full paths like "candidate.sdpMid".
func Prefixed(parent string, err error) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return err
	}
	field := parent
	if fe.Field != "" {
		field = parent + "." + fe.Field
	}
	return &FieldError{Field: field, Reason: fe.Reason}
}

// InvalidParams builds a -32602 error naming the offending field.
func InvalidParams(field, reason string) *Error {
	msg := "invalid params: " + reason
	if field != "" {
		msg = fmt.Sprintf("invalid params: %s: %s", field, reason)
	}
	return &Error{Code: CodeInvalidParams, Message: msg, Data: &FieldData{Reason: reason, Field: field}}
}
