package server

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/server/signal"
)

// The admin.* methods: operators' view of and hand on this node. They work
// over WebSocket with an admin token and over POST /rpc with an API key.

// adminOf refuses a caller without the admin grant.
func (s *Server) adminOf(ctx context.Context, method string) error {
	by, err := callerOf(ctx)
	if err != nil {
		return err
	}
	return s.core.Admin(ctx, by, method)
}

// AdminRoomsList lists the rooms of this node.
func (s *Server) AdminRoomsList(ctx context.Context, _ *api.AdminRoomsListParams) (*api.RoomListResult, error) {
	if err := s.adminOf(ctx, api.MethodAdminRoomsList); err != nil {
		return nil, err
	}
	return &api.RoomListResult{Rooms: s.core.List(ctx)}, nil
}

// AdminRoomsGet describes any room.
func (s *Server) AdminRoomsGet(ctx context.Context, p *api.AdminRoomsGetParams) (*api.RoomInfo, error) {
	if err := s.adminOf(ctx, api.MethodAdminRoomsGet); err != nil {
		return nil, err
	}
	return s.core.Get(ctx, nil, p.RoomID)
}

// AdminRoomsClose closes a room; its members get room.closed.
func (s *Server) AdminRoomsClose(ctx context.Context, p *api.AdminRoomsCloseParams) (*api.Empty, error) {
	if err := s.adminOf(ctx, api.MethodAdminRoomsClose); err != nil {
		return nil, err
	}
	if !s.core.CloseRoom(ctx, p.RoomID, cmp.Or(p.Reason, "closed_by_admin")) {
		return nil, api.ErrRoomNotFound(fmt.Sprintf("room %q does not exist", p.RoomID))
	}
	return &api.Empty{}, nil
}

// AdminPeersKick removes a peer from any room.
func (s *Server) AdminPeersKick(ctx context.Context, p *api.AdminPeersKickParams) (*api.Empty, error) {
	if err := s.adminOf(ctx, api.MethodAdminPeersKick); err != nil {
		return nil, err
	}
	if err := s.core.Kick(ctx, nil, p.RoomID, p.PeerID); err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

// AdminSessionsList pages through the sessions by id.
func (s *Server) AdminSessionsList(ctx context.Context, p *api.AdminSessionsListParams) (*api.SessionListResult, error) {
	if err := s.adminOf(ctx, api.MethodAdminSessionsList); err != nil {
		return nil, err
	}
	return s.core.SessionPage(ctx, p.Identity, p.After, int(p.Limit))
}

// AdminSessionsGet describes one session.
func (s *Server) AdminSessionsGet(ctx context.Context, p *api.AdminSessionsGetParams) (*api.SessionInfo, error) {
	if err := s.adminOf(ctx, api.MethodAdminSessionsGet); err != nil {
		return nil, err
	}
	return s.core.SessionInfo(ctx, p.SessionID)
}

// AdminNodeStatus reports this node's state and load.
func (s *Server) AdminNodeStatus(ctx context.Context, _ *api.AdminNodeStatusParams) (*api.NodeStatus, error) {
	if err := s.adminOf(ctx, api.MethodAdminNodeStatus); err != nil {
		return nil, err
	}
	return s.nodeStatus(ctx), nil
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
	var asker *rpc.Conn
	if st := connStateFrom(ctx); st != nil {
		asker = st.conn
	}
	s.drain(timeout, asker)
	return s.nodeStatus(ctx), nil
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
func (s *Server) nodeStatus(ctx context.Context) *api.NodeStatus {
	st := &api.NodeStatus{
		Version:   s.cfg.Version,
		StartedAt: s.started.UnixMilli(),
		Draining:  s.draining.Load(),
		Sessions:  int64(s.core.Sessions(ctx)),
	}
	if d := s.drainDeadline(); !d.IsZero() {
		st.DrainDeadline = d.UnixMilli()
	}
	s.connsMu.Lock()
	st.Connections = int64(len(s.conns))
	s.connsMu.Unlock()
	st.Rooms = int64(s.core.RoomCount(ctx))
	if t := s.TURN(); t != nil {
		st.TurnAllocations = int64(t.Stats().AllocationsActive)
	}
	s.clusterNodes(ctx, st)
	return st
}

// AdminRoomsWatch makes the caller's session a watcher of a room: its
// signaling comes as admin.signal (payloads only with frames).
func (s *Server) AdminRoomsWatch(ctx context.Context, p *api.AdminRoomsWatchParams) (*api.RoomInfo, error) {
	sess, err := s.watcher(ctx, api.MethodAdminRoomsWatch)
	if err != nil {
		return nil, err
	}
	return s.core.Watch(ctx, sess, p.RoomID, p.Frames)
}

// AdminRoomsUnwatch stops admin.rooms.watch.
func (s *Server) AdminRoomsUnwatch(ctx context.Context, p *api.AdminRoomsUnwatchParams) (*api.Empty, error) {
	sess, err := s.watcher(ctx, api.MethodAdminRoomsUnwatch)
	if err != nil {
		return nil, err
	}
	return &api.Empty{}, s.core.Unwatch(ctx, sess, p.RoomID)
}

// watcher is the admin session a watch is for: POST /rpc has none to
// send the events to.
func (s *Server) watcher(ctx context.Context, method string) (*signal.Ref, error) {
	if err := s.adminOf(ctx, method); err != nil {
		return nil, err
	}
	by, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	if by == nil {
		return nil, api.ErrBadRequest(method + " needs a WebSocket session to send admin.signal to; POST /rpc has none")
	}
	return by, nil
}
