package turn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	pionturn "github.com/pion/turn/v5"
	"golang.org/x/time/rate"

	"github.com/parley-rtc/parley/turn/binding"
)

// ErrDeniedPeer is returned by a relay socket asked to send to an address
// the relay policy refuses.
var ErrDeniedPeer = errors.New("turn: peer address refused by the relay policy")

// errNoTCPRelay refuses RFC 6062 TCP allocations: browsers never ask for
// them, and a Connect request is a TCP connection into whatever network the
// server sits in, which is the SSRF this package exists to prevent.
var errNoTCPRelay = errors.New("turn: TCP relay allocations (RFC 6062) are not offered")

// relayPortTries bounds the search for a free port in the relay range.
const relayPortTries = 64

// relays opens the relay sockets of allocations (pion's
// RelayAddressGenerator) and keeps the set of ports in use, which is what
// makes relay↔relay traffic possible when the relay address is itself in a
// denied range (127.0.0.1 in dev).
type relays struct {
	srv        *Server
	bind       netip.Addr // the address relay sockets bind to
	advertised netip.Addr // the address in XOR-RELAYED-ADDRESS (--turn-public-ip)
	min, max   uint16

	mu   sync.Mutex
	live map[uint16]*relayConn
}

var _ pionturn.RelayAddressGenerator = (*relays)(nil)

// Validate has nothing left to check: newServer checked the range and the
// addresses before pion saw the generator.
func (r *relays) Validate() error { return nil }

// AllocatePacketConn opens a UDP relay socket on a random free port of the
// range and wraps it in the policy backstop, bandwidth cap and lifetime cap.
func (r *relays) AllocatePacketConn(conf pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	if (conf.Network == "udp6") == r.bind.Is4() {
		return nil, nil, fmt.Errorf("turn: the relay address %s cannot serve a %s allocation", r.bind, conf.Network)
	}
	// pion probes for an even port (EVEN-PORT) with a nameless allocation it
	// closes at once; only allocations made for a user count.
	counted := conf.UserID != ""
	if counted && !r.srv.quota.acquire(conf.UserID) {
		r.srv.stats.quotaHits.Add(1)
		return nil, nil, errors.New("turn: allocation quota reached")
	}
	pc, port, err := r.listen(conf.RequestedPort)
	if err != nil {
		if counted {
			r.srv.quota.release(conf.UserID)
		}
		return nil, nil, err
	}
	c := &relayConn{UDPConn: pc, relays: r, port: port, identity: conf.UserID, counted: counted}
	if bps := r.srv.cfg.BandwidthBitsPerSecond; bps > 0 {
		bytes := bps / 8
		c.limiter = rate.NewLimiter(rate.Limit(bytes), max(int(bytes), 64<<10))
	}
	if d := r.srv.cfg.MaxAllocationLifetime; d > 0 && counted {
		c.lifetime = time.AfterFunc(d, func() { _ = c.Close() })
	}
	r.mu.Lock()
	r.live[port] = c
	r.mu.Unlock()
	return c, net.UDPAddrFromAddrPort(netip.AddrPortFrom(r.advertised, port)), nil
}

// AllocateListener refuses TCP allocations (see errNoTCPRelay).
func (r *relays) AllocateListener(pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errNoTCPRelay
}

// AllocateConn refuses RFC 6062 Connect (see errNoTCPRelay).
func (r *relays) AllocateConn(pionturn.AllocateConnConfig) (net.Conn, error) {
	return nil, errNoTCPRelay
}

