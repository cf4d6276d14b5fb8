package rpc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Errors of Notify and NotifyRaw.
var (
	ErrClosed       = errors.New("rpc: connection closed")
	ErrSlowConsumer = errors.New("rpc: outbound queue full; connection closed as slow_consumer")
)

// ConnConfig bounds one connection. Zero fields take the defaults.
type ConnConfig struct {
	ReadLimit        int64         // largest inbound frame; over it the connection closes with 1009 (default 64 KiB)
	MaxQueueMessages int           // outbound frames waiting to be written (default 1024)
	MaxQueueBytes    int           // outbound bytes waiting to be written (default 4 MiB)
	WriteTimeout     time.Duration // one frame's write deadline; missing it closes as write_timeout (default 10s)
	PingInterval     time.Duration // how often the server pings (default 20s)
	PongTimeout      time.Duration // silence after which the client is gone: no pong nor frame (default 45s)
	// PreAuth bounds the connection until Authenticated is called; the
	// zero value puts no connection on probation.
	PreAuth PreAuthLimits
	Logger  *slog.Logger
	OnClose func(CloseReason) // called once, after the connection is closed
	Stats   *Stats            // shared counters to add to (nil: none)
}

// PreAuthLimits bound a connection that has not authenticated, so that a
// client without credentials costs the server little whatever it sends:
//   - one request in flight: the next frame is read only once the reply to
//     the previous one is written, so a client that does not read stalls
//     itself, not the server;
//   - at most QueueBytes of outbound queue (over it: slow_consumer), but
//     for one reply that AllowReply lets through (a document the server
//     sends as is);
//   - batches of at most MaxBatch requests.
type PreAuthLimits struct {
	QueueBytes int
	MaxBatch   int
}

// Defaults of ConnConfig.
const (
	DefaultReadLimit        = 64 << 10
	DefaultMaxQueueMessages = 1024
	DefaultMaxQueueBytes    = 4 << 20
	DefaultWriteTimeout     = 10 * time.Second
	DefaultPingInterval     = 20 * time.Second
	DefaultPongTimeout      = 45 * time.Second
)

// closeGrace is how long a closing connection waits for the client's close
// frame (and flushes what is queued) before dropping the TCP connection. A
// slow consumer's write in progress gets as long to finish, so that the
// close frame can follow it and tell the client why.
const closeGrace = time.Second

// errCutOff is why a writer stops between two frames: the connection is
// being cut off. What it wrote is intact, so a close frame may follow.
var errCutOff = errors.New("rpc: connection cut off")

func (c *ConnConfig) setDefaults() {
	setDefault(&c.ReadLimit, DefaultReadLimit)
	setDefault(&c.MaxQueueMessages, DefaultMaxQueueMessages)
	setDefault(&c.MaxQueueBytes, DefaultMaxQueueBytes)
	setDefault(&c.WriteTimeout, DefaultWriteTimeout)
	setDefault(&c.PingInterval, DefaultPingInterval)
	setDefault(&c.PongTimeout, DefaultPongTimeout)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Conn serves JSON-RPC on one WebSocket connection. Frames are handled in
// order by the reading goroutine (Serve); everything sent goes through a
// bounded queue, so a client that stops reading costs its own connection and
// never blocks a sender.
//
// The queue is drained by a writer goroutine that exists only while there is
// something to write (frames, a due ping, or the close handshake): most
// connections are idle, and an idle writer would cost a goroutine stack each.
// At most one writer runs at a time (writing, under mu), so data frames are
// never written concurrently, as gorilla requires.
type Conn struct {
	ws  *websocket.Conn
	out *batchConn // ws's socket when it came from Upgrader, else nil
	cfg ConnConfig

	mu         sync.Mutex
	queue      [][]byte
	queueBytes int
	pingDue    bool        // the ping timer fired; the writer sends the ping
	writing    bool        // a writer goroutine runs; once closing it stays set so no new one starts
	ping       *time.Timer // nil until Serve
	closing    bool
	reason     CloseReason
	closeText  string
	closed     chan struct{} // made on demand by Done: few callers want it
	cancel     context.CancelFunc
	resumeAt   time.Time // Throttle: read no frame before then
	preAuth    bool      // on probation until Authenticated (cfg.PreAuth)
	allowance  int       // AllowReply: bytes the next frame may exceed cfg.PreAuth.QueueBytes by
	written    sync.Cond // on mu: the writer went idle or the connection closed

	writers sync.WaitGroup // writer goroutines; Serve waits for the last one
}

// NewConn wraps an upgraded WebSocket. Call Serve to run it.
func NewConn(ws *websocket.Conn, cfg ConnConfig) *Conn {
	cfg.setDefaults()
	ws.SetReadLimit(cfg.ReadLimit)
	out, _ := ws.UnderlyingConn().(*batchConn)
	c := &Conn{ws: ws, out: out, cfg: cfg, cancel: func() {}, preAuth: cfg.PreAuth.QueueBytes > 0}
	c.written.L = &c.mu
	return c
}

// Authenticated lifts the PreAuth limits: the client has shown
// credentials. Call it before the reply that says so is queued.
func (c *Conn) Authenticated() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.preAuth, c.allowance = false, 0
}

