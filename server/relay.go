package server

import (
	"context"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/rpc/wire"
	"github.com/parley-rtc/parley/server/signal"
)

// SdpOffer relays a parsed offer with from stamped, unless it is the
// polite side's half of crossed offers (491 glare); candidates held for
// the pair follow it.
func (s *Server) SdpOffer(ctx context.Context, p *api.SdpOfferParams) (*api.Empty, error) {
	sess, err := s.checkedSDP(ctx, api.MethodSdpOffer, p.RoomID, p.To, p.SDP)
	if err != nil {
		return nil, err
	}
	if err := s.core.RelayOffer(ctx, sess, p.To, &api.SdpOfferEvent{RoomID: p.RoomID, SDP: p.SDP}); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// SdpAnswer relays a parsed answer with from stamped.
func (s *Server) SdpAnswer(ctx context.Context, p *api.SdpAnswerParams) (*api.Empty, error) {
	sess, err := s.checkedSDP(ctx, api.MethodSdpAnswer, p.RoomID, p.To, p.SDP)
	if err != nil {
		return nil, err
	}
	if err := s.core.RelayAnswer(ctx, sess, p.To, &api.SdpAnswerEvent{RoomID: p.RoomID, SDP: p.SDP}); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

func (s *Server) checkedSDP(ctx context.Context, method, roomID, to string, sdp wire.RawString) (*signal.Ref, error) {
	sess, err := sessionOf(ctx, method)
	if err != nil {
		return nil, err
	}
	if err := checkSDP(sdp, s.cfg.Limits.MaxSDPBytes); err != nil {
		s.countTooLarge(ctx, sess, roomID, to, method, len(sdp.Literal())-2, err)
		return nil, err
	}
	return sess, nil
}

// countTooLarge puts a send refused as too large (413) on its pair's
// signaling record, where diag finds it, and tells the room's watchers.
func (s *Server) countTooLarge(ctx context.Context, sess *signal.Ref, roomID, to, method string, bytes int, err error) {
	if e := rpc.AsError(err); e != nil && e.Code == api.CodeTooLarge {
		s.core.TooLarge(ctx, sess, roomID, to, method, bytes)
	}
}

// IceCandidate relays a parsed candidate (or end-of-candidates) with from
// stamped; before the pair's first offer it is held (see
// signal.Core.RelayCandidate).
func (s *Server) IceCandidate(ctx context.Context, p *api.IceCandidateParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodIceCandidate)
	if err != nil {
		return nil, err
	}
	if err := checkCandidate(p.Candidate, s.cfg.Limits.MaxCandidateBytes); err != nil {
		s.countTooLarge(ctx, sess, p.RoomID, p.To, api.MethodIceCandidate, len(p.Candidate.Candidate), err)
		return nil, err
	}
	if err := s.core.RelayCandidate(ctx, sess, p.To, p.RoomID, p.Candidate); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// IceRestart asks the pair's current offerer to restart ICE.
func (s *Server) IceRestart(ctx context.Context, p *api.IceRestartParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodIceRestart)
	if err != nil {
		return nil, err
	}
	if err := s.core.RequestRestart(ctx, sess, p.RoomID, p.To, p.Reason); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// MessageSend relays application data to a room or to one peer.
func (s *Server) MessageSend(ctx context.Context, p *api.MessageSendParams) (*api.MessageSendResult, error) {
	sess, err := sessionOf(ctx, api.MethodMessageSend)
	if err != nil {
		return nil, err
	}
	ev := &api.MessageReceivedEvent{RoomID: p.RoomID, MessageID: signal.NewID(16), Private: p.To != "", Data: p.Data}
	if err := s.core.Send(ctx, sess, p.To, ev); err != nil {
		return nil, err
	}
	return &api.MessageSendResult{MessageID: ev.MessageID}, nil
}

// IceServers returns STUN/TURN servers with fresh credentials for the
// session's identity (for an app backend over POST /rpc: its key id).
func (s *Server) IceServers(ctx context.Context, _ *api.IceServersParams) (*api.IceServersResult, error) {
	by, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	identity, _ := ctx.Value(apiKeyKey{}).(string)
	if by != nil {
		identity = by.Identity
	}
	servers, expires := s.iceServers(identity)
	return &api.IceServersResult{ICEServers: servers, ExpiresAt: expires}, nil
}
