package signal

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/parley-rtc/parley/api"
)

// Store holds the signaling state: the records (sessions, rooms, calls,
// pairs), the indexes derived from them, each session's log, its
// connection on this node, and the timers. The core reads through a Tx,
// computes the change in Go, and the Tx commits it at once (see the
// package doc and DESIGN.md).
type Store interface {
	// Begin starts a transaction. Its reads see the state as of Begin
	// plus the transaction's own writes.
	Begin(ctx context.Context) Tx
	// Timers sets the function the store calls for each timer that falls
	// due, outside any transaction: once per timer, whichever node runs
	// it. New calls it once, before any transaction.
	Timers(fire func(Timer))
	// Conn is the connection session id is attached to on this node, or
	// nil; for admin views (queue lengths), outside any transaction.
	Conn(session string) Conn
	// Dataset names the state the store holds: a resume token carries it,
	// so that a resume after the state was lost (a Redis restarted
	// without its data) answers 410 instead of 404. "" (memory): the
	// state lives and dies with the node, and tokens carry none.
	Dataset() string
}

// Tx is one transaction. Reads return the store's records; the core may
// change a record it read and then Put it (the memory store hands out
// its own records, so a change is seen at once; Redis commits what was
// Put). Every write, notification and timer takes effect at Commit, all
// or nothing; Commit fails with ErrConflict if a record or index read
// changed meanwhile, and the core runs the transaction again (the memory
// store runs one transaction at a time and never conflicts).
type Tx interface {
	// Session, Room and Call return a record by id, nil if there is none.
	Session(id string) *Session
	Room(id string) *Room
	Call(id string) *Call
	// Pair is the negotiation of two peers of a room, nil if none;
	// Pairs lists the keys of a room's pairs.
	Pair(room string, key PairKey) *Pair
	Pairs(room string) []PairKey
	// Index lists the ids an index holds under key, by score (the
	// record's time; ties in the order they were added), as of this
	// transaction's writes; the slice is the caller's. Len counts them.
	Index(ix Index, key string) []string
	Len(ix Index, key string) int
	// Log describes a session's log.
	Log(session string) LogInfo

	// PutSession, PutRoom, PutCall and PutPair write a record (new, or
	// one read in this transaction) and update the indexes derived from
	// it; the Delete methods remove one. DeleteSession drops the
	// session's log and its connection on this node (without closing
	// it: CloseConn does that).
	PutSession(s *Session)
	DeleteSession(id string)
	PutRoom(r *Room)
	DeleteRoom(id string)
	PutCall(c *Call)
	DeleteCall(id string)
	PutPair(room string, p *Pair)
	DeletePair(room string, key PairKey)
	// Count adds n to a counter of a pair's signaling record (what side
	// sent). The pair must have a record: read, or Put earlier in the
	// transaction; its counters go with it (DeletePair). Counting
	// commutes, so it versions nothing: two nodes counting the same pair
	// do not conflict. Counts reads them.
	Count(room string, key PairKey, side int, c Counter, n int)
	Counts(room string, key PairKey) PairCounts

	// Notify appends a notification to a session's log: the store stamps
	// the session's next seq on it, encodes it, and delivers the frame to
	// the session's connection if it has one. Broadcast does the same for
	// several sessions, encoding the event once. The event must not change
	// until Commit.
	Notify(to string, n Note)
	Broadcast(to []string, n Note)
	// Event publishes an event for app backends (events.go): the store
	// gives it the next cursor and, if it has a RoomID, its room's next
	// roomSeq, in commit order, and commits it with the rest.
	Event(e AppEvent)
	// Ack drops a session's log up to seq (session.ack).
	Ack(session string, seq int64)
	// Attach makes conn the session's connection on this node: the log
	// after seq after is delivered to it first, then every notification.
	// It calls conn.Attached before the first frame.
	Attach(session string, conn Conn, after int64)
	// Detach forgets the session's connection, which has closed.
	Detach(session string)
	// CloseConn closes the session's connection, wherever it is, after
	// the frames already in its log, and detaches it.
	CloseConn(session string, reason CloseReason, text string)

	// SetTimer sets a timer, replacing one of the same kind and id;
	// CancelTimer removes one. Fired, in a transaction run for a timer
	// that fell due, reports whether t is still set as it was (not reset
	// or cancelled meanwhile); if so the timer's removal commits with the
	// transaction, so its effect happens once.
	SetTimer(t Timer)
	CancelTimer(kind TimerKind, id string)
	Fired(t Timer) bool

	// Err is the first read that failed (Redis unreachable): the
	// transaction's reads are not to be trusted, and Commit fails with it.
	Err() error
	// Commit applies the writes; Abort drops them.
	Commit() error
	Abort()
}

