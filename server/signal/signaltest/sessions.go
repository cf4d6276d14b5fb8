package signaltest

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/server/signal"
)

func init() {
	register(
		scenario{"AckTrimsTheLog", ackTrimsTheLog},
		scenario{"ResumeWithinTheWindow", resumeWithinTheWindow},
		scenario{"ResumeLosslessUnderDrops", resumeLosslessUnderDrops},
		scenario{"ResumeGap", resumeGap},
		scenario{"ResumeAfterTheWindow", resumeAfterTheWindow},
		scenario{"ResumeFromALostLog", resumeFromALostLog},
		scenario{"ResumeRefusals", resumeRefusals},
		scenario{"StaleConnectionsWriteNothing", staleConnections},
		scenario{"PeerStateAcrossRooms", peerStateAcrossRooms},
		scenario{"SessionDuplicatePolicies", sessionDuplicatePolicies},
		scenario{"DetachedCaps", detachedCaps},
		scenario{"IceServersRefreshed", iceServersRefreshed},
		scenario{"Drain", drain},
		scenario{"Shutdown", shutdown},
		scenario{"AdminViews", adminViews},
		scenario{"Unconnected", unconnected},
	)
}

// streamTo sends n directed messages from one client to another, numbered
// from first.
func streamTo(t *testing.T, from, to *client, room string, first, n int) {
	t.Helper()
	for i := range n {
		if err := from.send(room, to.peerID(), fmt.Sprint(first+i)); err != nil {
			t.Fatalf("message %d: %v", first+i, err)
		}
	}
}

// expectMessages reads the messages numbered first.. first+n-1.
func expectMessages(t *testing.T, c *client, first, n int) {
	t.Helper()
	for i := range n {
		if m := c.expect(api.NotifyMessageReceived); str(m, "data") != fmt.Sprint(first+i) {
			t.Fatalf("got message %v, want %d", m["data"], first+i)
		}
	}
}

func (e *env) info(c *client) *api.SessionInfo {
	e.t.Helper()
	info, err := e.core.SessionInfo(ctx(), c.ref.ID)
	e.must(err)
	return info
}

// ackTrimsTheLog: acknowledged notifications leave the log, an ack from
// the future is refused, an older ack changes nothing, a resume from the
// acknowledged seq replays what came after, and one from before it is a
// gap.
func ackTrimsTheLog(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("a")
	streamTo(t, alice, bob, "a", 0, 10)
	expectMessages(t, bob, 0, 10)
	last := bob.lastSeq
	if info := e.info(bob); info.AckedSeq != 0 || info.ReplayMessages != last || info.LastSeq != last {
		t.Fatalf("before any ack: %+v", info)
	}
	e.must(e.core.Ack(ctx(), bob.ref, last-5))
	if info := e.info(bob); info.AckedSeq != last-5 || info.ReplayMessages != 5 {
		t.Fatalf("after acking %d: %+v", last-5, info)
	}
	wantErr(t, e.core.Ack(ctx(), bob.ref, last+1), 400, "ahead")
	e.must(e.core.Ack(ctx(), bob.ref, 1))
	e.must(e.core.Ack(ctx(), bob.ref, last-3))
	if info := e.info(bob); info.AckedSeq != last-3 || info.ReplayMessages != 3 {
		t.Fatalf("after acking %d: %+v", last-3, info)
	}
	bob.drop()
	alice.expect(api.NotifyRoomPeerState)
	e.must(bob.resume(last - 3))
	expectMessages(t, bob, 7, 3)
	alice.expect(api.NotifyRoomPeerState)
	bob.drop()
	alice.expect(api.NotifyRoomPeerState)
	wantErr(t, bob.resume(last-4), 410, "resume_gap")
}

