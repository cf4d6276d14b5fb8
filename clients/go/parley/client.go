package parley

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sourcegraph/jsonrpc2"
	wsstream "github.com/sourcegraph/jsonrpc2/websocket"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/clients/go/parley/internal/serial"
)

// State is where the client's connection stands.
type State int

// The states, in the order a client passes through them. A client goes
// from StateOpen to StateReconnecting when its connection drops and back
// to StateOpen once a new session is open; StateClosed is final.
const (
	StateConnecting State = iota
	StateOpen
	StateReconnecting
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateOpen:
		return "open"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// ErrConnectionLost is the cause OnState reports with StateReconnecting
// (and with StateClosed when reconnecting is disabled). A call that was in
// flight when its connection dropped fails with an error that is both
// ErrNotConnected and ErrConnectionLost: the server may have carried it
// out, so calling again may do it twice (a message.send delivered twice);
// a call that fails with ErrNotConnected alone was never sent.
var ErrConnectionLost = errors.New("parley: connection lost")

// ErrReplaced is the cause StateClosed reports when a newer session of the
// same identity took this one over (the server's duplicate-identity policy
// takeover); the client does not reconnect.
var ErrReplaced = errors.New("parley: replaced by a newer session of the same identity")

// attemptTimeout bounds one reconnect attempt (dial, upgrade and
// session.connect), so a server that accepts but never answers does not
// stall reconnecting.
const attemptTimeout = 15 * time.Second

// Options configure Dial.
type Options struct {
	// Token is a JWT for session.connect; Identity is the bare identity a
	// --dev server accepts from loopback instead.
	Token    string
	Identity string
	// TokenSource, if set, replaces Token: it is called for the first
	// session.connect and again for every reconnect, so a resume carries a
	// fresh token. The server refuses to resume a session whose token has
	// expired without one, and a fresh token renews the session's grants.
	// An error from it fails Dial, or ends reconnecting (StateClosed with
	// that error): retrying is the source's own business.
	TokenSource func(ctx context.Context) (string, error)
	// Dialer dials the WebSocket; set its TLSClientConfig for a private CA.
	// Nil means websocket.DefaultDialer.
	Dialer *websocket.Dialer
	// Header is sent with the upgrade request (e.g. Origin).
	Header http.Header
	// Reconnect is the backoff between reconnect attempts.
	Reconnect Backoff
	// URLs are more URLs of the same service: the nodes of a cluster
	// (ws://host:port/rpc or wss://…). Dial tries its url, then these in
	// turn, until one connects; each reconnect attempt goes to the next URL
	// of that ring, so a client whose node died resumes on another. A node
	// that tells the client to resume elsewhere (it is draining:
	// session.draining with resumeElsewhere, close code 4307) is left at
	// once, without backoff, for the next URL, and is passed over for 30
	// seconds, as is one that refuses a reconnect as draining (503).
	URLs []string
	// PickURL, if set, chooses the URL of every reconnect attempt instead
	// of the ring of URLs (a service registry, DNS): it is told the
	// attempt, the URL just left and the URLs to avoid. An error counts as
	// a failed attempt: the client waits its backoff and asks again.
	PickURL func(ctx context.Context, p URLPick) (string, error)
	// OnState, if set, is told every state change with its cause (nil for
	// StateConnecting and StateOpen). Calls are serialized. It must not
	// call Close, which waits for the goroutine that calls OnState.
	OnState func(s State, cause error)
	// Logger gets the client's diagnostics; nil discards them.
	Logger *slog.Logger
}

// Client is a connection to a Parley server with a session on it. It is
// safe for concurrent use. Typed methods (methods_gen.go) call the server;
// On* hooks receive its notifications.
//
// When the connection drops the client reconnects with backoff and resumes
// its session (session.connect with resume): same peer id, same rooms, and
// every notification it missed is replayed once, in order, so the hooks see
// no gap, only StateReconnecting and StateOpen. Given the nodes of a
// cluster (Options.URLs), each attempt goes to the next node, so the
// session resumes on another node when its own dies or drains. If the
// server cannot resume (the window passed: 404; too much was missed: 410)
// the client opens a new session and rejoins the rooms it had joined (with
// rejoin: true, so each is followed by room.snapshot); Session().PeerID
// then changes. Calls made while reconnecting fail with ErrNotConnected
// instead of waiting.
type Client struct {
	urls *urlRing
	opts Options
	log  *slog.Logger

	// lifetime ends with Close; every connection and the event goroutine
	// live under it.
	lifetime context.Context
	cancel   context.CancelFunc
	done     chan struct{} // closed when run returns

	mu      sync.Mutex
	url     string      // the current connection's, or the attempt's
	conn    *connection // nil while not connected
	state   State
	session api.SessionConnectResult
	closed  bool
	lastSeq atomic.Int64
	// received is the highest seq queued for the hooks in this session:
	// what a resume continues from, and below which a replay is a duplicate.
	received atomic.Int64
	ack      acker // session.ack (ack.go)
	// replaced is set by session.replaced: a newer session of the identity
	// took over, and reconnecting would only take it back.
	replaced atomic.Bool
	// leaving is set by session.draining with resumeElsewhere: this
	// connection's node is handing its sessions to other nodes.
	leaving atomic.Bool
	// rooms are the rooms joined (room.join params), for a rejoin when a
	// session cannot be resumed. Guarded by mu.
	rooms map[string]api.RoomJoinParams
	// roster holds the polite flags of the rooms' peers (negotiation.go).
	roster roster

	hooksMu sync.Mutex
	hooks   hookLists
	events  serial.Queue[notification] // see notification
}

// connection is one WebSocket with its JSON-RPC conn.
type connection struct {
	ws     *websocket.Conn
	stream *closeCodeStream
	rpc    *jsonrpc2.Conn
}

// close says goodbye (1000) before closing, so the server logs a clean
// close rather than a dropped connection.
func (c *connection) close() {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = c.rpc.Close()
}

// Dial connects to url (ws://host/rpc or wss://…) and runs session.connect
// with opts' credentials. It does not retry a URL: a failure to connect or
// to authenticate is returned (a server refusal as *Error), after trying
// each of opts.URLs once (url may be empty when they are given; refused
// credentials are not tried elsewhere). Reconnecting applies to
// connections that drop after Dial succeeded.
func Dial(ctx context.Context, url string, opts Options) (*Client, error) {
	if opts.Dialer == nil {
		opts.Dialer = websocket.DefaultDialer
	}
	opts.Reconnect = opts.Reconnect.withDefaults()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lifetime, cancel := context.WithCancel(context.Background())
	urls := newURLRing(url, opts.URLs)
	if len(urls.urls) == 0 {
		cancel()
		return nil, errors.New("parley: Dial: no URL")
	}
	c := &Client{urls: urls, opts: opts, log: log, lifetime: lifetime, cancel: cancel, done: make(chan struct{})}
	c.negotiationHooks()
	c.notify(StateConnecting, nil)
	conn, sess, err := c.connect(ctx, urls.current())
	for range len(urls.urls) - 1 {
		if err == nil || final(err) || ctx.Err() != nil {
			break
		}
		conn, sess, err = c.connect(ctx, urls.next(time.Now()))
	}
	if err != nil {
		cancel()
		c.notify(StateClosed, err)
		return nil, err
	}
	c.install(conn, sess)
	go c.events.Run(lifetime, c.deliver)
	go c.run(conn)
	return c, nil
}

// Session is the result of the current session's session.connect: peer
// id, resume token, ICE servers. It changes when the client reconnects.
func (c *Client) Session() api.SessionConnectResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

// URL is the URL of the current connection (of the connection attempt
// while reconnecting).
func (c *Client) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.url
}

