package parley

import (
	"math/rand/v2"
	"time"
)

// Backoff says how the client waits between reconnect attempts: Initial,
// then Factor times more per failed attempt up to Max, each shortened by a
// random fraction up to Jitter so that many clients cut off by the same
// server restart do not all come back in the same instant. Zero fields
// take the defaults (250ms, 10s, 2, 0.2).
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	Factor  float64
	Jitter  float64 // 0…1
	// Disabled turns reconnecting off: a dropped connection closes the
	// client (StateClosed).
	Disabled bool
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = 250 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 10 * time.Second
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.Factor < 1 {
		b.Factor = 2
	}
	if b.Jitter <= 0 || b.Jitter > 1 {
		b.Jitter = 0.2
	}
	return b
}

// delay is the wait before attempt n (0 = the first reconnect attempt).
func (b Backoff) delay(n int) time.Duration {
	d := float64(b.Initial)
	for i := 0; i < n && d < float64(b.Max); i++ {
		d *= b.Factor
	}
	d = min(d, float64(b.Max))
	return time.Duration(d * (1 - b.Jitter*rand.Float64()))
}
