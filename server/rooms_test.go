package server

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/internal/testkit"
)

// joinRoom has p join roomID (creating it) and returns the result.
func joinRoom(p *peer, roomID string) map[string]any {
	p.t.Helper()
	var res map[string]any
	if err := p.CallInto("room.join", map[string]any{"roomId": roomID, "create": true}, &res); err != nil {
		p.t.Fatalf("room.join %s: %v", roomID, err)
	}
	return res
}

func TestTwoPeersNegotiate(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.connect(t, "alice"), ts.connect(t, "bob")

	joined := joinRoom(alice, "r1")
	if self := joined["self"].(map[string]any); self["role"] != "owner" || self["peerId"] != alice.peerID {
		t.Fatalf("alice joined as %v, want owner with her peer id", self)
	}
	res := joinRoom(bob, "r1")
	if peers := res["peers"].([]any); len(peers) != 1 || peers[0].(map[string]any)["identity"] != "alice" {
		t.Fatalf("bob sees peers %v, want [alice]", peers)
	}
	pj := alice.expect("room.peerJoined")
	if pj["peer"].(map[string]any)["peerId"] != bob.peerID || pj["seq"] != 1.0 {
		t.Fatalf("room.peerJoined = %v", pj)
	}

	alice.must("sdp.offer", map[string]any{"roomId": "r1", "to": bob.peerID, "sdp": sampleSDP})
	offer := bob.expect("sdp.offer")
	if offer["from"] != alice.peerID || offer["sdp"] != sampleSDP || offer["roomId"] != "r1" || offer["seq"] != 1.0 {
		t.Fatalf("sdp.offer = %v", offer)
	}
	bob.must("sdp.answer", map[string]any{"roomId": "r1", "to": alice.peerID, "sdp": sampleSDP})
	if a := alice.expect("sdp.answer"); a["from"] != bob.peerID || a["seq"] != 2.0 {
		t.Fatalf("sdp.answer = %v", a)
	}
	cand := map[string]any{"candidate": sampleCandidate, "sdpMid": "0", "sdpMLineIndex": 0}
	alice.must("ice.candidate", map[string]any{"roomId": "r1", "to": bob.peerID, "candidate": cand})
	if c := bob.expect("ice.candidate"); c["from"] != alice.peerID || c["candidate"].(map[string]any)["candidate"] != sampleCandidate || c["seq"] != 2.0 {
		t.Fatalf("ice.candidate = %v", c)
	}
	alice.must("ice.candidate", map[string]any{"roomId": "r1", "to": bob.peerID, "candidate": nil})
	if c := bob.expect("ice.candidate"); c["candidate"] != nil {
		t.Fatalf("end-of-candidates relayed as %v, want null", c["candidate"])
	}

	sent := alice.must("message.send", map[string]any{"roomId": "r1", "data": map[string]any{"hello": []any{1, "two"}}})
	m := bob.expect("message.received")
	if m["from"] != alice.peerID || m["private"] != false || fmt.Sprint(m["data"]) != "map[hello:[1 two]]" {
		t.Fatalf("message.received = %v", m)
	}
	if string(sent) == "" || m["messageId"] == "" {
		t.Fatalf("message ids: result %s, event %v", sent, m["messageId"])
	}
	bob.must("message.send", map[string]any{"roomId": "r1", "to": alice.peerID, "data": "psst"})
	if m := alice.expect("message.received"); m["private"] != true || m["data"] != "psst" {
		t.Fatalf("directed message.received = %v", m)
	}
}

func TestSpoofedFromIsRefused(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.roomOfTwo(t, "r")
	_, err := bob.Call("sdp.offer", map[string]any{"roomId": "r", "to": alice.peerID, "sdp": sampleSDP, "from": "someone-else"})
	rpcError(t, err, -32602, "from")
	// Nothing was relayed: the next thing alice sees is a real offer from bob.
	bob.must("sdp.offer", map[string]any{"roomId": "r", "to": alice.peerID, "sdp": sampleSDP})
	if o := alice.expect("sdp.offer"); o["from"] != bob.peerID {
		t.Fatalf("from = %v, want %s", o["from"], bob.peerID)
	}
}

