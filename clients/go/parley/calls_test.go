package parley_test

import (
	"testing"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/clients/go/parley"
)

// TestCallAndPresence: a bot calls another identity SIP-style through the
// generated methods and hooks, signals in the call's room, hangs up; and
// follows the callee's presence to offline.
func TestCallAndPresence(t *testing.T) {
	p := devServer(t)
	alice := dial(t, p.URL(), "alice", parley.Options{})
	bob := dial(t, p.URL(), "bob", parley.Options{})

	changed := hooked(alice.OnPresenceChanged, 4)
	ringing := hooked(alice.OnCallRinging, 1)
	accepted := hooked(alice.OnCallAccepted, 1)
	aliceEnded := hooked(alice.OnCallEnded, 2)
	incoming := hooked(bob.OnCallIncoming, 2)
	offers := hooked(bob.OnSdpOffer, 1)

	subscribed, err := alice.PresenceSubscribe(ctx(t), &api.PresenceSubscribeParams{Identities: []string{"bob"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := subscribed.Presences; len(got) != 1 || got[0].Status != api.PresenceStatusAvailable || got[0].Devices != 1 {
		t.Fatalf("presence.subscribe: %+v", got)
	}
	if _, err := bob.PresenceSet(ctx(t), &api.PresenceSetParams{Status: api.PresenceSetStatusDnd, Note: "focus"}); err != nil {
		t.Fatal(err)
	}
	if ev := receive(t, changed, "presence.changed"); ev.Status != api.PresenceStatusDnd || ev.Note != "focus" {
		t.Fatalf("presence.changed: %+v", ev)
	}

	if _, err := alice.CallInvite(ctx(t), &api.CallInviteParams{To: "nobody"}); parley.CodeOf(err) != api.CodeUnavailable {
		t.Fatalf("invite to an offline identity: %v, want 480", err)
	}
	inv, err := alice.CallInvite(ctx(t), &api.CallInviteParams{To: "bob", Metadata: []byte(`{"audio":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	in := receive(t, incoming, "call.incoming")
	if in.CallID != inv.CallID || in.From != "alice" || in.ExpiresAt != inv.ExpiresAt {
		t.Fatalf("call.incoming: %+v", in)
	}
	if _, err := bob.CallRinging(ctx(t), &api.CallRingingParams{CallID: in.CallID}); err != nil {
		t.Fatal(err)
	}
	if ev := receive(t, ringing, "call.ringing"); ev.By != "bob" {
		t.Fatalf("call.ringing: %+v", ev)
	}
	room, err := bob.CallAccept(ctx(t), &api.CallAcceptParams{CallID: in.CallID})
	if err != nil {
		t.Fatal(err)
	}
	if room.RoomID != inv.CallID || len(room.Peers) != 1 || room.Peers[0].PeerID != alice.Session().PeerID {
		t.Fatalf("call.accept: %+v", room)
	}
	acc := receive(t, accepted, "call.accepted")
	if acc.Peer.PeerID != bob.Session().PeerID {
		t.Fatalf("call.accepted: %+v", acc)
	}
	if _, err := alice.CallCancel(ctx(t), &api.CallCancelParams{CallID: inv.CallID}); parley.CodeOf(err) != api.CodeConflict {
		t.Fatalf("cancel of an active call: %v, want 409", err)
	}
	if _, err := alice.SdpOffer(ctx(t), &api.SdpOfferParams{RoomID: inv.CallID, To: acc.Peer.PeerID, SDP: rawMinimalSDP}); err != nil {
		t.Fatal(err)
	}
	if ev := receive(t, offers, "sdp.offer"); ev.From != alice.Session().PeerID {
		t.Fatalf("sdp.offer: %+v", ev)
	}
	if _, err := bob.CallHangup(ctx(t), &api.CallHangupParams{CallID: inv.CallID}); err != nil {
		t.Fatal(err)
	}
	if ev := receive(t, aliceEnded, "call.ended"); ev.Code != 200 || ev.Reason != "hangup" || ev.By != "bob" {
		t.Fatalf("call.ended: %+v", ev)
	}

	// Timeout (408) with a short lifetime.
	short, err := alice.CallInvite(ctx(t), &api.CallInviteParams{To: "bob", LifetimeSec: 1})
	if err != nil {
		t.Fatal(err)
	}
	receive(t, incoming, "call.incoming")
	if ev := receive(t, aliceEnded, "call.ended"); ev.CallID != short.CallID || ev.Code != 408 || ev.Reason != "timeout" {
		t.Fatalf("call.ended: %+v", ev)
	}

	// bob's only session ends: offline.
	if err := bob.Close(); err != nil {
		t.Fatal(err)
	}
	if ev := receive(t, changed, "presence.changed"); ev.Status != api.PresenceStatusOffline || ev.Devices != 0 {
		t.Fatalf("presence.changed: %+v", ev)
	}
}
