package server

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/parley-rtc/parley/api"
)

// The admin.* methods: operators' view of and hand on this node. They work
// over WebSocket with an admin token and over POST /rpc with an API key.

// adminOf refuses a caller without the admin grant.
func (s *Server) adminOf(ctx context.Context, method string) error {
	c, err := s.callerOf(ctx)
	if err != nil {
		return err
	}
	if !c.admin {
		return c.sess.forbidden(method + " needs the admin grant")
	}
	return nil
}

// AdminRoomsList lists the rooms of this node.
func (s *Server) AdminRoomsList(ctx context.Context, _ *api.AdminRoomsListParams) (*api.RoomListResult, error) {
	if err := s.adminOf(ctx, api.MethodAdminRoomsList); err != nil {
		return nil, err
	}
	return &api.RoomListResult{Rooms: s.hub.list()}, nil
}

// AdminRoomsGet describes any room.
func (s *Server) AdminRoomsGet(ctx context.Context, p *api.AdminRoomsGetParams) (*api.RoomInfo, error) {
	if err := s.adminOf(ctx, api.MethodAdminRoomsGet); err != nil {
		return nil, err
	}
	return s.hub.get(nil, true, p.RoomID)
}

// AdminRoomsClose closes a room; its members get room.closed.
func (s *Server) AdminRoomsClose(ctx context.Context, p *api.AdminRoomsCloseParams) (*api.Empty, error) {
	if err := s.adminOf(ctx, api.MethodAdminRoomsClose); err != nil {
		return nil, err
	}
	if !s.hub.close(p.RoomID, cmp.Or(p.Reason, "closed_by_admin")) {
		return nil, api.ErrRoomNotFound(fmt.Sprintf("room %q does not exist", p.RoomID))
	}
	return &api.Empty{}, nil
}