func TestGarbageIsNeverRelayed(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.roomOfTwo(t, "r")
	cases := []struct {
		name   string
		method string
		params map[string]any
		code   int64
		field  string
	}{
		{"garbage sdp", "sdp.offer", map[string]any{"roomId": "r", "to": bob.peerID, "sdp": "hello"}, -32602, `"field":"sdp"`},
		{"garbage candidate", "ice.candidate", map[string]any{"roomId": "r", "to": bob.peerID, "candidate": map[string]any{"candidate": "candidate:x y z", "sdpMid": "0"}}, -32602, `"field":"candidate.candidate"`},
		{"candidate without mid", "ice.candidate", map[string]any{"roomId": "r", "to": bob.peerID, "candidate": map[string]any{"candidate": sampleCandidate}}, -32602, `"field":"candidate"`},
		{"wrong type", "sdp.offer", map[string]any{"roomId": "r", "to": bob.peerID, "sdp": 42}, -32602, `"field":"sdp"`},
		{"bad room id", "sdp.offer", map[string]any{"roomId": "no spaces", "to": bob.peerID, "sdp": sampleSDP}, -32602, `"field":"roomId"`},
		{"missing to", "sdp.answer", map[string]any{"roomId": "r", "sdp": sampleSDP}, -32602, `"field":"to"`},
		{"unknown peer", "sdp.offer", map[string]any{"roomId": "r", "to": "nobody", "sdp": sampleSDP}, 404, "peer_not_found"},
		{"not a member", "sdp.offer", map[string]any{"roomId": "other", "to": bob.peerID, "sdp": sampleSDP}, 404, "room_not_found"},
		{"to self", "message.send", map[string]any{"roomId": "r", "to": alice.peerID, "data": 1}, 400, "own peer id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := alice.Call(tc.method, tc.params)
			rpcError(t, err, tc.code, tc.field)
		})
	}
	alice.must("message.send", map[string]any{"roomId": "r", "data": "after"})
	if m := bob.expect("message.received"); m["data"] != "after" {
		t.Fatalf("bob's first notification is %v, want the message sent after the garbage", m)
	}
}

func TestTenPeersInARoom(t *testing.T) {
	ts := startServer(t)
	peers := make([]*peer, 10)
	for i := range peers {
		peers[i] = ts.connect(t, fmt.Sprintf("p%d", i))
		res := joinRoom(peers[i], "big")
		if n := len(res["peers"].([]any)); n != i {
			t.Fatalf("peer %d sees %d peers, want %d", i, n, i)
		}
	}
	for i, p := range peers {
		for j := i + 1; j < len(peers); j++ {
			if pj := p.expect("room.peerJoined"); pj["peer"].(map[string]any)["peerId"] != peers[j].peerID {
				t.Fatalf("peer %d: join %d announced as %v", i, j, pj)
			}
		}
	}
	peers[3].must("message.send", map[string]any{"roomId": "big", "data": "hi all"})
	for i, p := range peers {
		if i == 3 {
			continue
		}
		if m := p.expect("message.received"); m["from"] != peers[3].peerID {
			t.Fatalf("peer %d got %v", i, m)
		}
	}
	if peers[3].Pending() != 0 {
		t.Fatal("the sender received its own room message")
	}
}

func TestLeaveDisconnectAndLastOneOut(t *testing.T) {
	ts := startServer(t)
	alice, bob, carol := ts.connect(t, "alice"), ts.connect(t, "bob"), ts.connect(t, "carol")
	joinRoom(alice, "r")
	joinRoom(bob, "r")
	joinRoom(carol, "r")
	alice.expect("room.peerJoined")
	alice.expect("room.peerJoined")
	bob.expect("room.peerJoined")

	bob.must("room.leave", map[string]any{"roomId": "r"})
	if l := alice.expect("room.peerLeft"); l["peerId"] != bob.peerID || l["reason"] != "left" {
		t.Fatalf("room.peerLeft = %v", l)
	}
	carol.expect("room.peerLeft")
	closeNormally(t, carol.Client) // a goodbye ends the session; an abrupt drop would be resumable (resume_test.go)
	if l := alice.expect("room.peerLeft"); l["peerId"] != carol.peerID || l["reason"] != "disconnected" {
		t.Fatalf("room.peerLeft = %v", l)
	}
	alice.must("room.leave", map[string]any{"roomId": "r"})
	_, err := bob.Call("room.join", map[string]any{"roomId": "r"})
	rpcError(t, err, 404, "room_not_found")
	if got := ts.srv.core.List(context.Background()); len(got) != 0 {
		t.Fatalf("rooms after the last one left: %v", got)
	}
}