// resumeWithinTheWindow: a dropped session keeps its seats; its peers see
// it reconnecting, what they send meanwhile waits in its log, and a
// resume replays it, rotates the token and shows it connected; a resume
// while the old connection is still open takes over from it (closed as
// replaced) without the peers seeing a drop.
func resumeWithinTheWindow(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("w")
	bob.drop()
	if ps := alice.expect(api.NotifyRoomPeerState); str(ps, "peerId") != bob.peerID() || str(ps, "state") != "reconnecting" {
		t.Fatalf("room.peerState = %v", ps)
	}
	info, err := e.core.Get(ctx(), alice.ref, "w")
	e.must(err)
	if info.Peers[1].State != api.PeerStateReconnecting {
		t.Fatalf("room.get while bob is away: %+v", info.Peers)
	}
	streamTo(t, alice, bob, "w", 0, 3)
	e.must(alice.send("w", "", "to all"))
	used := bob.token
	if !e.timer(signal.TimerResume, bob.ref.ID) {
		t.Fatal("no resume window set for the dropped session")
	}
	e.must(bob.resume(bob.lastSeq))
	e.noTimer(signal.TimerResume, bob.ref.ID)
	expectMessages(t, bob, 0, 3)
	if m := bob.expect(api.NotifyMessageReceived); str(m, "data") != "to all" || m["private"] != false {
		t.Fatalf("the room message replayed as %v", m)
	}
	if ps := alice.expect(api.NotifyRoomPeerState); str(ps, "state") != "connected" {
		t.Fatalf("room.peerState = %v", ps)
	}
	info, err = e.core.Get(ctx(), alice.ref, "w")
	e.must(err)
	if info.Peers[1].State != "" {
		t.Fatalf("room.get after the resume: %+v", info.Peers)
	}
	err = bob.resumeWith(signal.Resumption{Params: api.ResumeParams{SessionID: bob.ref.ID, ResumeToken: used}})
	wantErr(t, err, 401, "resumeToken")

	old := bob.conn
	e.must(bob.resume(bob.lastSeq))
	if reason, text := old.closed, old.text; reason != signal.CloseReplaced || text == "" {
		t.Fatalf("the superseded connection closed with %d %q, want replaced", reason, text)
	}
	e.must(alice.send("w", bob.peerID(), "live"))
	if m := bob.expect(api.NotifyMessageReceived); str(m, "data") != "live" {
		t.Fatalf("got %v", m)
	}
	alice.quiet()
}

// resumeLosslessUnderDrops: 500 numbered messages to bob, his connection
// dropped at several points; each time he resumes from the last seq he
// processed and sees every message once, in order, with the same peer id.
func resumeLosslessUnderDrops(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore, func(_ *signal.Config, s *signal.StoreConfig) { s.ReplayMessages = 1024 })
	alice, bob := e.roomOfTwo("cut")
	cuts := []int{1, 77, 78, 250, 499}
	next := 0
	for n := range 500 {
		e.must(alice.send("cut", bob.peerID(), fmt.Sprint(n)))
		if slices.Contains(cuts, n) {
			expectMessages(t, bob, next, n+1-next)
			next = n + 1
			bob.drop()
			alice.expect(api.NotifyRoomPeerState)
			// More arrive while he is away.
			streamTo(t, alice, bob, "cut", 1000+n, 2)
			e.must(bob.resume(bob.lastSeq))
			expectMessages(t, bob, 1000+n, 2)
			alice.expect(api.NotifyRoomPeerState)
		}
	}
	expectMessages(t, bob, next, 500-next)
	bob.quiet()
}

// resumeGap: more notifications than the log holds while bob is away:
// the resume is refused with 410 and the session ends (its peers see it
// disconnected); a fresh session rejoins with rejoin and gets the roster
// as room.snapshot in seq order.
func resumeGap(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore, func(_ *signal.Config, s *signal.StoreConfig) { s.ReplayMessages = 4 })
	alice, bob := e.roomOfTwo("g")
	bob.drop()
	alice.expect(api.NotifyRoomPeerState)
	streamTo(t, alice, bob, "g", 0, 6)
	wantErr(t, bob.resume(bob.lastSeq), 410, "resume_gap")
	if l := alice.expect(api.NotifyRoomPeerLeft); str(l, "reason") != "disconnected" {
		t.Fatalf("after the gap alice got %v", l)
	}
	wantErr(t, bob.resume(bob.lastSeq), 404, "session_not_found")
	fresh := e.connect("bob")
	res, err := e.core.Join(ctx(), fresh.ref, signal.JoinRequest{RoomID: "g", Rejoin: true})
	e.must(err)
	snap := fresh.expectSkipping(api.NotifyRoomSnapshot, api.NotifyPresenceChanged)
	peers := snap["peers"].([]any)
	if len(res.Peers) != 1 || len(peers) != 1 || str(peers[0].(map[string]any), "peerId") != alice.peerID() || peers[0].(map[string]any)["polite"] != true {
		t.Fatalf("room.snapshot = %v", snap)
	}
}

