package server

import (
	"context"
	"fmt"

	"github.com/parley-rtc/parley/api"
)

// The Server answers every method of the schema.
var _ api.Handler = (*Server)(nil)

// SessionConnect authenticates the connection: a JWT, or in dev mode a bare
// identity from loopback.
func (s *Server) SessionConnect(ctx context.Context, p *api.SessionConnectParams) (*api.SessionConnectResult, error) {
	st := connStateFrom(ctx)
	if st == nil {
		return nil, api.ErrBadRequest("session.connect needs a WebSocket connection; POST /rpc is stateless")
	}
	if st.sess.Load() != nil {
		return nil, api.ErrConflict("this connection already has a session")
	}
	var sess *session
	if p.Resume != nil {
		var err error
		sess, err = s.resume(st, p)
		s.rpcMetrics.resumed(err)
		if err != nil {
			return nil, err
		}
	} else {
		identity, grants, err := s.authenticate(st, p)
		if err != nil {
			return nil, err
		}
		if sess, err = s.openSession(st, identity, grants); err != nil {
			return nil, err
		}
		st.conn.Authenticated()
		sess.log.Info("session connected", "remote", st.remote)
		s.scheduleRefresh(sess)
		s.sessionStarted(sess)
	}
	s.reg.mu.Lock()
	token := sess.resumeToken
	s.reg.mu.Unlock()
	servers, expires := s.iceServers(sess.identity)
	return &api.SessionConnectResult{
		SessionID:           sess.id,
		PeerID:              sess.peerID,
		Identity:            sess.identity,
		ResumeToken:         token,
		Resumed:             p.Resume != nil,
		ICEServers:          servers,
		ICEServersExpiresAt: expires,
		Protocol:            api.DocumentSHA256,
	}, nil
}

// SessionAck lets the replay buffer go of what the client has processed.
func (s *Server) SessionAck(ctx context.Context, p *api.SessionAckParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodSessionAck)
	if err != nil {
		return nil, err
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if p.Seq > sess.seq {
		return nil, api.ErrBadRequest(fmt.Sprintf("seq %d is ahead of the session's latest seq %d", p.Seq, sess.seq))
	}
	sess.replay.ack(p.Seq)
	return &api.Empty{}, nil
}

// authenticate turns session.connect's credentials into an identity and
// grants: a token's, until its expiry, or in dev mode a bare identity's.
func (s *Server) authenticate(st *connState, p *api.SessionConnectParams) (string, *sessionGrants, error) {
	switch {
	case p.Token != "" && p.Identity != "":
		return "", nil, api.ErrBadRequest("give token or identity, not both")
	case p.Token != "":
		claims, err := s.keys.Verify(p.Token, s.now())
		if err != nil {
			return "", nil, api.ErrUnauthenticated(err.Error())
		}
		if !api.ValidIdentity(claims.Subject) {
			return "", nil, api.ErrUnauthenticated(fmt.Sprintf("token subject %q is not a valid identity", claims.Subject))
		}
		return claims.Subject, &sessionGrants{Grants: claims.Grants, expires: claims.ExpiresAt.Time}, nil
	case p.Identity != "":
		if !s.cfg.Dev {
			return "", nil, api.ErrUnauthenticated("bare identities are accepted only in dev mode (parley serve --dev); send a token")
		}
		if !st.remote.IsLoopback() {
			return "", nil, api.ErrForbidden("bare identities are accepted only from loopback")
		}
		return p.Identity, &sessionGrants{Grants: Grants{Create: true}}, nil
	default:
		return "", nil, api.ErrUnauthenticated("send token (a JWT), or identity on a dev server")
	}
}

// RoomCreate makes an empty room (sessions with the create grant, within
// their rooms grant, or an app backend over POST /rpc).
func (s *Server) RoomCreate(ctx context.Context, p *api.RoomCreateParams) (*api.RoomCreateResult, error) {
	c, err := s.callerOf(ctx)
	if err != nil {
		return nil, err
	}
	spec := roomSpec{id: p.RoomID, maxPeers: int(p.MaxPeers), metadata: p.Metadata, duplicate: p.DuplicateIdentity}
	if !c.admin {
		g := c.sess.grants()
		switch {
		case !g.Create:
			return nil, c.sess.forbidden("your token does not grant creating rooms")
		case p.RoomID == "" && !g.AnyRoom():
			return nil, c.sess.forbidden("your token grants only some rooms: name one of them as roomId")
		case p.RoomID != "" && !g.MayJoin(p.RoomID):
			return nil, c.sess.forbidden(fmt.Sprintf("your token does not grant room %q", p.RoomID))
		}
		spec.creator = c.sess
	}
	if err := checkMetadata("metadata", p.Metadata, s.cfg.Limits.MaxMetadataBytes); err != nil {
		return nil, err
	}
	id, err := s.hub.create(spec)
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
	return s.hub.join(sess, joinRequest{roomID: p.RoomID, create: p.Create, rejoin: p.Rejoin, displayName: p.DisplayName, metadata: p.Metadata})
}

