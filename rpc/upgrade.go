package rpc

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Upgrader upgrades GET /rpc to a WebSocket for NewConn.
type Upgrader struct {
	ws websocket.Upgrader
}

// NewUpgrader returns the WebSocket upgrader for /rpc. Small read buffers
// and a pooled write buffer keep an idle connection's memory low: signaling
// frames are small and most connections are idle most of the time.
func NewUpgrader(checkOrigin func(*http.Request) bool) *Upgrader {
	return &Upgrader{ws: websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  4096,
		WriteBufferPool:  &sync.Pool{},
		CheckOrigin:      checkOrigin,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			http.Error(w, "websocket upgrade refused: "+reason.Error(), status)
		},
	}}
}

// Upgrade answers the handshake and returns the WebSocket, whose socket
// lets a Conn batch its writes (see batchConn). On failure the client has
// been answered.
func (u *Upgrader) Upgrade(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	return u.ws.Upgrade(batchHijacker{w}, r, nil)
}

// batchHijacker hands gorilla a batchConn in place of the hijacked socket.
type batchHijacker struct{ http.ResponseWriter }

func (h batchHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &batchConn{Conn: c}, brw, nil
}

// maxBatch bounds what a batchConn holds: a larger write goes out directly.
const maxBatch = 16 << 10

// batchConn is the socket under a WebSocket. gorilla writes each frame
// with a write of its own, a syscall per frame; between hold and release
// a batchConn gathers those writes (the frames the writer took from the
// queue at once, and any pong the reader sends meanwhile) and sends them
// together. Under load the writer takes dozens of frames at a time. The
// buffer comes from the pool and is held only while the writer runs.
//
// Deadlines pass through: the one in force when the batch is sent is the
// one gorilla set for the last frame. Its methods do nothing on a nil
// batchConn, so a Conn over any other socket writes frame by frame.
type batchConn struct {
	net.Conn

	mu   sync.Mutex
	held *bytes.Buffer // non-nil between hold and release
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held == nil {
		return b.Conn.Write(p)
	}
	if b.held.Len()+len(p) <= maxBatch {
		return b.held.Write(p)
	}
	if err := b.sendLocked(); err != nil {
		return 0, err
	}
	return b.Conn.Write(p)
}

// hold starts gathering writes.
func (b *batchConn) hold() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held = getBuffer()
}

// release stops gathering and sends what was gathered, unless send is
// false: the connection is being cut off and nothing more may reach it.
func (b *batchConn) release(send bool) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var err error
	if send {
		err = b.sendLocked()
	}
	putBuffer(b.held)
	b.held = nil
	return err
}

func (b *batchConn) sendLocked() error {
	if b.held.Len() == 0 {
		return nil
	}
	_, err := b.Conn.Write(b.held.Bytes())
	b.held.Reset()
	return err
}
