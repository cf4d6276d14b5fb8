package server

import (
	"testing"
	"time"
)

// TestTokenBucket takes tokens from a bucket of 2 tokens a second, burst
// 3, at the times given: the burst first, then one token per half second,
// never more than the burst however long it waited.
func TestTokenBucket(t *testing.T) {
	const rate, burst = 2.0, 3
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	steps := []struct {
		at   time.Duration
		wait time.Duration // 0: taken
	}{
		{ms(0), 0}, {ms(0), 0}, {ms(0), 0}, // the burst
		{ms(0), ms(500)},
		{ms(100), ms(400)},
		{ms(500), 0},
		{ms(500), ms(500)},
		{ms(750), ms(250)},
		{ms(1000), 0},
		{ms(60_000), 0}, {ms(60_000), 0}, {ms(60_000), 0}, // refilled to the burst, no further
		{ms(60_000), ms(500)},
		{ms(59_000), ms(500)}, // a clock read late by another goroutine changes nothing
	}
	b := fullBucket(0, burst)
	for i, s := range steps {
		if got := b.take(s.at, rate, burst); got != s.wait {
			t.Fatalf("step %d at %v: wait %v, want %v", i, s.at, got, s.wait)
		}
	}
}
