package rpc

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
)

// Errors of Notify and NotifyRaw.
var (
	ErrClosed       = errors.New("rpc: connection closed")
	ErrSlowConsumer = errors.New("rpc: outbound queue full; connection closed as slow_consumer")
)

// ConnConfig bounds the connections of an Upgrader. Zero fields take the
// defaults.
type ConnConfig struct {
	ReadLimit        int64         // largest inbound message; over it the connection closes with 1009 (default 64 KiB)
	MaxQueueMessages int           // outbound frames waiting to be written (default 1024)
	MaxQueueBytes    int           // outbound bytes waiting to be written (default 4 MiB)
	WriteTimeout     time.Duration // one write's deadline; missing it closes as write_timeout (default 10s)
	PingInterval     time.Duration // how often the server pings (default 20s)
	PongTimeout      time.Duration // silence after which the client is gone: no pong nor frame (default 45s)
	// PreAuth bounds the connection until Authenticated is called; the
	// zero value puts no connection on probation.
	PreAuth PreAuthLimits
	Logger  *slog.Logger
	OnClose func(*Conn, CloseReason) // called once for each connection, when it has ended
	Stats   *Stats                   // shared counters to add to (nil: none)
}

// PreAuthLimits bound a connection that has not authenticated, so that a
// client without credentials costs the server little whatever it sends:
//   - one request in flight: the next frame is handled only once the reply
//     to the previous one is written, so a client that does not read
//     stalls itself, not the server;
//   - at most QueueBytes of outbound queue (over it: slow_consumer), but
//     for one reply that AllowReply lets through (a document the server
//     sends as is);
//   - batches of at most MaxBatch requests;
//   - Timeout to authenticate at all (if set): then the connection is
//     closed as auth_timeout, with TimeoutText in the close frame.
//
// QueueBytes zero puts no connection on probation, but for the Timeout.
type PreAuthLimits struct {
	QueueBytes  int
	MaxBatch    int
	Timeout     time.Duration
	TimeoutText string
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

// readerIdle is how long a reader waits for the next frame before it
// parks the connection (see poller). A client that sends every few hundred
// milliseconds keeps its reader; one that falls silent costs no goroutine.
const readerIdle = 250 * time.Millisecond

// errCutOff is why a writer stops between two frames: the connection is
// being cut off. What it wrote is intact, so a close frame may follow.
var errCutOff = errors.New("rpc: connection cut off")

// errPeerClosed: the client sent its close frame.
var errPeerClosed = errors.New("rpc: the client closed the connection")

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

// epoch starts the clock a Conn keeps its times on (monotonic durations,
// smaller than a time.Time each).
var epoch = time.Now()

func sinceEpoch() time.Duration { return time.Since(epoch) }

// Conn serves JSON-RPC on one WebSocket connection.
//
// Reading: frames are handled in order by the connection's reader, which
// runs each request's handler itself and exists only while the client is
// active: after readerIdle without a frame it parks the socket with the
// poller and exits, and the poller starts a new reader when bytes arrive.
// The read buffer is pooled and held only while bytes are in it. An idle
// connection costs neither a goroutine nor a buffer.
//
// Writing: everything sent goes through a bounded queue, so a client that
// stops reading costs its own connection and never blocks a sender. What
// is queued during the handling of a read is written at its end (outbox),
// with one non-blocking write from the goroutine at hand; only what the
// socket does not take at once is left to a writer goroutine, which
// writes it with a deadline. At most one writer (either kind) runs at a
// time (writing, under mu).
type Conn struct {
	nc   net.Conn        // the socket under the WebSocket
	raw  syscall.RawConn // nc's descriptor when reads and writes may use it directly (see rawConnOf), else nil
	cfg  *ConnConfig     // the Upgrader's, shared
	box  *outbox         // the Upgrader's
	poll *poller         // the Upgrader's; nil: the reader never parks
	vals context.Context // the values of the handlers' context (Start's ctx); the Conn is the context itself (connContext)
	mux  *Mux

	heard  atomic.Int64 // sinceEpoch of the last frame read: the client's last sign of life
	pollID uint64       // the poller's id for the socket; guarded by poll.mu

	// The reader's own (there is one reader at a time): its buffer, and
	// awake (last, with the flags under mu: one word for all), set when
	// the socket could not be parked: it is read for good.
	in inbound

	// rest is what a direct write left unwritten (ending on a frame
	// boundary): the writer goroutine it is handed to sends it first.
	rest    *[]byte
	restOff int

	mu         sync.Mutex
	queue      []outSlab     // what waits to be written, as WebSocket frames
	queued     int           // the messages in queue
	queueBytes int           // and their payloads' bytes
	pong       []byte        // the payload of the last ping, to answer
	nextPing   time.Duration // sinceEpoch when the next ping is due
	beatAt     time.Duration // sinceEpoch when the heartbeat is next due (under heartbeats.mu)
	closeText  string
	readUntil  time.Duration // once closing: sinceEpoch when the reader stops waiting for the client's close frame
	closed     chan struct{} // made on demand by Done: few callers want it
	resumeAt   time.Duration // Throttle: read no frame before then (sinceEpoch)
	authBy     time.Duration // sinceEpoch by when Authenticated must be called (cfg.PreAuth.Timeout), or 0
	allowance  int           // AllowReply: bytes the next frame may exceed cfg.PreAuth.QueueBytes by
	// idle, made by waitWritten, is closed when there is nothing left to
	// write or the connection closes (wakeWaiterLocked).
	idle      chan struct{}
	pingDue   bool // the heartbeat wants a ping sent
	writing   bool // a writer runs; once closing it stays set so no new one starts
	scheduled bool // in the outbox, waiting for the end of a read
	parked    bool // the poller holds the socket; no reader runs
	closing   bool
	reason    CloseReason
	preAuth   bool  // not yet Authenticated: on probation if cfg.PreAuth.QueueBytes is set
	awake     bool  // the reader's own, not under mu (see in)
	beatIdx   int32 // where heartbeats keeps the connection: its index + 1, 0 if not there (under heartbeats.mu)

	writers sync.WaitGroup // writers; the connection's end waits for the last one
}

// newConn wraps the socket of a WebSocket that u upgraded; raw is its
// descriptor (nil without one: TLS, or off Linux).
func newConn(nc net.Conn, raw syscall.RawConn, u *Upgrader) *Conn {
	c := &Conn{nc: nc, raw: raw, cfg: &u.cfg, box: &u.box, vals: context.Background(), preAuth: true}
	if c.raw != nil && u.poll.attach() == nil {
		c.poll = &u.poll
	}
	return c
}

// Authenticated lifts the PreAuth limits: the client has shown
// credentials. Call it before the reply that says so is queued.
func (c *Conn) Authenticated() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.preAuth, c.authBy, c.allowance = false, 0, 0
}

