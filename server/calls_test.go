package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/parley-rtc/parley/api"
)

// ringing connects alice and bob, and alice calls bob: his one device is
// ringing (its call.incoming read) when it returns.
func ringing(t *testing.T, ts *testServer) (alice, bob *peer, callID string) {
	t.Helper()
	alice, bob = ts.connect(t, "alice"), ts.connect(t, "bob")
	callID = invite(t, alice, map[string]any{"to": "bob"})
	bob.expect("call.incoming")
	return alice, bob, callID
}

// invite calls to from caller and returns the call id.
func invite(t *testing.T, caller *peer, params map[string]any) string {
	t.Helper()
	var res struct {
		CallID    string `json:"callId"`
		ExpiresAt int64  `json:"expiresAt"`
	}
	if err := json.Unmarshal(caller.must("call.invite", params), &res); err != nil {
		t.Fatal(err)
	}
	if res.CallID == "" || res.ExpiresAt == 0 {
		t.Fatalf("call.invite result %+v", res)
	}
	return res.CallID
}

// expectEnded waits for call.ended and checks its code and reason.
func expectEnded(t *testing.T, p *peer, callID string, code float64, reason string) map[string]any {
	t.Helper()
	ev := p.expect("call.ended")
	if ev["callId"] != callID || ev["code"] != code || ev["reason"] != reason {
		t.Fatalf("call.ended = %v, want callId %s code %v reason %s", ev, callID, code, reason)
	}
	return ev
}

func TestCallAcceptThenHangup(t *testing.T) {
	for _, who := range []string{"caller", "callee"} {
		t.Run("hangup by "+who, func(t *testing.T) {
			ts := startServer(t)
			alice, bob := ts.connect(t, "alice"), ts.connect(t, "bob")
			id := invite(t, alice, map[string]any{"to": "bob", "metadata": map[string]any{"video": true}})
			in := bob.expect("call.incoming")
			if in["callId"] != id || in["from"] != "alice" || in["metadata"].(map[string]any)["video"] != true || in["expiresAt"].(float64) <= 0 {
				t.Fatalf("call.incoming = %v", in)
			}
			bob.must("call.ringing", map[string]any{"callId": id})
			if ev := alice.expect("call.ringing"); ev["by"] != "bob" {
				t.Fatalf("call.ringing = %v", ev)
			}
			var room struct {
				RoomID string           `json:"roomId"`
				Self   map[string]any   `json:"self"`
				Peers  []map[string]any `json:"peers"`
			}
			if err := json.Unmarshal(bob.must("call.accept", map[string]any{"callId": id}), &room); err != nil {
				t.Fatal(err)
			}
			if room.RoomID != id || room.Self["peerId"] != bob.peerID || len(room.Peers) != 1 || room.Peers[0]["peerId"] != alice.peerID {
				t.Fatalf("call.accept = %+v", room)
			}
			acc := alice.expect("call.accepted")
			if acc["by"] != "bob" || acc["peer"].(map[string]any)["peerId"] != bob.peerID {
				t.Fatalf("call.accepted = %v", acc)
			}
			alice.expect("room.peerJoined")
			// The call's room is an ordinary room of two: relays and messages route.
			alice.must("sdp.offer", map[string]any{"roomId": id, "to": bob.peerID, "sdp": sampleSDP})
			if ev := bob.expect("sdp.offer"); ev["from"] != alice.peerID {
				t.Fatalf("sdp.offer = %v", ev)
			}
			bob.must("message.send", map[string]any{"roomId": id, "data": "hi"})
			alice.expect("message.received")
			// Nobody else gets into it, and the id is taken.
			carol := ts.connect(t, "carol")
			_, err := carol.Call("room.join", map[string]any{"roomId": id})
			rpcError(t, err, 409, "locked")
			_, err = carol.Call("room.create", map[string]any{"roomId": id})
			rpcError(t, err, 409, id)

			hanger, other, otherID := alice, bob, "alice"
			if who == "callee" {
				hanger, other, otherID = bob, alice, "bob"
			}
			hanger.must("call.hangup", map[string]any{"callId": id})
			if ev := expectEnded(t, other, id, 200, "hangup"); ev["by"] != otherID {
				t.Fatalf("by = %v, want %s", ev["by"], otherID)
			}
			other.expect("room.closed")
			hanger.expect("room.closed")
			_, err = hanger.Call("call.hangup", map[string]any{"callId": id})
			rpcError(t, err, 404, "call_not_found")
			// The id is free again.
			hanger.must("room.join", map[string]any{"roomId": id, "create": true})
		})
	}
}