// Prefetcher is a Tx that can read several records (and logs) in one go:
// the core names what it is about to read, and the reads that follow find
// it read. A store without round trips (memory) does not implement it.
type Prefetcher interface {
	Prefetch(wants ...Want)
}

// Want names a record or a session's log for Prefetch.
type Want struct {
	Kind WantKind
	ID   string  // a session, room or call; a log's session; a pair's room
	Pair PairKey // a pair's key
}

// WantKind is what a Want names.
type WantKind uint8

const (
	WantSession WantKind = iota + 1
	WantRoom
	WantCall
	WantPair
	WantLog
)

// ErrConflict: a record or index the transaction read changed before it
// committed; run it again.
var ErrConflict = errors.New("signal: transaction conflict")

// StoreConfig is what every store is built with.
type StoreConfig struct {
	// Node names this node: sessions attached here carry it.
	Node string
	// Clock tells the time and runs the memory store's timers.
	Clock Clock
	// Encode encodes a notification's frame (rpc.AppendNotification).
	Encode Encoder
	// ReplayMessages and ReplayBytes bound each session's log.
	ReplayMessages, ReplayBytes int
	// Events takes the committed events (memory store; nil: none are
	// kept). EventRetain bounds the Redis store's events stream.
	Events      EventSink
	EventRetain int
	Log         *slog.Logger
}

// Encoder appends the frame of a notification (method and event, its seq
// set) to dst.
type Encoder func(dst []byte, method string, params any) ([]byte, error)

// Conn is a session's connection, as the store reaches it: rpc.Conn
// behind an adapter.
type Conn interface {
	// Attached runs when the connection takes its session, before the
	// session's first frame reaches it.
	Attached()
	// Deliver queues a copy of frame (the store reuses its buffer). It
	// never blocks; an error (a slow consumer cut off, a closed
	// connection) is only logged: the frame is in the log for a resume.
	Deliver(frame []byte) error
	// Close closes the connection, after what it has queued.
	Close(reason CloseReason, text string)
}

// CloseReason is why the core closes a connection.
type CloseReason uint8

const (
	// CloseReplaced: its session ended, or moved to another connection
	// (4008).
	CloseReplaced CloseReason = iota + 1
	// CloseMigrate: its node is leaving the cluster; the session is
	// detached and resumes on another node (4307).
	CloseMigrate
)

// Clock is the time and the timers the core and the memory store run on;
// tests inject one they advance.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// Event is a generated notification type: every one carries a seq.
type Event interface{ SetSeq(int64) }

// Note is one notification before its seq: a method and its event.
type Note struct {
	Method string
	Event  Event
}

// LogInfo describes a session's log: the notifications after Acked (and
// within the count and byte caps) are kept, seqs First..Last.
type LogInfo struct {
	// Epoch is the log's identity: a session whose Epoch differs lost its
	// log (a resume then answers 410).
	Epoch string
	// Last is the latest seq; First the oldest kept (Len of them kept).
	First, Last, Acked int64
	Len, Bytes         int
}

// Since reports whether every notification after lastSeq is kept.
func (l LogInfo) Since(lastSeq int64) bool {
	return lastSeq >= l.Last || (l.Len > 0 && lastSeq+1 >= l.First)
}

// TimerKind names what a timer does when it falls due.
type TimerKind uint8

const (
	// TimerResume ends a detached session whose window passed (id: the
	// session).
	TimerResume TimerKind = iota + 1
	// TimerEmptyRoom removes a room nobody joined (id: the room).
	TimerEmptyRoom
	// TimerCall ends an unanswered call (id: the call).
	TimerCall
	// TimerHeld drops held candidates past their TTL (id: pairTimerID).
	TimerHeld
	// TimerRefresh sends a session fresh ICE servers (id: the session).
	TimerRefresh
)

