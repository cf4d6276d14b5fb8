package server

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api"
)

// hub owns every room of this node. One RWMutex guards all membership:
// changes take it for writing, relays for reading. Notifications are queued
// (never written) under the lock, so a peer always sees room.peerJoined
// before anything that peer sends, and a relay never races a leave.
type hub struct {
	limits Limits

	mu    sync.RWMutex
	rooms map[string]*room
	// emptyRooms are the rooms each session made with room.create that
	// nobody has joined yet; emptyRoomsOf counts them by the sessions'
	// identity (Limits.MaxEmptyRoomsPerSession, MaxEmptyRoomsPerIdentity).
	emptyRooms   map[*session]map[string]*room
	emptyRoomsOf map[string]int
	// calls (calls.go) by id, and by the sessions taking part in them;
	// unanswered invites counted by caller identity and by caller–callee
	// pair (Limits.MaxInvitesPerCaller, MaxInvitesPerPair).
	calls       map[string]*sipCall
	callsOf     map[*session]map[string]*sipCall
	invitesBy   map[string]int
	invitesTo   map[invitePair]int
	callMetrics *callMetrics
}

// room is a signaling room (the seed model): created, joined, left; the last
// one out destroys it. Fields are guarded by hub.mu.
type room struct {
	id        string
	maxPeers  int
	locked    bool
	metadata  jsontext.Value
	duplicate api.DuplicatePolicy // what a second seat of one identity does
	// createdBy is the session whose room.create made the room, until its
	// first peer joins: the room counts against that session's empty-room
	// caps meanwhile, and goes if the session ends. Creating a room owns
	// nothing (roleFor).
	createdBy *session
	members   []*member
	hadPeers  bool
	emptyTTL  *time.Timer
	createdAt time.Time
	call      *sipCall // for a call's private room, while the call is active

	// neg guards pairs (negotiation.go): relays change them under hub.mu
	// held for reading.
	neg   sync.Mutex
	pairs map[pairKey]*negotiation
}

// member is a session's seat in one room.
type member struct {
	sess *session
	peer api.Peer
}

func newHub(limits Limits) *hub {
	return &hub{
		limits:       limits,
		rooms:        make(map[string]*room),
		emptyRooms:   make(map[*session]map[string]*room),
		emptyRoomsOf: make(map[string]int),
		calls:        make(map[string]*sipCall),
		callsOf:      make(map[*session]map[string]*sipCall),
		invitesBy:    make(map[string]int),
		invitesTo:    make(map[invitePair]int),
	}
}

// roomSpec is what room.create and room.join(create) ask for.
type roomSpec struct {
	id        string
	maxPeers  int
	metadata  jsontext.Value
	duplicate api.DuplicatePolicy // "" is multi
	// creator is the session making the room with room.create, if it is
	// held to the empty-room caps (not an admin, nor an app backend).
	creator *session
}

// idTakenLocked refuses an id a live room or call holds: rooms and calls
// share one namespace, since an answered call is the room named by its id.
// hub.mu must be held.
func (h *hub) idTakenLocked(id string) error {
	if _, exists := h.rooms[id]; exists {
		return api.ErrConflict(fmt.Sprintf("room %q already exists", id))
	}
	if _, exists := h.calls[id]; exists {
		return api.ErrConflict(fmt.Sprintf("call %q already exists", id))
	}
	return nil
}

// createLocked adds a room; hub.mu must be held for writing.
func (h *hub) createLocked(spec roomSpec) (*room, error) {
	if spec.id == "" {
		spec.id = newID(12)
	}
	if err := h.idTakenLocked(spec.id); err != nil {
		return nil, err
	}
	if len(h.rooms) >= h.limits.MaxRooms {
		return nil, api.ErrTooLarge(fmt.Sprintf("this server holds its maximum of %d rooms", h.limits.MaxRooms))
	}
	if spec.maxPeers == 0 {
		spec.maxPeers = h.limits.MaxPeersPerRoom
	}
	if spec.maxPeers > h.limits.MaxPeersPerRoom {
		return nil, api.ErrTooLarge(fmt.Sprintf("maxPeers %d is over this server's limit of %d", spec.maxPeers, h.limits.MaxPeersPerRoom))
	}
	if spec.duplicate == "" {
		spec.duplicate = api.DuplicatePolicyMulti
	}
	r := &room{id: spec.id, maxPeers: spec.maxPeers, metadata: spec.metadata, duplicate: spec.duplicate, createdAt: time.Now()}
	h.rooms[r.id] = r
	return r, nil
}