func TestCallReject(t *testing.T) {
	for _, tc := range []struct {
		code   int
		reason string
	}{{486, "busy"}, {603, "declined"}} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			ts := startServer(t)
			alice, bob, id := ringing(t, ts)
			bob.must("call.reject", map[string]any{"callId": id, "code": tc.code})
			if ev := expectEnded(t, alice, id, float64(tc.code), tc.reason); ev["by"] != "bob" {
				t.Fatalf("by = %v", ev["by"])
			}
			_, err := bob.Call("call.accept", map[string]any{"callId": id})
			rpcError(t, err, 404, "call_not_found")
		})
	}
	t.Run("bad code", func(t *testing.T) {
		ts := startServer(t)
		_, bob, id := ringing(t, ts)
		_, err := bob.Call("call.reject", map[string]any{"callId": id, "code": 500})
		rpcError(t, err, -32602, "code")
	})
}

// With two callee devices: 486 on one leaves the other ringing; 603 on one
// ends it on the other too.
func TestCallRejectForked(t *testing.T) {
	ts := startServer(t)
	alice, bob1, bob2 := ts.connect(t, "alice"), ts.connect(t, "bob"), ts.connect(t, "bob")
	id := invite(t, alice, map[string]any{"to": "bob"})
	bob1.expect("call.incoming")
	bob2.expect("call.incoming")
	bob1.must("call.reject", map[string]any{"callId": id, "code": 486})
	_, err := bob1.Call("call.ringing", map[string]any{"callId": id})
	rpcError(t, err, 404, "call_not_found") // no longer its call
	bob2.must("call.ringing", map[string]any{"callId": id})
	alice.expect("call.ringing")
	bob2.must("call.reject", map[string]any{"callId": id, "code": 486})
	expectEnded(t, alice, id, 486, "busy")

	id = invite(t, alice, map[string]any{"to": "bob"})
	bob1.expect("call.incoming")
	bob2.expect("call.incoming")
	bob2.must("call.reject", map[string]any{"callId": id})
	expectEnded(t, alice, id, 603, "declined")
	expectEnded(t, bob1, id, 603, "declined")
}

func TestCallCancel(t *testing.T) {
	ts := startServer(t)
	alice, bob1, bob2 := ts.connect(t, "alice"), ts.connect(t, "bob"), ts.connect(t, "bob")
	id := invite(t, alice, map[string]any{"to": "bob"})
	bob1.expect("call.incoming")
	bob2.expect("call.incoming")
	_, err := bob1.Call("call.cancel", map[string]any{"callId": id})
	rpcError(t, err, 403, "caller")
	alice.must("call.cancel", map[string]any{"callId": id})
	expectEnded(t, bob1, id, 487, "canceled")
	expectEnded(t, bob2, id, 487, "canceled")
	_, err = alice.Call("call.cancel", map[string]any{"callId": id})
	rpcError(t, err, 404, "call_not_found")
}

func TestCallTimeout(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.connect(t, "alice"), ts.connect(t, "bob")
	id := invite(t, alice, map[string]any{"to": "bob", "lifetimeSec": 1})
	bob.expect("call.incoming")
	bob.must("call.ringing", map[string]any{"callId": id})
	alice.expect("call.ringing")
	expectEnded(t, alice, id, 408, "timeout")
	expectEnded(t, bob, id, 408, "timeout")
	_, err := bob.Call("call.accept", map[string]any{"callId": id})
	rpcError(t, err, 404, "call_not_found")
}

func TestCallOffline(t *testing.T) {
	ts := startServer(t)
	alice := ts.connect(t, "alice")
	_, err := alice.Call("call.invite", map[string]any{"to": "nobody"})
	rpcError(t, err, 480, "nobody")
	_, err = alice.Call("call.invite", map[string]any{"to": "alice"})
	rpcError(t, err, 400, "own identity")
}

func TestCallAnsweredElsewhere(t *testing.T) {
	ts := startServer(t)
	alice, bob1, bob2 := ts.connect(t, "alice"), ts.connect(t, "bob"), ts.connect(t, "bob")
	id := invite(t, alice, map[string]any{"to": "bob"})
	bob1.expect("call.incoming")
	bob2.expect("call.incoming")
	bob1.must("call.ringing", map[string]any{"callId": id})
	bob2.must("call.ringing", map[string]any{"callId": id})
	alice.expect("call.ringing")
	alice.expect("call.ringing")
	bob2.must("call.accept", map[string]any{"callId": id})
	if ev := expectEnded(t, bob1, id, 200, "answered_elsewhere"); ev["by"] != "bob" {
		t.Fatalf("by = %v", ev["by"])
	}
	if ev := alice.expect("call.accepted"); ev["peer"].(map[string]any)["peerId"] != bob2.peerID {
		t.Fatalf("call.accepted = %v, want bob2's peer", ev)
	}
	_, err := bob1.Call("call.accept", map[string]any{"callId": id})
	rpcError(t, err, 404, "call_not_found")
}

