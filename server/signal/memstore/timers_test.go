package memstore

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/server/signal"
	"github.com/parley-rtc/parley/server/signal/signaltest"
)

// countingClock is a scenario clock that counts its timers set and not
// yet stopped or gone off; with frozen set, the store sees its now stay
// there (a server's clock that tests set, over the system's timers).
type countingClock struct {
	*signaltest.Clock
	frozen *time.Time
	mu     sync.Mutex
	live   int
}

func (c *countingClock) Now() time.Time {
	if c.frozen != nil {
		return *c.frozen
	}
	return c.Clock.Now()
}

func (c *countingClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	c.live++
	c.mu.Unlock()
	var once sync.Once
	done := func() {
		once.Do(func() {
			c.mu.Lock()
			c.live--
			c.mu.Unlock()
		})
	}
	stop := c.Clock.AfterFunc(d, func() { done(); f() })
	return func() bool { done(); return stop() }
}

// TestTimers sets, resets and cancels timers and checks they fire once
// each, in due order (ties as set), under one clock timer at a time; a
// timer whose clock timer goes off fires even if the store's now has not
// reached it.
func TestTimers(t *testing.T) {
	for _, frozen := range []bool{false, true} {
		clock := &countingClock{Clock: new(signaltest.Clock)}
		t0 := clock.Now()
		if frozen {
			clock.frozen = &t0
		}
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
		if n := clock.live; n != 1 {
			t.Fatalf("frozen=%v: %d clock timers set, want 1", frozen, n)
		}
		if got := len(st.Pending()); got != 3 {
			t.Fatalf("frozen=%v: %d timers pending, want 3", frozen, got)
		}
		clock.Advance(10 * time.Second)
		if want := []string{"b", "c", "a"}; !slices.Equal(fired, want) {
			t.Fatalf("frozen=%v: fired %v, want %v", frozen, fired, want)
		}
		if p := st.Pending(); len(p) != 0 || len(st.due) != 0 || len(st.timers) != 0 {
			t.Fatalf("frozen=%v: left pending %v, %d in the heap", frozen, p, len(st.due))
		}
	}
}