// probationLocked reports whether the PreAuth limits apply. The caller
// holds mu.
func (c *Conn) probationLocked() bool {
	return c.preAuth && c.cfg.PreAuth.QueueBytes > 0
}

// AllowReply lets the reply to the request being handled exceed the
// PreAuth queue bound by n bytes.
func (c *Conn) AllowReply(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.allowance = n
}

// waitWritten waits until what is queued is written or the connection
// closes.
func (c *Conn) waitWritten() {
	c.mu.Lock()
	for (c.writing || c.scheduled || c.hasOutputLocked()) && !c.closing {
		if c.idle == nil {
			c.idle = make(chan struct{})
		}
		idle := c.idle
		c.mu.Unlock()
		<-idle
		c.mu.Lock()
	}
	c.mu.Unlock()
}

// wakeWaiterLocked lets waitWritten look again. The caller holds mu.
func (c *Conn) wakeWaiterLocked() {
	if c.idle != nil {
		close(c.idle)
		c.idle = nil
	}
}

type connKey struct{}

// ConnFromContext returns the connection a request arrived on, or nil for
// POST /rpc.
func ConnFromContext(ctx context.Context) *Conn {
	c, _ := ctx.Value(connKey{}).(*Conn)
	return c
}

// connContext is the context handlers get: the Conn itself, done when it
// closes, with the values of Start's ctx. No context of its own to
// allocate (a WithValue and a WithCancel were 190 B of every connection).
type connContext Conn

