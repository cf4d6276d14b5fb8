package signaltest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/server/signal"
)

func init() {
	register(
		scenario{"JoinLeaveLastOneOut", joinLeaveLastOneOut},
		scenario{"RolesOwnershipAndKick", rolesOwnershipAndKick},
		scenario{"OwnerAndModeratorGrants", ownerAndModeratorGrants},
		scenario{"UpdateBounds", updateBounds},
		scenario{"RoomFullAndCreateConflicts", roomFullAndCreateConflicts},
		scenario{"RoomDuplicatePolicies", roomDuplicatePolicies},
		scenario{"RoomTakeoverKeepsTheRoom", roomTakeoverKeepsTheRoom},
		scenario{"CreateGrants", createGrants},
		scenario{"EmptyRoomCaps", emptyRoomCaps},
		scenario{"EmptyRoomLifetimes", emptyRoomLifetimes},
		scenario{"GrantsLapseWithTheirToken", grantsLapse},
		scenario{"RoomLimits", roomLimits},
	)
}

// joinLeaveLastOneOut: joins announce the joiner (the later joiner is the
// polite side of each pair), a leave and a goodbye are told with their
// reasons, and the last one out destroys the room.
func joinLeaveLastOneOut(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob, carol := e.connect("alice"), e.connect("bob"), e.connect("carol")
	res := alice.join("r")
	if res.Self.Role != api.RoleOwner || res.Self.PeerID != alice.peerID() || len(res.Peers) != 0 {
		t.Fatalf("alice joined as %+v", res)
	}
	res = bob.join("r")
	if len(res.Peers) != 1 || res.Peers[0].PeerID != alice.peerID() || !res.Peers[0].Polite || res.Self.Role != api.RoleParticipant {
		t.Fatalf("bob's join: %+v", res)
	}
	if pj := alice.expectSkipping(api.NotifyRoomPeerJoined, api.NotifyPresenceChanged); peerOf(pj) != bob.peerID() || pj["peer"].(map[string]any)["polite"] == true {
		t.Fatalf("room.peerJoined = %v", pj)
	}
	carol.join("r")
	_, err := carol.e.core.Join(ctx(), carol.ref, signal.JoinRequest{RoomID: "r"})
	wantErr(t, err, 409, "already joined")
	alice.expectSkipping(api.NotifyRoomPeerJoined, api.NotifyPresenceChanged)
	bob.expectSkipping(api.NotifyRoomPeerJoined, api.NotifyPresenceChanged)

	e.must(e.core.Leave(ctx(), bob.ref, "r"))
	for _, p := range []*client{alice, carol} {
		if l := p.expectSkipping(api.NotifyRoomPeerLeft, api.NotifyPresenceChanged); str(l, "peerId") != bob.peerID() || str(l, "reason") != "left" {
			t.Fatalf("room.peerLeft = %v", l)
		}
	}
	wantErr(t, e.core.Leave(ctx(), bob.ref, "r"), 404, "not in room")
	carol.bye()
	if l := alice.expectSkipping(api.NotifyRoomPeerLeft, api.NotifyPresenceChanged); str(l, "peerId") != carol.peerID() || str(l, "reason") != "disconnected" {
		t.Fatalf("room.peerLeft = %v", l)
	}
	e.must(e.core.Leave(ctx(), alice.ref, "r"))
	_, err = e.core.Join(ctx(), bob.ref, signal.JoinRequest{RoomID: "r"})
	wantErr(t, err, 404, "room_not_found")
	if ids := e.roomIDs(); len(ids) != 0 {
		t.Fatalf("rooms after the last one left: %v", ids)
	}
}

