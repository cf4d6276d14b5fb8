package signal

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/parley-rtc/parley/api"
)

// asker is who sent a request that works over both transports: a session
// (by == nil: an app backend holding an API key, which acts as an admin),
// and whether it may act as an admin.
func (c *Core) asker(t *txn, by *Ref) (*Session, bool, error) {
	if by == nil {
		return nil, true, nil
	}
	s, err := c.caller(t, by)
	if err != nil {
		return nil, false, err
	}
	return s, s.grants(c.now()).Admin, nil
}

// Admin refuses a caller without the admin grant (method names what it
// asked for).
func (c *Core) Admin(ctx context.Context, by *Ref, method string) error {
	return c.update(ctx, func(t *txn) error {
		s, admin, err := c.asker(t, by)
		if err == nil && !admin {
			err = s.forbidden(c.now(), method+" needs the admin grant")
		}
		return err
	})
}

// RoomSpec is what room.create asks for.
type RoomSpec struct {
	ID        string
	MaxPeers  int
	Metadata  []byte
	Duplicate api.DuplicatePolicy // "" is multi
}

// idTaken refuses an id a live room or call holds: rooms and calls share
// one namespace, since an answered call is the room named by its id.
func idTaken(t *txn, id string) error {
	if t.Room(id) != nil {
		return api.ErrConflict(fmt.Sprintf("room %q already exists", id))
	}
	if t.Call(id) != nil {
		return api.ErrConflict(fmt.Sprintf("call %q already exists", id))
	}
	return nil
}

// newRoom checks spec and makes its room, not yet written.
func (c *Core) newRoom(t *txn, spec RoomSpec) (*Room, error) {
	l := c.cfg.Limits
	if spec.ID == "" {
		spec.ID = NewID(12)
	}
	if err := idTaken(t, spec.ID); err != nil {
		return nil, err
	}
	if t.Len(RoomsAll, "") >= l.MaxRooms {
		return nil, api.ErrTooLarge(fmt.Sprintf("this server holds its maximum of %d rooms", l.MaxRooms))
	}
	if spec.MaxPeers == 0 {
		spec.MaxPeers = l.MaxPeersPerRoom
	}
	if spec.MaxPeers > l.MaxPeersPerRoom {
		return nil, api.ErrTooLarge(fmt.Sprintf("maxPeers %d is over this server's limit of %d", spec.MaxPeers, l.MaxPeersPerRoom))
	}
	if spec.Duplicate == "" {
		spec.Duplicate = api.DuplicatePolicyMulti
	}
	return &Room{ID: spec.ID, MaxPeers: spec.MaxPeers, Metadata: spec.Metadata, Duplicate: spec.Duplicate, CreatedAt: c.now()}, nil
}

// Create makes an empty room (room.create) that expires if nobody joins it
// in time. A session needs the create grant, within its rooms grant; its
// room waits SessionEmptyRoomTTL, counts against its empty-room caps
// meanwhile and goes with its session, so rooms made and never joined
// cannot pile up to MaxRooms. An app backend's (or an admin's) waits
// EmptyRoomTTL.
func (c *Core) Create(ctx context.Context, by *Ref, spec RoomSpec) (id string, err error) {
	l := c.cfg.Limits
	err = c.update(ctx, func(t *txn) error {
		s, admin, err := c.asker(t, by)
		if err != nil {
			return err
		}
		ttl := l.EmptyRoomTTL
		if !admin {
			now := c.now()
			switch g := s.grants(now); {
			case !g.Create:
				return s.forbidden(now, "your token does not grant creating rooms")
			case spec.ID == "" && !g.AnyRoom():
				return s.forbidden(now, "your token grants only some rooms: name one of them as roomId")
			case spec.ID != "" && !g.MayJoin(spec.ID):
				return s.forbidden(now, fmt.Sprintf("your token does not grant room %q", spec.ID))
			}
			if n := t.Len(EmptyRoomsOfSession, s.ID); n >= l.MaxEmptyRoomsPerSession {
				return api.ErrTooLarge(fmt.Sprintf("this session has made %d rooms that nobody has joined yet, its maximum; join one, or wait for them to expire", n))
			}
			if n := t.Len(EmptyRoomsOfIdentity, s.Identity); n >= l.MaxEmptyRoomsPerIdentity {
				return api.ErrTooLarge(fmt.Sprintf("identity %q has made %d rooms that nobody has joined yet, its maximum; join one, or wait for them to expire", s.Identity, n))
			}
			ttl = l.SessionEmptyRoomTTL
		}
		r, err := c.newRoom(t, spec)
		if err != nil {
			return err
		}
		if !admin {
			r.CreatedBy, r.CreatorIdentity = s.ID, s.Identity
		}
		t.PutRoom(r)
		t.SetTimer(Timer{TimerEmptyRoom, r.ID, r.CreatedAt.Add(ttl)})
		c.roomStarted(t, r, s)
		id = r.ID
		return nil
	})
	return id, err
}