func TestOwnershipPassesOnAndKick(t *testing.T) {
	ts := startServer(t)
	alice, bob, carol := ts.connect(t, "alice"), ts.connect(t, "bob"), ts.connect(t, "carol")
	joinRoom(alice, "r")
	joinRoom(bob, "r")
	joinRoom(carol, "r")
	_, err := bob.Call("room.kick", map[string]any{"roomId": "r", "peerId": carol.peerID})
	rpcError(t, err, 403, "owner or a moderator")
	_, err = bob.Call("room.update", map[string]any{"roomId": "r", "locked": true})
	rpcError(t, err, 403, "owner")

	alice.must("room.leave", map[string]any{"roomId": "r"})
	bob.expect("room.peerJoined")
	bob.expect("room.peerLeft")
	up := bob.expect("room.updated")
	if p := up["room"].(map[string]any)["peers"].([]any)[0].(map[string]any); p["peerId"] != bob.peerID || p["role"] != "owner" {
		t.Fatalf("after the owner left, first peer is %v, want bob as owner", p)
	}
	bob.must("room.kick", map[string]any{"roomId": "r", "peerId": carol.peerID})
	carol.expect("room.peerLeft") // alice's leave and the update came before the kick
	carol.expect("room.updated")
	if k := carol.expect("room.peerLeft"); k["peerId"] != carol.peerID || k["reason"] != "kicked" {
		t.Fatalf("kicked peer got %v", k)
	}
	_, err = carol.Call("message.send", map[string]any{"roomId": "r", "data": 1})
	rpcError(t, err, 404, "room_not_found")
	info := bob.must("room.update", map[string]any{"roomId": "r", "locked": true, "metadata": map[string]any{"topic": "x"}})
	if want := `"locked":true`; !strings.Contains(string(info), want) {
		t.Fatalf("room.update result %s lacks %s", info, want)
	}
	_, err = carol.Call("room.join", map[string]any{"roomId": "r"})
	rpcError(t, err, 409, "locked")
}

func TestRoomFull(t *testing.T) {
	ts := startServer(t)
	a, b, c := ts.connect(t, "a"), ts.connect(t, "b"), ts.connect(t, "c")
	a.must("room.create", map[string]any{"roomId": "duo", "maxPeers": 2})
	joinRoom(a, "duo")
	joinRoom(b, "duo")
	_, err := c.Call("room.join", map[string]any{"roomId": "duo"})
	rpcError(t, err, 486, "room_full")
	_, err = c.Call("room.create", map[string]any{"roomId": "duo"})
	rpcError(t, err, 409, "already exists")
	_, err = c.Call("room.create", map[string]any{"maxPeers": 17})
	rpcError(t, err, 413, "limit of 16")
}

// TestRoomDuplicateIdentity: a second seat of one identity (alice's laptop
// after her phone) under each room policy, with olga watching: multi seats
// both, reject refuses the laptop with 409, takeover unseats the phone
// (its session told, and still connected) and seats the laptop.
func TestRoomDuplicateIdentity(t *testing.T) {
	type roomView struct {
		DuplicateIdentity string `json:"duplicateIdentity"`
		Peers             []struct {
			PeerID string `json:"peerId"`
			Role   string `json:"role"`
		} `json:"peers"`
	}
	for _, policy := range []string{"", "multi", "reject", "takeover"} {
		t.Run(cmp.Or(policy, "default"), func(t *testing.T) {
			ts := startServer(t)
			room := "dup"
			olga := ts.connect(t, "olga")
			params := map[string]any{"roomId": room}
			if policy != "" {
				params["duplicateIdentity"] = policy
			}
			olga.must("room.create", params)
			joinRoom(olga, room)
			phone := ts.connect(t, "alice")
			joinRoom(phone, room)
			expectSkippingPresence(t, olga, "room.peerJoined", nil)

			laptop := ts.connect(t, "alice")
			_, err := laptop.Call("room.join", map[string]any{"roomId": room})
			want := []string{olga.peerID, phone.peerID, laptop.peerID}
			switch policy {
			case "reject":
				rpcError(t, err, 409, "reject")
				want = want[:2]
			case "takeover":
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range []*peer{phone, olga} {
					var left seqParams
					expectSkippingPresence(t, p, "room.peerLeft", &left)
					if left.PeerID != phone.peerID || left.Reason != "replaced" {
						t.Fatalf("room.peerLeft = %+v, want the phone's seat replaced", left)
					}
				}
				expectSkippingPresence(t, olga, "room.peerJoined", nil)
				want = []string{olga.peerID, laptop.peerID}
				_, err = phone.Call("message.send", map[string]any{"roomId": room, "data": 1})
				rpcError(t, err, 404, room)
				joinRoom(phone, "dup-elsewhere") // the phone's session lives on
			default:
				if err != nil {
					t.Fatal(err)
				}
				expectSkippingPresence(t, olga, "room.peerJoined", nil)
			}
			info := call[roomView](t, olga, "room.get", map[string]any{"roomId": room})
			var got []string
			for _, p := range info.Peers {
				got = append(got, p.PeerID)
			}
			wantPolicy := cmp.Or(policy, "multi")
			if !slices.Equal(got, want) || info.DuplicateIdentity != wantPolicy {
				t.Fatalf("room.get: %v with policy %q, want %v and %q", got, info.DuplicateIdentity, want, wantPolicy)
			}
			for olga.Pending() > 0 {
				if f, _ := olga.Next(); f.Method != "presence.changed" {
					t.Fatalf("olga also got %s %s", f.Method, f.Params)
				}
			}
		})
	}
}