// AdminPeersKick removes a peer from any room.
func (s *Server) AdminPeersKick(ctx context.Context, p *api.AdminPeersKickParams) (*api.Empty, error) {
	if err := s.adminOf(ctx, api.MethodAdminPeersKick); err != nil {
		return nil, err
	}
	if err := s.hub.kick(nil, true, p.RoomID, p.PeerID); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// Paging bounds of admin.sessions.list.
const (
	defaultSessionPage = 100
	maxSessionPage     = 1000
)

// AdminSessionsList pages through the sessions by id.
func (s *Server) AdminSessionsList(ctx context.Context, p *api.AdminSessionsListParams) (*api.SessionListResult, error) {
	if err := s.adminOf(ctx, api.MethodAdminSessionsList); err != nil {
		return nil, err
	}
	limit := min(cmp.Or(int(p.Limit), defaultSessionPage), maxSessionPage)
	all := s.reg.all(p.Identity)
	slices.SortFunc(all, func(a, b *session) int { return strings.Compare(a.id, b.id) })
	start, _ := slices.BinarySearchFunc(all, p.After, func(sess *session, after string) int {
		if sess.id <= after {
			return -1
		}
		return 1
	})
	page := all[start:min(len(all), start+limit)]
	out := &api.SessionListResult{Sessions: make([]api.SessionInfo, len(page)), More: start+limit < len(all)}
	for i, sess := range page {
		out.Sessions[i] = s.sessionInfo(sess)
	}
	return out, nil
}

// AdminSessionsGet describes one session.
func (s *Server) AdminSessionsGet(ctx context.Context, p *api.AdminSessionsGetParams) (*api.SessionInfo, error) {
	if err := s.adminOf(ctx, api.MethodAdminSessionsGet); err != nil {
		return nil, err
	}
	sess := s.reg.byIDOf(p.SessionID)
	if sess == nil {
		return nil, api.ErrSessionNotFound(fmt.Sprintf("no session %q on this node", p.SessionID))
	}
	info := s.sessionInfo(sess)
	return &info, nil
}

// AdminNodeStatus reports this node's state and load.
func (s *Server) AdminNodeStatus(ctx context.Context, _ *api.AdminNodeStatusParams) (*api.NodeStatus, error) {
	if err := s.adminOf(ctx, api.MethodAdminNodeStatus); err != nil {
		return nil, err
	}
	return s.nodeStatus(), nil
}

// AdminNodeDrain starts draining (see Drain).
func (s *Server) AdminNodeDrain(ctx context.Context, p *api.AdminNodeDrainParams) (*api.NodeStatus, error) {
	if err := s.adminOf(ctx, api.MethodAdminNodeDrain); err != nil {
		return nil, err
	}
	timeout := s.cfg.DrainTimeout
	if p.TimeoutSec > 0 {
		timeout = time.Duration(p.TimeoutSec) * time.Second
	}
	s.Drain(timeout)
	return s.nodeStatus(), nil
}

// AdminTurnAllocationsList lists the live TURN allocations.
func (s *Server) AdminTurnAllocationsList(ctx context.Context, _ *api.AdminTurnAllocationsListParams) (*api.TurnAllocationList, error) {
	if err := s.adminOf(ctx, api.MethodAdminTurnAllocationsList); err != nil {
		return nil, err
	}
	out := &api.TurnAllocationList{Allocations: []api.TurnAllocation{}}
	if t := s.TURN(); t != nil {
		for _, a := range t.Allocations() {
			out.Allocations = append(out.Allocations, api.TurnAllocation{
				Identity:  a.Identity,
				Client:    a.Client.String(),
				Transport: api.TurnTransport(a.Transport),
				Relay:     a.Relay.String(),
				CreatedAt: a.Created.UnixMilli(),
			})
		}
	}
	return out, nil
}

// AdminTurnAllocationsClose ends the allocation with a relay address.
func (s *Server) AdminTurnAllocationsClose(ctx context.Context, p *api.AdminTurnAllocationsCloseParams) (*api.Empty, error) {
	if err := s.adminOf(ctx, api.MethodAdminTurnAllocationsClose); err != nil {
		return nil, err
	}
	relay, err := netip.ParseAddrPort(p.Relay)
	if err != nil {
		return nil, api.ErrBadRequest(fmt.Sprintf("relay %q is not ip:port", p.Relay))
	}
	if t := s.TURN(); t == nil || !t.CloseAllocation(relay) {
		return nil, api.ErrAllocationNotFound(fmt.Sprintf("no allocation relays at %s", relay))
	}
	return &api.Empty{}, nil
}

// nodeStatus is admin.node.status's answer.
func (s *Server) nodeStatus() *api.NodeStatus {
	st := &api.NodeStatus{
		Version:   s.cfg.Version,
		StartedAt: s.started.UnixMilli(),
		Draining:  s.draining.Load(),
		Sessions:  int64(s.reg.count()),
	}
	if d := s.drainDeadline(); !d.IsZero() {
		st.DrainDeadline = d.UnixMilli()
	}
	s.connsMu.Lock()
	st.Connections = int64(len(s.conns))
	s.connsMu.Unlock()
	s.hub.eachRoomSize(func(int) { st.Rooms++ })
	if t := s.TURN(); t != nil {
		st.TurnAllocations = int64(t.Stats().AllocationsActive)
	}
	return st
}

// sessionInfo describes sess to an admin. Locks are taken one at a time, in
// the documented order, so the fields may come from slightly different
// instants; each is true of its own.
func (s *Server) sessionInfo(sess *session) api.SessionInfo {
	info := api.SessionInfo{SessionID: sess.id, PeerID: sess.peerID, Identity: sess.identity, State: api.SessionStateConnected}
	s.reg.mu.Lock()
	if sess.state != sessionAttached {
		info.State = api.SessionStateReconnecting
	}
	s.reg.mu.Unlock()
	s.hub.mu.RLock()
	info.Rooms = make([]string, 0, len(sess.rooms))
	for id := range sess.rooms {
		info.Rooms = append(info.Rooms, id)
	}
	s.hub.mu.RUnlock()
	slices.Sort(info.Rooms)
	sess.mu.Lock()
	info.LastSeq, info.AckedSeq = sess.seq, sess.replay.acked
	info.ReplayMessages, info.ReplayBytes = int64(len(sess.replay.frames)), int64(sess.replay.bytes)
	conn := sess.conn
	sess.mu.Unlock()
	if conn != nil {
		messages, bytes := conn.QueueLen()
		info.QueueMessages, info.QueueBytes = int64(messages), int64(bytes)
		if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
			info.Remote = a.IP.String()
		}
	}
	return info
}

// all lists the live sessions, or identity's if it is not "".
func (r *registry) all(identity string) []*session {
	r.mu.Lock()
	defer r.mu.Unlock()
	if identity != "" {
		return slices.Clone(r.byIdentity[identity])
	}
	out := make([]*session, 0, len(r.byID))
	for _, sess := range r.byID {
		out = append(out, sess)
	}
	return out
}

// byIDOf returns the live session with id, or nil.
func (r *registry) byIDOf(id string) *session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[id]
}

// count is the number of live sessions.
func (r *registry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}
