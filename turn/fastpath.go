package turn

import (
	"net"
	"net/netip"
	"sync"
)

// fastPath relays a peer's datagram to a UDP client as ChannelData straight
// from the relay socket's reader. pion's own loop does the same but
// allocates a ChannelData and a fresh frame for every datagram, which on a
// busy relay makes the garbage collector the bottleneck (half of all bytes
// allocated in the relay profile). pion's EventHandler tells us the client
// (allocation created) and each channel (created, deleted); anything else,
// a Data indication for a peer without a channel or a client over TCP, is
// left to pion. Channel expiry and permission checks stay pion's: a channel
// exists here only between pion's created and deleted events.
type fastPath struct {
	mu       sync.RWMutex
	client   netip.AddrPort            // the allocation's UDP client; zero: none
	out      udpWriter                 // the listener socket the client talks to
	channels map[netip.AddrPort]uint16 // peer → channel number

	frame []byte // scratch, used only by the relay socket's reader
}

type udpWriter interface {
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

// attach names the allocation's client, if it talks UDP.
func (f *fastPath) attach(client net.Addr, out udpWriter) {
	udp, ok := client.(*net.UDPAddr)
	if !ok || out == nil {
		return
	}
	ap := udp.AddrPort()
	f.mu.Lock()
	f.client, f.out = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), out
	f.mu.Unlock()
}

// bind records (add) or forgets a channel to peer.
func (f *fastPath) bind(peer net.Addr, number uint16, add bool) {
	ap := addrPortOf(peer)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !add {
		delete(f.channels, ap)
		return
	}
	if f.channels == nil {
		f.channels = make(map[netip.AddrPort]uint16)
	}
	f.channels[ap] = number
}

// relay sends data from peer to the client as ChannelData (RFC 8656 §12.4,
// padded to 4 bytes as pion pads it) and reports whether it did.
func (f *fastPath) relay(data []byte, peer netip.AddrPort) bool {
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	f.mu.RLock()
	number, ok := f.channels[peer]
	client, out := f.client, f.out
	f.mu.RUnlock()
	if !ok || !client.IsValid() {
		return false
	}
	n := len(data)
	frame := append(f.frame[:0], byte(number>>8), byte(number), byte(n>>8), byte(n))
	frame = append(frame, data...)
	for len(frame)%4 != 0 {
		frame = append(frame, 0)
	}
	f.frame = frame
	// A failed send is a lost datagram, as in pion's loop.
	_, _ = out.WriteToUDPAddrPort(frame, client)
	return true
}