// expectSkippingPresence is Expect past presence.changed, which room
// members get about each other's devices coming and going.
func expectSkippingPresence(t *testing.T, p *peer, method string, out any) {
	t.Helper()
	for {
		f, err := p.Next()
		if err != nil {
			t.Fatalf("waiting for %s: %v", method, err)
		}
		if f.Method == "presence.changed" {
			continue
		}
		if f.Method != method {
			t.Fatalf("got %s %s, want %s", f.Method, f.Params, method)
		}
		if out != nil {
			if err := json.Unmarshal(f.Params, out); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
}

// TestRoomTakeoverKeepsTheRoom: alice alone in her takeover room joins again
// from a second session: the room is not destroyed as its last seat leaves,
// and the new seat is its owner.
func TestRoomTakeoverKeepsTheRoom(t *testing.T) {
	ts := startServer(t)
	phone := ts.connect(t, "alice")
	phone.must("room.create", map[string]any{"roomId": "solo", "duplicateIdentity": "takeover"})
	joinRoom(phone, "solo")
	laptop := ts.connect(t, "alice")
	var joined struct {
		Self struct {
			Role string `json:"role"`
		} `json:"self"`
		Peers []any `json:"peers"`
	}
	if err := laptop.CallInto("room.join", map[string]any{"roomId": "solo"}, &joined); err != nil {
		t.Fatal(err)
	}
	if joined.Self.Role != "owner" || len(joined.Peers) != 0 {
		t.Fatalf("the laptop joined as %+v, want the owner, alone", joined)
	}
	var left seqParams
	expectSkippingPresence(t, phone, "room.peerLeft", &left)
	if left.Reason != "replaced" {
		t.Fatalf("the phone's room.peerLeft = %+v", left)
	}
	_, err := phone.Call("room.create", map[string]any{"roomId": "solo"})
	rpcError(t, err, 409, "solo") // still there
}

// TestRoomDuplicatePolicyValidated: an unknown policy is invalid params
// naming the field.
func TestRoomDuplicatePolicyValidated(t *testing.T) {
	ts := startServer(t)
	alice := ts.connect(t, "alice")
	_, err := alice.Call("room.create", map[string]any{"roomId": "x", "duplicateIdentity": "sometimes"})
	rpcError(t, err, -32602, "duplicateIdentity")
}

// TestRoomDuplicatePolicyUpdated: the owner changes the policy with
// room.update; members see it in room.updated, and the next join follows it.
func TestRoomDuplicatePolicyUpdated(t *testing.T) {
	ts := startServer(t)
	olga := ts.connect(t, "olga")
	joinRoom(olga, "u")
	phone := ts.connect(t, "alice")
	joinRoom(phone, "u")
	expectSkippingPresence(t, olga, "room.peerJoined", nil)
	olga.must("room.update", map[string]any{"roomId": "u", "duplicateIdentity": "reject"})
	var updated struct {
		Room struct {
			DuplicateIdentity string `json:"duplicateIdentity"`
		} `json:"room"`
	}
	expectSkippingPresence(t, phone, "room.updated", &updated)
	if updated.Room.DuplicateIdentity != "reject" {
		t.Fatalf("room.updated carries duplicateIdentity %q, want reject", updated.Room.DuplicateIdentity)
	}
	_, err := phone.Call("room.update", map[string]any{"roomId": "u", "duplicateIdentity": "multi"})
	rpcError(t, err, 403, "owner")
	laptop := ts.connect(t, "alice")
	_, err = laptop.Call("room.join", map[string]any{"roomId": "u"})
	rpcError(t, err, 409, "reject")
}

// TestRoomCreateGrants: room.create obeys the token's grants: create, and
// a rooms grant naming rooms (owner rooms count as granted); without a
// roomId, only a token that admits any room. Admins are not limited.
func TestRoomCreateGrants(t *testing.T) {
	cases := []struct {
		name   string
		grants Grants
		roomID string
		want   string // "" = created, else part of the 403's message
	}{
		{"no create grant", Grants{}, "a", "creating rooms"},
		{"inside the rooms grant", Grants{Create: true, Rooms: []string{"a"}}, "a", ""},
		{"outside the rooms grant", Grants{Create: true, Rooms: []string{"a"}}, "b", `does not grant room "b"`},
		{"no roomId, narrow grant", Grants{Create: true, Rooms: []string{"a"}}, "", "name one of them"},
		{"no roomId, any room", Grants{Create: true}, "", ""},
		{"no roomId, star", Grants{Create: true, Rooms: []string{"*"}}, "", ""},
		{"an owner room", Grants{Create: true, Rooms: []string{"a"}, Owner: []string{"o"}}, "o", ""},
		{"admin", Grants{Admin: true, Rooms: []string{"a"}}, "b", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t)
			p := ts.connectWith(t, map[string]any{"token": mint(t, "alice", tc.grants, time.Hour)})
			params := map[string]any{}
			if tc.roomID != "" {
				params["roomId"] = tc.roomID
			}
			_, err := p.Call("room.create", params)
			if tc.want != "" {
				rpcError(t, err, 403, tc.want)
			} else if err != nil {
				t.Fatalf("room.create %v: %v", params, err)
			}
		})
	}
}