// Requests the state does not allow are 409 naming the state.
func TestCallOutOfState(t *testing.T) {
	ts := startServer(t)
	alice, bob, id := ringing(t, ts)
	_, err := alice.Call("call.hangup", map[string]any{"callId": id})
	rpcError(t, err, 409, "is calling")
	bob.must("call.ringing", map[string]any{"callId": id})
	alice.expect("call.ringing")
	_, err = bob.Call("call.hangup", map[string]any{"callId": id})
	rpcError(t, err, 409, "is ringing")
	_, err = alice.Call("call.accept", map[string]any{"callId": id})
	rpcError(t, err, 403, "callee")
	bob.must("call.accept", map[string]any{"callId": id})
	alice.expect("call.accepted")
	for _, m := range []string{"call.accept", "call.ringing", "call.reject"} {
		_, err = bob.Call(m, map[string]any{"callId": id})
		rpcError(t, err, 409, "is active")
	}
	_, err = alice.Call("call.cancel", map[string]any{"callId": id})
	rpcError(t, err, 409, "is active")
	// Not a party: not found, whatever the state.
	carol := ts.connect(t, "carol")
	_, err = carol.Call("call.hangup", map[string]any{"callId": id})
	rpcError(t, err, 404, "call_not_found")
}

// A session that ends (not a resumable drop) ends its calls.
func TestCallSessionEnd(t *testing.T) {
	t.Run("caller before answer: cancel", func(t *testing.T) {
		ts := startServer(t)
		alice, bob, id := ringing(t, ts)
		closeNormally(t, alice.Client)
		expectEnded(t, bob, id, 487, "canceled")
	})
	t.Run("last ringing device: unavailable", func(t *testing.T) {
		ts := startServer(t)
		alice, bob, id := ringing(t, ts)
		closeNormally(t, bob.Client)
		expectEnded(t, alice, id, 480, "unavailable")
	})
	t.Run("party of an active call: hangup", func(t *testing.T) {
		ts := startServer(t)
		alice, bob, id := ringing(t, ts)
		bob.must("call.accept", map[string]any{"callId": id})
		alice.expect("call.accepted")
		alice.expect("room.peerJoined")
		closeNormally(t, bob.Client)
		expectEnded(t, alice, id, 200, "hangup")
		alice.expect("room.closed")
	})
	t.Run("room.leave: hangup", func(t *testing.T) {
		ts := startServer(t)
		alice, bob, id := ringing(t, ts)
		bob.must("call.accept", map[string]any{"callId": id})
		alice.expect("call.accepted")
		alice.expect("room.peerJoined")
		alice.must("room.leave", map[string]any{"roomId": id})
		bob.expect("room.peerLeft")
		expectEnded(t, bob, id, 200, "hangup")
		bob.expect("room.closed")
	})
	t.Run("a resumable drop is not an end", func(t *testing.T) {
		ts := startServer(t)
		alice, bob, id := ringing(t, ts)
		_ = bob.Close() // a network drop: the session waits for a resume
		bob2 := ts.connectWith(t, map[string]any{"resume": map[string]any{
			"sessionId": bob.session["sessionId"], "resumeToken": bob.session["resumeToken"], "lastSeq": 1}})
		bob2.must("call.accept", map[string]any{"callId": id})
		alice.expect("call.accepted")
	})
}

// Inputs are bounded: lifetime by the schema, calls per session by the
// server (--max-calls-per-session, 3 here; the invite caps, tested in
// TestCallInviteCaps, out of the way).
func TestCallBounds(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Limits.MaxCallsPerSession, c.Limits.MaxInvitesPerPair = 3, 3 })
	alice, bob := ts.connect(t, "alice"), ts.connect(t, "bob")
	_, err := alice.Call("call.invite", map[string]any{"to": "bob", "lifetimeSec": 301})
	rpcError(t, err, -32602, "lifetimeSec")
	_, err = alice.Call("call.invite", map[string]any{"to": "bob", "metadata": map[string]any{"x": strings.Repeat("a", ts.srv.cfg.Limits.MaxMetadataBytes)}})
	rpcError(t, err, 413, "metadata")
	for range 3 {
		invite(t, alice, map[string]any{"to": "bob"})
		bob.expect("call.incoming")
	}
	_, err = alice.Call("call.invite", map[string]any{"to": "bob"})
	rpcError(t, err, 413, "at most 3 calls")
	// bob's one device has 3 calls ringing and none answered: another
	// caller still reaches it (TestCallBusy).
	carol := ts.connect(t, "carol")
	invite(t, carol, map[string]any{"to": "bob"})
	bob.expect("call.incoming")
}