// rolesOwnershipAndKick: only the owner updates, only the owner or a
// moderator kicks; the owner leaving hands ownership to the longest
// present; a kicked peer is told and can no longer relay; a locked room
// refuses joins.
func rolesOwnershipAndKick(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob, carol := e.connect("alice"), e.connect("bob"), e.connect("carol")
	alice.join("r")
	bob.join("r")
	carol.join("r")
	wantErr(t, e.core.Kick(ctx(), bob.ref, "r", carol.peerID()), 403, "owner or a moderator")
	locked := true
	_, err := e.core.Update(ctx(), bob.ref, signal.RoomUpdate{RoomID: "r", Locked: &locked})
	wantErr(t, err, 403, "owner")

	e.must(e.core.Leave(ctx(), alice.ref, "r"))
	bob.expectSkipping(api.NotifyRoomPeerJoined, api.NotifyPresenceChanged)
	bob.expectSkipping(api.NotifyRoomPeerLeft, api.NotifyPresenceChanged)
	up := bob.expectSkipping(api.NotifyRoomUpdated, api.NotifyPresenceChanged)
	first := up["room"].(map[string]any)["peers"].([]any)[0].(map[string]any)
	if str(first, "peerId") != bob.peerID() || str(first, "role") != "owner" {
		t.Fatalf("after the owner left: %v, want bob as owner", first)
	}
	e.must(e.core.Kick(ctx(), bob.ref, "r", carol.peerID()))
	carol.expectSkipping(api.NotifyRoomPeerLeft, api.NotifyPresenceChanged)
	carol.expectSkipping(api.NotifyRoomUpdated, api.NotifyPresenceChanged)
	if k := carol.expectSkipping(api.NotifyRoomPeerLeft, api.NotifyPresenceChanged); str(k, "peerId") != carol.peerID() || str(k, "reason") != "kicked" {
		t.Fatalf("the kicked peer got %v", k)
	}
	wantErr(t, carol.send("r", "", "hi"), 404, "room_not_found")
	wantErr(t, e.core.Kick(ctx(), bob.ref, "r", "nobody"), 404, "peer_not_found")
	info, err := e.core.Update(ctx(), bob.ref, signal.RoomUpdate{RoomID: "r", Locked: &locked, Metadata: []byte(`{"topic":"x"}`)})
	e.must(err)
	if !info.Locked || string(info.Metadata) != `{"topic":"x"}` {
		t.Fatalf("room.update result %+v", info)
	}
	_, err = e.core.Join(ctx(), carol.ref, signal.JoinRequest{RoomID: "r"})
	wantErr(t, err, 409, "locked")
	// An admin is not held to the lock, nor to roles.
	root := e.connectWith("root", "127.0.0.1", signal.Credentials{Identity: "root", Grants: signal.Grants{Admin: true}})
	root.join("r")
	e.must(e.core.Kick(ctx(), nil, "r", root.peerID()))
}

// ownerAndModeratorGrants: a room's owner is its first peer, or a peer
// whose token's owner grant names the room; creating a room owns nothing
// (a creator who joins second cannot take it over); a moderator grant
// makes a moderator, who may kick participants but not owners.
func ownerAndModeratorGrants(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	mallory, alice := e.connect("mallory"), e.connect("alice")
	_, err := e.core.Create(ctx(), mallory.ref, signal.RoomSpec{ID: "standup"})
	e.must(err)
	if res := alice.join("standup"); res.Self.Role != api.RoleOwner {
		t.Fatalf("alice, the first to join, is %s", res.Self.Role)
	}
	if res := mallory.join("standup"); res.Self.Role != api.RoleParticipant {
		t.Fatalf("mallory, the creator joining second, is %s", res.Self.Role)
	}
	wantErr(t, e.core.Kick(ctx(), mallory.ref, "standup", alice.peerID()), 403, "owner or a moderator")
	owner := e.connectWith("olive", "127.0.0.1", signal.Credentials{Identity: "olive", Grants: signal.Grants{Rooms: []string{"other"}, Owner: []string{"standup"}}})
	if res := owner.join("standup"); res.Self.Role != api.RoleOwner {
		t.Fatalf("olive, granted the room's ownership, joined as %s", res.Self.Role)
	}
	wantErr(t, e.core.Kick(ctx(), owner.ref, "standup", alice.peerID()), 403, "cannot be kicked")
	mod := e.connectWith("mod", "127.0.0.1", signal.Credentials{Identity: "mod", Grants: signal.Grants{Moderator: true}})
	if res := mod.join("standup"); res.Self.Role != api.RoleModerator {
		t.Fatalf("a moderator grant joined as %s", res.Self.Role)
	}
	e.must(e.core.Kick(ctx(), mod.ref, "standup", mallory.peerID()))
	wantErr(t, e.core.Kick(ctx(), mod.ref, "standup", owner.peerID()), 403, "cannot be kicked")
	// alice leaves: olive still owns the room, so nobody inherits it.
	e.must(e.core.Leave(ctx(), alice.ref, "standup"))
	info, err := e.core.Get(ctx(), mod.ref, "standup")
	e.must(err)
	for _, p := range info.Peers {
		if p.PeerID == mod.peerID() && p.Role != api.RoleModerator {
			t.Fatalf("the moderator became %s while olive owns the room", p.Role)
		}
	}
	_, err = e.core.Get(ctx(), mallory.ref, "standup")
	wantErr(t, err, 404, "not in it")
}