var timerNames = [...]string{TimerResume: "resume", TimerEmptyRoom: "empty-room", TimerCall: "call", TimerHeld: "held", TimerRefresh: "refresh"}

func (k TimerKind) String() string { return nameOf(timerNames[:], int(k), "timer") }

// nameOf is names[i], or fallback where there is none.
func nameOf(names []string, i int, fallback string) string {
	if i >= 0 && i < len(names) && names[i] != "" {
		return names[i]
	}
	return fallback
}

// Timer is a timer as data: what it does, to what, and when.
type Timer struct {
	Kind TimerKind
	ID   string
	Due  time.Time
}

// SessionState is where a session stands: attached to a connection, or
// detached and waiting for a resume. An ended session has no record.
type SessionState uint8

const (
	Attached SessionState = iota + 1
	Detached
)

// Session is one authenticated client.
type Session struct {
	ID, PeerID, Identity string
	// Node is where its connection is, or was last; Gen counts the
	// connections it has had: a commit on behalf of a connection checks
	// it (Ref.Gen), so a connection the session left behind (a resume
	// elsewhere) writes nothing. (32 bits: with State, one word.)
	Node  string
	Gen   uint32
	State SessionState
	// Remote is the address of its latest connection.
	Remote string
	// TokenHash is the SHA-256 of its latest resume token.
	TokenHash []byte
	// Grants are its latest token's, until GrantsExpire (zero: never).
	Grants       Grants
	GrantsExpire time.Time
	// Epoch names its log (LogInfo.Epoch).
	Epoch      string
	CreatedAt  time.Time
	DetachedAt time.Time
	// Follows are the identities it follows (presence.subscribe).
	Follows []string
	// Presence is what it set with presence.set; Status "" is available.
	Presence DevicePresence
}

// DevicePresence is one session's presence; At orders an identity's
// sessions' settings (the latest wins a tie of status).
type DevicePresence struct {
	Status api.PresenceSetStatus
	Note   string
	At     uint64
}

// Room is a signaling room (the seed model): created, joined, left; the
// last one out destroys it.
type Room struct {
	ID        string
	MaxPeers  int
	Locked    bool
	HadPeers  bool
	Metadata  []byte
	Duplicate api.DuplicatePolicy // what a second seat of one identity does
	// CreatedBy is the session whose room.create made the room, until its
	// first peer joins: the room counts against that session's (and
	// CreatorIdentity's) empty-room caps meanwhile, and goes if the
	// session ends.
	CreatedBy, CreatorIdentity string
	CreatedAt                  time.Time
	// Call is the id of the call whose private room this is, while the
	// call is active.
	Call  string
	Seats []Seat
	// Watchers are the sessions told its signaling (admin.rooms.watch).
	Watchers []Watcher
}

// Seat is a session's place in a room.
type Seat struct {
	Session  string
	Peer     api.Peer
	JoinedAt time.Time
}

// Call is one call (the SIP flavour).
type Call struct {
	ID             string
	Caller         string // session
	CallerIdentity string
	Callee         string // identity
	Metadata       []byte
	State          api.CallState
	// Forks are the callee's sessions still ringing; Answerer the one
	// that accepted.
	Forks                []string
	Answerer             string
	InvitedAt, ExpiresAt time.Time
	AnsweredAt           time.Time
}

// PairKey names two peers of a room; Lo sorts before Hi.
type PairKey struct{ Lo, Hi string }

// Pair is the server's view of one pair's offer/answer exchange.
type Pair struct {
	Key     PairKey
	Offered bool // an offer has been delivered in this pair
	Offerer int  // the side (0: Lo, 1: Hi) whose offer was delivered last
	// Pending is when each side's unanswered offer was delivered; zero:
	// none.
	Pending [2]time.Time
	// Held are candidates from each side sent before any offer was
	// delivered, in arrival order; a TimerHeld due at HeldDue drops the
	// old ones.
	Held    [2][]HeldCandidate
	HeldDue time.Time
	// Restarts are the times of the ice.restart requests relayed in the
	// last minute, oldest first.
	Restarts []time.Time
}

// HeldCandidate is a candidate waiting for its pair's first offer.
type HeldCandidate struct {
	Event api.IceCandidateEvent
	At    time.Time
}
