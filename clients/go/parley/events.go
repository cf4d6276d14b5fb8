package parley

import (
	"context"
	"sync"
)

// notification is one server notification waiting for its hooks.
type notification struct {
	method string
	params []byte
}

// eventQueue hands notifications from the read loop to the one goroutine
// that runs the hooks, in arrival order. It is unbounded so that a slow
// hook never stops the read loop, which also reads the responses that
// hooks' own calls wait for.
type eventQueue struct {
	mu      sync.Mutex
	pending []notification
	wake    chan struct{}
}

func (q *eventQueue) init() { q.wake = make(chan struct{}, 1) }

func (q *eventQueue) push(n notification) {
	q.mu.Lock()
	q.pending = append(q.pending, n)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run delivers notifications until ctx ends.
func (q *eventQueue) run(ctx context.Context, deliver func(notification)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		q.mu.Unlock()
		for _, n := range batch {
			if ctx.Err() != nil {
				return
			}
			deliver(n)
		}
	}
}