func (cc *connContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (cc *connContext) Done() <-chan struct{}       { return (*Conn)(cc).Done() }

func (cc *connContext) Err() error {
	c := (*Conn)(cc)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return context.Canceled
	}
	return nil
}

func (cc *connContext) Value(key any) any {
	if key == (connKey{}) {
		return (*Conn)(cc)
	}
	return cc.vals.Value(key)
}

// Start serves the connection: it reads and dispatches frames until the
// connection closes, then calls OnClose. It returns at once; no goroutine
// waits on the connection while it idles. Handlers get a context that
// carries the Conn and ctx's values, and is canceled when the connection
// closes (not when ctx is: ctx is for values).
func (c *Conn) Start(ctx context.Context, mux *Mux) {
	c.vals, c.mux = ctx, mux
	now := sinceEpoch()
	c.heard.Store(int64(now))
	c.mu.Lock()
	if !c.closing {
		c.nextPing = now + c.cfg.PingInterval
		if t := c.cfg.PreAuth.Timeout; t > 0 && c.preAuth {
			c.authBy = now + t
		}
		heartbeats.set(c, c.nextBeatLocked(now, now))
	}
	c.mu.Unlock()
	startReader(c)
}

// read is the reader: it handles what arrives until the client idles
// (then it parks the connection and returns) or the connection ends.
//
// A reader that finds bytes waiting every time it reads (a client that
// keeps it busy), or that stops at maxBatchMessages, lets the goroutines
// waiting for a core run before it goes on: its raw reads never enter the
// scheduler, and other clients would otherwise wait for its time slice
// to run out (10 ms or more).
func (c *Conn) read() {
	c.idleFrom(sinceEpoch())
	more := false // the last batch stopped with frames left
	for {
		c.waitThrottle()
		waited, err := true, error(nil)
		if !more {
			waited, err = c.fill()
		}
		if err == nil {
			more, err = c.handleBuffered()
		}
		switch {
		case err == nil:
			if !waited || more {
				runtime.Gosched()
			}
			continue
		case errors.Is(err, os.ErrDeadlineExceeded):
			switch c.afterDeadline() {
			case keepReading:
				continue
			case parkReader:
				if c.park() {
					return
				}
				continue
			}
		case !errors.Is(err, errPeerClosed):
			c.Close(readFailure(err))
		}
		c.end()
		return
	}
}

// Reader goroutines outlive the activity of one connection: a reader
// whose connection parks or ends waits up to readerKeep to read another
// before it exits. A goroutine started for every activation grew its stack
// again from 2 KiB to what handlers need, by copying, each time (7% of the
// server's CPU when clients connect and join at a high rate).
const readerKeep = time.Second

// idleReaders hands a connection to a reader waiting for one.
var idleReaders = make(chan *Conn)

// startReader starts reading c, on an idle reader if one waits.
func startReader(c *Conn) {
	select {
	case idleReaders <- c:
	default:
		go runReader(c)
	}
}

// runReader reads c, then the connections handed to it, until it idles
// out.
func runReader(c *Conn) {
	idle := time.NewTimer(readerKeep)
	defer idle.Stop()
	for {
		c.read()
		idle.Reset(readerKeep)
		select {
		case c = <-idleReaders:
		case <-idle.C:
			return
		}
	}
}

// What a reader does after its read deadline.
const (
	keepReading = iota
	parkReader
	endConn
)

// afterDeadline decides after a read deadline: an active client (a frame
// within readerIdle) keeps its reader, and so does a closing connection
// until its readUntil; then it ends. An idle client's reader parks.
func (c *Conn) afterDeadline() int {
	c.mu.Lock()
	closing, until := c.closing, c.readUntil
	c.mu.Unlock()
	if closing {
		if sinceEpoch() < until {
			return keepReading
		}
		return endConn
	}
	heard := time.Duration(c.heard.Load())
	if sinceEpoch()-heard < readerIdle {
		c.idleFrom(heard)
		return keepReading
	}
	return parkReader
}

// idleFrom sets the read deadline at which a reader that has heard
// nothing since t parks; a closing connection's deadline is left alone.
// A socket that cannot park has none: the heartbeat ends a silent client.
func (c *Conn) idleFrom(t time.Duration) {
	if c.poll == nil || c.awake {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		_ = c.nc.SetReadDeadline(epoch.Add(t + readerIdle))
	}
}