func (r *relays) listen(requested int) (*net.UDPConn, uint16, error) {
	try := func(port uint16) (*net.UDPConn, error) {
		return net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(r.bind, port)))
	}
	var pc *net.UDPConn
	var err error
	if requested != 0 {
		if requested < int(r.min) || requested > int(r.max) {
			return nil, 0, fmt.Errorf("turn: requested relay port %d is outside %d-%d", requested, r.min, r.max)
		}
		pc, err = try(uint16(requested))
	} else {
		for range relayPortTries {
			if pc, err = try(r.min + uint16(rand.IntN(int(r.max-r.min)+1))); err == nil {
				break
			}
		}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("turn: no free relay port in %d-%d: %w", r.min, r.max, err)
	}
	_ = pc.SetReadBuffer(binding.SocketBuffer) // best effort, see SocketBuffer
	return pc, pc.LocalAddr().(*net.UDPAddr).AddrPort().Port(), nil
}

// conn is the live relay socket at addr's port, or nil.
func (r *relays) conn(addr net.Addr) *relayConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live[addrPortOf(addr).Port()]
}

// isRelay reports whether ap is one of this server's live relay sockets.
func (r *relays) isRelay(ap netip.AddrPort) bool {
	if !r.isRelayIP(ap.Addr()) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.live[ap.Port()]
	return ok
}

func (r *relays) isRelayIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip == r.advertised || ip == r.bind
}

func (r *relays) closed(port uint16) {
	r.mu.Lock()
	delete(r.live, port)
	r.mu.Unlock()
}

// relayConn is an allocation's relay socket as pion uses it. It is the last
// line of the relay policy: whatever pion's permission bookkeeping says,
// a datagram to a denied address is not sent.
type relayConn struct {
	*net.UDPConn
	relays   *relays
	port     uint16
	identity string
	counted  bool
	limiter  *rate.Limiter // nil: no bandwidth cap
	lifetime *time.Timer   // closes the allocation at the lifetime cap
	fast     fastPath      // peer → client ChannelData without pion

	// client, transport and created describe the allocation for operators;
	// guarded by relays.mu, set when pion reports the allocation.
	client    netip.AddrPort
	transport string
	created   time.Time

	closeOnce sync.Once
	closeErr  error
}

// WriteTo sends a client's datagram to a peer.
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	s := c.relays.srv
	if !s.peerAllowed(addrPortOf(addr)) {
		s.stats.deniedPeers.Add(1)
		return 0, fmt.Errorf("%w: %s", ErrDeniedPeer, addr)
	}
	if c.limiter != nil && !c.limiter.AllowN(time.Now(), len(p)) {
		s.stats.bandwidthDrops.Add(1)
		return len(p), nil // dropped as the network would drop it
	}
	n, err := c.UDPConn.WriteTo(p, addr)
	if err == nil {
		s.stats.bytesToPeers.Add(uint64(n)) // bytes first: whoever sees the packet sees its bytes
		s.stats.packetsToPeers.Add(1)
	}
	return n, err
}

// ReadFrom returns the next peer datagram within the bandwidth cap that
// the fast path did not relay itself.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	s := c.relays.srv
	for {
		n, from, err := c.UDPConn.ReadFromUDPAddrPort(p)
		if err != nil {
			return n, nil, err
		}
		if c.limiter != nil && !c.limiter.AllowN(time.Now(), n) {
			s.stats.bandwidthDrops.Add(1)
			continue
		}
		s.stats.bytesFromPeers.Add(uint64(n))
		s.stats.packetsFromPeers.Add(1)
		if c.fast.relay(p[:n], from) {
			s.stats.fastRelayed.Add(1)
			continue
		}
		return n, net.UDPAddrFromAddrPort(from), nil
	}
}

// Close frees the port and the quota slot. pion closes the socket when the
// allocation ends; the lifetime cap closes it first, which ends pion's read
// loop and with it the allocation.
func (c *relayConn) Close() error {
	c.closeOnce.Do(func() {
		if c.lifetime != nil {
			c.lifetime.Stop()
		}
		c.closeErr = c.UDPConn.Close()
		c.relays.closed(c.port)
		if c.counted {
			c.relays.srv.quota.release(c.identity)
		}
	})
	return c.closeErr
}
