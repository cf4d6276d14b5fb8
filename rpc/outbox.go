package rpc

import (
	"sync"
	"sync/atomic"
)

// outbox defers writes to the end of the read being handled, as
// nats-server's flushClients does: while a reader handles the frames of
// one read, the connections that get frames (its own replies, the peers it
// relays to) are noted here, and each is written once, with one system
// call, when the read's frames are done. A lone message goes out as soon
// as it is handled; a burst goes out in a few large writes; and the reply
// and the relayed frame of a message are written back to back, so that
// waking their readers costs the machine one wake-up rather than two.
//
// Frames queued by any other goroutine (a timer, an HTTP handler) while
// some read is being handled wait for its end too, at most one read's
// worth of handling; with none under way they are written at once.
type outbox struct {
	busy    atomic.Int32 // reads being handled
	mu      sync.Mutex
	pending []*Conn // connections with frames to write (Conn.scheduled)
	spare   []*Conn // the array of the last drained list, for reuse
}

// begin marks the start of handling a read.
func (o *outbox) begin() { o.busy.Add(1) }

// end marks its end and writes what is pending.
func (o *outbox) end() {
	o.busy.Add(-1)
	o.flush()
}

// schedule notes c, which has frames to write and is not yet pending. It
// is written when the read under way ends, or now if none is: it was added
// before busy is read here, and a reader drains after lowering busy, so
// one of the two sees it.
func (o *outbox) schedule(c *Conn) {
	o.mu.Lock()
	o.pending = append(o.pending, c)
	o.mu.Unlock()
	if o.busy.Load() == 0 {
		o.flush()
	}
}

// flush writes every pending connection (Conn.flushNow never blocks).
func (o *outbox) flush() {
	for {
		o.mu.Lock()
		list := o.pending
		if len(list) == 0 {
			o.mu.Unlock()
			return
		}
		o.pending, o.spare = o.spare, nil
		o.mu.Unlock()
		for i, c := range list {
			c.flushNow()
			list[i] = nil
		}
		o.mu.Lock()
		if o.spare == nil {
			o.spare = list[:0]
		}
		o.mu.Unlock()
	}
}