// State is the client's current state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// LastSeq is the seq of the last notification delivered to the hooks in
// this session (0 before the first); it is set as the hooks get the
// notification, so a hook, and whatever it signals, sees its own seq.
func (c *Client) LastSeq() int64 { return c.lastSeq.Load() }

// Close ends the session and the connection and stops reconnecting. It
// returns once OnState has been told StateClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		conn.close()
	}
	c.cancel()
	<-c.done
	return nil
}

// call runs one method on the current connection.
func (c *Client) call(ctx context.Context, method string, params, result any) error {
	c.mu.Lock()
	conn, closed := c.conn, c.closed
	c.mu.Unlock()
	switch {
	case closed:
		return fmt.Errorf("%s: %w", method, ErrClosed)
	case conn == nil:
		return fmt.Errorf("%s: %w", method, ErrNotConnected)
	}
	if err := conn.rpc.Call(ctx, method, params, result); err != nil {
		return fmt.Errorf("%s: %w", method, fromRPC(err))
	}
	c.trackRooms(method, params)
	c.trackRoster(method, params, result)
	return nil
}

// trackRooms remembers the rooms joined, for a rejoin after a session that
// could not be resumed.
func (c *Client) trackRooms(method string, params any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch p := params.(type) {
	case *api.RoomJoinParams:
		if method == api.MethodRoomJoin {
			if c.rooms == nil {
				c.rooms = make(map[string]api.RoomJoinParams)
			}
			c.rooms[p.RoomID] = *p
		}
	case *api.RoomLeaveParams:
		c.forgetRoomLocked(p.RoomID)
	}
}