// resumeAfterTheWindow: a session that does not come back within the
// window leaves its rooms with reason timeout, once; a late resume is
// 404.
func resumeAfterTheWindow(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("w")
	bob.drop()
	alice.expect(api.NotifyRoomPeerState)
	e.clock.Advance(30*time.Second - time.Millisecond)
	alice.quiet(api.NotifyPresenceChanged)
	e.clock.Advance(time.Millisecond)
	if l := alice.expectSkipping(api.NotifyRoomPeerLeft, api.NotifyPresenceChanged); str(l, "peerId") != bob.peerID() || str(l, "reason") != "timeout" {
		t.Fatalf("room.peerLeft = %v", l)
	}
	e.clock.Advance(time.Minute)
	alice.quiet(api.NotifyPresenceChanged)
	info, err := e.core.Get(ctx(), alice.ref, "w")
	e.must(err)
	if len(info.Peers) != 1 {
		t.Fatalf("room after the timeout: %+v", info)
	}
	wantErr(t, bob.resume(0), 404, "session_not_found")
}

// resumeFromALostLog: a session whose log was lost (a Redis failover)
// cannot tell what its client missed: its resume answers 410, even from
// its latest seq, never a silent gap.
func resumeFromALostLog(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("l")
	streamTo(t, alice, bob, "l", 0, 2)
	expectMessages(t, bob, 0, 2)
	bob.drop()
	alice.expect(api.NotifyRoomPeerState)
	e.store.(Testable).LoseLog(bob.ref.ID)
	wantErr(t, bob.resume(bob.lastSeq), 410, "resume_gap")
	if l := alice.expect(api.NotifyRoomPeerLeft); str(l, "reason") != "disconnected" {
		t.Fatalf("after the gap alice got %v", l)
	}
}

// resumeRefusals: a wrong token, a lastSeq from the future, another
// identity's credentials, an unknown session.
func resumeRefusals(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	_, bob := e.roomOfTwo("r")
	bob.drop()
	err := bob.resumeWith(signal.Resumption{Params: api.ResumeParams{SessionID: bob.ref.ID, ResumeToken: "guess"}})
	wantErr(t, err, 401, "resumeToken")
	wantErr(t, bob.resume(99), 400, "ahead")
	err = bob.resumeWith(signal.Resumption{Params: api.ResumeParams{SessionID: bob.ref.ID, ResumeToken: bob.token}, Identity: "mallory"})
	wantErr(t, err, 403, "another identity")
	err = bob.resumeWith(signal.Resumption{Params: api.ResumeParams{SessionID: "nope", ResumeToken: bob.token}})
	wantErr(t, err, 404, "session_not_found")
	e.must(bob.resume(0)) // none of those cost the session anything
}

// staleConnections: once a session resumed on a new connection, the old
// one (still closing) acts for nothing, and its end changes nothing.
func staleConnections(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("s")
	stale := *bob.ref
	e.must(bob.resume(bob.lastSeq))
	err := e.core.Send(ctx(), &stale, alice.peerID(), &api.MessageReceivedEvent{RoomID: "s", MessageID: "m"})
	wantErr(t, err, 401, "resumed on another connection")
	wantErr(t, e.core.Leave(ctx(), &stale, "s"), 401, "resumed on another connection")
	e.core.ConnEnded(ctx(), &stale, true, "peer_gone")
	alice.quiet()
	if info := e.info(bob); info.State != api.SessionStateConnected {
		t.Fatalf("bob after his old connection ended: %+v", info)
	}
	e.must(bob.send("s", alice.peerID(), "still here"))
	alice.expect(api.NotifyMessageReceived)
}