// expireEmptyRoom removes a created room that nobody ever joined.
func (c *Core) expireEmptyRoom(t *txn, id string) {
	if r := t.Room(id); r != nil && !r.HadPeers {
		c.deleteRoom(t, r, RoomFinishedExpired)
	}
}

// JoinRequest is a validated room.join.
type JoinRequest struct {
	RoomID      string
	Create      bool
	Rejoin      bool
	DisplayName string
	Metadata    []byte
}

// Join seats a session in a room and tells the others.
func (c *Core) Join(ctx context.Context, ref *Ref, req JoinRequest) (out *api.RoomJoinResult, err error) {
	l := c.cfg.Limits
	err = c.update(ctx, func(t *txn) error {
		s, err := c.caller(t, ref)
		if err != nil {
			return err
		}
		now := c.now()
		grants := s.grants(now)
		if !grants.Admin && !grants.MayJoin(req.RoomID) {
			return s.forbidden(now, fmt.Sprintf("your token does not grant room %q", req.RoomID))
		}
		mine := t.Index(RoomsOfSession, s.ID)
		if slices.Contains(mine, req.RoomID) {
			return api.ErrConflict(fmt.Sprintf("you already joined room %q", req.RoomID))
		}
		if len(mine) >= l.MaxRoomsPerSession {
			return api.ErrTooLarge(fmt.Sprintf("a session may be in at most %d rooms", l.MaxRoomsPerSession))
		}
		r := t.Room(req.RoomID)
		made := r == nil
		if made {
			if !req.Create {
				return api.ErrRoomNotFound(fmt.Sprintf("room %q does not exist (join with create: true to create it)", req.RoomID))
			}
			if !grants.Create && !grants.Admin {
				return s.forbidden(now, "your token does not grant creating rooms")
			}
			if r, err = c.newRoom(t, RoomSpec{ID: req.RoomID}); err != nil {
				return err
			}
		}
		if r.Locked && !grants.Admin {
			return api.ErrConflict(fmt.Sprintf("room %q is locked", r.ID))
		}
		// Seats of the same identity (other devices), under the room's policy.
		var replaced []Seat
		for _, seat := range r.Seats {
			if seat.Peer.Identity == s.Identity {
				replaced = append(replaced, seat)
			}
		}
		switch {
		case len(replaced) == 0 || r.Duplicate == api.DuplicatePolicyMulti:
			replaced = nil
		case r.Duplicate == api.DuplicatePolicyReject:
			return api.ErrConflict(fmt.Sprintf("identity %q already has a seat in room %q (the room's duplicateIdentity is reject)", s.Identity, r.ID))
		}
		if len(r.Seats)-len(replaced) >= r.MaxPeers {
			return api.ErrRoomFull(fmt.Sprintf("room %q is full (%d of %d peers)", r.ID, len(r.Seats), r.MaxPeers))
		}
		role := roleFor(r, grants)
		for _, old := range replaced {
			if old.Peer.Role == api.RoleOwner {
				role = api.RoleOwner
			}
			t.Notify(old.Session, Note{api.NotifyRoomPeerLeft, &api.RoomPeerLeftEvent{RoomID: r.ID, PeerID: old.Peer.PeerID, Reason: api.PeerLeftReasonReplaced}})
			c.unseat(t, r, old.Session, api.PeerLeftReasonReplaced)
		}
		seat := Seat{Session: s.ID, JoinedAt: now, Peer: api.Peer{
			PeerID:      s.PeerID,
			Identity:    s.Identity,
			DisplayName: req.DisplayName,
			Role:        role,
			Metadata:    req.Metadata,
		}}
		// Perfect negotiation: the later joiner of a pair is the polite side.
		others := peers(r)
		for i := range others {
			others[i].Polite = true
		}
		t.Broadcast(seated(r, ""), Note{api.NotifyRoomPeerJoined, &api.RoomPeerJoinedEvent{RoomID: r.ID, Peer: seat.Peer}})
		if !r.HadPeers {
			t.CancelTimer(TimerEmptyRoom, r.ID)
		}
		r.Seats = append(r.Seats, seat)
		r.HadPeers = true
		r.CreatedBy, r.CreatorIdentity = "", "" // no longer an empty room of its creator's
		t.PutRoom(r)
		if made {
			c.roomStarted(t, r, s)
		}
		c.peerJoined(t, r, &seat)
		if req.Rejoin {
			// After a resume gap: a roster in seq order with everything else.
			t.Notify(s.ID, Note{api.NotifyRoomSnapshot, &api.RoomSnapshotEvent{RoomID: r.ID, Peers: others}})
		}
		out = &api.RoomJoinResult{RoomID: r.ID, Self: seat.Peer, Peers: others}
		return nil
	})
	return out, err
}

