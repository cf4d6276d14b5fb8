package signaltest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/server/signal"
)

func init() {
	register(
		scenario{"CallAcceptThenHangup", callAcceptThenHangup},
		scenario{"CallReject", callReject},
		scenario{"CallRejectForked", callRejectForked},
		scenario{"CallCancel", callCancel},
		scenario{"CallTimeout", callTimeout},
		scenario{"CallOffline", callOffline},
		scenario{"CallAnsweredElsewhere", callAnsweredElsewhere},
		scenario{"CallOutOfState", callOutOfState},
		scenario{"CallSessionEnd", callSessionEnd},
		scenario{"CallBounds", callBounds},
		scenario{"CallInviteCaps", callInviteCaps},
		scenario{"CallBusy", callBusy},
		scenario{"CallIDsAreTheServers", callIDsAreTheServers},
		scenario{"CallRoomClosedByAdmin", callRoomClosedByAdmin},
		scenario{"CallDoubleAccept", callDoubleAccept},
	)
}

// invite calls to from caller and returns the call id.
func (c *client) invite(to string, lifetime time.Duration) string {
	c.e.t.Helper()
	id, expires, err := c.e.core.Invite(ctx(), c.ref, signal.Invitation{To: to, Lifetime: lifetime})
	if err != nil {
		c.e.t.Fatalf("%s invites %s: %v", c.identity, to, err)
	}
	if !api.ValidRoomID(id) || len(id) != 16 || !expires.Equal(c.e.clock.Now().Add(lifetime)) {
		c.e.t.Fatalf("call.invite gave %q expiring %s", id, expires)
	}
	return id
}

// ringing connects alice and bob, and alice calls bob: his one device has
// read its call.incoming.
func (e *env) ringing() (alice, bob *client, id string) {
	e.t.Helper()
	alice, bob = e.connect("alice"), e.connect("bob")
	id = alice.invite("bob", time.Minute)
	bob.expect(api.NotifyCallIncoming)
	return alice, bob, id
}

// expectEnded reads call.ended and checks its code and reason.
func expectEnded(t *testing.T, c *client, id string, code int64, reason string) map[string]any {
	t.Helper()
	ev := c.expectSkipping(api.NotifyCallEnded, api.NotifyPresenceChanged)
	if str(ev, "callId") != id || num(ev, "code") != code || str(ev, "reason") != reason {
		t.Fatalf("%s: call.ended = %v, want %s %d %s", c.identity, ev, id, code, reason)
	}
	return ev
}

// wantOutcomes checks the call outcomes counted so far.
func (e *env) wantOutcomes(want ...string) {
	e.t.Helper()
	if o, _, _ := e.obs.snapshot(); !slices.Equal(o, want) {
		e.t.Fatalf("call outcomes %v, want %v", o, want)
	}
}

