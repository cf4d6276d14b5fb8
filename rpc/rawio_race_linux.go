//go:build linux && race

package rpc

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// Under the race detector, reads and writes go through package syscall,
// which tells the detector that what one goroutine writes to a socket
// happens before what another reads from it; raw system calls do not, and
// a test that reads a reply and then touches what the handler touched
// would be reported as a race.
func sysRead(fd uintptr, p []byte) (int, unix.Errno) {
	n, err := syscall.Read(int(fd), p)
	return n, errnoOf(err)
}

func sysWrite(fd uintptr, p []byte) (int, unix.Errno) {
	n, err := syscall.Write(int(fd), p)
	return n, errnoOf(err)
}

func errnoOf(err error) unix.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return 0
}
