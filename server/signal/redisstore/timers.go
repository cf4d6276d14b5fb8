package redisstore

import (
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Timers live in one sorted set (member "{kind}|{id}", score: due in ms).
// The node that sets one polls when it falls due; every node also sweeps
// every timerSweep for due ones, so the timers of a node that died fire
// anyway. Whichever node fires one, the core's transaction removes it
// with its effect (Fired), so it takes effect once.

// timerBatch bounds the due timers one read returns, and timerBatches
// the reads of one poll (timers that keep failing wait for the sweep).
const (
	timerBatch   = 256
	timerBatches = 16
)

// pollTimers fires the timers due now. Polls do not overlap: one asked
// for while another runs makes that one poll again.
func (st *Store) pollTimers() {
	st.pollWant.Store(true)
	for st.pollWant.Load() && st.polling.TryLock() {
		for st.pollWant.Swap(false) {
			for i := 0; i < timerBatches && st.pollOnce() == timerBatch; i++ {
			}
		}
		st.polling.Unlock()
	}
}

// pollOnce fires up to timerBatch due timers and says how many.
func (st *Store) pollOnce() int {
	now := st.cfg.Clock.Now().UnixMilli()
	zs, err := st.rdb.ZRangeByScoreWithScores(st.ctx, st.p+"timers", &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now, 10), Count: timerBatch,
	}).Result()
	if err != nil {
		if st.ctx.Err() == nil {
			st.log.Debug("timers not read", "err", err)
		}
		return 0
	}
	for _, z := range zs {
		if tm, ok := parseTimer(z.Member.(string), z.Score); ok {
			st.fire(tm)
		}
	}
	return len(zs)
}

// sweep polls, and again after timerSweep.
func (st *Store) sweep() {
	st.pollTimers()
	st.afterFunc(timerSweep, st.sweep)
}