// roleFor picks the role of a joining session: the room's first peer owns
// it, and so does a session whose token grants it the room's ownership.
// Making a room with room.create owns nothing, and nobody else becomes
// owner by joining, so a creator who joins after the seated owner cannot
// take the room over. A moderator grant gives moderator.
func roleFor(r *Room, g Grants) api.Role {
	switch {
	case !r.HadPeers || g.Owns(r.ID):
		return api.RoleOwner
	case g.Moderator:
		return api.RoleModerator
	default:
		return api.RoleParticipant
	}
}

func hasOwner(r *Room) bool {
	return slices.ContainsFunc(r.Seats, func(s Seat) bool { return s.Peer.Role == api.RoleOwner })
}

// peers lists the members in join order.
func peers(r *Room) []api.Peer {
	out := make([]api.Peer, len(r.Seats))
	for i, s := range r.Seats {
		out[i] = s.Peer
	}
	return out
}

// seated lists the sessions seated in r but skip.
func seated(r *Room, skip string) []string {
	out := make([]string, 0, len(r.Seats))
	for _, s := range r.Seats {
		if s.Session != skip {
			out = append(out, s.Session)
		}
	}
	return out
}

func info(r *Room) *api.RoomInfo {
	return &api.RoomInfo{RoomID: r.ID, MaxPeers: int64(r.MaxPeers), Locked: r.Locked, DuplicateIdentity: r.Duplicate, Metadata: r.Metadata, Peers: peers(r)}
}

// seatOf finds the seat of a peer, or with session set of a session.
func seatOf(r *Room, peerID, session string) *Seat {
	for i := range r.Seats {
		if (peerID != "" && r.Seats[i].Peer.PeerID == peerID) || (session != "" && r.Seats[i].Session == session) {
			return &r.Seats[i]
		}
	}
	return nil
}

// Leave gives up a session's seat; the others learn why.
func (c *Core) Leave(ctx context.Context, ref *Ref, roomID string) error {
	return c.update(ctx, func(t *txn) error {
		if _, err := c.caller(t, ref); err != nil {
			return err
		}
		r := t.Room(roomID)
		if r == nil || seatOf(r, "", ref.ID) == nil {
			return api.ErrRoomNotFound(fmt.Sprintf("you are not in room %q", roomID))
		}
		c.remove(t, r, ref.ID, api.PeerLeftReasonLeft)
		return nil
	})
}

// remove takes a session's seat, tells the rest, hands ownership on, and
// destroys the room when it is empty (the last one out).
func (c *Core) remove(t *txn, r *Room, session string, reason api.PeerLeftReason) {
	gone := c.unseat(t, r, session, reason)
	if gone == nil {
		return
	}
	if r.Call != "" {
		c.callRoomLeft(t, r, session) // a party leaving hangs the call up
		return
	}
	if len(r.Seats) == 0 {
		c.deleteRoom(t, r, RoomFinishedEmpty)
		return
	}
	if gone.Peer.Role == api.RoleOwner && !hasOwner(r) {
		// A room keeps an owner: the longest-present peer inherits it.
		r.Seats[0].Peer.Role = api.RoleOwner
		t.PutRoom(r)
		c.broadcastUpdate(t, r)
	}
}

