package webhook

import (
	"sync/atomic"
	"time"
)

// Stats is a snapshot of delivery since the start, over every URL.
type Stats struct {
	Delivered uint64 // attempts answered 2xx
	Failed    uint64 // events given up after GiveUpAfter
	Retried   uint64 // failed attempts that will be retried
	Dropped   uint64 // events dropped from a full queue
	Queued    int64  // deliveries waiting now (in flight and retrying included)
	// Latency is the time from an event to its 2xx, per URL delivery.
	Latency Histogram
}

// Histogram counts durations in LatencyBuckets (upper bounds, seconds).
type Histogram struct {
	Counts     [len(LatencyBuckets)]uint64 // cumulative: Counts[i] is how many took ≤ LatencyBuckets[i]
	Count      uint64
	SumSeconds float64
}

// LatencyBuckets are the upper bounds of Stats.Latency, from a receiver
// on the same host to one that was down for most of a day.
var LatencyBuckets = [...]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 6 * 3600, 24 * 3600}

type counters struct {
	delivered, failed, retried, dropped atomic.Uint64
	queued                              atomic.Int64
	latency                             histogram
}

type histogram struct {
	buckets [len(LatencyBuckets)]atomic.Uint64 // not cumulative
	count   atomic.Uint64
	sumUs   atomic.Uint64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	for i, b := range LatencyBuckets {
		if s <= b {
			h.buckets[i].Add(1)
			break
		}
	}
	h.count.Add(1)
	h.sumUs.Add(uint64(max(d.Microseconds(), 0)))
}

// Stats returns a snapshot of the counters.
func (d *Dispatcher) Stats() Stats {
	c := &d.stats
	st := Stats{
		Delivered: c.delivered.Load(),
		Failed:    c.failed.Load(),
		Retried:   c.retried.Load(),
		Dropped:   c.dropped.Load(),
		Queued:    c.queued.Load(),
	}
	var cum uint64
	for i := range LatencyBuckets {
		cum += c.latency.buckets[i].Load()
		st.Latency.Counts[i] = cum
	}
	st.Latency.Count = c.latency.count.Load()
	st.Latency.SumSeconds = float64(c.latency.sumUs.Load()) / 1e6
	return st
}