// AllowReply lets the reply to the request being handled exceed the
// PreAuth queue bound by n bytes.
func (c *Conn) AllowReply(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.allowance = n
}

// probation reports whether the PreAuth limits apply.
func (c *Conn) probation() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.preAuth
}

// waitWritten waits until what is queued is written (the writer went
// idle) or the connection closes.
func (c *Conn) waitWritten() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.writing && !c.closing {
		c.written.Wait()
	}
}

type connKey struct{}

// ConnFromContext returns the connection a request arrived on, or nil for
// POST /rpc.
func ConnFromContext(ctx context.Context) *Conn {
	c, _ := ctx.Value(connKey{}).(*Conn)
	return c
}

// Serve reads and dispatches frames until the connection closes, then
// returns why. Handlers get a context that carries the Conn and is canceled
// when it closes.
func (c *Conn) Serve(ctx context.Context, mux *Mux) CloseReason {
	ctx, cancel := context.WithCancel(context.WithValue(ctx, connKey{}, c))
	defer cancel()
	c.mu.Lock()
	c.cancel = cancel
	if !c.closing {
		c.ping = time.AfterFunc(c.cfg.PingInterval, c.pingTick)
	}
	c.mu.Unlock()

	c.extendReadDeadline()
	c.ws.SetPongHandler(func(string) error { c.extendReadDeadline(); return nil })
	c.readLoop(ctx, mux)

	// readLoop returns only after Close, which started a writer for the
	// close handshake if none was running; no writer starts after Close.
	c.writers.Wait()
	_ = c.ws.Close()
	reason := c.Reason()
	c.cfg.Stats.closed(reason)
	if c.cfg.OnClose != nil {
		c.cfg.OnClose(reason)
	}
	return reason
}

func (c *Conn) readLoop(ctx context.Context, mux *Mux) {
	for {
		c.waitThrottle()
		typ, r, err := c.ws.NextReader()
		if err == nil {
			err = c.handleMessage(ctx, mux, typ, r)
		}
		if err != nil {
			c.Close(readFailure(err), "")
			return
		}
	}
}

// handleMessage reads one message and dispatches it. The message is read
// into a pooled buffer, not a new slice per frame: nothing refers to the
// frame once Dispatch returns (see MethodFunc). The buffer is taken only
// once a message has arrived, so an idle connection holds none.
func (c *Conn) handleMessage(ctx context.Context, mux *Mux, typ int, r io.Reader) error {
	buf := getBuffer()
	defer putBuffer(buf)
	if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	if c.isClosing() {
		return nil // drain until the client's close frame or the grace deadline
	}
	c.extendReadDeadline()
	if typ != websocket.TextMessage {
		c.Close(CloseUnsupportedData, "binary frames are not supported; send JSON-RPC as text frames")
		return nil
	}
	maxBatch, probation := MaxBatch, c.probation()
	if probation {
		maxBatch = c.cfg.PreAuth.MaxBatch
		c.cfg.Stats.preAuthIn(buf.Len())
	}
	if reply := dispatch(ctx, mux, buf.Bytes(), maxBatch); reply != nil {
		_ = c.enqueue(reply)
	}
	if probation {
		c.waitWritten() // one request in flight
	}
	return nil
}

