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

// reservationTTL is how long the odd port of an EVEN-PORT pair stays held
// for the allocation that redeems its RESERVATION-TOKEN: as long as pion
// keeps the token.
const reservationTTL = 30 * time.Second

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
	// held are the sockets of reserved ports (RFC 8656 §7.2: EVEN-PORT with
	// the R bit reserves the next port), bound so that no other socket on
	// the host takes the port before its RESERVATION-TOKEN is redeemed.
	held map[uint16]*heldPort
}

// heldPort is a reserved port's socket and the timer that frees it.
type heldPort struct {
	conn   *net.UDPConn
	expiry *time.Timer
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
	pc, port, err := r.listen(conf.RequestedPort, !counted)
	if err != nil {
		if counted {
			r.srv.quota.release(conf.UserID)
		}
		return nil, nil, err
	}
	c := &relayConn{UDPConn: pc, relays: r, port: port, identity: conf.UserID, counted: counted}
	// pion requests an even port only for the EVEN-PORT allocation it has
	// just probed for (a redeemed RESERVATION-TOKEN requests the odd one);
	// it hands out a token for the next port, which is held from now on.
	if counted && conf.RequestedPort != 0 && port%2 == 0 {
		c.reserved = r.reserve(port + 1)
	}
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

// listen opens the relay socket: on the requested port (a reserved one is
// taken from the held sockets), or on a random free port of the range. For
// pion's EVEN-PORT probe (pair), the random port is even and the next port
// is free too, so that the pair can be reserved.
func (r *relays) listen(requested int, pair bool) (*net.UDPConn, uint16, error) {
	var pc *net.UDPConn
	var err error
	if requested != 0 {
		if requested < int(r.min) || requested > int(r.max) {
			return nil, 0, fmt.Errorf("turn: requested relay port %d is outside %d-%d", requested, r.min, r.max)
		}
		if pc = r.take(uint16(requested)); pc != nil {
			return pc, uint16(requested), nil
		}
		pc, err = r.bindPort(uint16(requested))
	} else {
		for range relayPortTries {
			port := r.min + uint16(rand.IntN(int(r.max-r.min)+1))
			if pair {
				if port%2 == 1 {
					port-- // the even port below; it may fall under min
				}
				if port < r.min || port == r.max {
					err = fmt.Errorf("turn: port %d has no pair in the range", port)
					continue
				}
				var next *net.UDPConn
				if next, err = r.bindPort(port + 1); err != nil {
					continue
				}
				_ = next.Close()
			}
			if pc, err = r.bindPort(port); err == nil {
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

func (r *relays) bindPort(port uint16) (*net.UDPConn, error) {
	return net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(r.bind, port)))
}

// reserve holds port for reservationTTL and returns its socket, or nil when
// the port is not free (the token's allocation then binds it if it can).
func (r *relays) reserve(port uint16) *net.UDPConn {
	if port > r.max {
		return nil
	}
	pc, err := r.bindPort(port)
	if err != nil {
		r.srv.log.Debug("turn: reserved port not free", "port", port, "err", err)
		return nil
	}
	r.mu.Lock()
	r.held[port] = &heldPort{conn: pc, expiry: time.AfterFunc(reservationTTL, func() { r.unreserve(port, pc) })}
	r.mu.Unlock()
	return pc
}

// take returns the held socket of a reserved port, or nil.
func (r *relays) take(port uint16) *net.UDPConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.held[port]
	if h == nil {
		return nil
	}
	delete(r.held, port)
	h.expiry.Stop()
	return h.conn
}

// unreserve frees port if pc is still held for it: at expiry, or when the
// allocation that reserved it closes first.
func (r *relays) unreserve(port uint16, pc *net.UDPConn) {
	r.mu.Lock()
	h := r.held[port]
	mine := h != nil && h.conn == pc
	if mine {
		delete(r.held, port)
		h.expiry.Stop()
	}
	r.mu.Unlock()
	if mine {
		_ = pc.Close()
	}
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
	reserved *net.UDPConn  // the held next port of an EVEN-PORT pair, or nil
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
		if c.reserved != nil {
			c.relays.unreserve(c.port+1, c.reserved)
		}
		if c.counted {
			c.relays.srv.quota.release(c.identity)
		}
	})
	return c.closeErr
}