// callAcceptThenHangup: ringing, then accept: the call becomes a locked
// room of two named by the call id, where relays route; a hangup by
// either party ends it for the other and closes the room; the id is free
// again.
func callAcceptThenHangup(t *testing.T, newStore NewStore) {
	for _, who := range []string{"caller", "callee"} {
		t.Run("hangup by "+who, func(t *testing.T) {
			e := newEnv(t, newStore)
			alice, bob := e.connect("alice"), e.connect("bob")
			id, _, err := e.core.Invite(ctx(), alice.ref, signal.Invitation{To: "bob", Metadata: []byte(`{"video":true}`), Lifetime: time.Minute})
			e.must(err)
			in := bob.expect(api.NotifyCallIncoming)
			if str(in, "callId") != id || str(in, "from") != "alice" || in["metadata"].(map[string]any)["video"] != true || num(in, "expiresAt") != e.clock.Now().Add(time.Minute).Unix() {
				t.Fatalf("call.incoming = %v", in)
			}
			e.must(e.core.Ringing(ctx(), bob.ref, id))
			if ev := alice.expect(api.NotifyCallRinging); str(ev, "by") != "bob" {
				t.Fatalf("call.ringing = %v", ev)
			}
			e.clock.Advance(3 * time.Second)
			room, err := e.core.Accept(ctx(), bob.ref, id)
			e.must(err)
			e.noTimer(signal.TimerCall, id)
			if room.RoomID != id || room.Self.PeerID != bob.peerID() || len(room.Peers) != 1 || room.Peers[0].PeerID != alice.peerID() || !room.Peers[0].Polite {
				t.Fatalf("call.accept = %+v", room)
			}
			if acc := alice.expect(api.NotifyCallAccepted); str(acc, "by") != "bob" || peerOf(acc) != bob.peerID() {
				t.Fatalf("call.accepted = %v", acc)
			}
			alice.expect(api.NotifyRoomPeerJoined)
			if _, answered, _ := e.obs.snapshot(); answered != 1 {
				t.Fatalf("%d calls counted answered", answered)
			}
			e.must(alice.offer(id, bob))
			bob.expect(api.NotifySdpOffer)
			e.must(bob.send(id, "", "hi"))
			alice.expect(api.NotifyMessageReceived)
			carol := e.connect("carol")
			_, err = e.core.Join(ctx(), carol.ref, signal.JoinRequest{RoomID: id})
			wantErr(t, err, 409, "locked")
			_, err = e.core.Create(ctx(), carol.ref, signal.RoomSpec{ID: id})
			wantErr(t, err, 409, id)

			hanger, other, by := alice, bob, "alice"
			if who == "callee" {
				hanger, other, by = bob, alice, "bob"
			}
			e.must(e.core.Hangup(ctx(), hanger.ref, id))
			if ev := expectEnded(t, other, id, 200, "hangup"); str(ev, "by") != by {
				t.Fatalf("by = %v, want %s", ev["by"], by)
			}
			other.expect(api.NotifyRoomClosed)
			hanger.expect(api.NotifyRoomClosed)
			wantErr(t, e.core.Hangup(ctx(), hanger.ref, id), 404, "call_not_found")
			hanger.join(id) // the id is free again
		})
	}
}

// callReject: 486 and 603 end a one-device call with their code; the
// rejecting device no longer has the call.
func callReject(t *testing.T, newStore NewStore) {
	for _, tc := range []struct {
		code   int
		reason string
	}{{486, "busy"}, {603, "declined"}} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			e := newEnv(t, newStore)
			alice, bob, id := e.ringing()
			e.must(e.core.Reject(ctx(), bob.ref, id, tc.code))
			if ev := expectEnded(t, alice, id, int64(tc.code), tc.reason); str(ev, "by") != "bob" {
				t.Fatalf("by = %v", ev["by"])
			}
			bob.quiet()
			_, err := e.core.Accept(ctx(), bob.ref, id)
			wantErr(t, err, 404, "call_not_found")
			e.wantOutcomes(tc.reason)
		})
	}
}

// callRejectForked: with two callee devices, 486 on one leaves the other
// ringing; 603 on one ends the call on the other too.
func callRejectForked(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob1, bob2 := e.connect("alice"), e.connect("bob"), e.connect("bob")
	id := alice.invite("bob", time.Minute)
	bob1.expect(api.NotifyCallIncoming)
	bob2.expect(api.NotifyCallIncoming)
	e.must(e.core.Reject(ctx(), bob1.ref, id, 486))
	wantErr(t, e.core.Ringing(ctx(), bob1.ref, id), 404, "call_not_found")
	e.must(e.core.Ringing(ctx(), bob2.ref, id))
	alice.expect(api.NotifyCallRinging)
	e.must(e.core.Reject(ctx(), bob2.ref, id, 486))
	expectEnded(t, alice, id, 486, "busy")

	id = alice.invite("bob", time.Minute)
	bob1.expect(api.NotifyCallIncoming)
	bob2.expect(api.NotifyCallIncoming)
	e.must(e.core.Reject(ctx(), bob2.ref, id, 603))
	expectEnded(t, alice, id, 603, "declined")
	expectEnded(t, bob1, id, 603, "declined")
	bob2.quiet()
}