// dispatch runs mux.Dispatch on another goroutine and waits for it.
// Handlers (JSON, logging) grow a stack to 8 KiB or more, and the runtime
// halves a stack only while under a quarter of it is in use: the reader,
// parked in ReadMessage for most of a connection's life (~3 KiB deep), would
// keep 8 KiB for good instead of 4.
//
// The goroutine is a dispatcher shared by all connections rather than a new
// one per frame: a new goroutine starts with a 2 KiB stack and grew it by
// copying, twice, on every frame (a seventh of the relay benchmark's CPU).
// A dispatcher keeps its grown stack between frames; the GC shrinks it once
// it idles, and after dispatcherIdle without work it exits, so a burst of
// dispatchers does not outlive the burst.
func dispatch(ctx context.Context, mux *Mux, frame []byte, maxBatch int) []byte {
	j := dispatchJobs.Get().(*dispatchJob)
	j.ctx, j.mux, j.frame, j.maxBatch = ctx, mux, frame, maxBatch
	select {
	case idleDispatchers <- j:
	default:
		go dispatcher(j)
	}
	<-j.done
	reply := j.reply
	*j = dispatchJob{done: j.done}
	dispatchJobs.Put(j)
	return reply
}

// dispatcherIdle is how long a dispatcher waits for more work before it exits.
const dispatcherIdle = time.Second

// dispatchJob is one frame handed to a dispatcher; done signals its reply.
type dispatchJob struct {
	ctx      context.Context
	mux      *Mux
	frame    []byte
	maxBatch int
	reply    []byte
	done     chan struct{}
}

var dispatchJobs = sync.Pool{New: func() any { return &dispatchJob{done: make(chan struct{}, 1)} }}

// idleDispatchers hands a job to a dispatcher parked waiting for one.
var idleDispatchers = make(chan *dispatchJob)

// dispatcher runs j, then every job handed to it until it idles out.
func dispatcher(j *dispatchJob) {
	idle := time.NewTimer(dispatcherIdle)
	defer idle.Stop()
	for {
		j.reply = j.mux.dispatch(j.ctx, j.frame, j.maxBatch)
		j.done <- struct{}{}
		idle.Reset(dispatcherIdle)
		select {
		case j = <-idleDispatchers:
		case <-idle.C:
			return
		}
	}
}

// Throttle stops reading the connection for d (from now): frames wait in
// TCP's buffers, and a client that floods is held back by its own socket.
// Closing the connection ends the pause.
func (c *Conn) Throttle(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resumeAt = time.Now().Add(d)
}

// waitThrottle waits out a pause Throttle set.
func (c *Conn) waitThrottle() {
	c.mu.Lock()
	d := time.Until(c.resumeAt)
	c.mu.Unlock()
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.Done():
	}
}

// readFailure names why reading stopped.
func readFailure(err error) CloseReason {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return closeReasonFromPeer(ce.Code)
	case errors.Is(err, websocket.ErrReadLimit):
		return CloseTooLarge
	case errors.As(err, &ne) && ne.Timeout():
		return ClosePingTimeout
	default:
		return ClosePeerGone
	}
}

// extendReadDeadline keeps a live client's connection open; it stops once
// closing so the close grace deadline stands.
func (c *Conn) extendReadDeadline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		_ = c.ws.SetReadDeadline(time.Now().Add(c.cfg.PongTimeout))
	}
}

// startWriter claims the writer role; the caller then runs writeLoop. It
// must hold mu and the connection must not be closing, so that every
// writers.Add happens before Serve's writers.Wait.
func (c *Conn) startWriter() bool {
	if c.writing {
		return false
	}
	c.writing = true
	c.writers.Add(1)
	return true
}

