package server

import (
	"context"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/server/signal"
)

// The call.* methods (the SIP flavour; the state machine is
// signal.Core's).

// CallInvite starts a call.
func (s *Server) CallInvite(ctx context.Context, p *api.CallInviteParams) (*api.CallInviteResult, error) {
	sess, err := sessionOf(ctx, api.MethodCallInvite)
	if err != nil {
		return nil, err
	}
	if p.To == sess.Identity {
		return nil, api.ErrBadRequest("to is your own identity")
	}
	if err := checkMetadata("metadata", p.Metadata, s.cfg.Limits.MaxMetadataBytes); err != nil {
		return nil, err
	}
	inv := signal.Invitation{To: p.To, Metadata: p.Metadata, Lifetime: signal.DefaultCallLifetime}
	if p.LifetimeSec != 0 {
		inv.Lifetime = time.Duration(p.LifetimeSec) * time.Second
	}
	id, expires, err := s.core.Invite(ctx, sess, inv)
	if err != nil {
		return nil, err
	}
	return &api.CallInviteResult{CallID: id, ExpiresAt: expires.Unix()}, nil
}

// CallRinging tells the caller a device rings.
func (s *Server) CallRinging(ctx context.Context, p *api.CallRingingParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodCallRinging)
	if err != nil {
		return nil, err
	}
	if err := s.core.Ringing(ctx, sess, p.CallID); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// CallAccept answers a call.
func (s *Server) CallAccept(ctx context.Context, p *api.CallAcceptParams) (*api.RoomJoinResult, error) {
	sess, err := sessionOf(ctx, api.MethodCallAccept)
	if err != nil {
		return nil, err
	}
	return s.core.Accept(ctx, sess, p.CallID)
}

// CallReject refuses a call with 486 or 603.
func (s *Server) CallReject(ctx context.Context, p *api.CallRejectParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodCallReject)
	if err != nil {
		return nil, err
	}
	code := p.Code
	switch code {
	case 0:
		code = 603
	case 486, 603:
	default:
		return nil, rpc.InvalidParams("code", "must be 486 (busy here) or 603 (decline)")
	}
	if err := s.core.Reject(ctx, sess, p.CallID, int(code)); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// CallCancel withdraws an unanswered call.
func (s *Server) CallCancel(ctx context.Context, p *api.CallCancelParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodCallCancel)
	if err != nil {
		return nil, err
	}
	if err := s.core.Cancel(ctx, sess, p.CallID); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// CallHangup ends an answered call.
func (s *Server) CallHangup(ctx context.Context, p *api.CallHangupParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodCallHangup)
	if err != nil {
		return nil, err
	}
	if err := s.core.Hangup(ctx, sess, p.CallID); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}
