package webhook

import (
	"bytes"
	"container/list"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// endpoint is one URL's delivery: a queue per room (or session), each
// delivered in order by a pool of workers, and one bound on everything
// waiting.
type endpoint struct {
	d   *Dispatcher
	url string
	// finished records an event's delivery finished (cluster.go); nil on
	// one node. It runs outside mu.
	finished func(m *message) bool

	mu     sync.Mutex
	wake   *sync.Cond
	queues map[string]*queue
	order  list.List // every waiting *delivery, oldest first (for dropping)
	ready  []*queue  // queues whose head may go now
	closed bool
}

// queue holds one room's (or session's) waiting deliveries in order. Its
// head is the only one ever in flight.
type queue struct {
	key   string
	items []*delivery
	state queueState
	retry *time.Timer // while waiting
}

type queueState uint8

const (
	queueIdle    queueState = iota // nothing to do (and no items)
	queueReady                     // in endpoint.ready
	queueSending                   // a worker is delivering its head
	queueWaiting                   // its head failed; retry runs
)

type delivery struct {
	m        *message
	elem     *list.Element // in endpoint.order; nil once out
	attempts int           // failed ones
	dropped  bool          // dropped for space while in flight
}

func newEndpoint(d *Dispatcher, url string) *endpoint {
	e := &endpoint{d: d, url: url, queues: make(map[string]*queue)}
	e.wake = sync.NewCond(&e.mu)
	return e
}

// enqueue adds m to its queue, dropping the oldest waiting delivery if the
// endpoint is full.
func (e *endpoint) enqueue(m *message) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	if e.order.Len() >= e.d.cfg.QueueSize {
		e.dropOldestLocked()
	}
	q := e.queues[m.key]
	if q == nil {
		q = &queue{key: m.key}
		e.queues[m.key] = q
	}
	dl := &delivery{m: m}
	dl.elem = e.order.PushBack(dl)
	q.items = append(q.items, dl)
	e.d.stats.queued.Add(1)
	if q.state == queueIdle {
		e.readyLocked(q)
	}
}

// dropOldestLocked drops the oldest waiting delivery. Each queue is in
// cursor order, so it is the head of its queue: a queue waiting to retry
// it goes on to its next item at once; one sending it moves on when the
// attempt ends, whatever its outcome.
func (e *endpoint) dropOldestLocked() {
	dl := e.order.Front().Value.(*delivery)
	q := e.queues[dl.m.key]
	e.removeHeadLocked(q)
	dl.dropped = true
	e.d.stats.dropped.Add(1)
	if q.state == queueWaiting {
		q.retry.Stop()
		q.retry = nil
		e.releaseLocked(q)
	}
}

// removeHeadLocked takes q's head out of the queue.
func (e *endpoint) removeHeadLocked(q *queue) {
	dl := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	e.order.Remove(dl.elem)
	dl.elem = nil
	e.d.stats.queued.Add(-1)
}

func (e *endpoint) readyLocked(q *queue) {
	q.state = queueReady
	e.ready = append(e.ready, q)
	e.wake.Signal()
}

// releaseLocked ends q's turn: ready again if it has items, else forgotten.
func (e *endpoint) releaseLocked(q *queue) {
	if len(q.items) > 0 {
		e.readyLocked(q)
		return
	}
	q.state = queueIdle
	if e.queues[q.key] == q { // not a queue reset dropped (cluster.go)
		delete(e.queues, q.key)
	}
}

// take waits for a queue whose head may go and marks it sending; nil once
// closed.
func (e *endpoint) take() (*queue, *delivery) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		for len(e.ready) == 0 && !e.closed {
			e.wake.Wait()
		}
		if e.closed {
			return nil, nil
		}
		q := e.ready[0]
		e.ready[0] = nil
		e.ready = e.ready[1:]
		if len(q.items) == 0 { // its items were dropped while it waited
			e.releaseLocked(q)
			continue
		}
		q.state = queueSending
		return q, q.items[0]
	}
}

// work delivers heads of ready queues until the endpoint closes.
func (e *endpoint) work() {
	for {
		q, dl := e.take()
		if q == nil {
			return
		}
		e.done(q, dl, e.attempt(dl.m))
	}
}

// done records an attempt's outcome: the queue moves on after a 2xx, a
// drop or a give-up, else waits to retry its head. In a cluster the
// outcome is recorded in the journal first (finished): the room's next
// event goes only once it is, and one that could not be recorded is sent
// again (the same webhook-id) after a while.
func (e *endpoint) done(q *queue, dl *delivery, ok bool) {
	now := e.d.now()
	deadline := dl.m.at.Add(e.d.cfg.GiveUpAfter)
	gaveUp := !ok && !now.Before(deadline)
	recorded := true
	if (ok || gaveUp) && !dl.dropped && e.finished != nil {
		recorded = e.finished(dl.m)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	switch {
	case dl.dropped:
	case !recorded:
		e.retryLocked(q, min(backoff(e.d.cfg, 1), deadline.Sub(now)))
		return
	case ok:
		e.removeHeadLocked(q)
		e.d.stats.delivered.Add(1)
		e.d.stats.latency.observe(now.Sub(dl.m.at))
	case gaveUp:
		dl.attempts++
		e.removeHeadLocked(q)
		e.d.stats.failed.Add(1)
		e.d.log.Warn("webhook: event given up", "url", e.url, "id", dl.m.id, "type", dl.m.event.Type, "attempts", dl.attempts)
	default:
		dl.attempts++
		e.d.stats.retried.Add(1)
		e.retryLocked(q, min(backoff(e.d.cfg, dl.attempts), deadline.Sub(now)))
		return
	}
	e.releaseLocked(q)
}

// retryLocked makes q wait delay before its head goes again.
func (e *endpoint) retryLocked(q *queue, delay time.Duration) {
	q.state = queueWaiting
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if q.retry == t && !e.closed {
			q.retry = nil
			e.readyLocked(q)
		}
	})
	q.retry = t
}

// backoff is the delay before retry n (1 is the first): FirstRetry doubled
// n-1 times, at most MaxBackoff, then jittered to between half and all of
// it, so that receivers coming back are not hit by every queue at once.
func backoff(cfg Config, n int) time.Duration {
	d := cfg.MaxBackoff
	if n < 40 {
		d = min(cfg.FirstRetry<<(n-1), cfg.MaxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

// attempt POSTs m once, signed; true on a 2xx.
func (e *endpoint) attempt(m *message) bool {
	ctx, cancel := context.WithTimeout(e.d.ctx, e.d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(m.body))
	if err != nil {
		e.d.log.Debug("webhook: request not made", "url", e.url, "err", err)
		return false
	}
	// Each attempt is signed anew: receivers refuse old timestamps
	// (Standard Webhooks suggests a 5-minute tolerance).
	ts := e.d.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "parley-webhooks")
	req.Header.Set("webhook-id", m.id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", Sign(e.d.secrets, m.id, ts, m.body))
	resp, err := e.d.client.Do(req)
	if err != nil {
		e.d.log.Debug("webhook: delivery failed", "url", e.url, "id", m.id, "err", err)
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		e.d.log.Debug("webhook: delivery refused", "url", e.url, "id", m.id, "status", resp.StatusCode)
		return false
	}
	return true
}

// close stops the workers and the retry timers.
func (e *endpoint) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	for _, q := range e.queues {
		if q.retry != nil {
			q.retry.Stop()
		}
	}
	e.wake.Broadcast()
}