// pingTick runs on the ping timer's own goroutine. It rearms the timer and
// leaves the ping to the writer, becoming the writer itself if none runs.
func (c *Conn) pingTick() {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.ping.Reset(c.cfg.PingInterval)
	c.pingDue = true
	run := c.startWriter()
	c.mu.Unlock()
	if run {
		c.writeLoop()
	}
}

// writeLoop writes until there is nothing left to do, then exits; once the
// connection is closing it runs the close handshake instead.
func (c *Conn) writeLoop() {
	defer c.writers.Done()
	for {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			c.finish(true)
			return
		}
		ping := c.pingDue
		c.pingDue = false
		if !ping && len(c.queue) == 0 {
			c.writing = false // decided under mu: a later enqueue starts a new writer
			c.written.Broadcast()
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if ping {
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.cfg.WriteTimeout)); err != nil {
				c.Close(writeFailure(err), "")
				c.finish(false)
				return
			}
		}
		if err := c.flush(c.cfg.WriteTimeout); err != nil {
			c.finish(err == errCutOff)
			return
		}
	}
}

// flush writes everything queued. It returns errCutOff when the
// connection is cut off between two frames, and a write's error when the
// stream broke (the connection is then closing). What is taken from the
// queue at once goes out in one write (see batchConn).
func (c *Conn) flush(timeout time.Duration) error {
	for {
		batch := c.take()
		if batch == nil {
			return nil
		}
		c.out.hold()
		err := c.writeFrames(batch, timeout)
		c.recycle(batch)
		if rerr := c.out.release(err == nil); rerr != nil && err == nil {
			c.Close(writeFailure(rerr), "")
			err = rerr
		}
		if err != nil {
			return err
		}
	}
}

// writeFrames writes frames, as flush.
func (c *Conn) writeFrames(frames [][]byte, timeout time.Duration) error {
	for _, frame := range frames {
		if c.cutOff() {
			return errCutOff
		}
		_ = c.ws.SetWriteDeadline(time.Now().Add(timeout))
		if err := c.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
			c.Close(writeFailure(err), "")
			return err
		}
	}
	if c.cutOff() {
		return errCutOff
	}
	return nil
}

func writeFailure(err error) CloseReason {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return CloseWriteTimeout
	}
	return ClosePeerGone
}

// take empties the queue.
func (c *Conn) take() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		return nil
	}
	batch := c.queue
	c.queue, c.queueBytes = nil, 0
	return batch
}

// maxRecycledQueue bounds the array a connection keeps for its queue
// between batches: enough for the usual trickle, small enough that an idle
// connection keeps next to nothing.
const maxRecycledQueue = 8

// recycle gives the array of a written batch back to the queue if the
// queue has none, so the next frame queued does not allocate one. Without
// it a connection that gets one frame at a time paid an allocation each.
func (c *Conn) recycle(batch [][]byte) {
	if cap(batch) > maxRecycledQueue {
		return
	}
	clear(batch) // the frames are written: do not keep them alive
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.queue == nil && !c.closing {
		c.queue = batch[:0]
	}
}

// finish ends the writer. Unless the stream is broken (a write failed
// midway: intact is false) it sends the close frame, after what is queued
// (a room.closed before a going_away) unless the client is cut off for not
// reading; then it gives the reader closeGrace to see the client's reply.
// A slow consumer's close frame is best effort: it goes out only if its
// socket takes it within closeGrace.
func (c *Conn) finish(intact bool) {
	c.mu.Lock()
	reason, text := c.reason, c.closeText
	c.mu.Unlock()
	grace := time.Now().Add(closeGrace)
	sendsFrame := reason != ClosePeerGone && reason != CloseWriteTimeout
	if intact && sendsFrame && c.flush(closeGrace) == nil {
		if text == "" {
			text = reason.String()
		}
		msg := websocket.FormatCloseMessage(reason.Code(), text)
		if err := c.ws.WriteControl(websocket.CloseMessage, msg, grace); err != nil {
			grace = time.Now()
		}
	} else {
		grace = time.Now()
	}
	_ = c.ws.SetReadDeadline(grace)
}