// park hands the socket to the poller and reports whether the reader may
// exit; it may not if the connection is closing or cannot park (it then
// keeps reading).
func (c *Conn) park() bool {
	if c.poll == nil || c.awake {
		return false
	}
	c.in.shrink() // before parked is set: from then on another reader may start
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	c.parked = true
	if len(c.queue) == 0 {
		c.queue = nil // an idle connection keeps no array for it
	}
	c.mu.Unlock()
	if err := c.poll.park(c); err != nil {
		c.cfg.Logger.Warn("rpc: cannot park an idle connection; it keeps its reader", "err", err)
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.parked {
			return true // Close started a reader meanwhile
		}
		c.parked, c.awake = false, true
		if !c.closing {
			_ = c.nc.SetReadDeadline(time.Time{}) // no more idle deadlines
		}
		return false
	}
	return true
}

// wake starts a reader for a parked connection: the poller saw bytes.
func (c *Conn) wake() {
	c.mu.Lock()
	if !c.parked {
		c.mu.Unlock()
		return
	}
	c.parked = false
	c.mu.Unlock()
	startReader(c)
}

// end finishes the connection on the last reader: once the writers are
// done (the close frame sent), the socket is closed and OnClose called.
func (c *Conn) end() {
	c.writers.Wait()
	if c.poll != nil {
		c.poll.detach(c)
	}
	_ = c.nc.Close()
	c.in.release()
	reason := c.Reason()
	c.cfg.Stats.closed(reason)
	if c.cfg.OnClose != nil {
		c.cfg.OnClose(c, reason)
	}
}

// fill reads more bytes into c.in, waiting for them if need be, and
// reports whether it waited. A socket the reader may use directly is
// waited on without a buffer.
func (c *Conn) fill() (waited bool, err error) {
	in := &c.in
	if c.raw == nil {
		n, err := c.nc.Read(in.free(smallRead))
		in.w += n
		if n > 0 {
			return true, nil
		}
		return true, err
	}
	op := ioOps.Get().(*ioOp)
	op.c = c
	err = c.raw.Read(op.read)
	n, rerr, waited := op.n, op.err, op.waited
	*op = ioOp{read: op.read, write: op.write}
	ioOps.Put(op)
	in.w += n
	switch {
	case err != nil:
		return waited, err
	case n > 0:
		return waited, nil
	}
	return waited, rerr
}

// ioOp is one direct read or write, the callback of a syscall.RawConn
// with what it needs and what it did; pooled, because a closure handed to
// RawConn escapes and would cost allocations on every read and write.
type ioOp struct {
	c           *Conn
	p           []byte // what write writes
	n           int
	err         error
	waited      bool                  // doRead found no bytes at first
	read, write func(fd uintptr) bool // op.doRead and op.doWrite, bound once
}

var ioOps = sync.Pool{New: func() any {
	op := new(ioOp)
	op.read, op.write = op.doRead, op.doWrite
	return op
}}

func (op *ioOp) doRead(fd uintptr) bool {
	in := &op.c.in
	op.n, op.err = readNow(fd, in.free(maxPooledBuffer))
	if op.err == errWouldBlock {
		in.releaseIfEmpty()
		op.waited = true
		return false // wait until the socket is readable
	}
	return true
}

func (op *ioOp) doWrite(fd uintptr) bool {
	op.n, op.err = writeNow(fd, op.p)
	return true // never wait: the rest is the writer goroutine's
}

// maxBatchMessages bounds the messages handled as one read: then the
// reader writes what they queued and lets other goroutines run.
const maxBatchMessages = 64

// handleBuffered handles the complete frames c.in holds as one read:
// what their handling queues is written when they are done (outbox).
// more reports that it stopped at maxBatchMessages.
func (c *Conn) handleBuffered() (more bool, err error) {
	c.box.begin()
	more, err = c.handleFrames()
	c.box.end()
	return more, err
}

