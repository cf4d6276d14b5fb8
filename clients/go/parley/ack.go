package parley

import (
	"context"
	"sync"
	"time"

	"github.com/parley-rtc/parley/api"
)

// Acknowledgements (session.ack) let the server drop what this client has
// received from the session's replay buffer instead of keeping it for a
// resume. One goes out ackDelay after the first notification not yet
// acknowledged: at most one a second, a small share of the request rate
// limit however busy the session is.
const ackDelay = time.Second

// acker holds the seq last acknowledged in this session and the timer of
// the next acknowledgement.
type acker struct {
	mu      sync.Mutex
	acked   int64
	timer   *time.Timer
	session int // counts resetAck calls, so an ack of an old session's seq is not taken for the new one's
}

// scheduleAck is called with each notification received.
func (c *Client) scheduleAck() {
	c.ack.mu.Lock()
	defer c.ack.mu.Unlock()
	if c.ack.timer == nil {
		c.ack.timer = time.AfterFunc(ackDelay, c.sendAck)
	}
}

// sendAck acknowledges everything received, as a notification: the server
// answers nothing. Without a connection it sends nothing; the next
// notification schedules another, and a resume carries the seq anyway.
func (c *Client) sendAck() {
	c.ack.mu.Lock()
	if c.ack.timer != nil {
		c.ack.timer.Stop()
		c.ack.timer = nil
	}
	seq, acked, session := c.received.Load(), c.ack.acked, c.ack.session
	c.ack.mu.Unlock()
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if seq <= acked || conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.lifetime, attemptTimeout)
	defer cancel()
	if err := conn.rpc.Notify(ctx, api.MethodSessionAck, &api.SessionAckParams{Seq: seq}); err != nil {
		return
	}
	c.ack.mu.Lock()
	if c.ack.session == session {
		c.ack.acked = max(c.ack.acked, seq)
	}
	c.ack.mu.Unlock()
}

// resetAck starts a new session's count: seq starts again from 0.
func (c *Client) resetAck() {
	c.ack.mu.Lock()
	defer c.ack.mu.Unlock()
	c.ack.acked = 0
	c.ack.session++
	if c.ack.timer != nil {
		c.ack.timer.Stop()
		c.ack.timer = nil
	}
}
