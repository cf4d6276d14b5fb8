package signaltest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/server/signal"
)

func init() {
	register(
		scenario{"EventsRoom", eventsRoom},
		scenario{"EventsCall", eventsCall},
		scenario{"EventsCallUnanswered", eventsCallUnanswered},
		scenario{"EventsSession", eventsSession},
		scenario{"EventsRoomsKeepTheirOwnOrder", eventsRoomsKeepTheirOwnOrder},
	)
}

// eventLog is the store's event sink: what it committed, in order.
type eventLog struct {
	mu     sync.Mutex
	events []api.Event
}

func (l *eventLog) Publish(ev api.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

// take returns the events so far and forgets them.
func (l *eventLog) take() []api.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

// checkNumbers fails unless cursors grow by one from event to event
// across every event ever taken, each room's roomSeq counts from 1 (or
// carries on from seqs, the room's last seen) and session events have
// none.
func checkNumbers(t *testing.T, evs []api.Event, last *int64, seqs map[string]int64) {
	t.Helper()
	for _, e := range evs {
		if *last != 0 && e.Data.Cursor != *last+1 {
			t.Errorf("%s: cursor %d after %d", e.Type, e.Data.Cursor, *last)
		}
		*last = e.Data.Cursor
		if _, err := time.Parse(time.RFC3339Nano, e.Timestamp); err != nil || !strings.HasSuffix(e.Timestamp, "Z") {
			t.Errorf("%s: timestamp %q is not RFC 3339 UTC", e.Type, e.Timestamp)
		}
		room := e.Data.RoomID
		if room == "" {
			if e.Data.RoomSeq != 0 {
				t.Errorf("%s: a session event with roomSeq %d", e.Type, e.Data.RoomSeq)
			}
			continue
		}
		if want := seqs[room] + 1; e.Data.RoomSeq != want {
			t.Errorf("%s in %s: roomSeq %d, want %d", e.Type, room, e.Data.RoomSeq, want)
		}
		seqs[room] = e.Data.RoomSeq
		if e.Type == signal.EventRoomFinished {
			delete(seqs, room) // the next room of that id starts over
		}
	}
}

// describe lists events as "type(identity,reason)" (what applies).
func describe(evs []api.Event, keep func(api.Event) bool) string {
	var out []string
	for _, e := range evs {
		if keep != nil && !keep(e) {
			continue
		}
		s := e.Type
		var facts []string
		for _, f := range []string{e.Data.Identity, e.Data.Caller, e.Data.Reason} {
			if f != "" {
				facts = append(facts, f)
			}
		}
		if e.Data.Code != 0 {
			facts = append(facts, fmt.Sprint(e.Data.Code))
		}
		if len(facts) > 0 {
			s += "(" + strings.Join(facts, ",") + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func inRoom(room string) func(api.Event) bool {
	return func(e api.Event) bool { return e.Data.RoomID == room }
}

func wantEvents(t *testing.T, got []api.Event, keep func(api.Event) bool, want string) {
	t.Helper()
	if g := describe(got, keep); g != want {
		t.Errorf("events\n got %s\nwant %s", g, want)
	}
}

// eventsRoom: a room's life as events, numbered in its own order; a room
// made again under the same id starts its roomSeq over.
func eventsRoom(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("r")
	e.clock.Advance(1500 * time.Millisecond)
	e.must(e.core.Leave(ctx(), bob.ref, "r"))
	e.must(e.core.Leave(ctx(), alice.ref, "r"))
	first := e.events.take()
	var cursor int64
	seqs := map[string]int64{}
	checkNumbers(t, first, &cursor, seqs)
	wantEvents(t, first, inRoom("r"), "room.started(alice) peer.joined(alice) peer.joined(bob) peer.left(bob,left) peer.left(alice,left) room.finished(empty)")
	// Cursors start from a time in µs, so that they keep growing across
	// restarts (api.EventData's cursor).
	if floor := time.Unix(1_600_000_000, 0).UnixMicro(); first[0].Data.Cursor < floor {
		t.Errorf("the first cursor %d does not count from a time in µs", first[0].Data.Cursor)
	}
	for _, ev := range first {
		switch {
		case ev.Type == signal.EventPeerLeft && ev.Data.DurationMs < 1500:
			t.Errorf("peer.left after 1.5 s in the room says durationMs %d", ev.Data.DurationMs)
		case ev.Type == signal.EventPeerJoined && (ev.Data.SessionID == "" || ev.Data.PeerID == ""):
			t.Errorf("peer.joined without its session and peer: %+v", ev.Data)
		}
	}
	alice.join("r")
	again := e.events.take()
	checkNumbers(t, again, &cursor, seqs)
	wantEvents(t, again, nil, "room.started(alice) peer.joined(alice)")

	// Kicked, replaced by another device (room policy), closed by an admin.
	carol := e.connect("carol")
	carol.join("r")
	e.must(e.core.Kick(ctx(), alice.ref, "r", carol.peerID()))
	_, err := e.core.Update(ctx(), nil, signal.RoomUpdate{RoomID: "r", Duplicate: api.DuplicatePolicyTakeover})
	e.must(err)
	alice2 := e.connect("alice")
	alice2.join("r")
	e.core.CloseRoom(ctx(), "r", "maintenance")
	rest := e.events.take()
	checkNumbers(t, rest, &cursor, seqs)
	wantEvents(t, rest, inRoom("r"), "peer.joined(carol) peer.left(carol,kicked) peer.left(alice,replaced) peer.joined(alice) peer.left(alice,closed) room.finished(maintenance)")

	// A room made with room.create that nobody joins expires.
	_, err = e.core.Create(ctx(), nil, signal.RoomSpec{ID: "lonely"})
	e.must(err)
	e.clock.Advance(defaultLimits().EmptyRoomTTL + time.Second)
	lonely := e.events.take()
	checkNumbers(t, lonely, &cursor, seqs)
	wantEvents(t, lonely, nil, "room.started room.finished(expired)")
}

// eventsCall: a call's events and its room's share one order (roomId is
// the call id): started, answered, the room with both seats, ended with
// its duration from the answer, the seats and the room gone.
func eventsCall(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob, id := e.ringing()
	_, err := e.core.Accept(ctx(), bob.ref, id)
	e.must(err)
	e.clock.Advance(2 * time.Second)
	e.must(e.core.Hangup(ctx(), alice.ref, id))
	evs := e.events.take()
	var cursor int64
	checkNumbers(t, evs, &cursor, map[string]int64{})
	wantEvents(t, evs, inRoom(id), "call.started(alice,alice) call.answered(bob,alice) room.started peer.joined(alice) peer.joined(bob) call.ended(alice,hangup,200) peer.left(alice,closed) peer.left(bob,closed) room.finished(call_ended)")
	for _, ev := range evs {
		if ev.Type == signal.EventCallEnded && (ev.Data.DurationMs < 2000 || ev.Data.Callee != "bob" || ev.Data.CallID != id) {
			t.Errorf("call.ended %+v: want callee bob, the call id and durationMs >= 2000", ev.Data)
		}
	}
}

// eventsCallUnanswered: a call that never had a room ends its events
// with call.ended (no duration).
func eventsCallUnanswered(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, _, id := e.ringing()
	e.must(e.core.Cancel(ctx(), alice.ref, id))
	evs := e.events.take()
	var cursor int64
	checkNumbers(t, evs, &cursor, map[string]int64{})
	wantEvents(t, evs, inRoom(id), "call.started(alice,alice) call.ended(alice,canceled,487)")
	_, _, late := e.ringing()
	e.clock.Advance(2 * time.Minute)
	wantEvents(t, e.events.take(), inRoom(late), "call.started(alice,alice) call.ended(alice,timeout,408)")
}

// eventsSession: one session.started and one session.ended per session,
// with why it ended: a goodbye (the close reason), a resume window that
// passed, a takeover; a resume is no new session.
func eventsSession(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore, func(c *signal.Config, _ *signal.StoreConfig) { c.Duplicate = signal.DuplicateTakeover })
	alice, bob, carol := e.connect("alice"), e.connect("bob"), e.connect("carol")
	alice.bye()
	bob.drop()
	carol.drop()
	e.must(carol.resume(0))
	e.clock.Advance(defaultLimits().ResumeWindow + time.Second)
	e.connect("carol") // takes over carol's session
	evs := e.events.take()
	var cursor int64
	checkNumbers(t, evs, &cursor, map[string]int64{})
	for _, tc := range []struct {
		c    *client
		want string
	}{
		{alice, "session.started(alice) session.ended(alice,normal)"},
		{bob, "session.started(bob) session.ended(bob,timeout)"},
		{carol, "session.started(carol) session.ended(carol,replaced)"},
	} {
		wantEvents(t, evs, func(ev api.Event) bool { return ev.Data.SessionID == tc.c.ref.ID }, tc.want)
	}
	for _, ev := range evs {
		if ev.Type == signal.EventSessionEnded && ev.Data.PeerID == "" {
			t.Errorf("session.ended without its peer: %+v", ev.Data)
		}
	}
	if n := strings.Count(describe(evs, nil), "session.started"); n != 4 {
		t.Errorf("%d session.started, want 4 (alice, bob, carol, carol again): %s", n, describe(evs, nil))
	}
}

// eventsRoomsKeepTheirOwnOrder: the events of rooms changing in
// turns are numbered per room.
func eventsRoomsKeepTheirOwnOrder(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	const rooms, peers = 3, 4
	clients := make([]*client, peers)
	for i := range clients {
		clients[i] = e.connect(fmt.Sprint("peer", i))
	}
	for _, c := range clients {
		for r := range rooms {
			c.join(fmt.Sprint("room", r))
		}
	}
	for _, c := range clients {
		for r := range rooms {
			e.must(e.core.Leave(ctx(), c.ref, fmt.Sprint("room", r)))
		}
	}
	evs := e.events.take()
	var cursor int64
	checkNumbers(t, evs, &cursor, map[string]int64{})
	for r := range rooms {
		want := "room.started(peer0)"
		for i := range peers {
			want += fmt.Sprintf(" peer.joined(peer%d)", i)
		}
		for i := range peers {
			want += fmt.Sprintf(" peer.left(peer%d,left)", i)
		}
		wantEvents(t, evs, inRoom(fmt.Sprint("room", r)), want+" room.finished(empty)")
	}
}