func (c *Conn) handleFrames() (more bool, err error) {
	in := &c.in
	heard, messages := false, 0
	defer func() {
		if heard {
			c.heard.Store(int64(sinceEpoch()))
		}
	}()
	for {
		if messages == maxBatchMessages {
			return true, nil
		}
		b := in.unread()
		h, ok, err := parseHeader(b)
		if err != nil {
			return false, err
		}
		if !ok {
			in.need = 0
			return false, nil
		}
		if h.op < opClose {
			if size := int64(len(in.frag)) + int64(h.length); size > c.cfg.ReadLimit {
				return false, tooLarge{size: size, limit: c.cfg.ReadLimit}
			}
		}
		total := h.size + h.length
		if len(b) < total {
			in.need = total
			return false, nil
		}
		in.need = 0
		payload := b[h.size:total]
		unmask(payload, h.mask)
		in.r += total
		heard = true
		switch h.op {
		case opPing:
			c.queuePong(payload)
		case opPong:
		case opClose:
			code, err := parseClose(payload)
			if err != nil {
				return false, err
			}
			c.Close(closeReasonFromPeer(code), "")
			return false, errPeerClosed
		case opText, opBinary:
			if in.fragOp != 0 {
				return false, protocolError("a new message began before the last one's final frame")
			}
			if !h.fin {
				in.fragOp = h.op
				in.frag = append(in.frag, payload...)
				continue
			}
			if err := c.handleMessage(h.op, payload); err != nil {
				return false, err
			}
			messages++
		case opContinuation:
			if in.fragOp == 0 {
				return false, protocolError("a continuation frame outside a fragmented message")
			}
			in.frag = append(in.frag, payload...)
			if h.fin {
				op, msg := in.fragOp, in.frag
				in.fragOp, in.frag = 0, nil
				if err := c.handleMessage(op, msg); err != nil {
					return false, err
				}
				messages++
			}
		}
	}
}

// handleMessage dispatches one message and queues its reply. Nothing
// refers to msg once it returns (see MethodFunc). A text message that is
// not UTF-8 fails the connection (badUTF8): the frames signaling sends
// are ASCII, which fastValid finds on its way, so only the others are
// scanned for it.
func (c *Conn) handleMessage(op byte, msg []byte) error {
	c.mu.Lock()
	closing, probation := c.closing, c.probationLocked()
	c.mu.Unlock()
	if closing {
		return nil // drain until the client's close frame or the grace deadline
	}
	if op != opText {
		c.Close(CloseUnsupportedData, "binary frames are not supported; send JSON-RPC as text frames")
		return nil
	}
	fast := fastValid(msg)
	if !fast && !utf8.Valid(msg) {
		return badUTF8("a text message that is not UTF-8")
	}
	maxBatch := MaxBatch
	if probation {
		maxBatch = c.cfg.PreAuth.MaxBatch
		c.cfg.Stats.preAuthIn(len(msg))
	}
	buf := getSlab(0) // the reply's: the queue copies it
	if reply := c.mux.dispatch((*connContext)(c), *buf, msg, maxBatch, fast); reply != nil {
		_ = c.enqueue(reply)
	}
	putSlab(buf)
	if probation { // one request in flight: write the reply before the next
		c.box.end()
		c.waitWritten()
		c.box.begin()
	}
	return nil
}

// queuePong answers a ping (RFC 6455 §5.5.3: the latest ping's payload).
func (c *Conn) queuePong(payload []byte) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.pong = append(c.pong[:0], payload...)
	if c.pong == nil {
		c.pong = []byte{} // a ping without payload is answered too (nil: no pong due)
	}
	run := c.scheduleLocked()
	c.mu.Unlock()
	if run {
		c.box.schedule(c)
	}
}

// Throttle stops reading the connection for d (from now): frames wait in
// TCP's buffers, and a client that floods is held back by its own socket.
// Closing the connection ends the pause.
func (c *Conn) Throttle(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resumeAt = sinceEpoch() + d
}

