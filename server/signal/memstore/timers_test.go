package memstore

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/server/signal"
)

// manualClock is a clock whose timers go off when the test says, with
// or without moving its now.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	due     time.Time
	f       func()
	stopped bool
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := &manualTimer{due: c.now.Add(d), f: f}
	c.timers = append(c.timers, tm)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !tm.stopped
		tm.stopped = true
		return was
	}
}

// goOff runs the clock's earliest live timer, moving now to its due time
// if move; false if none is set.
func (c *manualClock) goOff(move bool) bool {
	c.mu.Lock()
	var next *manualTimer
	for _, tm := range c.timers {
		if !tm.stopped && (next == nil || tm.due.Before(next.due)) {
			next = tm
		}
	}
	if next == nil {
		c.mu.Unlock()
		return false
	}
	next.stopped = true
	if move {
		c.now = next.due
	}
	c.mu.Unlock()
	next.f()
	return true
}

// live counts the clock timers set and not stopped or gone off.
func (c *manualClock) live() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, tm := range c.timers {
		if !tm.stopped {
			n++
		}
	}
	return n
}

// TestTimers sets, resets and cancels timers and checks they fire once
// each, in due order (ties as set), under one clock timer at a time; a
// timer whose clock timer goes off fires even if the clock's now has not
// reached it (a server's clock that tests set, with the system's timers).
func TestTimers(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	for _, move := range []bool{true, false} {
		clock := &manualClock{now: t0}
		st := New(signal.StoreConfig{Clock: clock})
		var fired []string
		st.Timers(func(tm signal.Timer) {
			tx := st.Begin(t.Context())
			defer tx.Commit()
			if tx.Fired(tm) {
				fired = append(fired, tm.ID)
			}
		})
		set := func(id string, after time.Duration) {
			tx := st.Begin(t.Context())
			tx.SetTimer(signal.Timer{Kind: signal.TimerResume, ID: id, Due: t0.Add(after)})
			tx.Commit()
		}
		set("a", 3*time.Second)
		set("b", time.Second)
		set("c", time.Second) // due with b, set after it
		set("d", 2*time.Second)
		set("a", 5*time.Second) // reset
		tx := st.Begin(t.Context())
		tx.CancelTimer(signal.TimerResume, "d")
		tx.Commit()
		if n := clock.live(); n != 1 {
			t.Fatalf("move=%v: %d clock timers set, want 1", move, n)
		}
		if got := len(st.Pending()); got != 3 {
			t.Fatalf("move=%v: %d timers pending, want 3", move, got)
		}
		for range 10 {
			if !clock.goOff(move) {
				break
			}
		}
		if want := []string{"b", "c", "a"}; !slices.Equal(fired, want) {
			t.Fatalf("move=%v: fired %v, want %v", move, fired, want)
		}
		if p := st.Pending(); len(p) != 0 || len(st.due) != 0 || len(st.timers) != 0 {
			t.Fatalf("move=%v: left pending %v, %d in the heap", move, p, len(st.due))
		}
	}
}
