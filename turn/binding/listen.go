package binding

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// maxDatagram is the largest UDP payload read; a larger datagram is
// truncated and then fails the STUN length check.
const maxDatagram = 1500

// listenUDP binds one UDP socket, with SO_REUSEPORT when reuse is set so
// that more sockets can share the address.
func listenUDP(addr netip.AddrPort, reuse bool) (*net.UDPConn, error) {
	network := "udp4"
	if addr.Addr().Unmap().Is6() {
		network = "udp6"
	}
	lc := net.ListenConfig{}
	if reuse {
		lc.Control = func(_, _ string, c syscall.RawConn) error { return setReusePort(c) }
	}
	pc, err := lc.ListenPacket(context.Background(), network, netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port()).String())
	if err != nil {
		return nil, fmt.Errorf("binding: listen %s: %w", addr, err)
	}
	return pc.(*net.UDPConn), nil
}
