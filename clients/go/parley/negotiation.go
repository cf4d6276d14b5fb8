package parley

import "github.com/parley-rtc/parley/api"

// roster is what the client knows of its rooms' peers for negotiation:
// which side of each pair is polite (the server's Peer.polite, from
// room.join's peers, room.peerJoined and room.snapshot). Guarded by c.mu.
type roster map[string]map[string]bool // room id → peer id → polite

func (r roster) set(roomID string, peers ...api.Peer) {
	m := r[roomID]
	if m == nil {
		m = make(map[string]bool)
		r[roomID] = m
	}
	for _, p := range peers {
		m[p.PeerID] = p.Polite
	}
}

// Polite reports whether this client is the polite side of the pair it
// forms with peerID in roomID (perfect negotiation, as the server decides
// it: the later joiner is polite), and whether the client knows the peer.
func (c *Client) Polite(roomID, peerID string) (polite, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	polite, known = c.roster[roomID][peerID]
	return polite, known
}

// trackRoster records the polite flags of a room.join result.
func (c *Client) trackRoster(method string, params, result any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.roster == nil {
		c.roster = make(roster)
	}
	switch method {
	case api.MethodRoomJoin:
		if res, ok := result.(*api.RoomJoinResult); ok && res != nil {
			c.roster.set(res.RoomID, res.Peers...)
		}
	case api.MethodRoomLeave:
		if p, ok := params.(*api.RoomLeaveParams); ok {
			delete(c.roster, p.RoomID)
		}
	}
}

// negotiationHooks keep the roster and the session's ICE servers current;
// Dial registers them before the application's hooks.
func (c *Client) negotiationHooks() {
	c.OnRoomPeerJoined(func(ev *api.RoomPeerJoinedEvent) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.roster == nil {
			c.roster = make(roster)
		}
		c.roster.set(ev.RoomID, ev.Peer)
	})
	c.OnRoomSnapshot(func(ev *api.RoomSnapshotEvent) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.roster == nil {
			c.roster = make(roster)
		}
		delete(c.roster, ev.RoomID)
		c.roster.set(ev.RoomID, ev.Peers...)
	})
	// Our own seat gone (kicked, replaced by another device) or the room
	// closed: the room is no longer ours to rejoin after a lost session.
	c.OnRoomPeerLeft(func(ev *api.RoomPeerLeftEvent) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if ev.PeerID == c.session.PeerID {
			c.forgetRoomLocked(ev.RoomID)
		} else {
			delete(c.roster[ev.RoomID], ev.PeerID)
		}
	})
	c.OnRoomClosed(func(ev *api.RoomClosedEvent) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.forgetRoomLocked(ev.RoomID)
	})
	// Fresh TURN credentials: Session() returns them from now on.
	c.OnIceServersRefreshed(func(ev *api.IceServersRefreshedEvent) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.session.ICEServers = ev.ICEServers
		c.session.ICEServersExpiresAt = ev.ExpiresAt
	})
}
