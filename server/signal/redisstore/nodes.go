package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/redis/go-redis/v9"

	"github.com/parley-rtc/parley/server/signal"
)

// A node holds a lease, node:{id}, renewed every LeaseTTL/3 (lease.lua);
// nodes lists every node by its last renewal. A node whose lease lapses
// is reaped by any live one: its sessions are detached (the core's Reap)
// and resume elsewhere. A node that finds its own lease lapsed takes it
// back if nobody started reaping it (Redis was away for everyone), and
// otherwise stops: its connections close (4307) and it writes nothing
// more (commit.lua refuses a node without a lease).

// processStart makes lease times monotonic.
var processStart = time.Now()

func sinceStart() int64 { return int64(time.Since(processStart)) }

// leaseLive reports whether this node renewed its lease within the TTL.
func (st *Store) leaseLive() bool {
	return st.leaseHeld.Load() && time.Duration(sinceStart()-st.leaseAt.Load()) < st.cfg.LeaseTTL
}

// lease runs lease.lua.
func (st *Store) lease(ctx context.Context, op, node string) (bool, error) {
	info, err := json.Marshal(st.cfg.Describe())
	if err != nil {
		return false, err
	}
	if op == "reap" {
		info = []byte(st.node)
	}
	n, err := leaseScript.Run(ctx, st.rdb, nil, st.p, op, node, st.cfg.LeaseTTL.Milliseconds(), info, time.Now().UnixMilli()).Int()
	return n == 1, err
}

// takeLease takes this node's lease at start.
func (st *Store) takeLease(ctx context.Context) error {
	ok, err := st.lease(ctx, "reclaim", st.node)
	if err != nil {
		return fmt.Errorf("redisstore: take this node's lease: %w", err)
	}
	if !ok {
		return fmt.Errorf("redisstore: node id %q was reaped by the cluster before; start with another one", st.node)
	}
	st.renewed()
	return nil
}

func (st *Store) renewed() {
	st.leaseAt.Store(sinceStart())
	st.leaseHeld.Store(true)
	if st.healthy.Load() == 0 {
		st.healthy.Store(sinceStart())
	}
}

// every runs f every d on its own goroutine until the store closes or f
// returns false.
func (st *Store) every(d time.Duration, f func() bool) {
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		tick := time.NewTicker(d)
		defer tick.Stop()
		for {
			select {
			case <-st.ctx.Done():
				return
			case <-tick.C:
				if !f() {
					return
				}
			}
		}
	}()
}

// renew renews the lease (every LeaseTTL/3); see the top of this file for
// a lapse. lapsed says whether the last renewal failed for good.
func (st *Store) renew(lapsed *bool) bool {
	ctx, cancel := context.WithTimeout(st.ctx, st.cfg.LeaseTTL/3)
	defer cancel()
	ok, err := st.lease(ctx, "renew", st.node)
	if err == nil && !ok {
		if ok, err = st.lease(ctx, "reclaim", st.node); err == nil && !ok {
			st.wasReaped()
			return false
		}
		if err == nil {
			st.log.Warn("this node's lease had lapsed; it took it back (no node had reaped it)")
		}
	}
	if err != nil {
		st.healthy.Store(0)
		if !*lapsed && !st.leaseLive() {
			*lapsed = true
			st.log.Error("this node's lease lapsed: Redis does not answer; it writes nothing until Redis is back", "err", err)
		}
		return true
	}
	st.renewed()
	if *lapsed {
		*lapsed = false
		st.log.Info("Redis is back; this node holds its lease again")
		st.dirtyAll("reconnect")
	}
	return true
}

// wasReaped: the cluster detached this node's sessions. Its connections
// close for a resume elsewhere and the node stops (onReaped).
func (st *Store) wasReaped() {
	st.reaped.Store(true)
	st.leaseHeld.Store(false)
	st.log.Error("this node's lease lapsed and the cluster reaped its sessions: closing its connections")
	for _, l := range st.locals() {
		l.mu.Lock()
		if !l.gone {
			st.forget(l)
			l.conn.Close(signal.CloseMigrate, "this node lost its place in the cluster: resume on another node")
		}
		l.mu.Unlock()
	}
	st.onReaped()
}

