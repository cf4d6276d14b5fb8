// Package redisstore keeps the signaling state in Redis, so that several
// nodes share it: a session, room or call belongs to no node, and a
// session resumes on any of them (cluster mode).
//
// Go computes, Redis commits. A transaction (tx) reads records and
// indexes, each read once and kept (the identity map the core relies on),
// and queues its writes; Commit runs one Lua script (commit.lua) that
// checks the versions read, applies every write, appends each
// notification to its recipients' logs (a Stream per session whose ids
// are the seqs) and wakes the nodes the recipients are on. A node
// delivers its own recipients' frames from the script's answer before
// Commit returns; other nodes get a pub/sub hint and read the log. The
// log is the truth and pub/sub a hint: a node that missed hints (a
// reconnect) catches its sessions up from their logs. Timers are a sorted
// set any node polls; a node's lease is a key it renews every second, and
// the nodes reap the sessions of a node whose lease lapsed. DESIGN.md in
// the parent package has the layout and the contract.
package redisstore

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-rtc/parley/server/signal"
)

// The scripts, loaded once per Redis (EVALSHA, with EVAL on NOSCRIPT).
var (
	//go:embed commit.lua
	commitLua string
	//go:embed boot.lua
	bootLua string
	//go:embed lease.lua
	leaseLua string
	//go:embed delivery.lua
	deliveryLua string

	commitScript   = redis.NewScript(commitLua)
	bootScript     = redis.NewScript(bootLua)
	leaseScript    = redis.NewScript(leaseLua)
	deliveryScript = redis.NewScript(deliveryLua)
)

// Config is what a Redis store is built with.
type Config struct {
	signal.StoreConfig
	// Redis says how to reach Redis (ParseURL makes one); New adds its
	// OnConnect check.
	Redis *redis.UniversalOptions
	// Prefix starts every key ("parley:" if empty): several clusters,
	// or tests, can share one Redis.
	Prefix string
	// LeaseTTL is how long a node's lease lives unrenewed (3 s); it is
	// renewed every third of it.
	LeaseTTL time.Duration
	// Describe is what the node's lease says of it (admin.node.status).
	Describe func() NodeInfo
	// Observer counts what the store does (metrics); nil counts nothing.
	Observer Observer
}

// Observer is told what the store does, for metrics. Its methods must be
// quick and must not call back into the store.
type Observer interface {
	// Command: one Redis command (or pipeline, "pipeline") took d; err is
	// its failure (a key not found is none).
	Command(name string, d time.Duration, err error)
	// Reconnected: the node's pub/sub connection came back, and its
	// sessions were caught up from their logs.
	Reconnected()
	// CaughtUp: frames were read from a log instead of a commit's answer
	// (reason: "hint" for another node's commit, "reconnect", "check").
	CaughtUp(reason string, frames int)
	// Conflict: a transaction conflicted and runs again.
	Conflict()
}

type noObserver struct{}

func (noObserver) Command(string, time.Duration, error) {}
func (noObserver) Reconnected()                         {}
func (noObserver) CaughtUp(string, int)                 {}
func (noObserver) Conflict()                            {}

// NodeInfo is what a node's lease says of it.
type NodeInfo struct {
	Version   string `json:"version,omitempty"`
	StartedAt int64  `json:"startedAt,omitempty"`
	Draining  bool   `json:"draining,omitempty"`
}

// Defaults.
const (
	defaultPrefix   = "parley:"
	defaultLeaseTTL = 3 * time.Second
	// doneTTL is how long a commit id is remembered; a retried commit
	// comes within go-redis' retries, well inside it.
	doneTTL = 30 * time.Second
	// goneTTL is how long a deleted session's log outlives it: its old
	// node may still have to deliver its last frames (session.replaced)
	// before it closes the connection.
	goneTTL = time.Minute
	// timerSweep is how often every node looks for due timers besides the
	// ones it set (another node's, which may have died).
	timerSweep = time.Second
	// checkEvery is how often a node compares its sessions' logs with
	// what it delivered, in case a hint was lost.
	checkEvery = 5 * time.Second
)

// ErrLeaseLost: this node's lease lapsed; it writes nothing until it has
// taken its lease back (or exits, if the cluster reaped its sessions).
var ErrLeaseLost = errors.New("redisstore: this node's lease lapsed")