// peerStateAcrossRooms: a drop and a resume are told in every room of the
// session, to the others only.
func peerStateAcrossRooms(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob, carol := e.connect("alice"), e.connect("bob"), e.connect("carol")
	alice.join("one")
	alice.join("two")
	bob.join("one")
	carol.join("two")
	for _, c := range []*client{alice, bob, carol} {
		c.drain()
	}
	alice.drop()
	for _, c := range []*client{bob, carol} {
		if ps := c.expect(api.NotifyRoomPeerState); str(ps, "peerId") != alice.peerID() || str(ps, "state") != "reconnecting" {
			t.Fatalf("%s got %v", c.identity, ps)
		}
	}
	e.must(alice.resume(alice.lastSeq))
	for _, c := range []*client{bob, carol} {
		if ps := c.expect(api.NotifyRoomPeerState); str(ps, "state") != "connected" {
			t.Fatalf("%s got %v", c.identity, ps)
		}
	}
	alice.quiet()
}

// sessionDuplicatePolicies: multi allows two sessions of an identity,
// takeover replaces the old one (session.replaced, its connection closed
// as replaced, its seats gone as replaced), reject refuses the new one
// with 409; a resume is never a duplicate.
func sessionDuplicatePolicies(t *testing.T, newStore NewStore) {
	policy := func(p string) option { return func(c *signal.Config, _ *signal.StoreConfig) { c.Duplicate = p } }
	t.Run("multi", func(t *testing.T) {
		e := newEnv(t, newStore)
		a1, a2 := e.connect("ann"), e.connect("ann")
		if a1.peerID() == a2.peerID() || a1.ref.ID == a2.ref.ID {
			t.Fatal("two sessions share an id")
		}
		a1.join("m")
		a2.join("m")
	})
	t.Run("takeover", func(t *testing.T) {
		e := newEnv(t, newStore, policy(signal.DuplicateTakeover))
		watcher, old := e.connect("w"), e.connect("ann")
		watcher.join("t")
		old.join("t")
		watcher.drain()
		old.drain()
		fresh := e.connect("ann")
		if rep := old.expect(api.NotifySessionReplaced); num(rep, "seq") == 0 || str(rep, "reason") == "" {
			t.Fatalf("session.replaced = %v", rep)
		}
		if reason, _ := old.closedWith(); reason != signal.CloseReplaced {
			t.Fatalf("the old connection closed with %d, want replaced", reason)
		}
		if l := watcher.expectSkipping(api.NotifyRoomPeerLeft, api.NotifyPresenceChanged); str(l, "peerId") != old.peerID() || str(l, "reason") != "replaced" {
			t.Fatalf("watcher got %v", l)
		}
		wantErr(t, old.resume(0), 404, "session_not_found")
		fresh.join("t")
	})
	t.Run("reject", func(t *testing.T) {
		e := newEnv(t, newStore, policy(signal.DuplicateReject))
		first := e.connect("ann")
		_, err := e.open("ann", "127.0.0.1", signal.Credentials{Identity: "ann"})
		wantErr(t, err, 409, "duplicate-identity policy: reject")
		first.drop()
		e.must(first.resume(0)) // its own resume is no duplicate
		first.bye()
		if ids := e.core.SessionsOf(ctx(), "ann"); len(ids) != 0 {
			t.Fatalf("ann's sessions after goodbye: %v", ids)
		}
		e.connect("ann")
	})
}

// detachedCaps: detached sessions are bounded per address and per
// identity, the oldest ending first (its peers see it time out); they
// count against a new connection's address cap through
// EndOldestDetached.
func detachedCaps(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore, limits(func(l *signal.Limits) { l.MaxDetachedPerIP, l.MaxDetachedPerIdentity = 3, 2 }))
	watcher := e.connectWith("watcher", "192.0.2.9", signal.Credentials{Identity: "watcher", Grants: signal.Grants{Create: true}})
	x := []*client{e.connect("x"), e.connect("x"), e.connect("x")}
	x[0].join("r")
	watcher.join("r")
	for _, c := range x {
		e.clock.Advance(time.Millisecond)
		c.drop()
	}
	if n := e.core.Count(ctx()); n.Detached != 2 || n.Attached != 1 {
		t.Fatalf("counts %+v, want 2 of x's 3 dropped sessions held", n)
	}
	watcher.expectSkipping(api.NotifyRoomPeerState, api.NotifyPresenceChanged)
	if l := watcher.expectSkipping(api.NotifyRoomPeerLeft, api.NotifyPresenceChanged); str(l, "reason") != "timeout" {
		t.Fatalf("the oldest ended early; its peer got %v", l)
	}
	wantErr(t, x[0].resume(0), 404, "session_not_found")

	for _, c := range []*client{e.connect("y"), e.connect("z")} {
		e.clock.Advance(time.Millisecond)
		c.drop()
	}
	if n := e.core.DetachedFrom(ctx(), "127.0.0.1"); n != 3 {
		t.Fatalf("%d detached sessions from one address, want 3", n)
	}
	if _, _, ended := e.obs.snapshot(); !slices.Equal(ended, []string{signal.CapIdentity, signal.CapAddress}) {
		t.Fatalf("ended early by %v, want identity then address", ended)
	}
	wantErr(t, x[1].resume(0), 404, "session_not_found") // the address's oldest
	e.core.EndOldestDetached(ctx(), "127.0.0.1")
	if n := e.core.DetachedFrom(ctx(), "127.0.0.1"); n != 2 {
		t.Fatalf("%d detached after making room, want 2", n)
	}
	wantErr(t, x[2].resume(0), 404, "session_not_found")
}

