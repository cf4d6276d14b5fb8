package signal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/parley-rtc/parley/api"
)

// Limits bound what one client can make the core hold. Their tags are
// their rows in the server's configuration table (server.Config): the
// key, which is also the flag (--max-rooms) and the variable, and the
// help.
type Limits struct {
	MaxRoomsPerSession int `koanf:"max-rooms-per-session" usage:"rooms one session may be in at once"`
	// MaxCallsPerSession bounds the calls a session takes part in at once
	// as caller or party of an active call, and so when a callee device is
	// busy (486): calls ringing on a device do not count, or any caller
	// could make a callee busy by ringing it (MaxInvitesPerCaller and
	// MaxInvitesPerPair bound those).
	MaxCallsPerSession int `koanf:"max-calls-per-session" usage:"calls one session may take part in at once (its own unanswered invites and answered calls; not calls ringing on it); a callee whose every session has this many answered calls is busy (486)"`
	MaxPresenceFollows int `koanf:"max-presence-follows" usage:"identities one session may follow with presence.subscribe"`
	MaxPeersPerRoom    int `koanf:"max-peers" was:"max-peers-per-room" usage:"peers per room (default and ceiling of maxPeers)"`
	MaxRooms           int `koanf:"max-rooms" usage:"rooms on this node (in cluster mode: in the cluster, approximately)"`
	// Unanswered invites (call.invite) are capped per caller identity and
	// per caller–callee pair, so that no caller can keep a callee ringing
	// at will; a callee is busy only with answered calls.
	MaxInvitesPerCaller int `koanf:"max-invites-per-caller" usage:"unanswered call.invite one identity may have ringing at once; beyond: 413"`
	MaxInvitesPerPair   int `koanf:"max-invites-per-pair" usage:"unanswered call.invite from one identity to one callee at once; beyond: 413"`
	// A room made with room.create waits EmptyRoomTTL for its first peer,
	// SessionEmptyRoomTTL if a session made it (it is then capped per
	// session and identity, holding a share of MaxRooms meanwhile, and
	// goes when that session ends).
	EmptyRoomTTL             time.Duration `koanf:"empty-room-ttl" usage:"how long a room an app backend made with room.create over POST /rpc waits for its first peer"`
	SessionEmptyRoomTTL      time.Duration `koanf:"session-empty-room-ttl" usage:"how long a room a session made with room.create waits for its first peer (it also goes when that session ends); --empty-room-ttl is for rooms made over POST /rpc"`
	MaxEmptyRoomsPerSession  int           `koanf:"max-empty-rooms-per-session" usage:"rooms one session may have made with room.create that nobody has joined yet; beyond: 413"`
	MaxEmptyRoomsPerIdentity int           `koanf:"max-empty-rooms-per-identity" usage:"the same, for all the sessions of one identity together"`
	// ResumeWindow is how long a detached session keeps its seats, counted
	// from when the drop is noticed; an address holds at most
	// MaxDetachedPerIP detached sessions, an identity
	// MaxDetachedPerIdentity (they count against the server's per-address
	// connection cap too).
	ResumeWindow           time.Duration `koanf:"resume-window" usage:"how long a dropped session keeps its peer id, rooms and seats for a resume (from when the drop is noticed)"`
	MaxDetachedPerIP       int           `koanf:"max-detached-per-ip" usage:"dropped sessions one source address may hold for a resume (beyond: its oldest ends); they count against --max-conns-per-ip too"`
	MaxDetachedPerIdentity int           `koanf:"max-detached-per-identity" usage:"dropped sessions one identity may hold for a resume (beyond: its oldest ends)"`
}

// The duplicate-identity policies: what a fresh session.connect does when
// its identity already has a session (attached, or detached within its
// resume window). A resume is never a duplicate.
const (
	// DuplicateMulti lets an identity hold several sessions (devices): a
	// call forks to all of them, presence lists them.
	DuplicateMulti = "multi"
	// DuplicateTakeover ends the older sessions: they get session.replaced,
	// their seats go (room.peerLeft reason replaced) and their connections
	// close with 4008.
	DuplicateTakeover = "takeover"
	// DuplicateReject refuses the new session with 409.
	DuplicateReject = "reject"
)