// Store is the signaling state in Redis, as one node sees it.
type Store struct {
	cfg  Config
	rdb  redis.UniversalClient
	p    string // the key prefix
	node string
	log  *slog.Logger
	obs  Observer
	// The hooks are set after the store's loops start (the core is built
	// on the store): fire runs a due timer; onReaped runs when this node
	// finds that the cluster reaped its sessions (it must close its
	// connections and stop); reaper reaps a lapsed node (the core's Reap).
	fire     hook[func(signal.Timer)]
	onReaped hook[func()]
	reaper   hook[func(ctx context.Context, node string) (int, error)]

	dataset atomic.Pointer[string]
	commits atomic.Uint64 // numbers this node's commit ids

	mu    sync.Mutex
	local map[string]*local // sessions attached here

	// lease: when it was last renewed (monotonic, UnixNano of a
	// time.Now) and whether it is held; healthy: for how long Redis has
	// answered every renewal (zero: it did not).
	leaseAt   atomic.Int64
	leaseHeld atomic.Bool
	healthy   atomic.Int64
	reaped    atomic.Bool

	dirty    dirtySet // sessions whose log may hold frames not delivered
	polling  sync.Mutex
	pollWant atomic.Bool
	stop     []func() bool // timers of the store's own (sweeps)
	stopMu   sync.Mutex
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closed   atomic.Bool
}

var _ signal.Store = (*Store)(nil)

// New connects to Redis, takes this node's lease and starts the node's
// loops (hints, timers, lease, reaping); Close stops them.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Clock == nil {
		cfg.Clock = signal.SystemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = defaultPrefix
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = defaultLeaseTTL
	}
	if cfg.Node == "" {
		return nil, errors.New("redisstore: a node id is needed")
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	if cfg.Describe == nil {
		cfg.Describe = func() NodeInfo { return NodeInfo{} }
	}
	st := &Store{
		cfg:   cfg,
		p:     cfg.Prefix,
		node:  cfg.Node,
		log:   cfg.Log.With("store", "redis"),
		obs:   cfg.Observer,
		local: make(map[string]*local),
	}
	st.dirty.init()
	empty := ""
	st.dataset.Store(&empty)
	opts := *cfg.Redis
	onConnect := opts.OnConnect
	opts.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		if onConnect != nil {
			if err := onConnect(ctx, cn); err != nil {
				return err
			}
		}
		return st.boot(ctx, cn)
	}
	st.rdb = redis.NewUniversalClient(&opts)
	st.rdb.AddHook(commandHook{st.obs})
	st.ctx, st.cancel = context.WithCancel(context.Background())
	sub, err := st.subscribe(ctx)
	if err == nil {
		if err = st.takeLease(ctx); err != nil {
			_ = sub.Close()
		}
	}
	if err != nil {
		st.cancel()
		_ = st.rdb.Close()
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	st.start(sub)
	return st, nil
}

// boot checks, on a fresh connection, whether Redis restarted since the
// last connection of any node (boot.lua), and learns the dataset. The
// Sentinels' connections (go-redis gives them the hook too) are left
// alone.
func (st *Store) boot(ctx context.Context, cn *redis.Conn) error {
	if st.cfg.Redis.MasterName != "" {
		role, err := cn.Do(ctx, "ROLE").Slice()
		if err != nil {
			return fmt.Errorf("redisstore: role: %w", err)
		}
		if len(role) > 0 && role[0] == "sentinel" {
			return nil
		}
	}
	res, err := bootScript.Run(ctx, cn, nil, st.p, newID()).StringSlice()
	if err != nil {
		return fmt.Errorf("redisstore: boot check: %w", err)
	}
	if old := st.dataset.Swap(&res[1]); *old != "" && *old != res[1] {
		st.log.Warn("Redis lost Parley's state (it restarted without its data): every session is lost", "dataset", res[1])
		st.dirtyAll("reconnect")
	}
	return nil
}

// newID is 16 random hex digits.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// OnReaped sets what runs when this node finds the cluster reaped it
// (its lease lapsed and another node detached its sessions): the server
// closes its connections (4307) and exits. Call it before serving.
func (st *Store) OnReaped(f func()) { st.onReaped.set(f) }

// Timers sets what a due timer runs.
func (st *Store) Timers(fire func(signal.Timer)) { st.fire.set(fire) }

// hook is a function the store's running loops call, set at any time.
type hook[F any] struct{ p atomic.Pointer[F] }

func (h *hook[F]) set(f F) { h.p.Store(&f) }

// get is the function set, and false if none is.
func (h *hook[F]) get() (F, bool) {
	if f := h.p.Load(); f != nil {
		return *f, true
	}
	var zero F
	return zero, false
}

// Dataset names the state Redis holds (boot.lua).
func (st *Store) Dataset() string { return *st.dataset.Load() }

// Node is this node's id.
func (st *Store) Node() string { return st.node }

