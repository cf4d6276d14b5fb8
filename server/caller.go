package server

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"

	"github.com/go-json-experiment/json/jsontext"
	"golang.org/x/time/rate"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
)

type connStateKey struct{}
type apiKeyKey struct{}

// connState is what the server knows about one WebSocket connection; the
// session slot is filled by session.connect.
type connState struct {
	conn    *rpc.Conn
	remote  netip.Addr
	limiter *rate.Limiter
	sess    atomic.Pointer[session]
}

func connStateFrom(ctx context.Context) *connState {
	st, _ := ctx.Value(connStateKey{}).(*connState)
	return st
}

// caller is who sent a request: a WebSocket session, or an app backend
// holding an API key (POST /rpc), which acts as an admin.
type caller struct {
	sess  *session
	admin bool
}

// callerOf returns the caller of a method that works over both transports.
func (s *Server) callerOf(ctx context.Context) (caller, error) {
	if kid, ok := ctx.Value(apiKeyKey{}).(string); ok && kid != "" {
		return caller{admin: true}, nil
	}
	st := connStateFrom(ctx)
	if st == nil || st.sess.Load() == nil {
		return caller{}, api.ErrUnauthenticated("call session.connect first")
	}
	sess := st.sess.Load()
	return caller{sess: sess, admin: sess.grants().Admin}, nil
}

// sessionOf returns the WebSocket session of a method that needs one.
func sessionOf(ctx context.Context, method string) (*session, error) {
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

// methodsBeforeConnect are the only ones answered without a session.
var methodsBeforeConnect = map[string]bool{api.MethodSessionConnect: true, methodDiscover: true}

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

// rateLimit applies the connection's token bucket; the error tells the
// client when to try again. Allow comes first because Reserve allocates its
// Reservation: only a refused call pays for one, to learn the delay.
func rateLimit(method string, next rpc.MethodFunc) rpc.MethodFunc {
	return func(ctx context.Context, params jsontext.Value) (any, error) {
		st := connStateFrom(ctx)
		if st == nil || st.limiter.Allow() {
			return next(ctx, params)
		}
		r := st.limiter.Reserve()
		if d := r.Delay(); d > 0 {
			r.Cancel()
			e := api.ErrRateLimited(fmt.Sprintf("too many requests; %s refused", method))
			e.Data.(*api.ErrorData).RetryAfterMs = d.Milliseconds() + 1
			return nil, e
		}
		return next(ctx, params)
	}
}
