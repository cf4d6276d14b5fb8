// Package serial is an unbounded work queue served by one goroutine: the
// Go client's notification hooks and webrtcpeer's per-peer signaling both
// run on one.
package serial

import (
	"context"
	"sync"
)

// Queue holds items for Run, which handles them one at a time in push
// order. Push never blocks, however slow the handler: the queue grows
// instead, so a producer (a read loop, pion's callbacks) is never held up
// by work that may itself wait on that producer. The zero Queue is ready.
type Queue[T any] struct {
	mu      sync.Mutex
	pending []T
	wake    chan struct{} // one token: items are pending
}

func (q *Queue[T]) wakeLocked() chan struct{} {
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
	}
	return q.wake
}

// Push adds an item; it never blocks.
func (q *Queue[T]) Push(item T) {
	q.mu.Lock()
	q.pending = append(q.pending, item)
	wake := q.wakeLocked()
	q.mu.Unlock()
	select {
	case wake <- struct{}{}:
	default:
	}
}

// Run calls fn with each item, one at a time in push order, until ctx
// ends; items still queued then are dropped. One Run per Queue.
func (q *Queue[T]) Run(ctx context.Context, fn func(T)) {
	q.mu.Lock()
	wake := q.wakeLocked()
	q.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		q.mu.Unlock()
		for i, item := range batch {
			if ctx.Err() != nil {
				return
			}
			fn(item)
			var zero T
			batch[i] = zero // let go of what fn is done with
		}
	}
}
