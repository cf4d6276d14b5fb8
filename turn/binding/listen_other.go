//go:build !linux

package binding

import (
	"net"
	"syscall"
)

// reusePortSupported is false here: Listen opens a single primary socket.
const reusePortSupported = false

func setReusePort(syscall.RawConn) error { return nil }

func steerBySource(*net.UDPConn, int) error { return nil }