// updateBounds: maxPeers within the node's limit and not below the
// members; metadata and the duplicate policy change and are told.
func updateBounds(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("u")
	_, err := e.core.Update(ctx(), alice.ref, signal.RoomUpdate{RoomID: "u", MaxPeers: 17})
	wantErr(t, err, 413, "limit of 16")
	_, err = e.core.Update(ctx(), alice.ref, signal.RoomUpdate{RoomID: "u", MaxPeers: 1})
	wantErr(t, err, 409, "below the 2 peers")
	_, err = e.core.Update(ctx(), alice.ref, signal.RoomUpdate{RoomID: "nope"})
	wantErr(t, err, 404, "does not exist")
	info, err := e.core.Update(ctx(), alice.ref, signal.RoomUpdate{RoomID: "u", MaxPeers: 2, Duplicate: api.DuplicatePolicyReject})
	e.must(err)
	if info.MaxPeers != 2 || info.DuplicateIdentity != api.DuplicatePolicyReject {
		t.Fatalf("room.update = %+v", info)
	}
	for _, p := range []*client{alice, bob} {
		up := p.expectSkipping(api.NotifyRoomUpdated, api.NotifyPresenceChanged)
		if r := up["room"].(map[string]any); num(r, "maxPeers") != 2 || str(r, "duplicateIdentity") != "reject" {
			t.Fatalf("room.updated = %v", up)
		}
	}
	_, err = e.core.Update(ctx(), bob.ref, signal.RoomUpdate{RoomID: "u", Duplicate: api.DuplicatePolicyMulti})
	wantErr(t, err, 403, "owner")
	laptop := e.connect("bob")
	_, err = e.core.Join(ctx(), laptop.ref, signal.JoinRequest{RoomID: "u"})
	wantErr(t, err, 409, "reject")
}

// roomFullAndCreateConflicts: maxPeers holds; room ids are unique; maxPeers
// over the node's limit is refused.
func roomFullAndCreateConflicts(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	a, b, c := e.connect("a"), e.connect("b"), e.connect("c")
	_, err := e.core.Create(ctx(), a.ref, signal.RoomSpec{ID: "duo", MaxPeers: 2})
	e.must(err)
	a.join("duo")
	b.join("duo")
	_, err = e.core.Join(ctx(), c.ref, signal.JoinRequest{RoomID: "duo"})
	wantErr(t, err, 486, "room_full")
	_, err = e.core.Create(ctx(), c.ref, signal.RoomSpec{ID: "duo"})
	wantErr(t, err, 409, "already exists")
	_, err = e.core.Create(ctx(), c.ref, signal.RoomSpec{MaxPeers: 17})
	wantErr(t, err, 413, "limit of 16")
	id, err := e.core.Create(ctx(), c.ref, signal.RoomSpec{})
	e.must(err)
	if !api.ValidRoomID(id) {
		t.Fatalf("generated room id %q", id)
	}
}

