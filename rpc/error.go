package rpc

import (
	"fmt"

	"github.com/parley-rtc/parley/rpc/wire"
)

// The error objects are package wire's, which the protocol's types share
// without linking this runtime; these names keep the runtime's code and
// its callers short.
type (
	// Error is a JSON-RPC 2.0 error object (wire.Error).
	Error = wire.Error
	// FieldError names a bad param (wire.FieldError).
	FieldError = wire.FieldError
	// FieldData is the data member of a -32602 error (wire.FieldData).
	FieldData = wire.FieldData
)

// Standard JSON-RPC 2.0 error codes (spec §5.1).
const (
	CodeParseError     = wire.CodeParseError
	CodeInvalidRequest = wire.CodeInvalidRequest
	CodeMethodNotFound = wire.CodeMethodNotFound
	CodeInvalidParams  = wire.CodeInvalidParams
	CodeInternalError  = wire.CodeInternalError
)

// InvalidParams builds a -32602 error naming the offending field.
func InvalidParams(field, reason string) *Error {
	msg := "invalid params: " + reason
	if field != "" {
		msg = fmt.Sprintf("invalid params: %s: %s", field, reason)
	}
	return &Error{Code: CodeInvalidParams, Message: msg, Data: &FieldData{Reason: reason, Field: field}}
}
