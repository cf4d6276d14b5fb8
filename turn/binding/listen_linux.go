package binding

import (
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePortSupported: Linux spreads datagrams over SO_REUSEPORT sockets, so
// one reader per core scales (DESIGN.md §3).
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

// skfNetOff is SKF_NET_OFF: a classic BPF load at this offset plus k reads
// byte k of the network (IP) header rather than of the UDP payload.
const skfNetOff = -0x100000

// steerBySource makes the kernel pick a group's socket from the datagram's
// source IP instead of its 4-tuple hash, so every datagram from one client
// address reaches the same socket. pion/turn keeps one allocation manager
// per socket, and state that spans a client's several source ports (an
// EVEN-PORT reservation redeemed by the RTCP allocation's RESERVATION-TOKEN)
// is only found on the socket that made it. The program returns the source
// address (IPv4, or an IPv6 address's low 32 bits) modulo n; c must be the
// group's first socket, and the group must hold n sockets.
func steerBySource(c *net.UDPConn, n int) error {
	ins := func(code uint16, jt, jf uint8, k int64) unix.SockFilter {
		return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: uint32(k)}
	}
	prog := []unix.SockFilter{
		ins(unix.BPF_LD|unix.BPF_B|unix.BPF_ABS, 0, 0, skfNetOff),    // A = first byte of the IP header
		ins(unix.BPF_ALU|unix.BPF_RSH|unix.BPF_K, 0, 0, 4),           // A = IP version
		ins(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 2, 0, 6),           // IPv6: skip to the IPv6 load
		ins(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0, 0, skfNetOff+12), // A = IPv4 source
		ins(unix.BPF_JMP|unix.BPF_JA, 0, 0, 1),
		ins(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0, 0, skfNetOff+20), // A = low 32 bits of the IPv6 source
		ins(unix.BPF_ALU|unix.BPF_MOD|unix.BPF_K, 0, 0, int64(n)),
		ins(unix.BPF_RET|unix.BPF_A, 0, 0, 0),
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF,
			&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("binding: steer SO_REUSEPORT by source address: %w", serr)
	}
	return nil
}