// iceServersRefreshed: with a refresh period every session gets fresh ICE
// servers that often (kept in its log while detached); the refresh ends
// with the session.
func iceServersRefreshed(t *testing.T, newStore NewStore) {
	var issued atomic.Int64
	e := newEnv(t, newStore, func(c *signal.Config, _ *signal.StoreConfig) {
		c.RefreshEvery = time.Second
		c.ICEServers = func(identity string) ([]api.IceServer, int64) {
			n := issued.Add(1)
			return []api.IceServer{{URLs: []string{"turn:192.0.2.1"}, Username: fmt.Sprint(n, ":", identity)}}, n
		}
	})
	alice := e.connect("alice")
	for i := range 2 {
		e.clock.Advance(time.Second)
		ev := alice.expect(api.NotifyIceServersRefreshed)
		if num(ev, "expiresAt") != int64(i+1) {
			t.Fatalf("refresh %d: %v", i, ev)
		}
	}
	alice.drop()
	e.clock.Advance(time.Second)
	e.must(alice.resume(alice.lastSeq))
	alice.expect(api.NotifyIceServersRefreshed)
	alice.bye()
	e.noTimer(signal.TimerRefresh, alice.ref.ID)
	before := issued.Load()
	e.clock.Advance(10 * time.Second)
	if issued.Load() != before {
		t.Fatal("servers refreshed for a session that ended")
	}
}

// drain: a draining node refuses new sessions (503 with retryAfterMs) and
// still resumes its own; every session of the node, detached ones too,
// is told once.
func drain(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.connect("alice"), e.connect("bob")
	bob.drop()
	deadline := e.clock.Now().Add(30 * time.Second)
	n, err := e.core.Drain(ctx(), deadline, 30*time.Second)
	e.must(err)
	if n != 2 {
		t.Fatalf("%d sessions told, want 2", n)
	}
	if ev := alice.expect(api.NotifySessionDraining); num(ev, "deadline") != deadline.UnixMilli() || num(ev, "retryAfterMs") != 30_000 {
		t.Fatalf("session.draining = %v", ev)
	}
	_, err = e.open("carol", "127.0.0.1", signal.Credentials{Identity: "carol"})
	wantErr(t, err, 503, "retryAfterMs")
	e.must(bob.resume(bob.lastSeq))
	bob.expectSkipping(api.NotifySessionDraining, api.NotifyPresenceChanged)
	if got := e.core.Sessions(ctx()); got != 2 {
		t.Fatalf("%d sessions, want 2", got)
	}
}

// shutdown: every room is closed (room.closed with the reason) and every
// session of the node ends.
func shutdown(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("r")
	bob.drop()
	alice.expect(api.NotifyRoomPeerState)
	e.must(e.core.Shutdown(ctx(), "server_shutdown"))
	if ev := alice.expect(api.NotifyRoomClosed); str(ev, "reason") != "server_shutdown" {
		t.Fatalf("room.closed = %v", ev)
	}
	if ids := e.roomIDs(); len(ids) != 0 {
		t.Fatalf("rooms after shutdown: %v", ids)
	}
	if n := e.core.Sessions(ctx()); n != 0 {
		t.Fatalf("%d sessions after shutdown", n)
	}
	wantErr(t, bob.resume(0), 404, "session_not_found")
}