// forgetRoomLocked drops a room this client is no longer in from the
// rejoin list and the roster. c.mu must be held.
func (c *Client) forgetRoomLocked(roomID string) {
	delete(c.rooms, roomID)
	delete(c.roster, roomID)
}

// tokenSourceError is an error of Options.TokenSource.
type tokenSourceError struct{ err error }

func (e *tokenSourceError) Error() string { return "parley: token source: " + e.err.Error() }
func (e *tokenSourceError) Unwrap() error { return e.err }

// connect dials url, upgrades and opens a session.
func (c *Client) connect(ctx context.Context, url string) (*connection, *api.SessionConnectResult, error) {
	c.mu.Lock()
	c.url = url
	c.mu.Unlock()
	token := c.opts.Token
	if c.opts.TokenSource != nil { // before dialing: the connection must authenticate in time
		var err error
		if token, err = c.opts.TokenSource(ctx); err != nil {
			return nil, nil, &tokenSourceError{err}
		}
	}
	ws, resp, err := c.opts.Dialer.DialContext(ctx, url, c.opts.Header)
	if err != nil {
		if resp != nil {
			return nil, nil, fmt.Errorf("parley: dial %s: %w (HTTP %s)", url, err, resp.Status)
		}
		return nil, nil, fmt.Errorf("parley: dial %s: %w", url, err)
	}
	conn := &connection{ws: ws, stream: &closeCodeStream{ObjectStream: wsstream.NewObjectStream(ws)}}
	conn.rpc = jsonrpc2.NewConn(c.lifetime, conn.stream, handler{c}, jsonrpc2.SetLogger(logAdapter{c.log}))
	var sess api.SessionConnectResult
	params := &api.SessionConnectParams{Token: token, Identity: c.opts.Identity}
	c.mu.Lock()
	prev := c.session
	c.mu.Unlock()
	if prev.SessionID != "" {
		// Replayed notifications may arrive before the result.
		params.Resume = &api.ResumeParams{SessionID: prev.SessionID, ResumeToken: prev.ResumeToken, LastSeq: c.received.Load()}
		err := conn.rpc.Call(ctx, api.MethodSessionConnect, params, &sess)
		if err == nil {
			return conn, &sess, nil
		}
		e, ok := errors.AsType[*Error](fromRPC(err))
		if !ok || (e.Code != api.CodeSessionNotFound && e.Code != api.CodeResumeGap) {
			conn.close()
			return nil, nil, fmt.Errorf("parley: resume: %w", fromRPC(err))
		}
		c.log.Info("parley: session not resumable; opening a new one", "err", e)
		params.Resume = nil
	}
	c.received.Store(0) // seq counts per session
	c.resetAck()
	if err := conn.rpc.Call(ctx, api.MethodSessionConnect, params, &sess); err != nil {
		conn.close()
		return nil, nil, fmt.Errorf("parley: %s: %w", api.MethodSessionConnect, fromRPC(err))
	}
	if sess.Protocol != "" && sess.Protocol != api.DocumentSHA256 {
		c.log.Warn("parley: the server's protocol document differs from this client's", "server", sess.Protocol, "client", api.DocumentSHA256)
	}
	return conn, &sess, nil
}

