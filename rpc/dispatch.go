package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/rpc/wire"
)

// Input limits enforced before any handler runs.
const (
	// MaxDepth is the deepest nesting a frame may have. Signaling payloads
	// are shallow; deep nesting only costs the server stack and time.
	MaxDepth = 32
	// MaxBatch is the most requests one batch may hold.
	MaxBatch = 64
)

// nullID is the id of a response to a request whose id could not be read.
var nullID = jsontext.Value("null")

// request is one parsed JSON-RPC request. Its raw values, and the method
// name unless it had escapes, alias the frame: reading a request allocates
// nothing.
type request struct {
	method []byte
	params jsontext.Value // nil when absent
	id     jsontext.Value // nil for a notification
}

// SetLogger sets where internal errors and handler panics are logged.
func (m *Mux) SetLogger(l *slog.Logger) { m.log = l }

// Dispatch handles one frame, a single request or a batch, as JSON-RPC 2.0
// specifies, and returns the reply frame, or nil when nothing is to be sent
// (the frame held only notifications). It never panics: a handler panic is
// logged and answered with -32603. Nothing refers to frame after Dispatch
// returns, so the caller may reuse it.
func (m *Mux) Dispatch(ctx context.Context, frame []byte) []byte {
	return m.dispatch(ctx, nil, frame, MaxBatch, fastValid(frame))
}

// dispatch is Dispatch with a batch holding at most maxBatch requests;
// fast reports that fastValid accepted the frame. A single request's
// result is appended to dst: a connection, whose queue copies it, encodes
// into a pooled buffer.
//
// The frame is validated once (by fastValid, or by jsontext when it is not
// sure); requests are then read out of it with a scanner that trusts it
// (valid.go). Reading them with a second decoder validated every string
// again, the SDP of an offer included.
func (m *Mux) dispatch(ctx context.Context, dst, frame []byte, maxBatch int, fast bool) []byte {
	if !fast {
		if err := validate(frame); err != nil {
			return encodeError(nullID, m.refuse(ctx, m.invalid, err))
		}
	}
	v := validJSON(frame)
	i := v.space(0)
	switch frame[i] {
	case '{':
		reply, _ := m.dispatchOne(ctx, dst, v, i)
		return reply
	case '[':
		if err := checkBatch(v, i, maxBatch); err != nil {
			return encodeError(nullID, m.refuse(ctx, m.invalid, err))
		}
		return m.dispatchBatch(ctx, v, i)
	default:
		return encodeError(nullID, m.refuse(ctx, m.invalid, &Error{Code: CodeInvalidRequest, Message: "invalid request: a request must be an object or an array of objects"}))
	}
}

// validate checks that the frame is exactly one JSON value that is
// well-formed under RFC 7493 (I-JSON): no duplicate member names, valid
// UTF-8 without lone surrogates, and at most MaxDepth levels deep.
func validate(frame []byte) *Error {
	fd := wire.GetDecoder()
	defer fd.Release()
	dec := fd.Reset(frame)
	if _, err := dec.ReadValue(); err != nil {
		return parseError(err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return &Error{Code: CodeParseError, Message: "parse error: more than one JSON value in the frame"}
	}
	if deeperThan(frame, MaxDepth) {
		return &Error{Code: CodeParseError, Message: fmt.Sprintf("parse error: nested deeper than %d levels", MaxDepth)}
	}
	return nil
}

func parseError(err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "jsontext: ")
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		msg = "unexpected end of JSON input"
	}
	return &Error{Code: CodeParseError, Message: "parse error: " + msg}
}

// checkBatch reads the batch at v[i] to its end and refuses it whole
// when it is empty or holds more than maxBatch requests, before any of
// them runs: a refused batch executes nothing.
func checkBatch(v validJSON, i, maxBatch int) *Error {
	n := 0
	for i = v.space(i + 1); v[i] != ']'; i = v.next(i) {
		if n++; n > maxBatch {
			msg := fmt.Sprintf("invalid request: a batch may hold at most %d requests", maxBatch)
			if maxBatch < MaxBatch {
				msg += " until the connection authenticates"
			}
			return &Error{Code: CodeInvalidRequest, Message: msg}
		}
		i = v.valueEnd(i)
	}
	if n == 0 {
		return &Error{Code: CodeInvalidRequest, Message: "invalid request: empty batch"}
	}
	return nil
}

