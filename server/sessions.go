package server

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/server/signal"
)

// The Server answers every method of the schema.
var _ api.Handler = (*Server)(nil)

// The duplicate-identity policies (Config.DuplicateIdentity; see
// signal.DuplicateMulti).
const (
	DuplicateMulti    = signal.DuplicateMulti
	DuplicateTakeover = signal.DuplicateTakeover
	DuplicateReject   = signal.DuplicateReject
)

// SessionConnect authenticates the connection: a JWT, or in dev mode a bare
// identity; or resumes a session whose connection dropped.
func (s *Server) SessionConnect(ctx context.Context, p *api.SessionConnectParams) (*api.SessionConnectResult, error) {
	st := connStateFrom(ctx)
	if st == nil {
		return nil, api.ErrBadRequest("session.connect needs a WebSocket connection; POST /rpc is stateless")
	}
	if st.sess.Load() != nil {
		return nil, api.ErrConflict("this connection already has a session")
	}
	conn := signal.Connection{Conn: connAdapter{st.conn}, Remote: st.remote().String()}
	var opened *signal.Opened
	var err error
	if p.Resume != nil {
		opened, err = s.resume(ctx, st, conn, p)
		s.rpcMetrics.resumed(err)
	} else {
		var cred *signal.Credentials
		if cred, err = s.authenticate(st, p); err == nil {
			opened, err = s.core.Open(ctx, conn, *cred)
		}
	}
	if err != nil {
		return nil, err
	}
	// Requests of one connection are dispatched one at a time: nothing
	// else set the slot since the check above.
	st.sess.Store(opened.Ref)
	servers, expires := s.iceServers(opened.Ref.Identity)
	return &api.SessionConnectResult{
		SessionID:           opened.Ref.ID,
		PeerID:              opened.Ref.PeerID,
		Identity:            opened.Ref.Identity,
		ResumeToken:         opened.ResumeToken,
		Resumed:             p.Resume != nil,
		ICEServers:          servers,
		ICEServersExpiresAt: expires,
		Protocol:            api.DocumentSHA256,
	}, nil
}

// resume is session.connect with resume. A token given with it renews the
// session's grants; a bare identity (dev mode) renews nothing.
func (s *Server) resume(ctx context.Context, st *connState, conn signal.Connection, p *api.SessionConnectParams) (*signal.Opened, error) {
	r := signal.Resumption{Params: *p.Resume}
	if p.Token != "" || p.Identity != "" {
		cred, err := s.authenticate(st, p)
		if err != nil {
			return nil, err
		}
		r.Identity = cred.Identity
		if p.Token != "" {
			r.Fresh = cred
		}
	}
	return s.core.Resume(ctx, conn, r)
}

// resumable reports whether a connection that ended for reason may be
// resumed: the network or the client's reading failed, not the client
// saying goodbye (a normal close or going away ends the session) nor the
// server refusing it.
func resumable(reason rpc.CloseReason) bool {
	switch reason {
	case rpc.ClosePeerGone, rpc.ClosePingTimeout, rpc.CloseSlowConsumer, rpc.CloseWriteTimeout, rpc.CloseInternal, rpc.CloseResumeElsewhere:
		return true
	}
	return false
}

// connEndedRetry is how often a connection's end is tried again while
// the store is unreachable (cluster mode), for up to the resume window:
// the session must not stay attached to a connection that is gone. Past
// it, the orphan sweep (cluster.go) detaches it.
const connEndedRetry = time.Second

// connEnded tells the core that the connection carrying ref closed for
// reason: its session is detached for a resume (a drop) or ended. A
// single node shutting down ends them; a node of a cluster hands them
// over, so they stay resumable.
func (s *Server) connEnded(ref *signal.Ref, reason rpc.CloseReason) {
	resumable := resumable(reason) && (s.cfg.clustered() || !s.closing.Load())
	give := time.Now().Add(s.cfg.Limits.ResumeWindow)
	for {
		err := s.core.ConnEnded(context.Background(), ref, resumable, reason.String())
		if err == nil {
			return
		}
		if time.Now().After(give) || s.closing.Load() {
			s.log.Warn("session not detached: the store kept failing", "session", ref.ID, "err", err)
			return
		}
		time.Sleep(connEndedRetry)
	}
}

// SessionAck lets the replay buffer go of what the client has processed.
func (s *Server) SessionAck(ctx context.Context, p *api.SessionAckParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodSessionAck)
	if err != nil {
		return nil, err
	}
	if err := s.core.Ack(ctx, sess, p.Seq); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// authenticate turns session.connect's credentials into an identity and
// grants: a token's, until its expiry, or in dev mode a bare identity's.
func (s *Server) authenticate(st *connState, p *api.SessionConnectParams) (*signal.Credentials, error) {
	switch {
	case p.Token != "" && p.Identity != "":
		return nil, api.ErrBadRequest("give token or identity, not both")
	case p.Token != "":
		claims, err := s.keys.Verify(p.Token, s.now())
		if err != nil {
			return nil, api.ErrUnauthenticated(err.Error())
		}
		if !api.ValidIdentity(claims.Subject) {
			return nil, api.ErrUnauthenticated(fmt.Sprintf("token subject %q is not a valid identity", claims.Subject))
		}
		return &signal.Credentials{Identity: claims.Subject, Grants: claims.Grants, Expires: claims.ExpiresAt.Time}, nil
	case p.Identity != "":
		if !s.cfg.Dev {
			return nil, api.ErrUnauthenticated("bare identities are accepted only in dev mode (parley serve --dev); send a token")
		}
		if !st.remote().IsLoopback() {
			return nil, api.ErrForbidden("bare identities are accepted only from loopback")
		}
		return &signal.Credentials{Identity: p.Identity, Grants: Grants{Create: true}}, nil
	default:
		return nil, api.ErrUnauthenticated("send token (a JWT), or identity on a dev server")
	}
}
