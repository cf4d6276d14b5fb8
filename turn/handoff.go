package turn

import (
	"net"
	"sync"
)

// handoff is a net.Listener whose connections another listener accepted:
// pion reads it beside its own listeners, so a connection handed over is
// served like one accepted here.
type handoff struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	addr  net.Addr
}

func newHandoff(addr net.Addr) *handoff {
	return &handoff{conns: make(chan net.Conn), done: make(chan struct{}), addr: addr}
}

// serve waits until pion accepts c, or closes c if the server is closed.
func (h *handoff) serve(c net.Conn) {
	select {
	case h.conns <- c:
	case <-h.done:
		_ = c.Close()
	}
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

// Addr is the TCP listener's: pion only logs it.
func (h *handoff) Addr() net.Addr { return h.addr }
