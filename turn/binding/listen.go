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

// SocketBuffer is the kernel buffer asked for on every UDP socket that
// carries relayed media (these, and turn's relay sockets). Linux's 208 KiB
// default holds ~90 full-size datagrams: a reader goroutine that waits a few
// milliseconds for a core under load loses the rest of a burst. 4 MiB
// (capped by net.core.rmem_max) took relayed 100-byte packets from ~0.6 to
// 0.8-1.0 of coturn's rate in cmd/parley-turnload.
const SocketBuffer = 4 << 20

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
	c := pc.(*net.UDPConn)
	// Best effort: a smaller buffer than asked for still works.
	_ = c.SetReadBuffer(SocketBuffer)
	_ = c.SetWriteBuffer(SocketBuffer)
	return c, nil
}