// create makes an empty room that expires if nobody joins it in time. A
// session's room waits SessionEmptyRoomTTL, counts against its creator's
// empty-room caps meanwhile and goes with its creator's session: rooms
// made and never joined cannot pile up to the node's MaxRooms. An app
// backend's (or admin's) waits EmptyRoomTTL.
func (h *hub) create(spec roomSpec) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ttl := h.limits.EmptyRoomTTL
	if s := spec.creator; s != nil {
		if n := len(h.emptyRooms[s]); n >= h.limits.MaxEmptyRoomsPerSession {
			return "", api.ErrTooLarge(fmt.Sprintf("this session has made %d rooms that nobody has joined yet, its maximum; join one, or wait for them to expire", n))
		}
		if n := h.emptyRoomsOf[s.identity]; n >= h.limits.MaxEmptyRoomsPerIdentity {
			return "", api.ErrTooLarge(fmt.Sprintf("identity %q has made %d rooms that nobody has joined yet, its maximum; join one, or wait for them to expire", s.identity, n))
		}
		ttl = h.limits.SessionEmptyRoomTTL
	}
	r, err := h.createLocked(spec)
	if err != nil {
		return "", err
	}
	if s := spec.creator; s != nil {
		r.createdBy = s
		if h.emptyRooms[s] == nil {
			h.emptyRooms[s] = make(map[string]*room)
		}
		h.emptyRooms[s][r.id] = r
		h.emptyRoomsOf[s.identity]++
	}
	r.emptyTTL = time.AfterFunc(ttl, func() { h.expireEmpty(r) })
	return r.id, nil
}

// releaseEmptyLocked: r has its first peer, or is going; it no longer
// counts against its creator's empty-room caps. hub.mu must be held.
func (h *hub) releaseEmptyLocked(r *room) {
	s := r.createdBy
	if s == nil {
		return
	}
	r.createdBy = nil
	delete(h.emptyRooms[s], r.id)
	if len(h.emptyRooms[s]) == 0 {
		delete(h.emptyRooms, s)
	}
	if h.emptyRoomsOf[s.identity]--; h.emptyRoomsOf[s.identity] <= 0 {
		delete(h.emptyRoomsOf, s.identity)
	}
}

// expireEmpty removes a created room that nobody ever joined.
func (h *hub) expireEmpty(r *room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !r.hadPeers && h.rooms[r.id] == r {
		h.releaseEmptyLocked(r)
		delete(h.rooms, r.id)
	}
}

// joinRequest is a validated room.join.
type joinRequest struct {
	roomID      string
	create      bool
	rejoin      bool
	displayName string
	metadata    jsontext.Value
}

