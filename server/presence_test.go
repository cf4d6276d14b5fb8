package server

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/parley-rtc/parley/internal/testkit"
)

type presence struct {
	Identity string `json:"identity"`
	Status   string `json:"status"`
	Note     string `json:"note"`
	Devices  int    `json:"devices"`
}

func presences(t *testing.T, raw []byte) []presence {
	t.Helper()
	var res struct {
		Presences []presence `json:"presences"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	return res.Presences
}

func expectPresence(t *testing.T, p *peer, want presence) {
	t.Helper()
	ev := p.expect("presence.changed")
	got := presence{Identity: ev["identity"].(string), Status: ev["status"].(string), Devices: int(ev["devices"].(float64))}
	got.Note, _ = ev["note"].(string)
	if got != want {
		t.Fatalf("presence.changed = %+v, want %+v", got, want)
	}
}

func TestPresenceSubscribeSetOffline(t *testing.T) {
	ts := startServer(t)
	alice := ts.connect(t, "alice")
	got := presences(t, alice.must("presence.subscribe", map[string]any{"identities": []string{"bob", "carol"}}))
	if len(got) != 2 || got[0] != (presence{Identity: "bob", Status: "offline"}) || got[1].Identity != "carol" {
		t.Fatalf("presence.subscribe = %+v", got)
	}
	bob := ts.connect(t, "bob")
	expectPresence(t, alice, presence{Identity: "bob", Status: "available", Devices: 1})
	bob.must("presence.set", map[string]any{"status": "away", "note": "lunch"})
	expectPresence(t, alice, presence{Identity: "bob", Status: "away", Note: "lunch", Devices: 1})
	bob.must("presence.set", map[string]any{"status": "away", "note": "lunch"}) // no change, no event
	bob.must("presence.set", map[string]any{"status": "dnd"})
	expectPresence(t, alice, presence{Identity: "bob", Status: "dnd", Devices: 1})
	got = presences(t, alice.must("presence.get", map[string]any{"identities": []string{"bob"}}))
	if got[0] != (presence{Identity: "bob", Status: "dnd", Devices: 1}) {
		t.Fatalf("presence.get = %+v", got)
	}
	// A resumable drop is no change; the end of the session is.
	_ = bob.Close()
	bob = ts.connectWith(t, map[string]any{"resume": map[string]any{
		"sessionId": bob.session["sessionId"], "resumeToken": bob.session["resumeToken"], "lastSeq": 0}})
	closeNormally(t, bob.Client)
	expectPresence(t, alice, presence{Identity: "bob", Status: "offline"})
	// Unsubscribed: nothing more.
	alice.must("presence.unsubscribe", map[string]any{"identities": []string{"bob"}})
	ts.connect(t, "bob")
	got = presences(t, alice.must("presence.get", map[string]any{"identities": []string{"bob"}}))
	if got[0].Devices != 1 {
		t.Fatalf("presence.get = %+v", got)
	}
	if n := alice.Pending(); n != 0 {
		t.Fatalf("%d notifications after unsubscribing", n)
	}
}

// Several devices: the most available status wins; devices counts them;
// the identity is offline only when the last one ends.
func TestPresenceMultiDevice(t *testing.T) {
	ts := startServer(t)
	alice := ts.connect(t, "alice")
	alice.must("presence.subscribe", map[string]any{"identities": []string{"bob"}})
	phone := ts.connect(t, "bob")
	expectPresence(t, alice, presence{Identity: "bob", Status: "available", Devices: 1})
	phone.must("presence.set", map[string]any{"status": "xa", "note": "phone"})
	expectPresence(t, alice, presence{Identity: "bob", Status: "xa", Note: "phone", Devices: 1})
	laptop := ts.connect(t, "bob")
	expectPresence(t, alice, presence{Identity: "bob", Status: "available", Devices: 2})
	laptop.must("presence.set", map[string]any{"status": "dnd", "note": "laptop"})
	expectPresence(t, alice, presence{Identity: "bob", Status: "xa", Note: "phone", Devices: 2})
	phone.must("presence.set", map[string]any{"status": "away", "note": "phone"})
	expectPresence(t, alice, presence{Identity: "bob", Status: "away", Note: "phone", Devices: 2})
	closeNormally(t, phone.Client)
	expectPresence(t, alice, presence{Identity: "bob", Status: "dnd", Note: "laptop", Devices: 1})
	closeNormally(t, laptop.Client)
	expectPresence(t, alice, presence{Identity: "bob", Status: "offline"})
}

// Members of a room follow each other's presence while they share it.
func TestPresenceRoomMembers(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.connect(t, "alice"), ts.connect(t, "bob")
	alice.must("room.join", map[string]any{"roomId": "r", "create": true})
	bob.must("room.join", map[string]any{"roomId": "r"})
	alice.expect("room.peerJoined")
	bob.must("presence.set", map[string]any{"status": "away"})
	expectPresence(t, alice, presence{Identity: "bob", Status: "away", Devices: 1})
	alice.must("presence.set", map[string]any{"status": "dnd", "note": "busy"})
	expectPresence(t, bob, presence{Identity: "alice", Status: "dnd", Note: "busy", Devices: 1})
	bob.must("room.leave", map[string]any{"roomId": "r"})
	alice.expect("room.peerLeft")
	bob.must("presence.set", map[string]any{"status": "available"})
	bob.must("presence.get", map[string]any{"identities": []string{"alice"}}) // a round trip after the set
	if n := alice.Pending(); n != 0 {
		t.Fatalf("alice got %d notifications after bob left the room", n)
	}
}

func TestPresenceBounds(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Limits.MaxPresenceFollows = 200 }) // --max-presence-follows
	alice := ts.connect(t, "alice")
	many := make([]string, 101)
	for i := range many {
		many[i] = "u" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	_, err := alice.Call("presence.subscribe", map[string]any{"identities": many})
	rpcError(t, err, -32602, "identities")
	_, err = alice.Call("presence.set", map[string]any{"status": "offline"})
	rpcError(t, err, -32602, "status")
	_, err = alice.Call("presence.set", map[string]any{"status": "away", "note": string(make([]byte, 257))})
	rpcError(t, err, -32602, "note")
	for i := range 2 {
		ids := make([]string, 100)
		for j := range ids {
			ids[j] = "u" + string(rune('a'+i)) + "x" + string(rune('a'+j%26)) + string(rune('a'+j/26))
		}
		alice.must("presence.subscribe", map[string]any{"identities": ids})
	}
	_, err = alice.Call("presence.subscribe", map[string]any{"identities": []string{"one-more"}})
	rpcError(t, err, 413, "at most 200 identities")
	alice.must("presence.subscribe", map[string]any{"identities": []string{"uax" + "aa"}}) // already followed
}

// Room and directed messages are in the replay buffer: a resume replays them.
func TestMessagesReplayed(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.connect(t, "alice"), ts.connect(t, "bob")
	alice.must("room.join", map[string]any{"roomId": "r", "create": true})
	bob.must("room.join", map[string]any{"roomId": "r"})
	ev := alice.expect("room.peerJoined")
	lastSeq := ev["seq"]
	_ = alice.Close() // dropped: resumable
	testkit.Eventually(t, "alice to be detached", func() bool { return ts.srv.core.Count(context.Background()).Detached == 1 })
	bob.expect("room.peerState")
	var room, direct struct {
		MessageID string `json:"messageId"`
	}
	_ = json.Unmarshal(bob.must("message.send", map[string]any{"roomId": "r", "data": "to all"}), &room)
	_ = json.Unmarshal(bob.must("message.send", map[string]any{"roomId": "r", "to": alice.peerID, "data": "to you"}), &direct)
	resumed := ts.connectWith(t, map[string]any{"resume": map[string]any{
		"sessionId": alice.session["sessionId"], "resumeToken": alice.session["resumeToken"], "lastSeq": lastSeq}})
	m1, m2 := resumed.expect("message.received"), resumed.expect("message.received")
	if m1["messageId"] != room.MessageID || m1["private"] != false || m1["data"] != "to all" {
		t.Fatalf("first replayed %v", m1)
	}
	if m2["messageId"] != direct.MessageID || m2["private"] != true || m2["data"] != "to you" {
		t.Fatalf("second replayed %v", m2)
	}
}