// dispatchBatch runs the requests of the batch at v[i], which checkBatch
// admitted.
func (m *Mux) dispatchBatch(ctx context.Context, v validJSON, i int) []byte {
	var out []byte
	for i = v.space(i + 1); v[i] != ']'; i = v.next(i) {
		var reply []byte
		if v[i] == '{' {
			reply, i = m.dispatchOne(ctx, nil, v, i)
		} else {
			i = v.valueEnd(i)
			reply = encodeError(nullID, m.refuse(ctx, m.invalid, &Error{Code: CodeInvalidRequest, Message: "invalid request: a batch element must be an object"}))
		}
		if reply == nil {
			continue
		}
		if out == nil {
			out = append(out, '[')
		} else {
			out = append(out, ',')
		}
		out = append(out, reply...)
	}
	if out == nil {
		return nil // only notifications
	}
	return append(out, ']')
}

// dispatchOne reads the request object at v[i] and runs it; end is where
// the object ends. A result is appended to dst.
func (m *Mux) dispatchOne(ctx context.Context, dst []byte, v validJSON, i int) (reply []byte, end int) {
	req, end, bad := readRequest(v, i)
	if bad != nil {
		id := req.id
		if id == nil {
			id = nullID
		}
		return encodeError(id, m.refuse(ctx, m.invalid, bad)), end
	}
	result, err := m.call(ctx, req)
	if req.id == nil {
		return nil, end // a notification is never answered, not even with an error
	}
	if err != nil {
		return encodeError(req.id, err), end
	}
	reply, merr := encodeResult(dst, req.id, result)
	if merr != nil {
		m.logger().Error("rpc: cannot encode result", "method", string(req.method), "err", merr)
		return encodeError(req.id, &Error{Code: CodeInternalError, Message: "internal error"}), end
	}
	return reply, end
}

// readRequest reads the request object at v[i]. The frame is known to be
// valid JSON, so only the JSON-RPC shape can be wrong; the id is kept
// whenever it is readable so the client can match the error to its call.
func readRequest(v validJSON, i int) (req request, end int, _ *Error) {
	var problem string
	seen := 0
	const haveVersion, haveMethod = 1, 2
	note := func(p string) {
		if problem == "" {
			problem = p
		}
	}
	for i = v.space(i + 1); v[i] != '}'; i = v.next(i) {
		nameEnd := v.valueEnd(i)
		name := jsontext.Value(v[i:nameEnd])
		start := v.space(v.space(nameEnd) + 1) // past the ':'
		i = v.valueEnd(start)
		raw := jsontext.Value(v[start:i])
		key, _ := wire.Unquote(name)
		switch string(key) {
		case "jsonrpc":
			seen |= haveVersion
			if s, ok := wire.Unquote(raw); !ok || string(s) != "2.0" {
				note(`"jsonrpc" must be exactly "2.0"`)
			}
		case "method":
			seen |= haveMethod
			s, ok := wire.Unquote(raw)
			if !ok {
				note(`"method" must be a string`)
			}
			req.method = s
		case "params":
			if k := raw.Kind(); k != '{' && k != '[' {
				note(`"params" must be an object or an array`)
			}
			req.params = raw
		case "id":
			switch raw.Kind() {
			case '"', '0', 'n':
				req.id = raw
			default:
				note(`"id" must be a string, a number or null`)
			}
		default:
			note(fmt.Sprintf("unknown member %q", string(key)))
		}
	}
	end = i + 1
	switch {
	case problem != "":
	case seen&haveVersion == 0:
		problem = `missing "jsonrpc": "2.0"`
	case seen&haveMethod == 0:
		problem = `missing "method"`
	default:
		return req, end, nil
	}
	return req, end, &Error{Code: CodeInvalidRequest, Message: "invalid request: " + problem}
}

// call runs the method's handler, turning panics and stray errors into
// JSON-RPC errors that leak nothing of the server's internals.
func (m *Mux) call(ctx context.Context, req request) (result any, err *Error) {
	fn, ok := m.methods[string(req.method)]
	if !ok {
		return nil, m.refuse(ctx, m.unknown, &Error{Code: CodeMethodNotFound, Message: fmt.Sprintf("method not found: %q", clip(string(req.method), maxEchoedMethod))})
	}
	defer func() {
		if p := recover(); p != nil {
			m.logger().Error("rpc: handler panicked", "method", string(req.method), "panic", p)
			result, err = nil, &Error{Code: CodeInternalError, Message: "internal error"}
		}
	}()
	res, herr := fn(ctx, req.params)
	if herr == nil {
		return res, nil
	}
	if rerr := AsError(herr); rerr != nil {
		return nil, rerr
	}
	m.logger().Error("rpc: handler failed", "method", string(req.method), "err", herr)
	return nil, &Error{Code: CodeInternalError, Message: "internal error"}
}