// callCancel: the caller cancels (487 to every ringing device); a callee
// device may not.
func callCancel(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob1, bob2 := e.connect("alice"), e.connect("bob"), e.connect("bob")
	id := alice.invite("bob", time.Minute)
	bob1.expect(api.NotifyCallIncoming)
	bob2.expect(api.NotifyCallIncoming)
	wantErr(t, e.core.Cancel(ctx(), bob1.ref, id), 403, "caller")
	e.must(e.core.Cancel(ctx(), alice.ref, id))
	expectEnded(t, bob1, id, 487, "canceled")
	expectEnded(t, bob2, id, 487, "canceled")
	wantErr(t, e.core.Cancel(ctx(), alice.ref, id), 404, "call_not_found")
	alice.quiet()
}

// callTimeout: an invite nobody answers ends at its lifetime with 408 for
// the caller and every ringing device.
func callTimeout(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.connect("alice"), e.connect("bob")
	id := alice.invite("bob", 10*time.Second)
	bob.expect(api.NotifyCallIncoming)
	e.must(e.core.Ringing(ctx(), bob.ref, id))
	alice.expect(api.NotifyCallRinging)
	e.clock.Advance(10*time.Second - time.Millisecond)
	alice.quiet()
	e.clock.Advance(time.Millisecond)
	expectEnded(t, alice, id, 408, "timeout")
	expectEnded(t, bob, id, 408, "timeout")
	_, err := e.core.Accept(ctx(), bob.ref, id)
	wantErr(t, err, 404, "call_not_found")
	e.wantOutcomes("timeout")
}

// callOffline: an identity with no session is 480.
func callOffline(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice := e.connect("alice")
	_, _, err := e.core.Invite(ctx(), alice.ref, signal.Invitation{To: "nobody", Lifetime: time.Minute})
	wantErr(t, err, 480, "nobody")
	e.wantOutcomes("offline")
}

// callAnsweredElsewhere: the first device to accept wins; the others get
// 200 answered_elsewhere and lose the call.
func callAnsweredElsewhere(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob1, bob2 := e.connect("alice"), e.connect("bob"), e.connect("bob")
	id := alice.invite("bob", time.Minute)
	bob1.expect(api.NotifyCallIncoming)
	bob2.expect(api.NotifyCallIncoming)
	e.must(e.core.Ringing(ctx(), bob1.ref, id))
	e.must(e.core.Ringing(ctx(), bob2.ref, id))
	alice.expect(api.NotifyCallRinging)
	alice.expect(api.NotifyCallRinging)
	_, err := e.core.Accept(ctx(), bob2.ref, id)
	e.must(err)
	if ev := expectEnded(t, bob1, id, 200, "answered_elsewhere"); str(ev, "by") != "bob" {
		t.Fatalf("by = %v", ev["by"])
	}
	if ev := alice.expect(api.NotifyCallAccepted); peerOf(ev) != bob2.peerID() {
		t.Fatalf("call.accepted = %v, want bob2's peer", ev)
	}
	_, err = e.core.Accept(ctx(), bob1.ref, id)
	wantErr(t, err, 404, "call_not_found")
}

// callOutOfState: requests the state does not allow are 409 naming the
// state; a caller accepting is 403; anyone else is 404.
func callOutOfState(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob, id := e.ringing()
	wantErr(t, e.core.Hangup(ctx(), alice.ref, id), 409, "is calling")
	e.must(e.core.Ringing(ctx(), bob.ref, id))
	alice.expect(api.NotifyCallRinging)
	wantErr(t, e.core.Hangup(ctx(), bob.ref, id), 409, "is ringing")
	_, err := e.core.Accept(ctx(), alice.ref, id)
	wantErr(t, err, 403, "callee")
	_, err = e.core.Accept(ctx(), bob.ref, id)
	e.must(err)
	alice.expect(api.NotifyCallAccepted)
	_, err = e.core.Accept(ctx(), bob.ref, id)
	wantErr(t, err, 409, "is active")
	wantErr(t, e.core.Ringing(ctx(), bob.ref, id), 409, "is active")
	wantErr(t, e.core.Reject(ctx(), bob.ref, id, 603), 409, "is active")
	wantErr(t, e.core.Cancel(ctx(), alice.ref, id), 409, "is active")
	carol := e.connect("carol")
	wantErr(t, e.core.Hangup(ctx(), carol.ref, id), 404, "call_not_found")
}

