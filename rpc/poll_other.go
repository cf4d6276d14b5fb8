//go:build !linux

package rpc

import (
	"errors"
	"net"
	"syscall"
)

// Elsewhere than Linux a connection's reader never parks and its writes
// block in a writer goroutine: rawConnOf finds no socket to use directly.
type poller struct{}

func (*poller) attach() error    { return errors.ErrUnsupported }
func (*poller) park(*Conn) error { return errors.ErrUnsupported }
func (*poller) detach(*Conn)     {}

func rawConnOf(net.Conn) syscall.RawConn { return nil }

var errWouldBlock = errors.New("rpc: socket would block")

func readNow(uintptr, []byte) (int, error)  { return 0, errors.ErrUnsupported }
func writeNow(uintptr, []byte) (int, error) { return 0, errors.ErrUnsupported }
