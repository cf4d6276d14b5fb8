package server

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/server/signal"
)

type connStateKey struct{}
type apiKeyKey struct{}

// connState is what the server knows about one WebSocket connection; the
// session slot is filled by session.connect.
type connState struct {
	conn    *rpc.Conn
	limiter tokenBucket
	// patience is a second bucket, made at the first refusal, that each
	// refused request takes from: a client that keeps sending after its
	// 429s empties it, and is then read no faster than its rate.
	patience *tokenBucket
	// discovered: rpc.discover was answered on this connection.
	discovered atomic.Bool
	sess       atomic.Pointer[signal.Ref]
}

// remote is the client's address (the socket's, as the per-address cap
// counts it): read when wanted, not kept (24 B of every connection).
func (st *connState) remote() netip.Addr { return addrOf(st.conn.RemoteAddr()) }

// A connState is also the context its connection's handlers see the
// values of (rpc.Conn.Start): connStateFrom finds it without a
// context.WithValue of its own for every connection.
func (st *connState) Deadline() (time.Time, bool) { return time.Time{}, false }
func (st *connState) Done() <-chan struct{}       { return nil }
func (st *connState) Err() error                  { return nil }

func (st *connState) Value(key any) any {
	if key == (connStateKey{}) {
		return st
	}
	return nil
}

func connStateFrom(ctx context.Context) *connState {
	st, _ := ctx.Value(connStateKey{}).(*connState)
	return st
}

// callerOf returns who sent a method that works over both transports: a
// WebSocket session, or nil for an app backend holding an API key (POST
// /rpc), which acts as an admin.
func callerOf(ctx context.Context) (*signal.Ref, error) {
	if kid, ok := ctx.Value(apiKeyKey{}).(string); ok && kid != "" {
		return nil, nil
	}
	st := connStateFrom(ctx)
	if st == nil || st.sess.Load() == nil {
		return nil, api.ErrUnauthenticated("call session.connect first")
	}
	return st.sess.Load(), nil
}

// sessionOf returns the WebSocket session of a method that needs one.
func sessionOf(ctx context.Context, method string) (*signal.Ref, error) {
	st := connStateFrom(ctx)
	if st == nil {
		return nil, api.ErrBadRequest(fmt.Sprintf("%s needs a WebSocket session; POST /rpc is stateless", method))
	}
	sess := st.sess.Load()
	if sess == nil {
		return nil, api.ErrUnauthenticated("call session.connect first")
	}
	return sess, nil
}

// methodsBeforeConnect are the only ones answered without a session (and
// the protocol errors of requests that reach no method).
var methodsBeforeConnect = map[string]bool{
	api.MethodSessionConnect: true, methodDiscover: true,
	rpc.UnknownMethod: true, rpc.InvalidRequest: true,
}

// requireSession answers 401 to a WebSocket call before session.connect, so
// no handler runs for an unauthenticated connection.
func requireSession(method string, next rpc.MethodFunc) rpc.MethodFunc {
	if methodsBeforeConnect[method] {
		return next
	}
	return func(ctx context.Context, params jsontext.Value) (any, error) {
		if st := connStateFrom(ctx); st != nil && st.sess.Load() == nil {
			return nil, api.ErrUnauthenticated(fmt.Sprintf("call session.connect before %s", method))
		}
		return next(ctx, params)
	}
}

// rateLimit applies the connection's token bucket to every request,
// whatever its method and even when invalid (rpc.UnknownMethod,
// rpc.InvalidRequest), and to each element of a batch; the error tells the
// client when to try again. A client that keeps sending regardless (more
// refusals than its rate and burst allow again) is throttled: its
// connection is not read until its next token is due, so TCP holds it back
// and its frames cost the server nothing meanwhile.
func (s *Server) rateLimit(method string, next rpc.MethodFunc) rpc.MethodFunc {
	return func(ctx context.Context, params jsontext.Value) (any, error) {
		st := connStateFrom(ctx)
		if st == nil {
			return next(ctx, params)
		}
		l := &s.cfg.Limits
		now := bucketClock()
		d := st.limiter.take(now, l.RatePerSecond, l.RateBurst)
		if d == 0 {
			return next(ctx, params)
		}
		if st.patience == nil {
			p := fullBucket(now, l.RateBurst)
			st.patience = &p
		}
		if st.patience.take(now, l.RatePerSecond, l.RateBurst) != 0 {
			st.conn.Throttle(min(d, maxThrottle))
		}
		name := method
		if method == rpc.UnknownMethod || method == rpc.InvalidRequest {
			name = "request"
		}
		e := api.ErrRateLimited(fmt.Sprintf("too many requests; %s refused", name))
		e.Data.(*api.ErrorData).RetryAfterMs = d.Milliseconds() + 1
		return nil, e
	}
}

// maxThrottle bounds one pause in reading a throttled connection: a very
// low rate must not outlast the pong timeout.
const maxThrottle = time.Second