// callSessionEnd: a session that ends (not a resumable drop) ends its
// calls: a caller's unanswered call is canceled, a last ringing device
// makes it unavailable, an active call is hung up, and so is leaving the
// call's room.
func callSessionEnd(t *testing.T, newStore NewStore) {
	t.Run("caller before answer: cancel", func(t *testing.T) {
		e := newEnv(t, newStore)
		alice, bob, id := e.ringing()
		alice.bye()
		expectEnded(t, bob, id, 487, "canceled")
	})
	t.Run("last ringing device: unavailable", func(t *testing.T) {
		e := newEnv(t, newStore)
		alice, bob, id := e.ringing()
		bob.bye()
		expectEnded(t, alice, id, 480, "unavailable")
		e.wantOutcomes("unavailable")
	})
	t.Run("party of an active call: hangup", func(t *testing.T) {
		e := newEnv(t, newStore)
		alice, bob, id := e.ringing()
		_, err := e.core.Accept(ctx(), bob.ref, id)
		e.must(err)
		alice.expect(api.NotifyCallAccepted)
		alice.expect(api.NotifyRoomPeerJoined)
		bob.bye()
		expectEnded(t, alice, id, 200, "hangup")
		alice.expect(api.NotifyRoomClosed)
	})
	t.Run("room.leave: hangup", func(t *testing.T) {
		e := newEnv(t, newStore)
		alice, bob, id := e.ringing()
		_, err := e.core.Accept(ctx(), bob.ref, id)
		e.must(err)
		alice.expect(api.NotifyCallAccepted)
		alice.expect(api.NotifyRoomPeerJoined)
		e.must(e.core.Leave(ctx(), alice.ref, id))
		bob.expect(api.NotifyRoomPeerLeft)
		if ev := expectEnded(t, bob, id, 200, "hangup"); str(ev, "by") != "alice" {
			t.Fatalf("by = %v", ev["by"])
		}
		bob.expect(api.NotifyRoomClosed)
	})
	t.Run("a resumable drop is not an end", func(t *testing.T) {
		e := newEnv(t, newStore)
		alice, bob, id := e.ringing()
		bob.drop()
		e.must(bob.resume(bob.lastSeq))
		_, err := e.core.Accept(ctx(), bob.ref, id)
		e.must(err)
		alice.expect(api.NotifyCallAccepted)
	})
}

// callBounds: a session takes part in at most MaxCallsPerSession calls as
// caller or answered party; calls ringing on a device do not count.
func callBounds(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore, limits(func(l *signal.Limits) { l.MaxCallsPerSession, l.MaxInvitesPerPair = 3, 3 }))
	alice, bob := e.connect("alice"), e.connect("bob")
	for range 3 {
		alice.invite("bob", time.Minute)
		bob.expect(api.NotifyCallIncoming)
	}
	_, _, err := e.core.Invite(ctx(), alice.ref, signal.Invitation{To: "bob", Lifetime: time.Minute})
	wantErr(t, err, 413, "at most 3 calls")
	carol := e.connect("carol")
	carol.invite("bob", time.Minute) // three ringing on bob: he is not busy
	bob.expect(api.NotifyCallIncoming)
}

// callInviteCaps: unanswered invites are capped per caller identity and
// per caller–callee pair, across the caller's sessions; an answered or
// ended invite stops counting.
func callInviteCaps(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore, limits(func(l *signal.Limits) { l.MaxInvitesPerCaller = 2 }))
	alice, phone := e.connect("alice"), e.connect("alice")
	bob, carol, dave := e.connect("bob"), e.connect("carol"), e.connect("dave")
	toBob := alice.invite("bob", time.Minute)
	bob.expect(api.NotifyCallIncoming)
	for _, p := range []*client{alice, phone} {
		_, _, err := e.core.Invite(ctx(), p.ref, signal.Invitation{To: "bob", Lifetime: time.Minute})
		wantErr(t, err, 413, `unanswered invites to "bob"`)
	}
	phone.invite("carol", time.Minute)
	carol.expect(api.NotifyCallIncoming)
	_, _, err := e.core.Invite(ctx(), alice.ref, signal.Invitation{To: "dave", Lifetime: time.Minute})
	wantErr(t, err, 413, `identity "alice" has 2 unanswered invites`)
	e.must(e.core.Cancel(ctx(), alice.ref, toBob))
	bob.expect(api.NotifyCallEnded)
	toBob = alice.invite("bob", time.Minute)
	bob.expect(api.NotifyCallIncoming)
	_, err = e.core.Accept(ctx(), bob.ref, toBob)
	e.must(err)
	alice.invite("dave", time.Minute) // an answered call is no invite
	dave.expect(api.NotifyCallIncoming)
}