// RoomLeave gives up the session's seat.
func (s *Server) RoomLeave(ctx context.Context, p *api.RoomLeaveParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodRoomLeave)
	if err != nil {
		return nil, err
	}
	if err := s.hub.leave(sess, p.RoomID, api.PeerLeftReasonLeft); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// RoomGet describes a room to a member or an admin.
func (s *Server) RoomGet(ctx context.Context, p *api.RoomGetParams) (*api.RoomInfo, error) {
	c, err := s.callerOf(ctx)
	if err != nil {
		return nil, err
	}
	return s.hub.get(c.sess, c.admin, p.RoomID)
}

// RoomUpdate lets the owner (or an admin) change a room.
func (s *Server) RoomUpdate(ctx context.Context, p *api.RoomUpdateParams) (*api.RoomInfo, error) {
	c, err := s.callerOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkMetadata("metadata", p.Metadata, s.cfg.Limits.MaxMetadataBytes); err != nil {
		return nil, err
	}
	return s.hub.update(c.sess, c.admin, roomUpdate{roomID: p.RoomID, metadata: p.Metadata, maxPeers: int(p.MaxPeers), locked: p.Locked, duplicate: p.DuplicateIdentity})
}

// RoomKick removes a peer (owner, moderator or admin).
func (s *Server) RoomKick(ctx context.Context, p *api.RoomKickParams) (*api.Empty, error) {
	c, err := s.callerOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.hub.kick(c.sess, c.admin, p.RoomID, p.PeerID); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// SdpOffer relays a parsed offer with from stamped, unless it is the
// polite side's half of crossed offers (491 glare); candidates held for
// the pair follow it.
func (s *Server) SdpOffer(ctx context.Context, p *api.SdpOfferParams) (*api.Empty, error) {
	sess, err := s.checkedSDP(ctx, api.MethodSdpOffer, p.SDP)
	if err != nil {
		return nil, err
	}
	ev := &api.SdpOfferEvent{RoomID: p.RoomID, From: sess.peerID, SDP: p.SDP}
	if err := s.hub.relayOffer(sess, p.RoomID, p.To, s.now(), ev); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// SdpAnswer relays a parsed answer with from stamped.
func (s *Server) SdpAnswer(ctx context.Context, p *api.SdpAnswerParams) (*api.Empty, error) {
	sess, err := s.checkedSDP(ctx, api.MethodSdpAnswer, p.SDP)
	if err != nil {
		return nil, err
	}
	ev := &api.SdpAnswerEvent{RoomID: p.RoomID, From: sess.peerID, SDP: p.SDP}
	if err := s.hub.relayAnswer(sess, p.RoomID, p.To, ev); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

func (s *Server) checkedSDP(ctx context.Context, method, text string) (*session, error) {
	sess, err := sessionOf(ctx, method)
	if err != nil {
		return nil, err
	}
	if err := checkSDP(text, s.cfg.Limits.MaxSDPBytes); err != nil {
		return nil, err
	}
	return sess, nil
}

// IceCandidate relays a parsed candidate (or end-of-candidates) with from
// stamped; before the pair's first offer it is held (see relayCandidate).
func (s *Server) IceCandidate(ctx context.Context, p *api.IceCandidateParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodIceCandidate)
	if err != nil {
		return nil, err
	}
	if err := checkCandidate(p.Candidate, s.cfg.Limits.MaxCandidateBytes); err != nil {
		return nil, err
	}
	ev := &api.IceCandidateEvent{RoomID: p.RoomID, From: sess.peerID, Candidate: p.Candidate}
	if err := s.hub.relayCandidate(sess, p.RoomID, p.To, ev); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// IceServers returns STUN/TURN servers with fresh credentials for the
// session's identity (for an app backend over POST /rpc: its key id).
func (s *Server) IceServers(ctx context.Context, _ *api.IceServersParams) (*api.IceServersResult, error) {
	c, err := s.callerOf(ctx)
	if err != nil {
		return nil, err
	}
	identity, _ := ctx.Value(apiKeyKey{}).(string)
	if c.sess != nil {
		identity = c.sess.identity
	}
	servers, expires := s.iceServers(identity)
	return &api.IceServersResult{ICEServers: servers, ExpiresAt: expires}, nil
}

// MessageSend relays application data to a room or to one peer.
func (s *Server) MessageSend(ctx context.Context, p *api.MessageSendParams) (*api.MessageSendResult, error) {
	sess, err := sessionOf(ctx, api.MethodMessageSend)
	if err != nil {
		return nil, err
	}
	if p.To == sess.peerID {
		return nil, api.ErrBadRequest("to is your own peer id")
	}
	ev := &api.MessageReceivedEvent{RoomID: p.RoomID, From: sess.peerID, MessageID: newID(16), Private: p.To != "", Data: p.Data}
	if err := s.hub.deliver(sess, p.RoomID, p.To, func(n api.Notifier) error { return api.SendMessageReceived(n, ev) }); err != nil {
		return nil, err
	}
	return &api.MessageSendResult{MessageID: ev.MessageID}, nil
}
