// Package wire holds the parts of JSON-RPC 2.0 that the protocol's types
// (package api) and the server's runtime (package rpc) share: the error
// object and its codes, the field errors param decoders return, and the
// strict decoding of by-name params. It is small on purpose: a client links
// api, and through it this package, but not the server's runtime.
package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
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

// Unquote returns the contents of a JSON string value; ok is false when v
// is not a string. Without escapes (the common case: names, ids, methods)
// the contents are a slice of v, so nothing is allocated.
func Unquote(v jsontext.Value) (contents []byte, ok bool) {
	if v.Kind() != '"' {
		return nil, false
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1], true
	}
	b, err := jsontext.AppendUnquote(nil, v)
	return b, err == nil
}

// Params is what a method's params decode into: a struct whose pointer
// reads itself strictly from a decoder (the generated api types do).
type Params[T any] interface {
	*T
	UnmarshalJSONFrom(*jsontext.Decoder) error
}

// RawParams is implemented by params with x-go-raw members (an SDP): a
// caller that has validated the params (the rpc layer, which validated
// the frame) takes those members' literals as they are, decodes the rest
// with each such member's value replaced by "", then sets them. jsontext
// would scan each literal again, the 4 KB of an offer.
type RawParams interface {
	IsRawMember(name []byte) bool
	SetRawMember(name, lit []byte) error
}

// ValidParams is implemented by params that decode from JSON a caller has
// validated (the rpc layer's frames) with a scanner that trusts its
// syntax: jsontext checked every token again, a quarter of the time to
// relay a candidate. DecodeValid returns false when it is not sure (a
// value the schema refuses, an unknown member, an escape it does not
// read): the caller then decodes a new value with UnmarshalJSONFrom,
// which words the error. params is not retained.
type ValidParams interface {
	DecodeValid(params []byte) bool
}

// JSONAppender is implemented by values that append their own JSON (the
// generated api types): the bytes the server's frame encoder writes for
// them through json.MarshalWrite, without its reflection. An error (a
// string that is not UTF-8) means the caller encodes with json, which
// words it.
type JSONAppender interface {
	AppendJSON(dst []byte) ([]byte, error)
}

// Decoder is a jsontext.Decoder over a byte slice, recycled: one per frame
// or params value would dominate allocations. GetDecoder takes one,
// Release gives it back.
type Decoder struct {
	r   bytes.Reader
	dec *jsontext.Decoder
}

var decoders = sync.Pool{New: func() any {
	d := new(Decoder)
	d.dec = jsontext.NewDecoder(&d.r)
	return d
}}

// GetDecoder takes a Decoder from the pool.
func GetDecoder() *Decoder { return decoders.Get().(*Decoder) }

// Release returns d to the pool; d must not be used after.
func (d *Decoder) Release() { decoders.Put(d) }

// Reset points d at b and returns its jsontext.Decoder.
func (d *Decoder) Reset(b []byte) *jsontext.Decoder {
	d.r.Reset(b)
	d.dec.Reset(&d.r)
	return d.dec
}

var emptyObject = []byte("{}")

// DecodeParams decodes by-name params into a new T; absent params are {}.
// Its errors are *FieldError.
func DecodeParams[T any, P Params[T]](params jsontext.Value) (*T, error) {
	if len(params) == 0 {
		params = emptyObject
	}
	if params.Kind() != '{' {
		return nil, &FieldError{Reason: "params must be an object (by-name)"}
	}
	d := GetDecoder()
	defer d.Release()
	dec := d.Reset(params)
	v := new(T)
	if err := P(v).UnmarshalJSONFrom(dec); err != nil {
		return nil, err
	}
	// The rpc layer hands over exactly one value; anything after it means
	// a caller passed something else, which must not pass half-read.
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, &FieldError{Reason: "params must be a single JSON object"}
	}
	return v, nil
}
