// Package signaltest is the scenario suite of the signaling core: every
// behaviour the core owns, driven through its API (not HTTP) with fake
// connections and a clock the scenarios advance, run against a store.
// Each store runs it (livekit's pattern: one interface, one suite):
//
//	func TestScenarios(t *testing.T) { signaltest.Run(t, newStore) }
package signaltest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/rpc/wire"
	"github.com/parley-rtc/parley/server/signal"
)

// NewStore makes an empty store for one scenario; cfg carries the
// scenario's clock (whose AfterFunc the store must schedule its timer work
// on, so that advancing it fires them), encoder, node and log caps. The
// store must deliver to the connections attached to it before Commit
// returns, and be Testable.
type NewStore func(t testing.TB, cfg signal.StoreConfig) signal.Store

// Testable is what the suite needs of a store beyond signal.Store.
type Testable interface {
	// Pending lists the timers set, so a scenario can check that a timer
	// goes with what it was for (a stale one would fire for nothing, or
	// pile up).
	Pending() []signal.Timer
	// LoseLog loses a session's log as a Redis failover would (its frames
	// and the identity of the log), keeping the session.
	LoseLog(session string)
}

// Run runs every scenario against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, newStore) })
	}
}

type scenario struct {
	name string
	run  func(t *testing.T, newStore NewStore)
}

var scenarios []scenario

// register adds scenarios (from each file's init).
func register(s ...scenario) { scenarios = append(scenarios, s...) }

// Clock is a clock the scenario advances; timers fall due in Advance,
// on the caller's goroutine, in order.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	due     time.Time
	f       func()
	stopped bool
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc runs f once the clock is advanced past d from now.
func (c *Clock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := &fakeTimer{due: c.now.Add(d), f: f}
	c.timers = append(c.timers, tm)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !tm.stopped
		tm.stopped = true
		return was
	}
}

// maxFiredPerAdvance bounds the timers one Advance runs: a timer that
// keeps setting itself due now would loop for ever.
const maxFiredPerAdvance = 10_000

// Advance moves the clock by d, running every timer that falls due, the
// earliest first, each at its due time.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for fired := 0; ; fired++ {
		if fired == maxFiredPerAdvance {
			panic(fmt.Sprintf("signaltest: %d timers fell due in one Advance: a timer that sets itself again at once?", fired))
		}
		c.mu.Lock()
		var next *fakeTimer
		for _, tm := range c.timers {
			if !tm.stopped && !tm.due.After(end) && (next == nil || tm.due.Before(next.due)) {
				next = tm
			}
		}
		if next == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		next.stopped = true
		if next.due.After(c.now) {
			c.now = next.due
		}
		c.timers = slices.DeleteFunc(c.timers, func(tm *fakeTimer) bool { return tm.stopped })
		c.mu.Unlock()
		next.f()
	}
}

// defaultLimits are the server's defaults (server.DefaultConfig).
func defaultLimits() signal.Limits {
	return signal.Limits{
		MaxRoomsPerSession: 16, MaxCallsPerSession: 16, MaxPresenceFollows: 1000,
		MaxPeersPerRoom: 16, MaxRooms: 100_000, MaxInvitesPerCaller: 8, MaxInvitesPerPair: 1,
		EmptyRoomTTL: 5 * time.Minute, SessionEmptyRoomTTL: 30 * time.Second,
		MaxEmptyRoomsPerSession: 16, MaxEmptyRoomsPerIdentity: 64,
		ResumeWindow: 30 * time.Second, MaxDetachedPerIP: 32, MaxDetachedPerIdentity: 8,
	}
}

// env is one scenario's core over a fresh store.
type env struct {
	t     *testing.T
	clock *Clock
	core  *signal.Core
	store signal.Store
	obs   *observer
	// events are the events the store committed (StoreConfig.Events).
	events *eventLog
}

// option changes what a scenario's core or store is built with.
type option func(*signal.Config, *signal.StoreConfig)

