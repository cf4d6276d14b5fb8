package signaltest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/server/signal"
)

func init() {
	register(scenario{"WatchTellsTheRoomsSignaling", watchTellsSignaling}, scenario{"WatchBounds", watchBounds})
}

// signals reads c's admin.signal frames as "method outcome from→to"
// lines (with the code, count and whether a payload came along).
func (c *client) signals(names map[string]string) []string {
	var out []string
	for _, f := range c.drain() {
		if f.Method != api.NotifyAdminSignal {
			c.e.t.Fatalf("%s: got %s %v, want admin.signal", c.identity, f.Method, f.Params)
		}
		line := fmt.Sprintf("%s %s %s→%s", str(f.Params, "method"), str(f.Params, "outcome"), names[str(f.Params, "from")], names[str(f.Params, "to")])
		if code := num(f.Params, "code"); code != 0 {
			line += fmt.Sprint(" ", code)
		}
		if n := num(f.Params, "count"); n != 1 {
			line += fmt.Sprint(" x", n)
		}
		if f.Params["sdp"] != nil || f.Params["candidate"] != nil {
			line += " +payload"
		}
		if str(f.Params, "roomId") != "w" || num(f.Params, "at") == 0 {
			c.e.t.Fatalf("admin.signal %v: want roomId w and at", f.Params)
		}
		out = append(out, line)
	}
	return out
}

// watchTellsSignaling: a watcher of a room is told every relay in it as
// the core handled it, in order: held candidates and their release with
// the offer, the delivered offer, a 491 refusal, the answer, a candidate,
// an ICE restart, a 413, held ones dropped; with frames the payloads come
// along, without them none does. An unwatched room tells nothing more.
func watchTellsSignaling(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	alice, bob := e.roomOfTwo("w")
	meta, full := e.connect("ops"), e.connect("ops2")
	info, err := e.core.Watch(ctx(), meta.ref, "w", false)
	e.must(err)
	if len(info.Peers) != 2 {
		t.Fatalf("watch answered %+v, want the room with its two peers", info)
	}
	_, err = e.core.Watch(ctx(), full.ref, "w", true)
	e.must(err)
	names := map[string]string{alice.peerID(): "alice", bob.peerID(): "bob"}

	e.must(bob.candidate("w", alice, candidate(1)))
	e.must(alice.offer("w", bob))
	wantErr(t, bob.offer("w", alice), 491, "glare")
	e.must(bob.answer("w", alice))
	e.must(alice.candidate("w", bob, candidate(2)))
	e.must(e.core.RequestRestart(ctx(), bob.ref, "w", alice.peerID(), "network"))
	e.core.TooLarge(ctx(), alice.ref, "w", bob.peerID(), api.MethodSdpOffer, 70000)
	want := []string{
		"ice.candidate held bob→alice +payload",
		"sdp.offer delivered alice→bob +payload",
		"ice.candidate released bob→alice +payload",
		"sdp.offer refused bob→alice 491 +payload",
		"sdp.answer delivered bob→alice +payload",
		"ice.candidate delivered alice→bob +payload",
		"ice.restart delivered bob→alice",
		"sdp.offer refused alice→bob 413",
	}
	if got := full.signals(names); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("with frames:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		want[i] = strings.TrimSuffix(want[i], " +payload")
	}
	if got := meta.signals(names); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("metadata only:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Held candidates that expire are told dropped, with their count.
	carol := e.connect("carol")
	carol.join("w")
	names[carol.peerID()] = "carol"
	e.must(carol.candidate("w", alice, candidate(3)))
	e.must(carol.candidate("w", alice, candidate(4)))
	e.clock.Advance(signal.HeldCandidateTTL)
	want = []string{"ice.candidate held carol→alice", "ice.candidate held carol→alice", "ice.candidate dropped carol→alice x2"}
	if got := meta.signals(names); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("dropped:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	e.must(e.core.Unwatch(ctx(), meta.ref, "w"))
	e.must(e.core.Unwatch(ctx(), meta.ref, "w")) // twice is fine
	e.must(alice.candidate("w", bob, candidate(5)))
	meta.quiet()
	if got := full.signals(names); len(got) != 4 {
		t.Fatalf("the other watcher still watching: %v", got)
	}
}

// watchBounds: a room must exist; it keeps MaxWatchers watchers, and a
// watcher whose session ended makes room.
func watchBounds(t *testing.T, newStore NewStore) {
	e := newEnv(t, newStore)
	e.roomOfTwo("w")
	_, err := e.core.Watch(ctx(), e.connect("ops").ref, "nowhere", false)
	wantErr(t, err, 404, "nowhere")
	var watchers []*client
	for i := range signal.MaxWatchers {
		w := e.connect(fmt.Sprint("ops", i))
		_, err := e.core.Watch(ctx(), w.ref, "w", false)
		e.must(err)
		watchers = append(watchers, w)
	}
	_, err = e.core.Watch(ctx(), watchers[0].ref, "w", true) // a watcher changing its mind is not one more
	e.must(err)
	late := e.connect("late")
	_, err = e.core.Watch(ctx(), late.ref, "w", false)
	wantErr(t, err, 413, "watchers")
	watchers[3].bye()
	_, err = e.core.Watch(ctx(), late.ref, "w", false)
	e.must(err)
}