// install makes conn the current connection and reports StateOpen. A new
// session (not a resume) rejoins the rooms the old one had.
func (c *Client) install(conn *connection, sess *api.SessionConnectResult) {
	c.mu.Lock()
	fresh := c.session.SessionID != "" && !sess.Resumed
	c.conn, c.session = conn, *sess
	if !sess.Resumed {
		c.lastSeq.Store(0) // seq counts per session
	}
	var rejoin []api.RoomJoinParams
	if fresh {
		for _, p := range c.rooms {
			p.Rejoin = true
			rejoin = append(rejoin, p)
		}
	}
	c.mu.Unlock()
	for _, p := range rejoin {
		ctx, cancel := context.WithTimeout(c.lifetime, attemptTimeout)
		if _, err := c.RoomJoin(ctx, &p); err != nil {
			c.log.Warn("parley: rejoin failed", "room", p.RoomID, "err", err)
			c.trackRooms(api.MethodRoomLeave, &api.RoomLeaveParams{RoomID: p.RoomID})
		}
		cancel()
	}
	c.notify(StateOpen, nil)
}

// notify records s and tells OnState. Only Dial (before run starts) and
// run call it, so OnState calls never overlap.
func (c *Client) notify(s State, cause error) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
	c.log.Debug("parley: state", "state", s, "cause", cause)
	if c.opts.OnState != nil {
		c.opts.OnState(s, cause)
	}
}

// run watches the current connection and replaces it when it drops, until
// Close or a reconnect that cannot succeed.
func (c *Client) run(conn *connection) {
	defer close(c.done)
	for {
		select {
		case <-c.lifetime.Done():
		case <-conn.rpc.DisconnectNotify():
		}
		if c.drop() {
			conn.close()
			c.notify(StateClosed, nil)
			return
		}
		url := c.URL()
		// A node handing its sessions over (draining, or reaped) is left
		// at once for another, and passed over for a while.
		leave := c.leaving.Swap(false) || conn.stream.code.Load() == closeResumeElsewhere
		c.log.Info("parley: connection lost", "url", url, "resumeElsewhere", leave)
		if leave {
			c.urls.shun(url, time.Now())
		}
		if c.replaced.Load() {
			c.notify(StateClosed, ErrReplaced)
			return
		}
		if c.opts.Reconnect.Disabled {
			c.notify(StateClosed, ErrConnectionLost)
			return
		}
		c.notify(StateReconnecting, ErrConnectionLost)
		next, sess, err := c.reconnect(leave)
		if next == nil {
			c.notify(StateClosed, err) // err is nil after Close
			return
		}
		conn = next
		c.install(conn, sess)
	}
}

// drop forgets the current connection, so calls fail fast, and reports
// whether Close was called.
func (c *Client) drop() (closed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn = nil
	return c.closed
}