// unseat takes a session's seat in r and tells the other members; what
// the room does about it (a call hung up, the room gone, a new owner) is
// remove's. It returns the seat, nil if the session had none.
func (c *Core) unseat(t *txn, r *Room, session string, reason api.PeerLeftReason) *Seat {
	i := slices.IndexFunc(r.Seats, func(s Seat) bool { return s.Session == session })
	if i < 0 {
		return nil
	}
	gone := r.Seats[i]
	r.Seats = slices.Delete(r.Seats, i, i+1)
	t.PutRoom(r)
	c.forgetPeer(t, r.ID, gone.Peer.PeerID)
	t.Broadcast(seated(r, ""), Note{api.NotifyRoomPeerLeft, &api.RoomPeerLeftEvent{RoomID: r.ID, PeerID: gone.Peer.PeerID, Reason: reason}})
	c.peerLeft(t, r, &gone, reason)
	return &gone
}

// deleteRoom drops a room, its pairs and its timer; reason is
// room.finished's.
func (c *Core) deleteRoom(t *txn, r *Room, reason string) {
	t.CancelTimer(TimerEmptyRoom, r.ID)
	for _, key := range t.Pairs(r.ID) {
		c.deletePair(t, r.ID, key)
	}
	t.DeleteRoom(r.ID)
	c.roomFinished(t, r, reason)
}

func (c *Core) broadcastUpdate(t *txn, r *Room) {
	t.Broadcast(seated(r, ""), Note{api.NotifyRoomUpdated, &api.RoomUpdatedEvent{RoomID: r.ID, Room: *info(r)}})
}

// setPeerState marks a session reconnecting or connected in each of its
// rooms and tells the other members.
func (c *Core) setPeerState(t *txn, s *Session, state api.PeerState) {
	for _, id := range t.Index(RoomsOfSession, s.ID) {
		r := t.Room(id)
		if r == nil {
			continue
		}
		seat := seatOf(r, "", s.ID)
		if seat == nil {
			continue
		}
		seat.Peer.State = state
		if state == api.PeerStateConnected {
			seat.Peer.State = "" // absent means connected
		}
		t.PutRoom(r)
		t.Broadcast(seated(r, s.ID), Note{api.NotifyRoomPeerState, &api.RoomPeerStateEvent{RoomID: r.ID, PeerID: s.PeerID, State: state}})
	}
}

// Get describes a room to a member or an admin (by nil: an app backend).
func (c *Core) Get(ctx context.Context, by *Ref, roomID string) (out *api.RoomInfo, err error) {
	err = c.update(ctx, func(t *txn) error {
		_, admin, err := c.asker(t, by)
		if err != nil {
			return err
		}
		r := t.Room(roomID)
		if r == nil || (!admin && seatOf(r, by.PeerID, "") == nil) {
			return api.ErrRoomNotFound(fmt.Sprintf("room %q does not exist or you are not in it", roomID))
		}
		out = info(r)
		return nil
	})
	return out, err
}