// roomDuplicatePolicies: a second seat of one identity (alice's laptop
// after her phone) under each room policy, with olga watching.
func roomDuplicatePolicies(t *testing.T, newStore NewStore) {
	for _, policy := range []api.DuplicatePolicy{"", api.DuplicatePolicyMulti, api.DuplicatePolicyReject, api.DuplicatePolicyTakeover} {
		t.Run(fmt.Sprintf("policy %q", policy), func(t *testing.T) {
			e := newEnv(t, newStore)
			olga := e.connect("olga")
			_, err := e.core.Create(ctx(), olga.ref, signal.RoomSpec{ID: "dup", Duplicate: policy})
			e.must(err)
			olga.join("dup")
			phone := e.connect("alice")
			phone.join("dup")
			olga.expectSkipping(api.NotifyRoomPeerJoined, api.NotifyPresenceChanged)
			laptop := e.connect("alice")
			_, err = e.core.Join(ctx(), laptop.ref, signal.JoinRequest{RoomID: "dup"})
			want := []string{olga.peerID(), phone.peerID(), laptop.peerID()}
			switch policy {
			case api.DuplicatePolicyReject:
				wantErr(t, err, 409, "reject")
				want = want[:2]
			case api.DuplicatePolicyTakeover:
				e.must(err)
				for _, p := range []*client{phone, olga} {
					if l := p.expectSkipping(api.NotifyRoomPeerLeft, api.NotifyPresenceChanged); str(l, "peerId") != phone.peerID() || str(l, "reason") != "replaced" {
						t.Fatalf("room.peerLeft = %v, want the phone's seat replaced", l)
					}
				}
				olga.expectSkipping(api.NotifyRoomPeerJoined, api.NotifyPresenceChanged)
				want = []string{olga.peerID(), laptop.peerID()}
				wantErr(t, phone.send("dup", "", "x"), 404, "dup")
				phone.join("dup-elsewhere") // the phone's session lives on
			default:
				e.must(err)
				olga.expectSkipping(api.NotifyRoomPeerJoined, api.NotifyPresenceChanged)
			}
			info, err := e.core.Get(ctx(), olga.ref, "dup")
			e.must(err)
			var got []string
			for _, p := range info.Peers {
				got = append(got, p.PeerID)
			}
			wantPolicy := api.DuplicatePolicyMulti
			if policy != "" {
				wantPolicy = policy
			}
			if !slices.Equal(got, want) || info.DuplicateIdentity != wantPolicy {
				t.Fatalf("room.get: %v with policy %q, want %v and %q", got, info.DuplicateIdentity, want, wantPolicy)
			}
			olga.quiet(api.NotifyPresenceChanged)
		})
	}
}

// roomTakeoverKeepsTheRoom: alone in her takeover room, alice joins again
// from a second session: the room is not destroyed as its last seat goes,
// and the new seat owns it.
func roomTakeoverKeepsTheRoom(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	phone := e.connect("alice")
	_, err := e.core.Create(ctx(), phone.ref, signal.RoomSpec{ID: "solo", Duplicate: api.DuplicatePolicyTakeover})
	e.must(err)
	phone.join("solo")
	laptop := e.connect("alice")
	res := laptop.join("solo")
	if res.Self.Role != api.RoleOwner || len(res.Peers) != 0 {
		t.Fatalf("the laptop joined as %+v, want the owner, alone", res)
	}
	if l := phone.expectSkipping(api.NotifyRoomPeerLeft, api.NotifyPresenceChanged); str(l, "reason") != "replaced" {
		t.Fatalf("the phone's room.peerLeft = %v", l)
	}
	_, err = e.core.Create(ctx(), phone.ref, signal.RoomSpec{ID: "solo"})
	wantErr(t, err, 409, "solo")
}