// join seats s in a room and tells the others.
func (h *hub) join(s *session, req joinRequest) (*api.RoomJoinResult, error) {
	grants := s.grants()
	if !grants.Admin && !grants.MayJoin(req.roomID) {
		return nil, s.forbidden(fmt.Sprintf("your token does not grant room %q", req.roomID))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, already := s.rooms[req.roomID]; already {
		return nil, api.ErrConflict(fmt.Sprintf("you already joined room %q", req.roomID))
	}
	if len(s.rooms) >= h.limits.MaxRoomsPerSession {
		return nil, api.ErrTooLarge(fmt.Sprintf("a session may be in at most %d rooms", h.limits.MaxRoomsPerSession))
	}
	r, ok := h.rooms[req.roomID]
	if !ok {
		if !req.create {
			return nil, api.ErrRoomNotFound(fmt.Sprintf("room %q does not exist (join with create: true to create it)", req.roomID))
		}
		if !grants.Create && !grants.Admin {
			return nil, s.forbidden("your token does not grant creating rooms")
		}
		var err error
		if r, err = h.createLocked(roomSpec{id: req.roomID}); err != nil {
			return nil, err
		}
	}
	if r.locked && !grants.Admin {
		return nil, api.ErrConflict(fmt.Sprintf("room %q is locked", r.id))
	}
	// Seats of the same identity (other devices), under the room's policy.
	var replaced []*member
	for _, m := range r.members {
		if m.peer.Identity == s.identity {
			replaced = append(replaced, m)
		}
	}
	switch {
	case len(replaced) == 0 || r.duplicate == api.DuplicatePolicyMulti:
		replaced = nil
	case r.duplicate == api.DuplicatePolicyReject:
		return nil, api.ErrConflict(fmt.Sprintf("identity %q already has a seat in room %q (the room's duplicateIdentity is reject)", s.identity, r.id))
	}
	if len(r.members)-len(replaced) >= r.maxPeers {
		return nil, api.ErrRoomFull(fmt.Sprintf("room %q is full (%d of %d peers)", r.id, len(r.members), r.maxPeers))
	}
	role := r.roleFor(s)
	for _, old := range replaced {
		if old.peer.Role == api.RoleOwner {
			role = api.RoleOwner
		}
		_ = api.SendRoomPeerLeft(old.sess, &api.RoomPeerLeftEvent{RoomID: r.id, PeerID: old.peer.PeerID, Reason: api.PeerLeftReasonReplaced})
		h.unseatLocked(r, old.sess, api.PeerLeftReasonReplaced)
	}
	m := &member{sess: s, peer: api.Peer{
		PeerID:      s.peerID,
		Identity:    s.identity,
		DisplayName: req.displayName,
		Role:        role,
		Metadata:    req.metadata,
	}}
	// Perfect negotiation: the later joiner of a pair is the polite side.
	others := r.peers()
	for i := range others {
		others[i].Polite = true
	}
	r.notifyMembers(nil, func(n api.Notifier) error {
		return api.SendRoomPeerJoined(n, &api.RoomPeerJoinedEvent{RoomID: r.id, Peer: m.peer})
	})
	r.members = append(r.members, m)
	r.hadPeers = true
	if r.emptyTTL != nil {
		r.emptyTTL.Stop()
		r.emptyTTL = nil
	}
	h.releaseEmptyLocked(r)
	s.rooms[r.id] = r
	if req.rejoin {
		// After a resume gap: a roster in seq order with everything else.
		_ = api.SendRoomSnapshot(s, &api.RoomSnapshotEvent{RoomID: r.id, Peers: others})
	}
	return &api.RoomJoinResult{RoomID: r.id, Self: m.peer, Peers: others}, nil
}

// roleFor picks the role of a joining session: the room's first peer owns
// it, and so does a session whose token grants it the room's ownership.
// Making a room with room.create owns nothing, and nobody else becomes
// owner by joining, so a creator who joins after the seated owner cannot
// take the room over. A moderator grant gives moderator.
func (r *room) roleFor(s *session) api.Role {
	switch {
	case !r.hadPeers || s.grants().Owns(r.id):
		return api.RoleOwner
	case s.grants().Moderator:
		return api.RoleModerator
	default:
		return api.RoleParticipant
	}
}

func (r *room) hasOwner() bool {
	return slices.ContainsFunc(r.members, func(m *member) bool { return m.peer.Role == api.RoleOwner })
}

// peers lists the members in join order.
func (r *room) peers() []api.Peer {
	out := make([]api.Peer, len(r.members))
	for i, m := range r.members {
		out[i] = m.peer
	}
	return out
}

func (r *room) info() *api.RoomInfo {
	return &api.RoomInfo{RoomID: r.id, MaxPeers: int64(r.maxPeers), Locked: r.locked, DuplicateIdentity: r.duplicate, Metadata: r.metadata, Peers: r.peers()}
}

func (r *room) member(peerID string) *member {
	for _, m := range r.members {
		if m.peer.PeerID == peerID {
			return m
		}
	}
	return nil
}

// memberRoomLocked finds a room s is in; hub.mu must be held.
func (h *hub) memberRoomLocked(s *session, roomID string) (*room, error) {
	r, ok := s.rooms[roomID]
	if !ok {
		return nil, api.ErrRoomNotFound(fmt.Sprintf("you are not in room %q", roomID))
	}
	return r, nil
}

// leave removes s from a room; the others learn why.
func (h *hub) leave(s *session, roomID string, reason api.PeerLeftReason) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, err := h.memberRoomLocked(s, roomID)
	if err != nil {
		return err
	}
	h.removeLocked(r, s, reason)
	return nil
}

