package server

import (
	"fmt"
	"testing"

	"github.com/parley-rtc/parley/internal/testkit"
)

// TestDetachedCaps: dropped sessions are bounded per address and per
// identity, the oldest ending first, and they count against the address's
// connection cap: a new connection that finds it full ends the oldest to
// make room (issue 16: 3,000 sessions dropped on purpose from one address
// were all held for the resume window).
func TestDetachedCaps(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Limits.MaxDetachedPerIP, c.Limits.MaxDetachedPerIdentity, c.Limits.MaxConnsPerIP = 3, 2, 6
	})
	reconnecting := func() float64 { return scrape(t, ts)[`parley_sessions_active{state=reconnecting}`] }
	// drop drops the peers' connections one at a time, in order, each
	// noticed before the next (the caps then end what is over them).
	drop := func(peers ...*peer) {
		t.Helper()
		for _, p := range peers {
			m := scrape(t, ts)
			want := m[`parley_detached_sessions_ended_total{cap=address}`] + m[`parley_detached_sessions_ended_total{cap=identity}`] +
				m[`parley_sessions_active{state=reconnecting}`] + 1
			_ = p.Close()
			testkit.Eventually(t, "the drop to be noticed", func() bool {
				m := scrape(t, ts)
				return m[`parley_detached_sessions_ended_total{cap=address}`]+m[`parley_detached_sessions_ended_total{cap=identity}`]+
					m[`parley_sessions_active{state=reconnecting}`] >= want
			})
		}
	}
	resumable := func(p *peer) bool {
		c := ts.dial(t, nil)
		_, err := c.Call("session.connect", resumeParams(p, 0))
		_ = c.Close()
		return err == nil
	}

	// Per identity: 3 sessions of x dropped, 2 kept, the oldest ended.
	x := []*peer{ts.connect(t, "x"), ts.connect(t, "x"), ts.connect(t, "x")}
	drop(x...)
	if got := reconnecting(); got != 2 {
		t.Fatalf("%v of x's 3 dropped sessions held, want 2", got)
	}
	if resumable(x[0]) || !resumable(x[2]) {
		t.Fatal("the oldest dropped session of x should have ended, the newest stayed resumable")
	}
	// (Resuming x[2] took it off the detached lists; its connection then
	// closed: it is detached again, newest.)
	testkit.Eventually(t, "x's resume to drop", func() bool { return reconnecting() == 2 })

	// Per address: 2 more from other identities, 3 kept in all.
	drop(ts.connect(t, "y"), ts.connect(t, "z"))
	if got := reconnecting(); got != 3 {
		t.Fatalf("%v dropped sessions of one address held, want 3", got)
	}
	ended := scrape(t, ts)
	if ended[`parley_detached_sessions_ended_total{cap=identity}`] != 1 || ended[`parley_detached_sessions_ended_total{cap=address}`] != 1 {
		t.Fatalf("ended early: %v by the identity cap, %v by the address cap; want 1 and 1",
			ended[`parley_detached_sessions_ended_total{cap=identity}`], ended[`parley_detached_sessions_ended_total{cap=address}`])
	}

	// The address cap (6) counts them: 3 detached, the scrapes' keep-alive
	// connection and 2 WebSockets fill it; a third WebSocket ends the
	// oldest detached session to make room.
	for i := range 3 {
		ts.connect(t, fmt.Sprint("w", i))
	}
	if got := reconnecting(); got != 2 {
		t.Fatalf("%v dropped sessions held once connections filled the address's cap, want 2", got)
	}
}