// reapEvery is how often a node looks for lapsed nodes; a node reaps only
// after Redis has answered it for reapAfter leases, so that after an
// outage every node takes its own lease back first.
const (
	reapEvery = time.Second
	reapAfter = 2
)

// SetReaper sets what reaps a lapsed node (the core's Reap); without it
// the node reaps nothing.
func (st *Store) SetReaper(reap reaper) {
	st.reaper.Store(&reap)
}

// reaper detaches a lapsed node's sessions (Core.Reap).
type reaper func(ctx context.Context, node string) (int, error)

// reap reaps the lapsed nodes (every reapEvery), once Redis has answered
// this node for reapAfter leases.
func (st *Store) reap() bool {
	h := st.healthy.Load()
	if st.reaper.Load() == nil || h == 0 || time.Duration(sinceStart()-h) < reapAfter*st.cfg.LeaseTTL {
		return true
	}
	if err := st.reapLapsed(); err != nil && st.ctx.Err() == nil {
		st.log.Warn("lapsed nodes not reaped", "err", err)
	}
	return true
}

// reapLapsed reaps every node whose lease lapsed.
func (st *Store) reapLapsed() error {
	ctx := st.ctx
	nodes, err := st.rdb.ZRange(ctx, st.p+"nodes", 0, -1).Result()
	if err != nil {
		return err
	}
	for _, node := range nodes {
		if node == st.node {
			continue
		}
		alive, err := st.rdb.Exists(ctx, st.p+"node:"+node).Result()
		if err != nil {
			return err
		}
		if alive == 1 {
			continue
		}
		claimed, err := st.lease(ctx, "reap", node)
		if err != nil || !claimed {
			if err != nil {
				return err
			}
			continue
		}
		n, err := (*st.reaper.Load())(ctx, node)
		if err != nil {
			return fmt.Errorf("reap %s: %w", node, err)
		}
		st.log.Warn("reaped a node whose lease lapsed", "node", node, "sessions", n)
		if err := st.rdb.ZRem(ctx, st.p+"nodes", node).Err(); err != nil {
			return err
		}
	}
	return nil
}

// Leave drops this node's lease and its place in the list of nodes (a
// clean shutdown, after the core handed its sessions over).
func (st *Store) Leave(ctx context.Context) error {
	_, err := st.lease(ctx, "leave", st.node)
	st.leaseHeld.Store(false)
	return err
}

// Node is one node of the cluster as its lease says.
type Node struct {
	ID    string
	Alive bool
	Info  NodeInfo
	// Sessions are attached to it or were dropped from it (in their
	// resume window).
	Sessions int64
}

// Nodes lists the cluster's nodes, by id.
func (st *Store) Nodes(ctx context.Context) ([]Node, error) {
	ids, err := st.rdb.ZRange(ctx, st.p+"nodes", 0, -1).Result()
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	slices.Sort(ids)
	leases := make([]*redis.StringCmd, len(ids))
	counts := make([]*redis.IntCmd, len(ids))
	_, err = st.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			leases[i] = p.Get(ctx, st.p+"node:"+id)
			counts[i] = p.ZCard(ctx, st.p+ixKey{signal.SessionsOfNode, id}.redisKey())
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]Node, len(ids))
	for i, id := range ids {
		out[i] = Node{ID: id, Sessions: counts[i].Val()}
		if raw, err := leases[i].Bytes(); err == nil {
			out[i].Alive = true
			_ = json.Unmarshal(raw, &out[i].Info)
		}
	}
	return out, nil
}

// start starts the node's loops.
func (st *Store) start(sub *redis.PubSub) {
	st.wg.Add(3)
	go st.hintLoop(sub)
	go st.catchUpLoop()
	go st.catchUpLoop()
	lapsed := false
	st.every(st.cfg.LeaseTTL/3, func() bool { return st.renew(&lapsed) })
	st.every(reapEvery, st.reap)
	st.every(checkEvery, func() bool { st.check(); return true })
	st.afterFunc(timerSweep, st.sweep)
}