func newEnv(t *testing.T, newStore NewStore, opts ...option) *env {
	t.Helper()
	clock := &Clock{now: time.Unix(1_700_000_000, 0)}
	cfg := signal.Config{Limits: defaultLimits(), Node: "node-1", Clock: clock}
	scfg := signal.StoreConfig{Node: "node-1", Clock: clock, Encode: rpc.AppendNotification, ReplayMessages: 256, ReplayBytes: 256 << 10}
	for _, o := range opts {
		o(&cfg, &scfg)
	}
	e := &env{t: t, clock: clock, obs: &observer{}, events: &eventLog{}}
	cfg.Observer = e.obs
	scfg.Events = e.events
	e.store = newStore(t, scfg)
	if _, ok := e.store.(Testable); !ok {
		t.Fatalf("the store (%T) is not signaltest.Testable", e.store)
	}
	e.core = signal.New(cfg, e.store)
	return e
}

// timer reports whether a timer of kind is set for id.
func (e *env) timer(kind signal.TimerKind, id string) bool {
	return slices.ContainsFunc(e.store.(Testable).Pending(), func(tm signal.Timer) bool { return tm.Kind == kind && tm.ID == id })
}

// noTimer fails if a timer of kind is set for id.
func (e *env) noTimer(kind signal.TimerKind, id string) {
	e.t.Helper()
	if e.timer(kind, id) {
		e.t.Fatalf("a %s timer is still set for %s", kind, id)
	}
}

func limits(f func(*signal.Limits)) option {
	return func(c *signal.Config, _ *signal.StoreConfig) { f(&c.Limits) }
}

func ctx() context.Context { return context.Background() }

// observer records what the core counts.
type observer struct {
	mu       sync.Mutex
	outcomes []string
	answered int
	ended    []string
	reaped   int
}

func (o *observer) CallOutcome(outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.outcomes = append(o.outcomes, outcome)
}

func (o *observer) CallAnswered(time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.answered++
}

func (o *observer) DetachedEnded(cap string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ended = append(o.ended, cap)
}

func (o *observer) Reaped(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reaped += n
}

func (o *observer) snapshot() (outcomes []string, answered int, ended []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.outcomes), o.answered, slices.Clone(o.ended)
}

// conn is a fake connection: it keeps the frames delivered to it.
type conn struct {
	mu       sync.Mutex
	frames   []frame
	read     int
	attached bool
	closed   signal.CloseReason
	text     string
}

// frame is one notification as a client decodes it.
type frame struct {
	Method string         `json:"method"`
	Params map[string]any `json:"params"`
}

func (c *conn) Attached() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attached = true
}