// TestRoomOwnership: a room's owner is its first peer, or a peer whose
// token's owner grant names the room; creating a room owns nothing, and
// nobody else becomes owner by joining. Mallory pre-creates "standup" and
// joins after alice, its real owner: he is a participant, who can neither
// kick her nor lock the room.
func TestRoomOwnership(t *testing.T) {
	roleIn := func(joined map[string]any) string { return joined["self"].(map[string]any)["role"].(string) }
	t.Run("pre-create then steal", func(t *testing.T) {
		ts := startServer(t)
		mallory, alice := ts.connect(t, "mallory"), ts.connect(t, "alice")
		mallory.must("room.create", map[string]any{"roomId": "standup"})
		if role := roleIn(joinRoom(alice, "standup")); role != "owner" {
			t.Fatalf("alice, the first to join, is %s", role)
		}
		if role := roleIn(joinRoom(mallory, "standup")); role != "participant" {
			t.Fatalf("mallory, the creator joining second, is %s", role)
		}
		_, err := mallory.Call("room.kick", map[string]any{"roomId": "standup", "peerId": alice.peerID})
		rpcError(t, err, 403, "owner or a moderator")
		_, err = mallory.Call("room.update", map[string]any{"roomId": "standup", "locked": true})
		rpcError(t, err, 403, "owner")
		alice.must("room.kick", map[string]any{"roomId": "standup", "peerId": mallory.peerID})
	})
	t.Run("owner grant", func(t *testing.T) {
		ts := startServer(t)
		bob, carol := ts.connect(t, "bob"), ts.connect(t, "carol")
		if role := roleIn(joinRoom(bob, "standup")); role != "owner" {
			t.Fatalf("bob, the first to join, is %s", role)
		}
		if role := roleIn(joinRoom(carol, "standup")); role != "participant" {
			t.Fatalf("carol is %s", role)
		}
		alice := ts.connectWith(t, map[string]any{"token": mint(t, "alice", Grants{Rooms: []string{"other"}, Owner: []string{"standup"}}, time.Hour)})
		joined := call[map[string]any](t, alice, "room.join", map[string]any{"roomId": "standup"})
		if role := roleIn(joined); role != "owner" {
			t.Fatalf("alice, granted the room's ownership, joined as %s", role)
		}
		_, err := alice.Call("room.kick", map[string]any{"roomId": "standup", "peerId": bob.peerID})
		rpcError(t, err, 403, "cannot be kicked")
		// bob leaves: alice is still an owner, so carol, present longer,
		// does not inherit.
		bob.must("room.leave", map[string]any{"roomId": "standup"})
		info := call[map[string]any](t, carol, "room.get", map[string]any{"roomId": "standup"})
		for _, p := range info["peers"].([]any) {
			if p := p.(map[string]any); p["peerId"] == carol.peerID && p["role"] != "participant" {
				t.Fatalf("carol became %s while alice owns the room", p["role"])
			}
		}
	})
}

