package binding

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePortSupported: Linux spreads datagrams over SO_REUSEPORT sockets by
// flow hash, so one reader per core scales (DESIGN.md §3).
const reusePortSupported = true

func setReusePort(c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	return serr
}