// maxEchoedMethod bounds the unknown method name an error quotes back: a
// 60 KB name must not come back as a 60 KB error.
const maxEchoedMethod = 64

// clip cuts s to at most n bytes, on a UTF-8 boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// refusalKey carries the error of a request that reaches no handler
// through its middleware chain (see refuse).
type refusalKey struct{}

// refuse answers a request that reaches no handler (an unknown method, an
// invalid request or frame) with e, after its middleware chain has seen
// it: a rate limit counts it, metrics count it, and either may answer
// otherwise (429, say).
func (m *Mux) refuse(ctx context.Context, chain MethodFunc, e *Error) *Error {
	_, err := chain(context.WithValue(ctx, refusalKey{}, e), nil)
	if rerr := AsError(err); rerr != nil {
		return rerr
	}
	return e
}

// refusal is the innermost handler of the refusal chains: it answers the
// error refuse put in the context.
func refusal(ctx context.Context, _ jsontext.Value) (any, error) {
	return nil, ctx.Value(refusalKey{}).(*Error)
}

// AsError is the JSON-RPC error a handler's err is answered with: an *Error
// as it is, a *FieldError as invalid params; nil for any other error, which
// is answered as an internal error (and logged) so nothing leaks.
func AsError(err error) *Error {
	var rerr *Error
	if errors.As(err, &rerr) {
		return rerr
	}
	var ferr *FieldError
	if errors.As(err, &ferr) {
		return InvalidParams(ferr.Field, ferr.Reason)
	}
	return nil
}

func (m *Mux) logger() *slog.Logger {
	if m.log == nil {
		return slog.Default()
	}
	return m.log
}

const responsePrefix = `{"jsonrpc":"2.0","id":`

// Verbatim is a result already encoded as JSON, sent as it is, without
// the validation and copying an encoder does: a large constant document
// costs one copy per reply (rpc.discover's took 0.37 ms and 0.5 MB of
// garbage encoded as a jsontext.Value). The handler vouches that it is
// valid JSON.
type Verbatim []byte

func encodeResult(dst []byte, id jsontext.Value, result any) ([]byte, error) {
	if v, ok := result.(Verbatim); ok {
		frame := slices.Grow(dst, len(responsePrefix)+len(id)+len(`,"result":}`)+len(v))
		frame = append(append(append(frame, responsePrefix...), id...), `,"result":`...)
		return append(append(frame, v...), '}'), nil
	}
	return encodeFrame(dst, func(b []byte) []byte {
		b = append(b, responsePrefix...)
		b = append(b, id...)
		return append(b, `,"result":`...)
	}, result)
}

func encodeError(id jsontext.Value, e *Error) []byte {
	head := func(b []byte) []byte {
		b = append(b, responsePrefix...)
		b = append(b, id...)
		return append(b, `,"error":`...)
	}
	frame, err := encodeFrame(nil, head, e)
	if err != nil { // only a handler's unmarshalable Data can get here
		frame, _ = encodeFrame(nil, head, &Error{Code: e.Code, Message: e.Message})
	}
	return frame
}

// EncodeNotification returns the frame of a server→client notification.
func EncodeNotification(method string, params any) ([]byte, error) {
	return AppendNotification(nil, method, params)
}

// AppendNotification appends the frame of a server→client notification
// to dst: a caller that sends it with NotifyRaw (which copies) can encode
// the next one into the same buffer.
func AppendNotification(dst []byte, method string, params any) ([]byte, error) {
	frame, err := encodeFrame(dst, func(b []byte) []byte {
		b = append(b, `{"jsonrpc":"2.0","method":`...)
		b, _ = jsontext.AppendQuote(b, method)
		return append(b, `,"params":`...)
	}, params)
	if err != nil {
		return nil, fmt.Errorf("rpc: encode %s params: %w", method, err)
	}
	return frame, nil
}
