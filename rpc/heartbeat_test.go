package rpc

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestBeatSchedule: connections come out of the schedule in the order of
// their heartbeats, however they were set, moved and stopped, and each
// knows where it is.
func TestBeatSchedule(t *testing.T) {
	var s beatSchedule
	later := sinceEpoch() + time.Hour // the timer does not go off during the test
	conns := make([]*Conn, 200)
	for i := range conns {
		conns[i] = &Conn{}
		s.set(conns[i], later+time.Duration(rand.IntN(1000)))
	}
	defer s.timer.Stop()
	if s.armed != s.queue[0].beatAt {
		t.Fatalf("timer armed for %v, the earliest is %v", s.armed, s.queue[0].beatAt)
	}
	for _, c := range conns[:50] { // moved, some earlier and some later
		s.set(c, later+time.Duration(rand.IntN(2000)))
	}
	for _, c := range conns[150:] {
		s.stop(c)
		s.stop(c) // twice: nothing more
	}
	for i, c := range conns {
		if queued := c.beatIdx != 0; queued != (i < 150) || queued && s.queue[c.beatIdx-1] != c {
			t.Fatalf("conn %d: beatIdx %d, queued %v", i, c.beatIdx, queued)
		}
	}
	var got []time.Duration
	for len(s.queue) > 0 {
		got = append(got, s.queue[0].beatAt)
		s.stop(s.queue[0])
	}
	if len(got) != 150 || !slices.IsSorted(got) {
		t.Fatalf("%d heartbeats, in order: %v", len(got), slices.IsSorted(got))
	}
}

// TestHeartbeatLeavesWithConn: an open connection is in the schedule, a
// closed one no longer.
func TestHeartbeatLeavesWithConn(t *testing.T) {
	url, conns, reasons := wsServer(t, echoMux(), ConnConfig{})
	dial(t, url)
	c := <-conns
	inSchedule := func() bool {
		heartbeats.mu.Lock()
		defer heartbeats.mu.Unlock()
		return c.beatIdx != 0 && heartbeats.queue[c.beatIdx-1] == c
	}
	deadline := time.Now().Add(10 * time.Second)
	for !inSchedule() { // Start runs after the connection is handed over
		if time.Now().After(deadline) {
			t.Fatal("an open connection has no heartbeat")
		}
		time.Sleep(time.Millisecond)
	}
	c.Close(CloseGoingAway, "")
	waitReason(t, reasons)
	if inSchedule() {
		t.Fatal("a closed connection keeps its heartbeat")
	}
}
