package server

import (
	"encoding/binary"
	"math"
	"os"
	"syscall"
)

// openFileLimit is the process's soft RLIMIT_NOFILE (which Go raised to
// the hard limit at start), or 0 when unlimited or unknown.
func openFileLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > math.MaxInt32 {
		return 0
	}
	return int(rl.Cur)
}

// openFiles counts the process's open descriptors in /proc/self/fd, or
// returns 0 when it cannot (at the limit, opening the directory fails).
// It walks the raw directory entries: names as strings would cost an
// allocation per descriptor.
func openFiles() int {
	dir, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0
	}
	defer dir.Close()
	fd := int(dir.Fd())
	buf := make([]byte, 8192)
	n := 0
	for {
		got, err := syscall.ReadDirent(fd, buf)
		if err != nil {
			return 0
		}
		if got <= 0 {
			return n - 1 // the directory's own descriptor
		}
		for off := 0; off+19 < got; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			if reclen == 0 {
				break
			}
			if name := buf[off+19]; name != '.' { // "." and ".." are not descriptors
				n++
			}
			off += reclen
		}
	}
}