// leaveAll removes s from every room, and removes the rooms it made that
// nobody joined (its session ended).
func (h *hub) leaveAll(s *session, reason api.PeerLeftReason) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range s.rooms {
		h.removeLocked(r, s, reason)
	}
	for _, r := range h.emptyRooms[s] {
		r.emptyTTL.Stop()
		h.releaseEmptyLocked(r)
		delete(h.rooms, r.id)
	}
}

// removeLocked takes s's seat, tells the rest, hands ownership on, and
// destroys the room when it is empty (the last one out).
func (h *hub) removeLocked(r *room, s *session, reason api.PeerLeftReason) {
	gone := h.unseatLocked(r, s, reason)
	if gone == nil {
		return
	}
	if r.call != nil {
		h.callRoomLeftLocked(r, s) // a party leaving hangs the call up
		return
	}
	if len(r.members) == 0 {
		delete(h.rooms, r.id)
		return
	}
	if gone.peer.Role == api.RoleOwner && !r.hasOwner() {
		// A room keeps an owner: the longest-present peer inherits it.
		r.members[0].peer.Role = api.RoleOwner
		h.broadcastUpdateLocked(r)
	}
}

// unseatLocked takes s's seat in r and tells the other members; what the
// room does about it (a call hung up, the room gone, a new owner) is
// removeLocked's. It returns the seat, nil if s had none.
func (h *hub) unseatLocked(r *room, s *session, reason api.PeerLeftReason) *member {
	i := slices.IndexFunc(r.members, func(m *member) bool { return m.sess == s })
	if i < 0 {
		return nil
	}
	gone := r.members[i]
	r.members = slices.Delete(r.members, i, i+1)
	delete(s.rooms, r.id)
	r.forgetPeer(gone.peer.PeerID)
	r.notifyMembers(nil, func(n api.Notifier) error {
		return api.SendRoomPeerLeft(n, &api.RoomPeerLeftEvent{RoomID: r.id, PeerID: gone.peer.PeerID, Reason: reason})
	})
	return gone
}

func (h *hub) broadcastUpdateLocked(r *room) {
	info := r.info()
	r.notifyMembers(nil, func(n api.Notifier) error {
		return api.SendRoomUpdated(n, &api.RoomUpdatedEvent{RoomID: r.id, Room: *info})
	})
}

// notifyMembers sends one event to every member of r but skip; send is a
// generated Send function applied to the event. The event is encoded once
// for all of them (see sharedEvent), unless that fails: then each session
// encodes it, and logs why it cannot. hub.mu must be held.
func (r *room) notifyMembers(skip *session, send func(api.Notifier) error) {
	var e sharedEvent
	shared := send(&e) == nil
	for _, m := range r.members {
		switch {
		case m.sess == skip:
		case shared:
			m.sess.notifyShared(&e)
		default:
			_ = send(m.sess)
		}
	}
}

// get describes a room to a member or an admin.
func (h *hub) get(s *session, admin bool, roomID string) (*api.RoomInfo, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	r, ok := h.rooms[roomID]
	if !ok || (!admin && r.member(s.peerID) == nil) {
		return nil, api.ErrRoomNotFound(fmt.Sprintf("room %q does not exist or you are not in it", roomID))
	}
	return r.info(), nil
}

func (h *hub) list() []api.RoomSummary {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]api.RoomSummary, 0, len(h.rooms))
	for _, r := range h.rooms {
		out = append(out, api.RoomSummary{RoomID: r.id, PeerCount: int64(len(r.members)), MaxPeers: int64(r.maxPeers), Locked: r.locked})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RoomID < out[j].RoomID })
	return out
}

// roomUpdate is a validated room.update.
type roomUpdate struct {
	roomID    string
	metadata  jsontext.Value
	maxPeers  int
	locked    *bool
	duplicate api.DuplicatePolicy // "": unchanged
}