// Close ends the connection with reason; text (default: the reason's name)
// goes in the close frame. It never blocks and only the first call counts.
func (c *Conn) Close(reason CloseReason, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	// A writer must run the close handshake: start one unless one runs (it
	// sees closing on its next turn). Set closing only after, since
	// startWriter must not be called once closing.
	if c.startWriter() {
		go c.writeLoop()
	}
	c.closing, c.reason, c.closeText = true, reason, truncateCloseText(text)
	c.written.Broadcast()
	if c.closed != nil {
		close(c.closed)
	}
	if c.ping != nil {
		c.ping.Stop()
	}
	c.cancel()
	if reason.cutOff() {
		c.queue, c.queueBytes = nil, 0
		// Unblock a writer stuck on a client that does not read: at once
		// when the stream is broken anyway, else after closeGrace, so that
		// a write in progress may finish and the close frame follow it.
		deadline := time.Now()
		if reason == CloseSlowConsumer {
			deadline = deadline.Add(closeGrace)
		}
		_ = c.ws.UnderlyingConn().SetWriteDeadline(deadline)
	}
}

// truncateCloseText fits text in a control frame (125 bytes, 2 for the code).
func truncateCloseText(text string) string {
	const max = 123
	if len(text) <= max {
		return text
	}
	cut := max
	for cut > 0 && text[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return text[:cut]
}

// Done is closed when Close has been called.
func (c *Conn) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed == nil {
		c.closed = make(chan struct{})
		if c.closing {
			close(c.closed)
		}
	}
	return c.closed
}

// Reason is why the connection closed (CloseNormal while open).
func (c *Conn) Reason() CloseReason {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// cutOff reports a close that drops what is queued (CloseReason.cutOff).
func (c *Conn) cutOff() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing && c.reason.cutOff()
}

func (c *Conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// QueueLen reports what waits to be written.
func (c *Conn) QueueLen() (messages, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue), c.queueBytes
}

// Notify sends a notification. It never blocks: if the queue is over its
// bounds the connection is closed as slow_consumer and ErrSlowConsumer
// returned.
func (c *Conn) Notify(method string, params any) error {
	frame, err := EncodeNotification(method, params)
	if err != nil {
		return err
	}
	return c.NotifyRaw(frame)
}

// NotifyRaw queues an encoded frame under the same bounds as Notify. The
// frame must not be modified afterwards; one frame may be queued on many
// connections.
func (c *Conn) NotifyRaw(frame []byte) error {
	err := c.enqueue(frame)
	if s := c.cfg.Stats; s != nil {
		switch {
		case err == nil:
			s.Notifications.Add(1)
		case errors.Is(err, ErrClosed):
			s.DroppedClosed.Add(1)
		default:
			s.DroppedQueueFull.Add(1)
		}
	}
	return err
}

// enqueue queues a frame (a notification or a response) for the writer.
func (c *Conn) enqueue(frame []byte) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return ErrClosed
	}
	maxBytes := c.cfg.MaxQueueBytes
	if c.preAuth {
		maxBytes = c.cfg.PreAuth.QueueBytes + c.allowance
		c.allowance = 0
	}
	if len(c.queue)+1 > c.cfg.MaxQueueMessages || c.queueBytes+len(frame) > maxBytes {
		preAuth := c.preAuth
		c.mu.Unlock()
		c.cfg.Logger.Debug("rpc: outbound queue full", "remote", c.RemoteAddr().String(), "pre_auth", preAuth,
			"limit_messages", c.cfg.MaxQueueMessages, "limit_bytes", maxBytes)
		c.Close(CloseSlowConsumer, "")
		return ErrSlowConsumer
	}
	if c.preAuth {
		c.cfg.Stats.preAuthOut(len(frame))
	}
	c.queue = append(c.queue, frame)
	c.queueBytes += len(frame)
	run := c.startWriter()
	c.mu.Unlock()
	if run {
		go c.writeLoop()
	}
	return nil
}