// List lists the rooms, by id.
func (c *Core) List(ctx context.Context) (out []api.RoomSummary) {
	_ = c.update(ctx, func(t *txn) error {
		ids := t.Index(RoomsAll, "")
		prefetchRooms(t, ids)
		out = make([]api.RoomSummary, 0, len(ids))
		for _, id := range ids {
			if r := t.Room(id); r != nil {
				out = append(out, api.RoomSummary{RoomID: r.ID, PeerCount: int64(len(r.Seats)), MaxPeers: int64(r.MaxPeers), Locked: r.Locked})
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b api.RoomSummary) int { return strings.Compare(a.RoomID, b.RoomID) })
	return out
}

// RoomCount counts the rooms.
func (c *Core) RoomCount(ctx context.Context) (n int) {
	_ = c.update(ctx, func(t *txn) error {
		n = t.Len(RoomsAll, "")
		return nil
	})
	return n
}

// RoomSizes lists the peer count of every room (metrics).
func (c *Core) RoomSizes(ctx context.Context) (out []int) {
	_ = c.update(ctx, func(t *txn) error {
		ids := t.Index(RoomsAll, "")
		prefetchRooms(t, ids)
		out = make([]int, 0, len(ids))
		for _, id := range ids {
			if r := t.Room(id); r != nil {
				out = append(out, len(r.Seats))
			}
		}
		return nil
	})
	return out
}

// RoomUpdate is a validated room.update.
type RoomUpdate struct {
	RoomID    string
	Metadata  []byte
	MaxPeers  int
	Locked    *bool
	Duplicate api.DuplicatePolicy // "": unchanged
}

// Update changes a room (its owner, or an admin) and tells every member.
func (c *Core) Update(ctx context.Context, by *Ref, u RoomUpdate) (out *api.RoomInfo, err error) {
	err = c.update(ctx, func(t *txn) error {
		_, admin, err := c.asker(t, by)
		if err != nil {
			return err
		}
		r := t.Room(u.RoomID)
		if r == nil {
			return api.ErrRoomNotFound(fmt.Sprintf("room %q does not exist", u.RoomID))
		}
		if !admin {
			seat := seatOf(r, by.PeerID, "")
			if seat == nil {
				return api.ErrRoomNotFound(fmt.Sprintf("you are not in room %q", u.RoomID))
			}
			if seat.Peer.Role != api.RoleOwner {
				return api.ErrForbidden("only the room's owner may update it")
			}
		}
		if u.MaxPeers != 0 {
			if limit := c.cfg.Limits.MaxPeersPerRoom; u.MaxPeers > limit {
				return api.ErrTooLarge(fmt.Sprintf("maxPeers %d is over this server's limit of %d", u.MaxPeers, limit))
			}
			if u.MaxPeers < len(r.Seats) {
				return api.ErrConflict(fmt.Sprintf("maxPeers %d is below the %d peers already in the room", u.MaxPeers, len(r.Seats)))
			}
			r.MaxPeers = u.MaxPeers
		}
		if u.Metadata != nil {
			r.Metadata = u.Metadata
		}
		if u.Locked != nil {
			r.Locked = *u.Locked
		}
		if u.Duplicate != "" {
			r.Duplicate = u.Duplicate
		}
		t.PutRoom(r)
		c.broadcastUpdate(t, r)
		out = info(r)
		return nil
	})
	return out, err
}

// Kick removes a peer (the owner, a moderator or an admin); owners cannot
// be kicked.
func (c *Core) Kick(ctx context.Context, by *Ref, roomID, peerID string) error {
	return c.update(ctx, func(t *txn) error {
		s, admin, err := c.asker(t, by)
		if err != nil {
			return err
		}
		r := t.Room(roomID)
		if r == nil {
			return api.ErrRoomNotFound(fmt.Sprintf("room %q does not exist", roomID))
		}
		if !admin {
			seat := seatOf(r, by.PeerID, "")
			if seat == nil {
				return api.ErrRoomNotFound(fmt.Sprintf("you are not in room %q", roomID))
			}
			// A moderator's role came from a grant, which lapses with its token.
			now := c.now()
			if seat.Peer.Role != api.RoleOwner && (seat.Peer.Role != api.RoleModerator || !s.grants(now).Moderator) {
				return s.forbidden(now, "only the owner or a moderator may kick")
			}
		}
		target := seatOf(r, peerID, "")
		if target == nil {
			return api.ErrPeerNotFound(fmt.Sprintf("peer %q is not in room %q", peerID, roomID))
		}
		if target.Peer.Role == api.RoleOwner {
			return api.ErrForbidden("the room's owner cannot be kicked")
		}
		session := target.Session
		t.Notify(session, Note{api.NotifyRoomPeerLeft, &api.RoomPeerLeftEvent{RoomID: r.ID, PeerID: peerID, Reason: api.PeerLeftReasonKicked}})
		c.remove(t, r, session, api.PeerLeftReasonKicked)
		return nil
	})
}

// CloseRoom closes one room (admin.rooms.close); false if there is none.
func (c *Core) CloseRoom(ctx context.Context, roomID, reason string) (ok bool) {
	_ = c.update(ctx, func(t *txn) error {
		if r := t.Room(roomID); r != nil {
			c.closeRoom(t, r, reason)
			ok = true
		}
		return nil
	})
	return ok
}

// closeRoom tells r's members it is closed, takes their seats and drops
// it.
func (c *Core) closeRoom(t *txn, r *Room, reason string) {
	if r.Call != "" {
		c.callRoomClosing(t, r)
	}
	t.Broadcast(seated(r, ""), Note{api.NotifyRoomClosed, &api.RoomClosedEvent{RoomID: r.ID, Reason: reason}})
	for i := range r.Seats {
		c.peerLeft(t, r, &r.Seats[i], api.PeerLeftReasonClosed)
	}
	r.Seats = nil
	t.PutRoom(r)
	c.deleteRoom(t, r, reason)
}