// update changes a room (owner or admin) and tells every member.
func (h *hub) update(s *session, admin bool, u roomUpdate) (*api.RoomInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.rooms[u.roomID]
	if !ok {
		return nil, api.ErrRoomNotFound(fmt.Sprintf("room %q does not exist", u.roomID))
	}
	if !admin {
		m := r.member(s.peerID)
		if m == nil {
			return nil, api.ErrRoomNotFound(fmt.Sprintf("you are not in room %q", u.roomID))
		}
		if m.peer.Role != api.RoleOwner {
			return nil, api.ErrForbidden("only the room's owner may update it")
		}
	}
	if u.maxPeers != 0 {
		if u.maxPeers > h.limits.MaxPeersPerRoom {
			return nil, api.ErrTooLarge(fmt.Sprintf("maxPeers %d is over this server's limit of %d", u.maxPeers, h.limits.MaxPeersPerRoom))
		}
		if u.maxPeers < len(r.members) {
			return nil, api.ErrConflict(fmt.Sprintf("maxPeers %d is below the %d peers already in the room", u.maxPeers, len(r.members)))
		}
		r.maxPeers = u.maxPeers
	}
	if u.metadata != nil {
		r.metadata = u.metadata
	}
	if u.locked != nil {
		r.locked = *u.locked
	}
	if u.duplicate != "" {
		r.duplicate = u.duplicate
	}
	h.broadcastUpdateLocked(r)
	return r.info(), nil
}

// kick removes a peer (owner, moderator or admin); owners cannot be kicked.
func (h *hub) kick(s *session, admin bool, roomID, peerID string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.rooms[roomID]
	if !ok {
		return api.ErrRoomNotFound(fmt.Sprintf("room %q does not exist", roomID))
	}
	if !admin {
		m := r.member(s.peerID)
		if m == nil {
			return api.ErrRoomNotFound(fmt.Sprintf("you are not in room %q", roomID))
		}
		// A moderator's role came from a grant, which lapses with its token.
		if m.peer.Role != api.RoleOwner && (m.peer.Role != api.RoleModerator || !s.grants().Moderator) {
			return s.forbidden("only the owner or a moderator may kick")
		}
	}
	target := r.member(peerID)
	if target == nil {
		return api.ErrPeerNotFound(fmt.Sprintf("peer %q is not in room %q", peerID, roomID))
	}
	if target.peer.Role == api.RoleOwner {
		return api.ErrForbidden("the room's owner cannot be kicked")
	}
	_ = api.SendRoomPeerLeft(target.sess, &api.RoomPeerLeftEvent{RoomID: r.id, PeerID: peerID, Reason: api.PeerLeftReasonKicked})
	h.removeLocked(r, target.sess, api.PeerLeftReasonKicked)
	return nil
}

// deliver sends a relay from s in roomID to one peer, or with to == "" to
// everyone else, while the membership cannot change; send is a generated
// Send function applied to the event.
func (h *hub) deliver(s *session, roomID, to string, send func(api.Notifier) error) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	r, err := h.memberRoomLocked(s, roomID)
	if err != nil {
		return err
	}
	if to != "" {
		m := r.member(to)
		if m == nil {
			return api.ErrPeerNotFound(fmt.Sprintf("peer %q is not in room %q", to, roomID))
		}
		_ = send(m.sess)
		return nil
	}
	r.notifyMembers(s, send)
	return nil
}

// closeAll tells every member of every room that it is closed and empties
// the hub (shutdown).
func (h *hub) closeAll(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.rooms {
		h.closeLocked(r, reason)
	}
}

// close closes one room (admin.rooms.close); false if there is none.
func (h *hub) close(roomID, reason string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.rooms[roomID]
	if ok {
		h.closeLocked(r, reason)
	}
	return ok
}

// closeLocked tells r's members it is closed, takes their seats and drops
// it; hub.mu must be held for writing.
func (h *hub) closeLocked(r *room, reason string) {
	if r.call != nil {
		h.callRoomClosingLocked(r)
	}
	r.notifyMembers(nil, func(n api.Notifier) error {
		return api.SendRoomClosed(n, &api.RoomClosedEvent{RoomID: r.id, Reason: reason})
	})
	for _, m := range r.members {
		delete(m.sess.rooms, r.id)
	}
	if r.emptyTTL != nil {
		r.emptyTTL.Stop()
	}
	h.releaseEmptyLocked(r)
	r.forgetPairs()
	delete(h.rooms, r.id)
}
