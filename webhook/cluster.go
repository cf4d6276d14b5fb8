package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-rtc/parley/api"
)

// In a cluster the events are not published to each node's dispatcher:
// every commit appends its events, numbered, to one shared log (the
// Journal: the Redis store's events stream), and for each URL one node at
// a time holds a lease and delivers them, in order per room, recording
// each finished delivery (a 2xx, a give-up) in the journal before that
// room's next event goes. A node that takes a URL over (its holder died)
// carries on from what was recorded: the event in flight when the holder
// died is sent again with the same webhook-id (at-least-once; receivers
// drop duplicates by id), nothing is lost while it is in the log, and each
// room's order holds across the change.

// Journal is a cluster's shared event log and the delivery state of each
// URL. Finished events are recorded by their order key (a room's
// "room/{id}", else a session's "session/{id}"), only while the caller
// holds the URL's lease.
type Journal interface {
	// Read returns up to limit events after cursor after, in cursor order,
	// waiting up to wait for one to come.
	Read(ctx context.Context, after int64, limit int, wait time.Duration) ([]api.Event, error)
	// Start makes a URL new to the cluster start at the latest event;
	// each node calls it before it serves.
	Start(ctx context.Context, url string) error
	// Lease takes or renews the right to deliver to url for ttl; false
	// while another node holds it. Release gives it up, if held.
	Lease(ctx context.Context, url string, ttl time.Duration) (bool, error)
	Release(ctx context.Context, url string) error
	// Delivered is where url's delivery stands: every event up to low is
	// finished, and each key's up to done[key].
	Delivered(ctx context.Context, url string) (low int64, done map[string]int64, err error)
	// Done records the event cursor of key finished for url; false if
	// the lease is not held (nothing recorded).
	Done(ctx context.Context, url, key string, cursor int64) (bool, error)
	// Low records every event of url up to cursor finished.
	Low(ctx context.Context, url string, cursor int64) error
}

// The lease's timing: held for leaseTTL, renewed every leaseRenew, so a
// holder that died is replaced within leaseTTL (plus a renewal).
const (
	leaseTTL   = 3 * time.Second
	leaseRenew = time.Second
	// lowEvery is how often the holder records its low-water cursor.
	lowEvery = 5 * time.Second
	// readBatch bounds the events one read takes from the journal.
	readBatch = 256
	// journalTimeout bounds one journal call (Redis unreachable).
	journalTimeout = 5 * time.Second
)

// startURL runs Journal.Start for url.
func startURL(j Journal, url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	if err := j.Start(ctx, url); err != nil {
		return fmt.Errorf("webhook: the cluster's delivery state of a URL: %w", err)
	}
	return nil
}

// recorder is endpoint.finished in a cluster: the journal records the
// event finished, if this node still holds the URL.
func (e *endpoint) recorder(j Journal) func(m *message) bool {
	return func(m *message) bool {
		c, cancel := context.WithTimeout(e.d.ctx, journalTimeout)
		defer cancel()
		ok, err := j.Done(c, e.url, m.key, m.event.Data.Cursor)
		if err != nil || !ok {
			e.d.log.Debug("webhook: delivery not recorded", "url", e.url, "id", m.id, "held", ok, "err", err)
		}
		return ok && err == nil
	}
}

// follow delivers url's events from the journal while this node holds its
// lease, until the dispatcher closes.
func (e *endpoint) follow(j Journal) {
	ctx := e.d.ctx
	var (
		leading   bool
		read      int64            // the last cursor read
		done      map[string]int64 // finished before this node took over
		lastLow   time.Time
		recovered int64 // done's highest cursor
	)
	for ctx.Err() == nil {
		held, err := e.lease(j)
		if err != nil || !held {
			if leading {
				e.d.log.Info("webhook: no longer delivering to this URL (another node holds it)", "url", e.url, "err", err)
				e.reset()
				leading = false
			}
			sleepCtx(ctx, leaseRenew)
			continue
		}
		if !leading {
			c, cancel := context.WithTimeout(ctx, journalTimeout)
			read, done, err = j.Delivered(c, e.url)
			cancel()
			if err != nil {
				sleepCtx(ctx, leaseRenew)
				continue
			}
			recovered = 0
			for _, c := range done {
				recovered = max(recovered, c)
			}
			leading = true
			e.d.log.Info("webhook: delivering to this URL", "url", e.url, "from", read)
		}
		renewAt := time.Now().Add(leaseRenew)
		for ctx.Err() == nil && time.Now().Before(renewAt) {
			if e.full() { // the journal is the buffer: read on once there is room
				sleepCtx(ctx, 50*time.Millisecond)
				continue
			}
			evs, err := j.Read(ctx, read, readBatch, time.Until(renewAt))
			if err != nil {
				sleepCtx(ctx, 100*time.Millisecond)
				continue
			}
			for _, ev := range evs {
				if gap := ev.Data.Cursor - read - 1; read > 0 && gap > 0 {
					// Trimmed from the journal before this node read them.
					e.d.stats.dropped.Add(uint64(gap))
				}
				read = ev.Data.Cursor
				if m := e.d.message(ev); m != nil && read > done[m.key] {
					e.enqueue(m)
				}
			}
			if done != nil && read >= recovered {
				done = nil // past everything finished before the takeover
			}
		}
		if time.Since(lastLow) >= lowEvery {
			c, cancel := context.WithTimeout(ctx, journalTimeout)
			if err := j.Low(c, e.url, e.low(read)); err == nil {
				lastLow = time.Now()
			}
			cancel()
		}
	}
}

func (e *endpoint) lease(j Journal) (bool, error) {
	c, cancel := context.WithTimeout(e.d.ctx, journalTimeout)
	defer cancel()
	return j.Lease(c, e.url, leaseTTL)
}

// full reports whether the endpoint holds its maximum of waiting events.
func (e *endpoint) full() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.order.Len() >= e.d.cfg.QueueSize
}

// low is the cursor up to which every event read is finished: below the
// oldest still waiting (queues hold events in cursor order, and the order
// list the oldest first), else read.
func (e *endpoint) low(read int64) int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if f := e.order.Front(); f != nil {
		return f.Value.(*delivery).m.event.Data.Cursor - 1
	}
	return read
}

// reset forgets every waiting delivery without counting it: this node no
// longer holds the URL, and the one that does sends them. An attempt in
// flight ends as dropped.
func (e *endpoint) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, q := range e.queues {
		if q.retry != nil {
			q.retry.Stop()
			q.retry = nil
		}
		for _, dl := range q.items {
			dl.dropped = true
			if dl.elem != nil {
				e.order.Remove(dl.elem)
				dl.elem = nil
				e.d.stats.queued.Add(-1)
			}
		}
		q.items = nil
	}
	clear(e.queues)
	e.ready = e.ready[:0]
}

// sleepCtx sleeps d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
