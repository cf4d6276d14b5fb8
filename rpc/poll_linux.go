package rpc

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// An idle connection has no goroutine: its reader parks the socket in an
// epoll set of the poller's and exits, and the poller starts a reader
// again when bytes (or a hang-up) arrive. A goroutine parked in Read for
// every connection would keep a stack of 4 KiB or more, the larger part of
// what an idle connection costs.
//
// The poller does not block a thread in epoll_wait: its epoll descriptor
// is itself registered with Go's network poller (an epoll set can be
// watched like a socket), so the poller goroutine parks like any reader
// and is woken when the set has events.
type poller struct {
	mu    sync.Mutex
	ep    *os.File         // open while any connection is attached
	epfd  int              // ep's descriptor (ep.Fd would make it blocking)
	n     int              // connections attached
	conns map[uint64]*Conn // connections ever parked, by the id their events carry
	ids   uint64           // the last id given out
}

// pollEvents is what wakes a parked connection: bytes, the client's FIN,
// an error or a hang-up (the last two are always reported); one-shot, so
// one event starts one reader and the reader re-arms it when it parks.
const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// attach counts a new connection in. The epoll set is opened with the
// first, not when the first idles, so that the descriptor it takes is
// there from the start of the server's life with connections rather than
// appearing in the middle of it.
func (p *poller) attach() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ep == nil {
		if err := p.start(); err != nil {
			return err
		}
	}
	p.n++
	return nil
}

// park arms c's socket; the next event starts c's reader (Conn.wake).
func (p *poller) park(c *Conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	op := unix.EPOLL_CTL_MOD
	if c.pollID == 0 {
		p.ids++
		c.pollID, op = p.ids, unix.EPOLL_CTL_ADD
	}
	ev := unix.EpollEvent{Events: pollEvents, Fd: int32(c.pollID), Pad: int32(c.pollID >> 32)}
	var err error
	cerr := c.raw.Control(func(fd uintptr) {
		err = unix.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if err = errors.Join(cerr, err); err != nil {
		if op == unix.EPOLL_CTL_ADD {
			c.pollID = 0
		}
		return err
	}
	if op == unix.EPOLL_CTL_ADD {
		if p.conns == nil {
			p.conns = make(map[uint64]*Conn)
		}
		p.conns[c.pollID] = c
	}
	return nil
}

// detach removes c, before its socket closes (so that a reused
// descriptor number is never mistaken for it); with none left, the epoll
// set closes and the poller goroutine exits.
func (p *poller) detach(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.pollID != 0 {
		_ = c.raw.Control(func(fd uintptr) {
			_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
		})
		delete(p.conns, c.pollID)
		c.pollID = 0
	}
	if p.n--; p.n == 0 {
		_ = p.ep.Close() // ends run
		p.ep = nil
	}
}

// start opens the epoll set and its goroutine; p.mu is held.
func (p *poller) start() error {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return os.NewSyscallError("setnonblock", err)
	}
	ep := os.NewFile(uintptr(fd), "rpc-poller") // non-blocking: Go's poller watches it
	rc, err := ep.SyscallConn()
	if err != nil {
		_ = ep.Close()
		return err
	}
	p.ep, p.epfd = ep, fd
	go p.run(rc)
	return nil
}

// run wakes the connections whose sockets have events, until its epoll set
// is closed.
func (p *poller) run(rc syscall.RawConn) {
	events := make([]unix.EpollEvent, 128)
	var woken []*Conn
	for {
		var n int
		var werr error
		err := rc.Read(func(fd uintptr) bool {
			n, werr = epollNow(fd, events)
			return n > 0 || werr != nil // else wait until the set has events
		})
		if err != nil || werr != nil {
			return // closed by forget
		}
		p.mu.Lock()
		for _, ev := range events[:n] {
			if c := p.conns[uint64(uint32(ev.Fd))|uint64(uint32(ev.Pad))<<32]; c != nil {
				woken = append(woken, c)
			}
		}
		p.mu.Unlock()
		for i, c := range woken {
			c.wake()
			woken[i] = nil
		}
		woken = woken[:0]
	}
}

// epollNow collects the events ready now, without waiting.
func epollNow(epfd uintptr, events []unix.EpollEvent) (int, error) {
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, epfd, uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		default:
			return 0, errno
		}
	}
}

// rawConnOf returns the descriptor of a socket Conn may read and write
// directly (a TCP connection, or a wrapper that passes its SyscallConn
// through because it adds nothing to reads and writes), or nil: then
// reads and writes block in goroutines (TLS).
func rawConnOf(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// The reads and writes below are raw system calls on a non-blocking
// socket: they never block, so they skip the runtime's syscall
// bookkeeping, which on a server that idles between messages woke the
// runtime's monitor thread for every message (a tenth of a lone message's
// CPU time).

// errWouldBlock: the socket has no bytes to read, or no room to write.
var errWouldBlock = errors.New("rpc: socket would block")

// readNow reads what the socket holds into p without waiting.
func readNow(fd uintptr, p []byte) (int, error) {
	n, errno := retryEINTR(sysRead, fd, p)
	switch errno {
	case 0:
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	case unix.EAGAIN:
		return 0, errWouldBlock
	}
	return 0, os.NewSyscallError("read", errno)
}

// writeNow writes as much of p as the socket takes now.
func writeNow(fd uintptr, p []byte) (int, error) {
	n, errno := retryEINTR(sysWrite, fd, p)
	switch errno {
	case 0:
		return n, nil
	case unix.EAGAIN:
		return 0, nil
	}
	return 0, os.NewSyscallError("write", errno)
}

func retryEINTR(call func(uintptr, []byte) (int, unix.Errno), fd uintptr, p []byte) (int, unix.Errno) {
	for {
		if n, errno := call(fd, p); errno != unix.EINTR {
			return n, errno
		}
	}
}
