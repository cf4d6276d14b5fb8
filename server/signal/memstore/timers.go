package memstore

import (
	"container/heap"
	"time"

	"github.com/parley-rtc/parley/server/signal"
)

// The timers wait in a heap, earliest due first, under one clock timer
// set for the earliest: a timer costs a small record instead of a clock
// timer and two closures (every session has one, its ICE refresh;
// measured: 460 B of an idle session's heap went to it). A due timer's
// record stays (in timers, out of the heap) until the transaction it
// runs takes it (Fired), is reset, or is cancelled.

type timerKey struct {
	kind signal.TimerKind
	id   string
}

type timer struct {
	t   signal.Timer
	seq uint64 // orders timers due at once as they were set
	at  int    // its place in the heap; -1 once due
}

// timerHeap orders the timers not yet due: by due time, then as set.
type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }

func (h timerHeap) Less(i, j int) bool {
	if d := h[i].t.Due.Compare(h[j].t.Due); d != 0 {
		return d < 0
	}
	return h[i].seq < h[j].seq
}

func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].at, h[j].at = i, j
}

func (h *timerHeap) Push(x any) {
	tm := x.(*timer)
	tm.at = len(*h)
	*h = append(*h, tm)
}

func (h *timerHeap) Pop() any {
	old := *h
	tm := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	tm.at = -1
	return tm
}

// setTimer sets tm, replacing the one of its kind and id. The caller
// holds mu.
func (st *Store) setTimer(tm signal.Timer) {
	key := timerKey{tm.Kind, tm.ID}
	if old := st.timers[key]; old != nil {
		st.unschedule(old)
	}
	st.timerSeq++
	set := &timer{t: tm, seq: st.timerSeq}
	st.timers[key] = set
	heap.Push(&st.due, set)
	st.arm()
}

// dropTimer removes the timer of kind and id; the caller holds mu.
func (st *Store) dropTimer(key timerKey) {
	if tm := st.timers[key]; tm != nil {
		st.unschedule(tm)
		delete(st.timers, key)
	}
}

// unschedule takes tm out of the heap if it is not yet due. The clock
// timer stays: if it was set for tm, it finds nothing due and sets itself
// for the next one.
func (st *Store) unschedule(tm *timer) {
	if tm.at >= 0 {
		heap.Remove(&st.due, tm.at)
	}
}

// arm sets the clock timer for the earliest timer, unless it is set for
// that one already or an earlier one. The caller holds mu.
func (st *Store) arm() {
	if len(st.due) == 0 {
		return
	}
	next := st.due[0].t.Due
	if st.stopClock != nil && !next.Before(st.armedFor) {
		return
	}
	if st.stopClock != nil {
		st.stopClock()
	}
	st.armGen++
	gen := st.armGen
	st.armedFor = next
	st.stopClock = st.cfg.Clock.AfterFunc(next.Sub(st.cfg.Clock.Now()), func() { st.wake(gen, next) })
}

// wake runs on the clock's goroutine when the clock timer set for due
// (arming gen) goes off: every timer due by then, or by the clock's now,
// fires, in order, outside the lock, as each runs a transaction.
func (st *Store) wake(gen uint64, due time.Time) {
	st.mu.Lock()
	if gen == st.armGen {
		st.stopClock = nil
	}
	if now := st.cfg.Clock.Now(); now.After(due) {
		due = now
	}
	var fire []signal.Timer
	for len(st.due) > 0 && !st.due[0].t.Due.After(due) {
		fire = append(fire, heap.Pop(&st.due).(*timer).t)
	}
	st.arm()
	st.mu.Unlock()
	for _, tm := range fire {
		st.fire(tm)
	}
}