// createGrants: room.create obeys the token's grants (create; a rooms
// grant naming rooms, owner rooms counting as granted; without a roomId
// only a token admitting any room); admins and app backends are not held
// to them.
func createGrants(t *testing.T, newStore NewStore) {
	cases := []struct {
		name   string
		grants signal.Grants
		roomID string
		want   string // "" = created, else part of the 403's message
	}{
		{"no create grant", signal.Grants{}, "a", "creating rooms"},
		{"inside the rooms grant", signal.Grants{Create: true, Rooms: []string{"a"}}, "a", ""},
		{"outside the rooms grant", signal.Grants{Create: true, Rooms: []string{"a"}}, "b", `does not grant room "b"`},
		{"no roomId, narrow grant", signal.Grants{Create: true, Rooms: []string{"a"}}, "", "name one of them"},
		{"no roomId, any room", signal.Grants{Create: true}, "", ""},
		{"no roomId, star", signal.Grants{Create: true, Rooms: []string{"*"}}, "", ""},
		{"an owner room", signal.Grants{Create: true, Rooms: []string{"a"}, Owner: []string{"o"}}, "o", ""},
		{"admin", signal.Grants{Admin: true, Rooms: []string{"a"}}, "b", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, newStore)
			p := e.connectWith("alice", "127.0.0.1", signal.Credentials{Identity: "alice", Grants: tc.grants, Expires: e.clock.Now().Add(time.Hour)})
			_, err := e.core.Create(ctx(), p.ref, signal.RoomSpec{ID: tc.roomID})
			if tc.want != "" {
				wantErr(t, err, 403, tc.want)
			} else {
				e.must(err)
			}
		})
	}
	e := newEnv(t, newStore)
	_, err := e.core.Create(ctx(), nil, signal.RoomSpec{ID: "backend"})
	e.must(err)
	joiner := e.connectWith("j", "127.0.0.1", signal.Credentials{Identity: "j", Grants: signal.Grants{Rooms: []string{"x"}}})
	_, err = e.core.Join(ctx(), joiner.ref, signal.JoinRequest{RoomID: "backend"})
	wantErr(t, err, 403, `does not grant room "backend"`)
	_, err = e.core.Join(ctx(), joiner.ref, signal.JoinRequest{RoomID: "x", Create: true})
	wantErr(t, err, 403, "creating rooms")
}

// emptyRoomCaps: a session holds at most MaxEmptyRoomsPerSession rooms it
// made that nobody joined, an identity MaxEmptyRoomsPerIdentity over its
// sessions; a room stops counting once anyone joins it; room.join with
// create and app backends are not capped.
func emptyRoomCaps(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore, limits(func(l *signal.Limits) { l.MaxEmptyRoomsPerSession, l.MaxEmptyRoomsPerIdentity = 2, 3 }))
	phone, laptop, bob := e.connect("alice"), e.connect("alice"), e.connect("bob")
	create := func(c *client, id string) error {
		_, err := e.core.Create(ctx(), c.ref, signal.RoomSpec{ID: id})
		return err
	}
	e.must(create(phone, "e1"))
	e.must(create(phone, "e2"))
	wantErr(t, create(phone, "e3"), 413, "this session has made 2 rooms that nobody has joined yet")
	phone.join("j1") // joined at once: not capped
	bob.join("e1")   // anyone's join releases it
	e.must(create(phone, "e3"))
	e.must(create(laptop, "f1"))
	wantErr(t, create(laptop, "f2"), 413, `identity "alice" has made 3 rooms`)
	for i := range 5 {
		_, err := e.core.Create(ctx(), nil, signal.RoomSpec{ID: fmt.Sprint("b", i)})
		e.must(err)
	}
}

// emptyRoomLifetimes: a room a session made waits SessionEmptyRoomTTL for
// its first peer and goes with that session's end (not with a resumable
// drop); an app backend's waits EmptyRoomTTL; a joined room stays.
func emptyRoomLifetimes(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice := e.connect("alice")
	for _, id := range []string{"brief", "kept"} {
		_, err := e.core.Create(ctx(), alice.ref, signal.RoomSpec{ID: id})
		e.must(err)
	}
	alice.join("kept")
	e.noTimer(signal.TimerEmptyRoom, "kept")
	_, err := e.core.Create(ctx(), nil, signal.RoomSpec{ID: "backend"})
	e.must(err)
	e.clock.Advance(30*time.Second - time.Millisecond)
	if ids := e.roomIDs(); !slices.Equal(ids, []string{"backend", "brief", "kept"}) {
		t.Fatalf("rooms before the session TTL: %v", ids)
	}
	e.clock.Advance(time.Millisecond)
	if ids := e.roomIDs(); !slices.Equal(ids, []string{"backend", "kept"}) {
		t.Fatalf("rooms after the session TTL: %v, want brief gone", ids)
	}
	e.clock.Advance(5 * time.Minute)
	if ids := e.roomIDs(); !slices.Equal(ids, []string{"kept"}) {
		t.Fatalf("rooms after the backend TTL: %v, want backend gone", ids)
	}

	dropped, leaving := e.connect("dropped"), e.connect("leaving")
	_, err = e.core.Create(ctx(), dropped.ref, signal.RoomSpec{ID: "d"})
	e.must(err)
	_, err = e.core.Create(ctx(), leaving.ref, signal.RoomSpec{ID: "l"})
	e.must(err)
	dropped.drop()
	leaving.bye()
	if ids := e.roomIDs(); !slices.Equal(ids, []string{"d", "kept"}) {
		t.Fatalf("rooms %v: want d (its session dropped, resumable) and not l (its session ended)", ids)
	}
	_, err = e.core.Create(ctx(), alice.ref, signal.RoomSpec{ID: "l"})
	e.must(err) // the ended session's room is gone for good, its timer too
}