// TestRoomCreateEmptyCaps: a session may hold --max-empty-rooms-per-session
// (2 here) rooms it made that nobody joined, an identity
// --max-empty-rooms-per-identity (3) over its sessions; a room stops
// counting when anyone joins it. room.join {create} and app backends are
// not capped.
func TestRoomCreateEmptyCaps(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Limits.MaxEmptyRoomsPerSession, c.Limits.MaxEmptyRoomsPerIdentity = 2, 3
	})
	phone, laptop, bob := ts.connect(t, "alice"), ts.connect(t, "alice"), ts.connect(t, "bob")
	phone.must("room.create", map[string]any{"roomId": "e1"})
	phone.must("room.create", map[string]any{"roomId": "e2"})
	_, err := phone.Call("room.create", map[string]any{"roomId": "e3"})
	rpcError(t, err, 413, "this session has made 2 rooms that nobody has joined yet")
	joinRoom(phone, "j1") // joined at once: not capped
	joinRoom(bob, "e1")   // anyone's join releases it
	phone.must("room.create", map[string]any{"roomId": "e3"})
	laptop.must("room.create", map[string]any{"roomId": "f1"})
	_, err = laptop.Call("room.create", map[string]any{"roomId": "f2"})
	rpcError(t, err, 413, `identity "alice" has made 3 rooms`)
	for i := range 5 {
		if code, body := post(t, ts, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"room.create","params":{"roomId":"b%d"}}`, i), true); code != 200 || strings.Contains(body, "error") {
			t.Fatalf("the app backend's room.create: %d %s", code, body)
		}
	}
}

// TestRoomCreateEmptyLifetime: a room a session made waits
// --session-empty-room-ttl for its first peer and goes with that session's
// end (not with a resumable drop); an app backend's waits --empty-room-ttl.
func TestRoomCreateEmptyLifetime(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Limits.SessionEmptyRoomTTL = 200 * time.Millisecond })
	alice := ts.connect(t, "alice")
	alice.must("room.create", map[string]any{"roomId": "brief"})
	alice.must("room.create", map[string]any{"roomId": "kept"})
	joinRoom(alice, "kept")
	if code, body := post(t, ts, `{"jsonrpc":"2.0","id":1,"method":"room.create","params":{"roomId":"backend"}}`, true); code != 200 || strings.Contains(body, "error") {
		t.Fatalf("the app backend's room.create: %d %s", code, body)
	}
	exists := func(id string) bool {
		return slices.ContainsFunc(ts.srv.core.List(context.Background()), func(r api.RoomSummary) bool { return r.RoomID == id })
	}
	testkit.Eventually(t, "the unjoined room to expire", func() bool { return !exists("brief") })
	time.Sleep(200 * time.Millisecond)
	if !exists("kept") || !exists("backend") {
		t.Fatalf("rooms %v, want kept (joined) and backend (--empty-room-ttl) still there", ts.srv.core.List(context.Background()))
	}

	ts = startServer(t)
	dropped, leaving := ts.connect(t, "dropped"), ts.connect(t, "leaving")
	dropped.must("room.create", map[string]any{"roomId": "d"})
	leaving.must("room.create", map[string]any{"roomId": "l"})
	_ = dropped.Close() // resumable: its rooms wait for it
	closeNormally(t, leaving.Client)
	testkit.Eventually(t, "the room of the ended session to go", func() bool { return !exists("l") })
	if !exists("d") {
		t.Fatal("the room of a session that dropped (resumable) went with the drop")
	}
}