// Conn is a session's connection on this node.
func (st *Store) Conn(id string) signal.Conn {
	st.mu.Lock()
	defer st.mu.Unlock()
	if l := st.local[id]; l != nil {
		return l.conn
	}
	return nil
}

// Healthy is nil while this node holds its lease and Redis answers.
func (st *Store) Healthy() error {
	switch {
	case st.reaped.Load():
		return errors.New("the cluster reaped this node's sessions")
	case !st.leaseLive():
		return ErrLeaseLost
	}
	return nil
}

// Close stops the node's loops and closes its Redis connections. It
// leaves the lease to lapse unless Leave was called.
func (st *Store) Close() error {
	if !st.closed.CompareAndSwap(false, true) {
		return nil
	}
	st.cancel()
	st.stopMu.Lock()
	for _, stop := range st.stop {
		stop()
	}
	st.stopMu.Unlock()
	st.dirty.close()
	st.wg.Wait()
	return st.rdb.Close()
}

// afterFunc runs f after d on the store's clock, unless closed.
func (st *Store) afterFunc(d time.Duration, f func()) {
	st.stopMu.Lock()
	defer st.stopMu.Unlock()
	if st.closed.Load() {
		return
	}
	st.stop = append(st.stop, st.cfg.Clock.AfterFunc(d, func() {
		if !st.closed.Load() {
			f()
		}
	}))
	if len(st.stop) > 1024 { // stopping a fired timer is harmless: keep the list short
		st.stop = st.stop[len(st.stop)-256:]
	}
}

// Pending lists the timers set (tests and diagnostics).
func (st *Store) Pending() []signal.Timer {
	zs, err := st.rdb.ZRangeWithScores(context.Background(), st.p+"timers", 0, -1).Result()
	if err != nil {
		st.log.Error("timers not read", "err", err)
		return nil
	}
	out := make([]signal.Timer, 0, len(zs))
	for _, z := range zs {
		if tm, ok := parseTimer(z.Member.(string), z.Score); ok {
			out = append(out, tm)
		}
	}
	return out
}

// LoseLog loses a session's log as a Redis restart without its data would
// (tests).
func (st *Store) LoseLog(id string) {
	if err := st.rdb.Del(context.Background(), st.p+"log:"+id, st.p+"logm:"+id).Err(); err != nil {
		st.log.Error("log not dropped", "session", id, "err", err)
	}
}

// timerMember names a timer in the timers set: "{kind}|{id}".
func timerMember(kind signal.TimerKind, id string) string {
	return strconv.Itoa(int(kind)) + "|" + id
}

func parseTimer(member string, score float64) (signal.Timer, bool) {
	kind, id, ok := strings.Cut(member, "|")
	k, err := strconv.Atoi(kind)
	if !ok || err != nil {
		return signal.Timer{}, false
	}
	return signal.Timer{Kind: signal.TimerKind(k), ID: id, Due: time.UnixMilli(int64(score))}, true
}

// commandHook times every command for the Observer.
type commandHook struct{ obs Observer }

func (commandHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h commandHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.obs.Command(cmd.Name(), time.Since(start), failure(err))
		return err
	}
}

func (h commandHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.obs.Command("pipeline", time.Since(start), failure(err))
		return err
	}
}

// failure is err unless it is redis.Nil (a key not found).
func failure(err error) error {
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

// ParseURL makes the connection options of a redis:// or rediss:// URL
// (redis://[user:password@]host:port/db); with master set, the primary is
// found through the Sentinels at sentinels instead of the URL's host (the
// URL still gives the database, credentials and TLS).
func ParseURL(url, master string, sentinels []string) (*redis.UniversalOptions, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	u := &redis.UniversalOptions{
		Addrs:     []string{o.Addr},
		DB:        o.DB,
		Username:  o.Username,
		Password:  o.Password,
		TLSConfig: o.TLSConfig,
		// Fail fast while Redis is away: requests answer 503 with a retry
		// hint rather than hang.
		DialTimeout:   time.Second,
		DialerRetries: 2,
		ReadTimeout:   2 * time.Second,
		WriteTimeout:  2 * time.Second,
		MaxRetries:    2,
		// A caller's deadline (a connection's accept) bounds its commands.
		ContextTimeoutEnabled: true,
		MinRetryBackoff:       8 * time.Millisecond,
		MaxRetryBackoff:       256 * time.Millisecond,
	}
	if master != "" {
		if len(sentinels) == 0 {
			return nil, errors.New("redis sentinel: a master name needs the Sentinels' addresses")
		}
		u.MasterName, u.Addrs = master, sentinels
	}
	return u, nil
}