// grantsLapse: a session outlives its token, its grants do not: past exp
// the session keeps its seat and can still message its room, but admin,
// joins, creates and kicks are refused with 401 naming the expiry; a
// resume without a token is refused, and one with a fresh token restores
// exactly the fresh token's grants.
func grantsLapse(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	admin := e.connectWith("root", "127.0.0.1", signal.Credentials{Identity: "root", Grants: signal.Grants{Admin: true, Moderator: true, Create: true}, Expires: e.clock.Now().Add(10 * time.Second)})
	e.must(e.core.Admin(ctx(), admin.ref, "admin.rooms.list"))
	owner, guest := e.connect("owner"), e.connect("guest")
	owner.join("ops")
	admin.join("ops")
	guest.join("ops")

	e.clock.Advance(11 * time.Second)
	wantErr(t, e.core.Admin(ctx(), admin.ref, "admin.rooms.list"), 401, "token expired")
	_, err := e.core.Join(ctx(), admin.ref, signal.JoinRequest{RoomID: "other", Create: true})
	wantErr(t, err, 401, "token expired")
	_, err = e.core.Create(ctx(), admin.ref, signal.RoomSpec{ID: "another"})
	wantErr(t, err, 401, "token expired")
	wantErr(t, e.core.Kick(ctx(), admin.ref, "ops", guest.peerID()), 401, "token expired")
	guest.drain()
	e.must(admin.send("ops", guest.peerID(), "still seated"))
	guest.expect(api.NotifyMessageReceived)

	admin.drop()
	wantErr(t, admin.resume(0), 401, "resume with a fresh token")
	err = admin.resumeWith(signal.Resumption{Params: api.ResumeParams{SessionID: admin.ref.ID, ResumeToken: admin.token}, Identity: "someone-else"})
	wantErr(t, err, 403, "another identity")
	fresh := &signal.Credentials{Identity: "root", Grants: signal.Grants{Create: true}, Expires: e.clock.Now().Add(time.Hour)}
	e.must(admin.resumeWith(signal.Resumption{Params: api.ResumeParams{SessionID: admin.ref.ID, ResumeToken: admin.token}, Identity: "root", Fresh: fresh}))
	wantErr(t, e.core.Admin(ctx(), admin.ref, "admin.rooms.list"), 403, "admin grant")
	admin.join("fresh")
}

// roomLimits: a session's rooms, and the node's, are bounded.
func roomLimits(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore, limits(func(l *signal.Limits) { l.MaxRoomsPerSession, l.MaxRooms = 2, 3 }))
	alice, bob := e.connect("alice"), e.connect("bob")
	alice.join("a")
	alice.join("b")
	_, err := e.core.Join(ctx(), alice.ref, signal.JoinRequest{RoomID: "c", Create: true})
	wantErr(t, err, 413, "at most 2 rooms")
	bob.join("c")
	_, err = e.core.Join(ctx(), bob.ref, signal.JoinRequest{RoomID: "d", Create: true})
	wantErr(t, err, 413, "maximum of 3 rooms")
	_, err = e.core.Create(ctx(), nil, signal.RoomSpec{ID: "d"})
	wantErr(t, err, 413, "maximum of 3 rooms")
}