// Config is what the core is built with.
type Config struct {
	Limits Limits
	// Duplicate is the duplicate-identity policy (DuplicateMulti, …).
	Duplicate string
	// Node names this node (StoreConfig.Node). Cluster: the store is
	// shared with other nodes (Redis), so draining hands sessions over
	// (they resume elsewhere), and a node going away detaches its sessions
	// instead of closing every room.
	Node    string
	Cluster bool
	Clock   Clock
	Log     *slog.Logger
	// Observer counts what the core does; nil counts nothing.
	Observer Observer
	// ICEServers gives an identity fresh STUN/TURN servers and their
	// expiry (Unix seconds); every RefreshEvery (0: never) each session
	// gets them as ice.serversRefreshed.
	ICEServers   func(identity string) ([]api.IceServer, int64)
	RefreshEvery time.Duration
}

// Observer is told what the core does, after it commits (metrics).
type Observer interface {
	// CallOutcome: a call's setup concluded unanswered (busy, declined,
	// canceled, timeout, offline, unavailable).
	CallOutcome(outcome string)
	// CallAnswered: a call was answered, took after its invite.
	CallAnswered(took time.Duration)
	// DetachedEnded: a detached session ended early, over cap (address
	// or identity).
	DetachedEnded(cap string)
	// Reaped: sessions of a node that left the cluster were detached.
	Reaped(sessions int)
}

// Core is the signaling state machine: rooms, seats, pairs, calls,
// presence and sessions, over a Store.
type Core struct {
	cfg   Config
	store Store
	log   *slog.Logger
	obs   Observer

	// drainMu orders opening sessions against Drain: a session opened
	// concurrently either sees draining or gets session.draining. It is
	// node-local, taken before any transaction.
	drainMu  sync.RWMutex
	draining bool
	deadline time.Time
}

// New builds a core over store.
func New(cfg Config, store Store) *Core {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Duplicate == "" {
		cfg.Duplicate = DuplicateMulti
	}
	c := &Core{cfg: cfg, store: store, log: cfg.Log, obs: cfg.Observer}
	if c.obs == nil {
		c.obs = noObserver{}
	}
	store.Timers(c.fire)
	return c
}

// noObserver counts nothing.
type noObserver struct{}

func (noObserver) CallOutcome(string)         {}
func (noObserver) CallAnswered(time.Duration) {}
func (noObserver) DetachedEnded(string)       {}
func (noObserver) Reaped(int)                 {}

func (c *Core) now() time.Time { return c.cfg.Clock.Now() }

// sessionLog is the log of what concerns one session.
func (c *Core) sessionLog(s *Session) sessionLogger {
	return sessionLogger{c.log, s.ID, s.PeerID, s.Identity}
}

// sessionLogger logs with a session's ids first, as Logger.With would,
// without With's copy of the handler for every session connected,
// detached and ended.
type sessionLogger struct {
	log                     *slog.Logger
	session, peer, identity string
}

// Info logs msg with the session's ids, then attrs. Attributes rather than
// key-value arguments: a string or a number boxed into an any allocates,
// an Attr does not, and the lines are the same.
func (l sessionLogger) Info(msg string, attrs ...slog.Attr) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, slog.LevelInfo) {
		return // without building the attributes
	}
	all := append(make([]slog.Attr, 0, 8), slog.String("session", l.session), slog.String("peer", l.peer), slog.String("identity", l.identity))
	l.log.LogAttrs(ctx, slog.LevelInfo, msg, append(all, attrs...)...)
}

// Ref is a session as the connection that carries it holds it: what never
// changes (ids, identity) and the generation it attached at.
type Ref struct {
	ID, PeerID, Identity string
	Gen                  uint64
}

// maxAttempts bounds how often a transaction runs again after conflicts.
const maxAttempts = 16

// errBusy: a transaction kept conflicting (other nodes kept changing what
// it read): 503 with retryAfterMs, as for a store that failed.
func errBusy() error {
	e := api.ErrStoreUnavailable("the state kept changing under this request; try again")
	e.Data.(*api.ErrorData).RetryAfterMs = StoreRetryAfter.Milliseconds()
	return e
}

// txn is a transaction as the core runs it: the store's, plus what to do
// once it committed (metrics, logs), which a conflict must not repeat.
type txn struct {
	Tx
	after []func()
}