// TestCallInviteCaps: unanswered invites are capped per caller identity
// (--max-invites-per-caller, 2 here) and per caller–callee pair
// (--max-invites-per-pair, 1), across the caller's sessions; an answered
// or ended invite stops counting.
func TestCallInviteCaps(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Limits.MaxInvitesPerCaller = 2 })
	alice, phone := ts.connect(t, "alice"), ts.connect(t, "alice")
	bob, carol, dave := ts.connect(t, "bob"), ts.connect(t, "carol"), ts.connect(t, "dave")

	toBob := invite(t, alice, map[string]any{"to": "bob"})
	bob.expect("call.incoming")
	for _, p := range []*peer{alice, phone} { // the pair cap is the identity's
		_, err := p.Call("call.invite", map[string]any{"to": "bob"})
		rpcError(t, err, 413, `unanswered invites to "bob"`)
	}
	invite(t, phone, map[string]any{"to": "carol"})
	carol.expect("call.incoming")
	_, err := alice.Call("call.invite", map[string]any{"to": "dave"})
	rpcError(t, err, 413, `identity "alice" has 2 unanswered invites`)

	alice.must("call.cancel", map[string]any{"callId": toBob})
	bob.expect("call.ended")
	toBob = invite(t, alice, map[string]any{"to": "bob"}) // the pair is free again
	bob.expect("call.incoming")
	bob.must("call.accept", map[string]any{"callId": toBob})
	invite(t, alice, map[string]any{"to": "dave"}) // an answered call is no invite
	dave.expect("call.incoming")
}

// TestCallBusy: a callee's device is busy (486) with answered calls only
// (--max-calls-per-session, 1 here); calls ringing on it never make it
// busy, nor keep it from calling out, and it cannot accept past its
// maximum.
func TestCallBusy(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Limits.MaxCallsPerSession = 1 })
	bob := ts.connect(t, "bob")
	var callers []*peer
	var ids []string
	for _, who := range []string{"alice", "carol", "dave"} {
		p := ts.connect(t, who)
		callers = append(callers, p)
		ids = append(ids, invite(t, p, map[string]any{"to": "bob", "lifetimeSec": 300}))
		bob.expect("call.incoming")
	}
	erin := ts.connect(t, "erin")
	toErin := invite(t, bob, map[string]any{"to": "erin"}) // three calls ringing on bob: he still calls out
	erin.expect("call.incoming")
	_, err := bob.Call("call.accept", map[string]any{"callId": ids[0]})
	rpcError(t, err, 413, "at most 1 calls") // his own invite is one of his calls
	bob.must("call.cancel", map[string]any{"callId": toErin})

	bob.must("call.accept", map[string]any{"callId": ids[0]})
	_, err = bob.Call("call.accept", map[string]any{"callId": ids[1]})
	rpcError(t, err, 413, "at most 1 calls")
	_, err = erin.Call("call.invite", map[string]any{"to": "bob"})
	rpcError(t, err, 486, "answered calls")
	callers[0].must("call.hangup", map[string]any{"callId": ids[0]})
	bob.must("call.accept", map[string]any{"callId": ids[2]})
}

// TestCallIDsAreTheServers: call.invite takes no callId, so nobody can
// reserve a room id by naming a call after it; rooms cannot take a live
// call's id either.
func TestCallIDsAreTheServers(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.connect(t, "alice"), ts.connect(t, "bob")
	_, err := alice.Call("call.invite", map[string]any{"to": "bob", "callId": "q"})
	rpcError(t, err, -32602, "callId")
	joinRoom(bob, "q")
	id := invite(t, alice, map[string]any{"to": "bob"})
	if !api.ValidRoomID(id) || len(id) != 16 {
		t.Fatalf("call id %q, want 16 characters of a room id", id)
	}
	_, err = bob.Call("room.join", map[string]any{"roomId": id, "create": true})
	rpcError(t, err, 409, id)
}

func TestCallMetrics(t *testing.T) {
	ts := startServer(t)
	alice, bob, id := ringing(t, ts)
	bob.must("call.accept", map[string]any{"callId": id})
	id = invite(t, alice, map[string]any{"to": "bob"})
	bob.expect("call.incoming")
	bob.must("call.reject", map[string]any{"callId": id})
	_, err := alice.Call("call.invite", map[string]any{"to": "nobody"})
	rpcError(t, err, 480, "nobody")
	expectSeries(t, scrape(t, ts), map[string]float64{
		"parley_calls_total{outcome=answered}": 1,
		"parley_calls_total{outcome=declined}": 1,
		"parley_calls_total{outcome=offline}":  1,
		"parley_calls_total{outcome=timeout}":  0,
		"parley_call_setup_seconds_count":      1,
	})
}