// reconnect tries until a session opens, Close is called, the server
// refuses the credentials (400, 401, 403: retrying cannot help) or the
// TokenSource fails. Each attempt goes to the next URL; the first goes at
// once when the client was told to leave its node (leave).
func (c *Client) reconnect(leave bool) (*connection, *api.SessionConnectResult, error) {
	for attempt := 0; ; attempt++ {
		wait := c.opts.Reconnect.delay(attempt)
		if attempt == 0 && leave && c.several() {
			wait = 0
		}
		select {
		case <-time.After(wait):
		case <-c.lifetime.Done():
			return nil, nil, nil
		}
		ctx, cancel := context.WithTimeout(c.lifetime, attemptTimeout)
		var conn *connection
		var sess *api.SessionConnectResult
		url, err := c.pick(ctx, attempt)
		if err == nil {
			conn, sess, err = c.connect(ctx, url)
		} else {
			err = fmt.Errorf("parley: PickURL: %w", err)
		}
		cancel()
		if err == nil && c.lifetime.Err() != nil {
			conn.close()
			return nil, nil, nil
		}
		if err == nil {
			return conn, sess, nil
		}
		if c.lifetime.Err() != nil {
			return nil, nil, nil
		}
		if final(err) {
			return nil, nil, err
		}
		if e, ok := errors.AsType[*Error](err); ok {
			if e.Code == api.CodeDraining && c.several() {
				// A draining node: another may take us now.
				c.log.Info("parley: reconnect refused by a draining node; trying another", "url", url)
				c.urls.shun(url, time.Now())
				continue
			}
			if e.RetryAfterMs > 0 {
				// Honour the server's delay (429, 503 draining) on top of ours.
				select {
				case <-time.After(time.Duration(e.RetryAfterMs) * time.Millisecond):
				case <-c.lifetime.Done():
					return nil, nil, nil
				}
			}
		}
		c.log.Info("parley: reconnect failed", "attempt", attempt+1, "err", err)
	}
}

// final reports whether err refuses the client for good: credentials
// refused (400, 401, 403) wherever it connects, or a failed TokenSource.
func final(err error) bool {
	if _, ok := errors.AsType[*tokenSourceError](err); ok {
		return true
	}
	switch CodeOf(err) {
	case api.CodeBadRequest, api.CodeUnauthenticated, api.CodeForbidden:
		return true
	}
	return false
}

// delivered records the seq of a notification handed to the hooks.
func (c *Client) delivered(seq int64) { c.lastSeq.Store(seq) }

// deliver runs the hooks of one notification (on the event goroutine).
func (c *Client) deliver(n notification) {
	if err := c.dispatch(n.method, n.params); err != nil {
		c.log.Warn("parley: notification dropped", "method", n.method, "err", err)
	}
}

// handler takes the server's messages off jsonrpc2's read loop. It only
// queues notifications: jsonrpc2 reads nothing else while Handle runs, so
// a hook that called the server from there would wait for a response
// that is never read.
type handler struct{ c *Client }

func (h handler) Handle(ctx context.Context, conn *jsonrpc2.Conn, req *jsonrpc2.Request) {
	if !req.Notif {
		// The server never calls the client; answer anyway so it is not left waiting.
		_ = conn.ReplyWithError(ctx, req.ID, &jsonrpc2.Error{Code: jsonrpc2.CodeMethodNotFound, Message: "the client serves no methods"})
		return
	}
	var params []byte
	if req.Params != nil {
		params = *req.Params
	}
	// Every server notification carries seq; one at or below what was
	// already queued is a replay this client has (a resume is exactly-once).
	var s struct {
		Seq int64 `json:"seq"`
	}
	if json.Unmarshal(params, &s) == nil && s.Seq > 0 {
		if s.Seq <= h.c.received.Load() {
			return
		}
		h.c.received.Store(s.Seq)
		h.c.scheduleAck()
	}
	switch req.Method {
	case api.NotifySessionReplaced:
		h.c.replaced.Store(true)
	case api.NotifySessionDraining:
		var d api.SessionDrainingEvent
		if json.Unmarshal(params, &d) == nil && d.ResumeElsewhere {
			h.c.leaving.Store(true)
		}
	}
	h.c.events.Push(notification{method: req.Method, params: json.RawMessage(params)})
}

// logAdapter sends jsonrpc2's log lines to the client's logger.
type logAdapter struct{ log *slog.Logger }

func (l logAdapter) Printf(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...))
}