func (c *conn) Deliver(raw []byte) error {
	var f frame
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("frame %s: %w", raw, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.attached {
		return fmt.Errorf("frame %s delivered before Attached", raw)
	}
	if c.closed != 0 {
		return rpc.ErrClosed
	}
	c.frames = append(c.frames, f)
	return nil
}

func (c *conn) Close(reason signal.CloseReason, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed == 0 {
		c.closed, c.text = reason, text
	}
}

// client is one session as a test drives it: its current connection and
// the last seq it processed.
type client struct {
	e        *env
	identity string
	remote   string
	conn     *conn
	ref      *signal.Ref
	token    string
	lastSeq  int64
}

// connect opens a session for identity (from 127.0.0.1, with the create
// grant, as a dev server's bare identity).
func (e *env) connect(identity string) *client {
	e.t.Helper()
	return e.connectWith(identity, "127.0.0.1", signal.Credentials{Identity: identity, Grants: signal.Grants{Create: true}})
}

func (e *env) connectWith(identity, remote string, cred signal.Credentials) *client {
	e.t.Helper()
	c, err := e.open(identity, remote, cred)
	if err != nil {
		e.t.Fatalf("open %s: %v", identity, err)
	}
	return c
}

func (e *env) open(identity, remote string, cred signal.Credentials) (*client, error) {
	c := &client{e: e, identity: identity, remote: remote, conn: &conn{}}
	opened, err := e.core.Open(ctx(), signal.Connection{Conn: c.conn, Remote: remote}, cred)
	if err != nil {
		return nil, err
	}
	c.ref, c.token = opened.Ref, opened.ResumeToken
	return c, nil
}

// drop is a network drop (resumable); bye a goodbye (the session ends).
func (c *client) drop() { c.e.core.ConnEnded(ctx(), c.ref, true, "peer_gone") }
func (c *client) bye()  { c.e.core.ConnEnded(ctx(), c.ref, false, "normal") }

// resume resumes the session on a new connection from lastSeq; the client
// uses it from then on.
func (c *client) resume(lastSeq int64) error {
	return c.resumeWith(signal.Resumption{Params: api.ResumeParams{SessionID: c.ref.ID, ResumeToken: c.token, LastSeq: lastSeq}})
}

func (c *client) resumeWith(r signal.Resumption) error {
	fresh := &conn{}
	opened, err := c.e.core.Resume(ctx(), signal.Connection{Conn: fresh, Remote: c.remote}, r)
	if err != nil {
		return err
	}
	if opened.Ref.ID != c.ref.ID || opened.Ref.PeerID != c.ref.PeerID {
		c.e.t.Fatalf("resumed as %+v, want %+v", opened.Ref, c.ref)
	}
	if opened.ResumeToken == c.token {
		c.e.t.Fatal("the resume token did not rotate")
	}
	c.conn, c.ref, c.token, c.lastSeq = fresh, opened.Ref, opened.ResumeToken, r.Params.LastSeq
	return nil
}

func (c *client) peerID() string { return c.ref.PeerID }

// next returns the next frame delivered to the client's connection.
func (c *client) next() (frame, bool) {
	c.conn.mu.Lock()
	defer c.conn.mu.Unlock()
	if c.conn.read == len(c.conn.frames) {
		return frame{}, false
	}
	f := c.conn.frames[c.conn.read]
	c.conn.read++
	if seq, ok := f.Params["seq"].(float64); ok {
		if int64(seq) != c.lastSeq+1 {
			c.e.t.Errorf("%s got %s with seq %v after %d", c.identity, f.Method, seq, c.lastSeq)
		}
		c.lastSeq = int64(seq)
	}
	return f, true
}

// expect returns the params of the next frame, which must be method.
// Delivery is synchronous (the core commits before it returns), so a frame
// not there yet is never coming.
func (c *client) expect(method string) map[string]any {
	c.e.t.Helper()
	f, ok := c.next()
	if !ok {
		c.e.t.Fatalf("%s: no frame, want %s", c.identity, method)
	}
	if f.Method != method {
		c.e.t.Fatalf("%s: got %s %v, want %s", c.identity, f.Method, f.Params, method)
	}
	return f.Params
}

// expectSkipping is expect past the frames of methods skip.
func (c *client) expectSkipping(method string, skip ...string) map[string]any {
	c.e.t.Helper()
	for {
		f, ok := c.next()
		if !ok {
			c.e.t.Fatalf("%s: no frame, want %s", c.identity, method)
		}
		if slices.Contains(skip, f.Method) {
			continue
		}
		if f.Method != method {
			c.e.t.Fatalf("%s: got %s %v, want %s", c.identity, f.Method, f.Params, method)
		}
		return f.Params
	}
}

// quiet fails if a frame is waiting (but frames of methods skip).
func (c *client) quiet(skip ...string) {
	c.e.t.Helper()
	for {
		f, ok := c.next()
		if !ok {
			return
		}
		if !slices.Contains(skip, f.Method) {
			c.e.t.Fatalf("%s: unexpected %s %v", c.identity, f.Method, f.Params)
		}
	}
}

// drain reads every waiting frame.
func (c *client) drain() []frame {
	var out []frame
	for {
		f, ok := c.next()
		if !ok {
			return out
		}
		out = append(out, f)
	}
}

// closedWith reports how the core closed the client's connection.
func (c *client) closedWith() (signal.CloseReason, string) {
	c.conn.mu.Lock()
	defer c.conn.mu.Unlock()
	return c.conn.closed, c.conn.text
}

// must fails the test on err.
func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// join seats the client in room (creating it).
func (c *client) join(room string) *api.RoomJoinResult {
	c.e.t.Helper()
	res, err := c.e.core.Join(ctx(), c.ref, signal.JoinRequest{RoomID: room, Create: true})
	if err != nil {
		c.e.t.Fatalf("%s joins %s: %v", c.identity, room, err)
	}
	return res
}

// roomOfTwo seats alice then bob in room (bob is the polite side); alice's
// room.peerJoined about bob is read.
func (e *env) roomOfTwo(room string) (alice, bob *client) {
	e.t.Helper()
	alice, bob = e.connect("alice"), e.connect("bob")
	alice.join(room)
	bob.join(room)
	alice.expectSkipping(api.NotifyRoomPeerJoined, api.NotifyPresenceChanged)
	alice.quiet(api.NotifyPresenceChanged)
	bob.quiet(api.NotifyPresenceChanged)
	return alice, bob
}

// wantErr fails unless err is a JSON-RPC error with code whose message or
// data mentions want.
func wantErr(t testing.TB, err error, code int64, want string) {
	t.Helper()
	e := rpc.AsError(err)
	if e == nil {
		t.Fatalf("got %v, want error %d", err, code)
	}
	data, _ := json.Marshal(e.Data)
	if e.Code != code || !strings.Contains(e.Message+string(data), want) {
		t.Fatalf("got error %d %q %s, want %d mentioning %q", e.Code, e.Message, data, code, want)
	}
}

// str reads a string member of params.
func str(params map[string]any, key string) string {
	s, _ := params[key].(string)
	return s
}

// num reads a number member of params.
func num(params map[string]any, key string) int64 {
	f, _ := params[key].(float64)
	return int64(f)
}

// peerOf reads params.peer.peerId.
func peerOf(params map[string]any) string {
	p, _ := params["peer"].(map[string]any)
	return str(p, "peerId")
}

// roomIDs lists the rooms by id.
func (e *env) roomIDs() []string {
	var out []string
	for _, r := range e.core.List(ctx()) {
		out = append(out, r.RoomID)
	}
	return out
}

const (
	sampleSDP       = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	sampleCandidate = "candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host"
)

// rawSampleSDP is sampleSDP as a relay holds it: its JSON literal, which
// the frame a store keeps (for the Redis store, its record) must carry as
// it is.
var rawSampleSDP, _ = wire.Quote(sampleSDP)

func candidate(port int) *api.IceCandidateInit {
	mid := "0"
	return &api.IceCandidateInit{Candidate: fmt.Sprintf("candidate:1 1 udp 2130706431 192.0.2.1 %d typ host", port), SDPMid: &mid}
}

func (c *client) offer(room string, to *client) error {
	return c.e.core.RelayOffer(ctx(), c.ref, to.peerID(), &api.SdpOfferEvent{RoomID: room, SDP: rawSampleSDP})
}

func (c *client) answer(room string, to *client) error {
	return c.e.core.RelayAnswer(ctx(), c.ref, to.peerID(), &api.SdpAnswerEvent{RoomID: room, SDP: rawSampleSDP})
}

func (c *client) candidate(room string, to *client, cand *api.IceCandidateInit) error {
	return c.e.core.RelayCandidate(ctx(), c.ref, to.peerID(), room, cand)
}

func (c *client) send(room, to string, data string) error {
	raw, _ := json.Marshal(data)
	return c.e.core.Send(ctx(), c.ref, to, &api.MessageReceivedEvent{RoomID: room, MessageID: signal.NewID(16), Private: to != "", Data: raw})
}