// adminViews: the admin's and metrics' views of the state.
func adminViews(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("r")
	alice.join("q")
	carol := e.connect("carol")
	carol.drop()
	info := e.info(alice)
	if info.State != api.SessionStateConnected || !slices.Equal(info.Rooms, []string{"q", "r"}) || info.Remote != "127.0.0.1" || info.LastSeq != alice.lastSeq {
		t.Fatalf("alice: %+v", info)
	}
	if info := e.info(carol); info.State != api.SessionStateReconnecting || info.Remote != "" {
		t.Fatalf("carol: %+v", info)
	}
	_, err := e.core.SessionInfo(ctx(), "nope")
	wantErr(t, err, 404, "session_not_found")
	if n := e.core.Count(ctx()); n.Attached != 2 || n.Detached != 1 || n.ReplayFrames == 0 || n.ReplayBytes == 0 {
		t.Fatalf("counts %+v", n)
	}
	all := []string{alice.ref.ID, bob.ref.ID, carol.ref.ID}
	slices.Sort(all)
	page, err := e.core.SessionPage(ctx(), "", "", 2)
	e.must(err)
	if len(page.Sessions) != 2 || !page.More || page.Sessions[0].SessionID != all[0] || page.Sessions[1].SessionID != all[1] {
		t.Fatalf("first page %+v", page)
	}
	page, err = e.core.SessionPage(ctx(), "", all[1], 2)
	e.must(err)
	if len(page.Sessions) != 1 || page.More || page.Sessions[0].SessionID != all[2] {
		t.Fatalf("second page %+v", page)
	}
	page, err = e.core.SessionPage(ctx(), "bob", "", 0)
	e.must(err)
	if len(page.Sessions) != 1 || page.Sessions[0].SessionID != bob.ref.ID {
		t.Fatalf("bob's sessions %+v", page)
	}
	if sizes := e.core.RoomSizes(ctx()); !slices.Equal(sorted(sizes), []int{1, 2}) {
		t.Fatalf("room sizes %v", sizes)
	}
	if got, err := e.core.Get(ctx(), nil, "r"); err != nil || len(got.Peers) != 2 {
		t.Fatalf("admin room.get: %+v %v", got, err)
	}
	wantErr(t, e.core.Admin(ctx(), alice.ref, "admin.rooms.list"), 403, "admin grant")
	e.must(e.core.Admin(ctx(), nil, "admin.rooms.list"))
	if !e.core.CloseRoom(ctx(), "r", "closed_by_admin") || e.core.CloseRoom(ctx(), "r", "again") {
		t.Fatal("CloseRoom: want true once, then false")
	}
	for _, c := range []*client{alice, bob} {
		if ev := c.expectSkipping(api.NotifyRoomClosed, api.NotifyPresenceChanged); str(ev, "reason") != "closed_by_admin" {
			t.Fatalf("room.closed = %v", ev)
		}
	}
	if info := e.info(bob); len(info.Rooms) != 0 {
		t.Fatalf("bob's rooms after the close: %v", info.Rooms)
	}
}

func sorted(s []int) []int {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// unconnected: Unconnected lists the sessions attached to this node whose
// connection the caller does not hold (their end could not be written),
// not the detached ones; a ConnEnded with what it returned detaches them.
func unconnected(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("r")
	bob.drop()
	alice.expect(api.NotifyRoomPeerState)
	refs, err := e.core.Unconnected(ctx(), func(string) bool { return false })
	e.must(err)
	if len(refs) != 1 || refs[0] != *alice.ref {
		t.Fatalf("unconnected %+v, want alice's %+v", refs, alice.ref)
	}
	if refs, _ := e.core.Unconnected(ctx(), func(string) bool { return true }); len(refs) != 0 {
		t.Fatalf("with every connection held: %+v", refs)
	}
	e.must(e.core.ConnEnded(ctx(), &refs[0], true, "orphaned"))
	if n := e.core.Count(ctx()); n.Attached != 0 || n.Detached != 2 {
		t.Fatalf("counts %+v after the orphan's end", n)
	}
}