// callBusy: a callee device is busy (486) with answered calls only; calls
// ringing on it never make it busy nor keep it from calling out, and it
// cannot accept past its maximum.
func callBusy(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore, limits(func(l *signal.Limits) { l.MaxCallsPerSession = 1 }))
	bob := e.connect("bob")
	var callers []*client
	var ids []string
	for _, who := range []string{"alice", "carol", "dave"} {
		c := e.connect(who)
		callers = append(callers, c)
		ids = append(ids, c.invite("bob", 5*time.Minute))
		bob.expect(api.NotifyCallIncoming)
	}
	erin := e.connect("erin")
	toErin := bob.invite("erin", time.Minute)
	erin.expect(api.NotifyCallIncoming)
	_, err := e.core.Accept(ctx(), bob.ref, ids[0])
	wantErr(t, err, 413, "at most 1 calls")
	frank := e.connect("frank")
	frank.invite("bob", time.Minute) // nor does his own invite make him busy
	bob.expect(api.NotifyCallIncoming)
	e.must(e.core.Cancel(ctx(), bob.ref, toErin))
	_, err = e.core.Accept(ctx(), bob.ref, ids[0])
	e.must(err)
	_, err = e.core.Accept(ctx(), bob.ref, ids[1])
	wantErr(t, err, 413, "at most 1 calls")
	_, _, err = e.core.Invite(ctx(), erin.ref, signal.Invitation{To: "bob", Lifetime: time.Minute})
	wantErr(t, err, 486, "answered calls")
	e.must(e.core.Hangup(ctx(), callers[0].ref, ids[0]))
	_, err = e.core.Accept(ctx(), bob.ref, ids[2])
	e.must(err)
	e.wantOutcomes("canceled", "busy")
}

// callIDsAreTheServers: a live call's id is taken for rooms.
func callIDsAreTheServers(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.connect("alice"), e.connect("bob")
	id := alice.invite("bob", time.Minute)
	_, err := e.core.Join(ctx(), bob.ref, signal.JoinRequest{RoomID: id, Create: true})
	wantErr(t, err, 409, id)
	_, err = e.core.Create(ctx(), nil, signal.RoomSpec{ID: id})
	wantErr(t, err, 409, "call")
}

// callRoomClosedByAdmin: closing an active call's room ends the call for
// both parties.
func callRoomClosedByAdmin(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob, id := e.ringing()
	_, err := e.core.Accept(ctx(), bob.ref, id)
	e.must(err)
	alice.drain()
	if !e.core.CloseRoom(ctx(), id, "closed_by_admin") {
		t.Fatal("the call's room was not there")
	}
	for _, c := range []*client{alice, bob} {
		expectEnded(t, c, id, 200, "hangup")
		if ev := c.expect(api.NotifyRoomClosed); str(ev, "reason") != "closed_by_admin" {
			t.Fatalf("room.closed = %v", ev)
		}
	}
	wantErr(t, e.core.Hangup(ctx(), alice.ref, id), 404, "call_not_found")
}

// callDoubleAccept: two devices accepting at once, 100 times: exactly one
// wins each time, the other is told answered_elsewhere or finds the call
// gone (404) or no longer its own to accept (409).
func callDoubleAccept(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob1, bob2 := e.connect("alice"), e.connect("bob"), e.connect("bob")
	for round := range 100 {
		id := alice.invite("bob", time.Minute)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, d := range []*client{bob1, bob2} {
			wg.Go(func() { _, errs[i] = e.core.Accept(ctx(), d.ref, id) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d devices won the call (%v)", round, wins, errs)
		}
		e.must(e.core.Hangup(ctx(), alice.ref, id))
		for _, c := range []*client{alice, bob1, bob2} {
			c.drain()
		}
	}
}
