package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/rpc/wire"
)

// MethodFunc handles one call. params is the raw, already well-formed params
// member (nil when absent). It is a slice of the inbound frame, whose buffer
// is reused once the call returns: copy what outlives the call. The result is
// marshalled as the response's result; a *Error is sent as is, any other
// error becomes -32603.
type MethodFunc func(ctx context.Context, params jsontext.Value) (any, error)

// Middleware wraps every request a Mux reads (auth gates, rate limits,
// metrics): those of registered methods under their names, and those that
// reach no handler under UnknownMethod or InvalidRequest.
type Middleware func(method string, next MethodFunc) MethodFunc

// The names middleware sees for requests that reach no handler. Neither
// can be a schema method, whose names all hold a dot.
const (
	// UnknownMethod: a well-formed request for a method not registered.
	UnknownMethod = "unknown"
	// InvalidRequest: a frame that does not parse, a batch refused whole,
	// or a request or batch element that is not a valid request object.
	InvalidRequest = "invalid"
)

// Mux maps method names to handlers. Register everything before serving;
// it is read-only afterwards and safe for concurrent use.
type Mux struct {
	methods    map[string]MethodFunc
	middleware []Middleware
	// unknown and invalid are the middleware chains of requests that
	// reach no handler (see refuse).
	unknown, invalid MethodFunc
	log              *slog.Logger
}

// NewMux returns an empty Mux.
func NewMux() *Mux {
	return &Mux{methods: make(map[string]MethodFunc), unknown: refusal, invalid: refusal}
}

// Handle registers fn for method, wrapped in the middleware added so far.
// It panics on a duplicate, which is a programming error caught at start-up.
func (m *Mux) Handle(method string, fn MethodFunc) {
	if _, dup := m.methods[method]; dup {
		panic(fmt.Sprintf("rpc: method %q registered twice", method))
	}
	m.methods[method] = m.wrap(method, fn)
}

// wrap applies the middleware to fn, the first added outermost.
func (m *Mux) wrap(method string, fn MethodFunc) MethodFunc {
	for i := len(m.middleware) - 1; i >= 0; i-- {
		fn = m.middleware[i](method, fn)
	}
	return fn
}

// Handle registers fn for method with typed params: the by-name params are
// decoded strictly into a new P (decodeParams) before fn sees them,
// and a decoding error is answered -32602 naming the field. Generated
// bindings (api/apirpc) call it once per method.
func Handle[P any, PP wire.Params[P], R any](m *Mux, method string, fn func(context.Context, *P) (R, error)) {
	m.Handle(method, func(ctx context.Context, params jsontext.Value) (any, error) {
		p, err := decodeParams[P, PP](params)
		if err != nil {
			return nil, err
		}
		return fn(ctx, p)
	})
}

// Use adds middleware; the first added is the outermost. Middleware wraps
// methods as they are registered, so Use panics once any method is: a
// method silently left unwrapped would skip an auth gate.
func (m *Mux) Use(mw Middleware) {
	if len(m.methods) > 0 {
		panic("rpc: Mux.Use after Handle")
	}
	m.middleware = append(m.middleware, mw)
	m.unknown = m.wrap(UnknownMethod, refusal)
	m.invalid = m.wrap(InvalidRequest, refusal)
}

// Methods lists the registered method names, sorted.
func (m *Mux) Methods() []string {
	names := make([]string, 0, len(m.methods))
	for name := range m.methods {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
