package signaltest

import (
	"fmt"
	"testing"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/server/signal"
)

func init() {
	register(
		scenario{"PresenceSubscribeSetOffline", presenceSubscribeSetOffline},
		scenario{"PresenceMultiDevice", presenceMultiDevice},
		scenario{"PresenceRoomMembers", presenceRoomMembers},
		scenario{"PresenceBounds", presenceBounds},
	)
}

// expectPresence reads presence.changed and checks it.
func expectPresence(t *testing.T, c *client, want api.Presence) {
	t.Helper()
	ev := c.expect(api.NotifyPresenceChanged)
	got := api.Presence{Identity: str(ev, "identity"), Status: api.PresenceStatus(str(ev, "status")), Note: str(ev, "note"), Devices: num(ev, "devices")}
	if got != want {
		t.Fatalf("presence.changed = %+v, want %+v", got, want)
	}
}

func (c *client) setPresence(status api.PresenceSetStatus, note string) {
	c.e.t.Helper()
	c.e.must(c.e.core.SetPresence(ctx(), c.ref, status, note))
}

// presenceSubscribeSetOffline: a follower learns of every change (and of
// no non-change); a resumable drop changes nothing, the session's end
// makes the identity offline; after unsubscribing, nothing.
func presenceSubscribeSetOffline(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice := e.connect("alice")
	got, err := e.core.Subscribe(ctx(), alice.ref, []string{"bob", "carol"})
	e.must(err)
	if len(got) != 2 || got[0] != (api.Presence{Identity: "bob", Status: api.PresenceStatusOffline}) || got[1].Identity != "carol" {
		t.Fatalf("presence.subscribe = %+v", got)
	}
	bob := e.connect("bob")
	expectPresence(t, alice, api.Presence{Identity: "bob", Status: api.PresenceStatusAvailable, Devices: 1})
	bob.setPresence(api.PresenceSetStatusAway, "lunch")
	expectPresence(t, alice, api.Presence{Identity: "bob", Status: api.PresenceStatusAway, Note: "lunch", Devices: 1})
	bob.setPresence(api.PresenceSetStatusAway, "lunch") // no change, no event
	bob.setPresence(api.PresenceSetStatusDnd, "")
	expectPresence(t, alice, api.Presence{Identity: "bob", Status: api.PresenceStatusDnd, Devices: 1})
	got, err = e.core.Presence(ctx(), alice.ref, []string{"bob"})
	e.must(err)
	if got[0] != (api.Presence{Identity: "bob", Status: api.PresenceStatusDnd, Devices: 1}) {
		t.Fatalf("presence.get = %+v", got)
	}
	bob.drop()
	e.must(bob.resume(bob.lastSeq))
	bob.bye()
	expectPresence(t, alice, api.Presence{Identity: "bob", Status: api.PresenceStatusOffline})
	e.must(e.core.Unsubscribe(ctx(), alice.ref, []string{"bob"}))
	e.connect("bob")
	got, err = e.core.Presence(ctx(), alice.ref, []string{"bob"})
	e.must(err)
	if got[0].Devices != 1 {
		t.Fatalf("presence.get = %+v", got)
	}
	alice.quiet()
}

// presenceMultiDevice: the most available status wins (the latest setting
// among equals), devices counts them, and the identity is offline only
// when its last device ends.
func presenceMultiDevice(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice := e.connect("alice")
	_, err := e.core.Subscribe(ctx(), alice.ref, []string{"bob"})
	e.must(err)
	phone := e.connect("bob")
	expectPresence(t, alice, api.Presence{Identity: "bob", Status: api.PresenceStatusAvailable, Devices: 1})
	phone.setPresence(api.PresenceSetStatusXa, "phone")
	expectPresence(t, alice, api.Presence{Identity: "bob", Status: api.PresenceStatusXa, Note: "phone", Devices: 1})
	laptop := e.connect("bob")
	expectPresence(t, alice, api.Presence{Identity: "bob", Status: api.PresenceStatusAvailable, Devices: 2})
	laptop.setPresence(api.PresenceSetStatusDnd, "laptop")
	expectPresence(t, alice, api.Presence{Identity: "bob", Status: api.PresenceStatusXa, Note: "phone", Devices: 2})
	phone.setPresence(api.PresenceSetStatusAway, "phone")
	expectPresence(t, alice, api.Presence{Identity: "bob", Status: api.PresenceStatusAway, Note: "phone", Devices: 2})
	laptop.setPresence(api.PresenceSetStatusAway, "laptop")
	expectPresence(t, alice, api.Presence{Identity: "bob", Status: api.PresenceStatusAway, Note: "laptop", Devices: 2})
	phone.bye()
	expectPresence(t, alice, api.Presence{Identity: "bob", Status: api.PresenceStatusAway, Note: "laptop", Devices: 1})
	laptop.bye()
	expectPresence(t, alice, api.Presence{Identity: "bob", Status: api.PresenceStatusOffline})
	alice.quiet()
}

// presenceRoomMembers: members of a room follow each other's presence
// while they share it, never their own identity's.
func presenceRoomMembers(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.connect("alice"), e.connect("bob")
	alice.join("r")
	bob.join("r")
	alice.expect(api.NotifyRoomPeerJoined)
	bob.setPresence(api.PresenceSetStatusAway, "")
	expectPresence(t, alice, api.Presence{Identity: "bob", Status: api.PresenceStatusAway, Devices: 1})
	bob.quiet()
	alice.setPresence(api.PresenceSetStatusDnd, "busy")
	expectPresence(t, bob, api.Presence{Identity: "alice", Status: api.PresenceStatusDnd, Note: "busy", Devices: 1})
	alice.quiet()
	phone := e.connect("bob") // another device of bob (available): the room hears of it
	expectPresence(t, alice, api.Presence{Identity: "bob", Status: api.PresenceStatusAvailable, Devices: 2})
	phone.bye()
	expectPresence(t, alice, api.Presence{Identity: "bob", Status: api.PresenceStatusAway, Devices: 1})
	e.must(e.core.Leave(ctx(), bob.ref, "r"))
	alice.expect(api.NotifyRoomPeerLeft)
	bob.setPresence(api.PresenceSetStatusAvailable, "")
	alice.quiet()
}

// presenceBounds: a session follows at most MaxPresenceFollows identities;
// following one again costs nothing.
func presenceBounds(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore, limits(func(l *signal.Limits) { l.MaxPresenceFollows = 200 }))
	alice := e.connect("alice")
	for i := range 2 {
		ids := make([]string, 100)
		for j := range ids {
			ids[j] = fmt.Sprintf("u%d-%d", i, j)
		}
		_, err := e.core.Subscribe(ctx(), alice.ref, ids)
		e.must(err)
	}
	_, err := e.core.Subscribe(ctx(), alice.ref, []string{"one-more"})
	wantErr(t, err, 413, "at most 200 identities")
	_, err = e.core.Subscribe(ctx(), alice.ref, []string{"u0-0", "u0-0"})
	e.must(err)
	e.must(e.core.Unsubscribe(ctx(), alice.ref, []string{"u0-0"}))
	_, err = e.core.Subscribe(ctx(), alice.ref, []string{"one-more"})
	e.must(err)
}