// afterCommit runs f once the transaction commits.
func (t *txn) afterCommit(f func()) { t.after = append(t.after, f) }

// prefetch names what the transaction is about to read, for a store that
// reads several things in one round trip (nothing for one that does not:
// the memory store pays not even the wants' slice).
func (t *txn) prefetch(wants ...Want) {
	if p, ok := t.Tx.(Prefetcher); ok {
		p.Prefetch(wants...)
	}
}

// prefetches reports whether prefetch does anything.
func (t *txn) prefetches() bool {
	_, ok := t.Tx.(Prefetcher)
	return ok
}

var txns = sync.Pool{New: func() any { return new(txn) }}

// update runs fn in a transaction and commits what it wrote, whether or
// not fn refused with an error (the core checks before it writes, so a
// refusal mostly writes nothing; a resume gap ends the session and
// refuses). A conflict runs fn again on fresh reads.
func (c *Core) update(ctx context.Context, fn func(t *txn) error) error {
	t := txns.Get().(*txn)
	defer func() {
		clear(t.after)
		t.Tx, t.after = nil, t.after[:0]
		txns.Put(t)
	}()
	for attempt := range maxAttempts {
		err, retry := c.attempt(ctx, t, fn)
		if !retry {
			return err
		}
		backOff(attempt)
	}
	return errBusy()
}

// backOff waits a random while before a transaction runs again after its
// attempt-th conflict (0 first), up to twice as long each time (50 µs to
// 25 ms): transactions that keep colliding (many devices of one identity
// opening at once) spread out instead of colliding again.
func backOff(attempt int) {
	ceiling := min(50*time.Microsecond<<attempt, 25*time.Millisecond)
	time.Sleep(rand.N(ceiling))
}

// attempt runs fn once; retry: it conflicted.
func (c *Core) attempt(ctx context.Context, t *txn, fn func(t *txn) error) (err error, retry bool) {
	t.Tx, t.after = c.store.Begin(ctx), t.after[:0]
	committed := false
	defer func() {
		if !committed {
			t.Abort() // fn panicked
		}
	}()
	err = fn(t)
	if rerr := t.Err(); rerr != nil {
		committed = true
		t.Abort()
		return c.StoreError("read", rerr), false
	}
	cerr := t.Commit()
	committed = true
	switch {
	case errors.Is(cerr, ErrConflict):
		return nil, true
	case cerr != nil:
		return c.StoreError("commit", cerr), false
	}
	for _, f := range t.after {
		f()
	}
	return err, false
}

// StoreRetryAfter is what a client is told to wait when the store failed
// (Redis unreachable).
const StoreRetryAfter = time.Second

// StoreError is the answer to a request the store failed (op: read or
// commit): 503 store_unavailable with retryAfterMs. What failed is logged,
// not told: it names the store's addresses.
func (c *Core) StoreError(op string, err error) error {
	c.log.Debug("store failed", "op", op, "err", err) // the store logs an outage once
	e := api.ErrStoreUnavailable(fmt.Sprintf("this node cannot %s the cluster's state now; try again", op))
	e.Data.(*api.ErrorData).RetryAfterMs = StoreRetryAfter.Milliseconds()
	return e
}

// fire runs a timer that fell due.
func (c *Core) fire(tm Timer) {
	_ = c.update(context.Background(), func(t *txn) error {
		if !t.Fired(tm) {
			return nil
		}
		switch tm.Kind {
		case TimerResume:
			c.expireSession(t, tm.ID)
		case TimerEmptyRoom:
			c.expireEmptyRoom(t, tm.ID)
		case TimerCall:
			c.expireCall(t, tm.ID)
		case TimerHeld:
			c.expireHeld(t, tm.ID)
		case TimerRefresh:
			c.refreshICE(t, tm.ID)
		}
		return nil
	})
}

// caller reads the session a request comes from and checks that ref's
// connection still carries it.
func (c *Core) caller(t *txn, ref *Ref) (*Session, error) {
	s := t.Session(ref.ID)
	switch {
	case s == nil:
		return nil, api.ErrUnauthenticated("this session has ended")
	case uint64(s.Gen) != ref.Gen:
		return nil, api.ErrUnauthenticated("this session resumed on another connection")
	}
	return s, nil
}
