package server

import (
	"math"
	"time"
)

// tokenBucket is a connection's request rate limit: rate tokens a
// second, up to burst, one per request. It is two numbers in the
// connection's state, where a rate.Limiter (its mutex, its limits and
// two times) cost 88 B more of every connection's heap. A connection's
// requests are dispatched one at a time, so it needs no lock.
type tokenBucket struct {
	tokens float64
	at     time.Duration // bucketClock when tokens was counted
}

// bucketStart is when bucketClock counts from.
var bucketStart = time.Now()

// bucketClock is a monotonic clock for the buckets.
func bucketClock() time.Duration { return time.Since(bucketStart) }

// fullBucket is a bucket holding burst tokens at now.
func fullBucket(now time.Duration, burst int) tokenBucket {
	return tokenBucket{tokens: float64(burst), at: now}
}

// take takes a token at now, if there is one (0); else it takes none and
// tells how long until there is one.
func (b *tokenBucket) take(now time.Duration, rate float64, burst int) (wait time.Duration) {
	if now > b.at {
		b.tokens = min(float64(burst), b.tokens+(now-b.at).Seconds()*rate)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	w := math.Ceil((1 - b.tokens) / rate * float64(time.Second))
	if w >= math.MaxInt64 || math.IsNaN(w) {
		return math.MaxInt64
	}
	return time.Duration(w)
}