// waitThrottle waits out a pause Throttle set.
func (c *Conn) waitThrottle() {
	c.mu.Lock()
	d := c.resumeAt - sinceEpoch()
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

// readFailure names why reading stopped, and what the close frame says.
func readFailure(err error) (CloseReason, string) {
	var pe protocolError
	var bu badUTF8
	var tl tooLarge
	switch {
	case errors.As(err, &pe):
		return CloseProtocolError, string(pe)
	case errors.As(err, &bu):
		return CloseInvalidUTF8, string(bu)
	case errors.As(err, &tl):
		return CloseTooLarge, ""
	default:
		return ClosePeerGone, ""
	}
}

// beat runs when the heartbeat is due (heartbeats): it ends a client silent for
// PongTimeout, or not authenticated by its deadline, asks for a ping
// every PingInterval, and rearms itself for whichever comes next.
func (c *Conn) beat() {
	now := sinceEpoch()
	heard := time.Duration(c.heard.Load())
	if now-heard >= c.cfg.PongTimeout {
		c.Close(ClosePingTimeout, "")
		return
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if c.authBy > 0 && now >= c.authBy {
		c.mu.Unlock()
		c.Close(CloseAuthTimeout, c.cfg.PreAuth.TimeoutText)
		return
	}
	run := false
	if now >= c.nextPing {
		c.pingDue = true
		c.nextPing = now + c.cfg.PingInterval
		run = c.scheduleLocked()
	}
	heartbeats.set(c, c.nextBeatLocked(now, heard))
	c.mu.Unlock()
	if run {
		c.box.schedule(c)
	}
}

// nextBeatLocked is when the heartbeat is next due: the next ping, the
// pong deadline or the authentication deadline, whichever comes first.
func (c *Conn) nextBeatLocked(now, heard time.Duration) time.Duration {
	next := min(c.nextPing, heard+c.cfg.PongTimeout)
	if c.authBy > 0 {
		next = min(next, c.authBy)
	}
	return max(next, now)
}

// scheduleLocked reports whether c must go in the outbox: it has output,
// no writer runs and it is not there already. The caller holds mu.
func (c *Conn) scheduleLocked() bool {
	if c.writing || c.scheduled {
		return false
	}
	c.scheduled = true
	return true
}

func (c *Conn) hasOutputLocked() bool {
	return len(c.queue) > 0 || c.pong != nil || c.pingDue
}

// startWriter claims the writer role. It must hold mu and the connection
// must not be closing, so that every writers.Add happens before the
// connection's end waits for them.
func (c *Conn) startWriter() bool {
	if c.writing {
		return false
	}
	c.writing = true
	c.writers.Add(1)
	return true
}

// maxDirectWrites bounds the direct writes of one flushNow: frames that
// keep coming while it writes are left to a writer goroutine.
const maxDirectWrites = 4

// flushNow writes what is queued without blocking (outbox): what the
// socket does not take at once goes to a writer goroutine, which writes it
// with a deadline, as does everything on a socket not used directly.
func (c *Conn) flushNow() {
	c.mu.Lock()
	c.scheduled = false
	if c.writing || c.closing || !c.hasOutputLocked() {
		c.wakeWaiterLocked()
		c.mu.Unlock()
		return
	}
	c.startWriter()
	if c.raw == nil {
		c.mu.Unlock()
		go c.writeLoop()
		return
	}
	for range maxDirectWrites {
		out := c.takeLocked()
		c.mu.Unlock()
		n, err := c.writeDirect(*out)
		if err != nil {
			putSlab(out)
			c.Close(writeFailure(err), "")
			c.finish(false)
			c.writers.Done()
			return
		}
		if n < len(*out) {
			c.rest, c.restOff = out, n
			go c.writeLoop()
			return
		}
		putSlab(out)
		c.mu.Lock()
		if c.closing || !c.hasOutputLocked() {
			break
		}
	}
	if c.closing || c.hasOutputLocked() {
		c.mu.Unlock()
		go c.writeLoop() // the close handshake, or frames still coming
		return
	}
	c.writing = false
	c.wakeWaiterLocked()
	c.mu.Unlock()
	c.writers.Done()
}

// writeDirect writes as much of p as the socket takes now.
func (c *Conn) writeDirect(p []byte) (int, error) { return writeRaw(c.raw, p) }

// writeRaw writes as much of p as raw's socket takes now.
func writeRaw(raw syscall.RawConn, p []byte) (int, error) {
	op := ioOps.Get().(*ioOp)
	op.p = p
	err := raw.Write(op.write)
	n, werr := op.n, op.err
	*op = ioOp{read: op.read, write: op.write}
	ioOps.Put(op)
	if err != nil {
		return 0, err
	}
	return n, werr
}

// writeLoop is the writer goroutine: it writes until there is nothing left
// to do, then exits; once the connection is closing it runs the close
// handshake instead.
func (c *Conn) writeLoop() {
	defer c.writers.Done()
	if c.rest != nil {
		out, off := c.rest, c.restOff
		c.rest = nil
		err := c.writeAll((*out)[off:], c.cfg.WriteTimeout, true)
		putSlab(out)
		if err != nil {
			c.finish(false)
			return
		}
	}
	for {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			c.finish(true)
			return
		}
		if !c.hasOutputLocked() {
			c.writing = false // decided under mu: a later enqueue schedules a new writer
			// Direct writes have no deadline; an old one would fail them once past.
			_ = c.nc.SetWriteDeadline(time.Time{})
			c.wakeWaiterLocked()
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if err := c.flush(c.cfg.WriteTimeout); err != nil {
			c.finish(err == errCutOff)
			return
		}
	}
}

// flush writes everything queued, a slab at a time, each write within
// timeout. It returns errCutOff when the connection is cut off between two
// writes, and a write's error when the stream broke (the connection is
// then closing).
func (c *Conn) flush(timeout time.Duration) error {
	for {
		c.mu.Lock()
		if !c.hasOutputLocked() {
			c.mu.Unlock()
			return nil
		}
		out := c.takeLocked()
		c.mu.Unlock()
		err := c.writeAll(*out, timeout, false)
		putSlab(out)
		if err != nil {
			return err
		}
	}
}

// writeAll writes p within timeout, unless the connection is cut off
// first; a write in progress (inProgress: the rest of one the socket took
// part of) is finished even then, within the deadline the cut-off set.
func (c *Conn) writeAll(p []byte, timeout time.Duration, inProgress bool) error {
	c.mu.Lock()
	cut := c.closing && c.reason.cutOff()
	if cut && !inProgress {
		c.mu.Unlock()
		return errCutOff
	}
	if !cut {
		_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
	}
	c.mu.Unlock()
	if _, err := c.nc.Write(p); err != nil {
		c.Close(writeFailure(err), "")
		return err
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

// outSlab is queued output: the WebSocket frames of some messages, in a
// pooled slice of at most maxPooledBuffer bytes (unless one frame is
// larger), and how many messages and payload bytes they hold.
type outSlab struct {
	buf         *[]byte
	msgs, bytes int
}

// queueLocked appends frame to the queue's last slab, or to a new one, as
// large as what is queued (a backlog is written in large writes), from 4
// KiB to maxPooledBuffer. The caller holds mu.
func (c *Conn) queueLocked(frame []byte) {
	need := frameSize(len(frame))
	n := len(c.queue)
	if n == 0 || cap(*c.queue[n-1].buf)-len(*c.queue[n-1].buf) < need {
		c.queue = append(c.queue, outSlab{buf: getSlab(max(need, min(c.queueBytes, maxPooledBuffer)))})
		n++
	}
	s := &c.queue[n-1]
	*s.buf = appendFrame(*s.buf, opText, frame)
	s.msgs++
	s.bytes += len(frame)
	c.queued++
	c.queueBytes += len(frame)
}

// takeLocked returns what is due next, in a pooled slice: the pong and the
// ping first, then the first slab of the queue. The caller holds mu.
func (c *Conn) takeLocked() *[]byte {
	var out *[]byte
	if len(c.queue) > 0 {
		s := c.queue[0]
		c.queue[0] = outSlab{}
		c.dropLocked(1)
		c.queued -= s.msgs
		c.queueBytes -= s.bytes
		out = s.buf
	}
	if c.pong == nil && !c.pingDue {
		return out
	}
	size := 0
	if c.pong != nil {
		size += frameSize(len(c.pong))
	}
	if c.pingDue {
		size += frameSize(0)
	}
	if out != nil {
		size += len(*out)
	}
	ctl := getSlab(size)
	b := *ctl
	if c.pong != nil {
		b = appendFrame(b, opPong, c.pong)
		c.pong = nil
	}
	if c.pingDue {
		b = appendFrame(b, opPing, nil)
		c.pingDue = false
	}
	if out != nil {
		b = append(b, *out...)
		putSlab(out)
	}
	*ctl = b
	return ctl
}

// maxRecycledQueue bounds the array a connection keeps for its queue
// between writes: enough for the usual trickle, small enough that an idle
// connection keeps next to nothing. Without it a connection that gets one
// frame at a time paid an allocation each.
const maxRecycledQueue = 8

// dropLocked removes the first n slabs (already cleared) of the queue.
func (c *Conn) dropLocked(n int) {
	switch {
	case n < len(c.queue):
		c.queue = c.queue[n:]
	case cap(c.queue) > maxRecycledQueue:
		c.queue = nil
	default:
		c.queue = c.queue[:0]
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
		_ = c.nc.SetWriteDeadline(grace)
		if _, err := c.nc.Write(appendFrame(nil, opClose, closePayload(reason.Code(), text))); err != nil {
			grace = time.Now()
		}
	} else {
		grace = time.Now()
	}
	c.mu.Lock()
	c.readUntil = grace.Sub(epoch)
	_ = c.nc.SetReadDeadline(grace)
	c.mu.Unlock()
}

// Close ends the connection with reason; text (default: the reason's name)
// goes in the close frame. It never blocks and only the first call counts.
func (c *Conn) Close(reason CloseReason, text string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	// A writer must run the close handshake: start one unless one runs (it
	// sees closing on its next turn). Set closing only after, since
	// startWriter must not be called once closing.
	if c.startWriter() {
		go c.writeLoop()
	}
	c.closing, c.reason, c.closeText = true, reason, truncateCloseText(text)
	// A bound on the reader's wait for the client's close frame until the
	// writer, done with its last write, sets the real one (finish).
	c.readUntil = sinceEpoch() + c.cfg.WriteTimeout + 2*closeGrace
	_ = c.nc.SetReadDeadline(epoch.Add(c.readUntil))
	c.wakeWaiterLocked()
	if c.closed != nil {
		close(c.closed)
	}
	heartbeats.stop(c)
	if reason.cutOff() {
		for _, s := range c.queue {
			putSlab(s.buf)
		}
		c.queue, c.queued, c.queueBytes, c.pong, c.pingDue = nil, 0, 0, nil, false
		// Unblock a writer stuck on a client that does not read: at once
		// when the stream is broken anyway, else after closeGrace, so that
		// a write in progress may finish and the close frame follow it.
		deadline := time.Now()
		if reason == CloseSlowConsumer {
			deadline = deadline.Add(closeGrace)
		}
		_ = c.nc.SetWriteDeadline(deadline)
	}
	wake := c.parked // the reader ends the connection: start one
	c.parked = false
	c.mu.Unlock()
	if wake {
		startReader(c)
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

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// QueueLen reports what waits to be written.
func (c *Conn) QueueLen() (messages, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued, c.queueBytes
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

// NotifyRaw queues an encoded frame under the same bounds as Notify. It
// copies the frame: the caller may reuse it once NotifyRaw returns.
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

// enqueue queues a frame (a notification or a response) for writing.
func (c *Conn) enqueue(frame []byte) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return ErrClosed
	}
	maxBytes, probation := c.cfg.MaxQueueBytes, c.probationLocked()
	if probation {
		maxBytes = c.cfg.PreAuth.QueueBytes + c.allowance
		c.allowance = 0
	}
	if c.queued+1 > c.cfg.MaxQueueMessages || c.queueBytes+len(frame) > maxBytes {
		c.mu.Unlock()
		c.cfg.Logger.Debug("rpc: outbound queue full", "remote", c.RemoteAddr().String(), "pre_auth", probation,
			"limit_messages", c.cfg.MaxQueueMessages, "limit_bytes", maxBytes)
		c.Close(CloseSlowConsumer, "")
		return ErrSlowConsumer
	}
	if probation {
		c.cfg.Stats.preAuthOut(len(frame))
	}
	c.queueLocked(frame)
	run := c.scheduleLocked()
	c.mu.Unlock()
	if run {
		c.box.schedule(c)
	}
	return nil
}
