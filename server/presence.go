package server

import (
	"context"

	"github.com/parley-rtc/parley/api"
)

// The presence.* methods (the XMPP flavour; see signal.Core.SetPresence).

// PresenceSet sets this device's status and note.
func (s *Server) PresenceSet(ctx context.Context, p *api.PresenceSetParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodPresenceSet)
	if err != nil {
		return nil, err
	}
	if err := s.core.SetPresence(ctx, sess, p.Status, p.Note); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// PresenceSubscribe follows identities and returns their presence now.
func (s *Server) PresenceSubscribe(ctx context.Context, p *api.PresenceSubscribeParams) (*api.PresenceListResult, error) {
	sess, err := sessionOf(ctx, api.MethodPresenceSubscribe)
	if err != nil {
		return nil, err
	}
	presences, err := s.core.Subscribe(ctx, sess, p.Identities)
	if err != nil {
		return nil, err
	}
	return &api.PresenceListResult{Presences: presences}, nil
}

// PresenceUnsubscribe stops following identities.
func (s *Server) PresenceUnsubscribe(ctx context.Context, p *api.PresenceUnsubscribeParams) (*api.Empty, error) {
	sess, err := sessionOf(ctx, api.MethodPresenceUnsubscribe)
	if err != nil {
		return nil, err
	}
	if err := s.core.Unsubscribe(ctx, sess, p.Identities); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// PresenceGet reads identities' presence.
func (s *Server) PresenceGet(ctx context.Context, p *api.PresenceGetParams) (*api.PresenceListResult, error) {
	sess, err := sessionOf(ctx, api.MethodPresenceGet)
	if err != nil {
		return nil, err
	}
	presences, err := s.core.Presence(ctx, sess, p.Identities)
	if err != nil {
		return nil, err
	}
	return &api.PresenceListResult{Presences: presences}, nil
}
