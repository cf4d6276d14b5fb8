package rpc

import (
	"container/heap"
	"sync"
	"time"
)

// heartbeats holds when each open connection's heartbeat (Conn.beat) is
// next due, under one timer set for the earliest: a time.Timer and a
// closure of its own cost every connection about 130 B.
var heartbeats beatSchedule

type beatSchedule struct {
	mu    sync.Mutex
	queue beatQueue
	timer *time.Timer   // made by the first set; runs fire
	armed time.Duration // sinceEpoch the timer goes off at, 0 if it is not set
}

// set (re)schedules c's heartbeat at at (sinceEpoch).
func (s *beatSchedule) set(c *Conn, at time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.beatAt = at
	if c.beatIdx == 0 {
		heap.Push(&s.queue, c)
	} else {
		heap.Fix(&s.queue, int(c.beatIdx-1))
	}
	s.armLocked()
}

// stop unschedules c's heartbeat, if it is scheduled.
func (s *beatSchedule) stop(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.beatIdx != 0 {
		heap.Remove(&s.queue, int(c.beatIdx-1))
	}
}

// armLocked sets the timer for the earliest heartbeat unless it goes off
// before. A timer left for a heartbeat since stopped goes off for
// nothing, and is set again. The caller holds mu.
func (s *beatSchedule) armLocked() {
	if len(s.queue) == 0 {
		return
	}
	at := s.queue[0].beatAt
	if s.armed != 0 && s.armed <= at {
		return
	}
	s.armed = at
	if s.timer == nil {
		s.timer = time.AfterFunc(at-sinceEpoch(), s.fire)
		return
	}
	s.timer.Reset(at - sinceEpoch())
}

// fire runs the heartbeats that are due, in order, and sets the timer for
// the next. A heartbeat reschedules itself (or its connection closes).
func (s *beatSchedule) fire() {
	s.mu.Lock()
	s.armed = 0
	now := sinceEpoch()
	var due []*Conn
	for len(s.queue) > 0 && s.queue[0].beatAt <= now {
		due = append(due, heap.Pop(&s.queue).(*Conn))
	}
	s.armLocked()
	s.mu.Unlock()
	for _, c := range due {
		c.beat()
	}
}

// beatQueue is a heap of connections, the earliest beatAt first; a
// queued connection's beatIdx is its index + 1 (0: not queued).
type beatQueue []*Conn

func (q beatQueue) Len() int           { return len(q) }
func (q beatQueue) Less(i, j int) bool { return q[i].beatAt < q[j].beatAt }

func (q beatQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].beatIdx, q[j].beatIdx = int32(i+1), int32(j+1)
}

func (q *beatQueue) Push(x any) {
	c := x.(*Conn)
	*q = append(*q, c)
	c.beatIdx = int32(len(*q))
}

func (q *beatQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	c.beatIdx = 0
	return c
}
