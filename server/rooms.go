package server

import (
	"context"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/server/signal"
)

// RoomCreate makes an empty room (sessions with the create grant, within
// their rooms grant, or an app backend over POST /rpc).
func (s *Server) RoomCreate(ctx context.Context, p *api.RoomCreateParams) (*api.RoomCreateResult, error) {
	by, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkMetadata("metadata", p.Metadata, s.cfg.Limits.MaxMetadataBytes); err != nil {
		return nil, err
	}
	id, err := s.core.Create(ctx, by, signal.RoomSpec{ID: p.RoomID, MaxPeers: int(p.MaxPeers), Metadata: p.Metadata, Duplicate: p.DuplicateIdentity})
	if err != nil {
		return nil, err
	}
	return &api.RoomCreateResult{RoomID: id}, nil
}

// RoomJoin seats the session in a room.
func (s *Server) RoomJoin(ctx context.Context, p *api.RoomJoinParams) (*api.RoomJoinResult, error) {
	sess, err := sessionOf(ctx, api.MethodRoomJoin)
	if err != nil {
		return nil, err
	}
	if err := checkMetadata("metadata", p.Metadata, s.cfg.Limits.MaxMetadataBytes); err != nil {
		return nil, err
	}
	return s.core.Join(ctx, sess, signal.JoinRequest{RoomID: p.RoomID, Create: p.Create, Rejoin: p.Rejoin, DisplayName: p.DisplayName, Metadata: p.Metadata})
}

// RoomLeave gives up the session's seat.
func (s *Server) RoomLeave(ctx context.Context, p *api.RoomLeaveParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodRoomLeave)
	if err != nil {
		return nil, err
	}
	if err := s.core.Leave(ctx, sess, p.RoomID); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// RoomGet describes a room to a member or an admin.
func (s *Server) RoomGet(ctx context.Context, p *api.RoomGetParams) (*api.RoomInfo, error) {
	by, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	return s.core.Get(ctx, by, p.RoomID)
}

// RoomUpdate lets the owner (or an admin) change a room.
func (s *Server) RoomUpdate(ctx context.Context, p *api.RoomUpdateParams) (*api.RoomInfo, error) {
	by, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkMetadata("metadata", p.Metadata, s.cfg.Limits.MaxMetadataBytes); err != nil {
		return nil, err
	}
	return s.core.Update(ctx, by, signal.RoomUpdate{RoomID: p.RoomID, Metadata: p.Metadata, MaxPeers: int(p.MaxPeers), Locked: p.Locked, Duplicate: p.DuplicateIdentity})
}

// RoomKick removes a peer (owner, moderator or admin).
func (s *Server) RoomKick(ctx context.Context, p *api.RoomKickParams) (*api.Empty, error) {
	by, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.core.Kick(ctx, by, p.RoomID, p.PeerID); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}
