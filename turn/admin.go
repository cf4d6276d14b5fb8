package turn

import (
	"net"
	"net/netip"
	"slices"
	"time"
)

// Allocation describes a live allocation for operators
// (admin.turn.allocations.list): who holds it, from where, and its relay.
type Allocation struct {
	Identity  string
	Client    netip.AddrPort // the client's transport address as the server sees it
	Transport string         // udp, tcp or tls: how the client reaches the server
	Relay     netip.AddrPort // the relayed transport address peers send to
	Created   time.Time
}

// Allocations lists the live allocations, by relay port.
func (s *Server) Allocations() []Allocation {
	r := s.relays
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Allocation, 0, len(r.live))
	for port, c := range r.live {
		if !c.counted {
			continue // pion's EVEN-PORT probe, closed at once
		}
		out = append(out, Allocation{
			Identity:  c.identity,
			Client:    c.client,
			Transport: c.transport,
			Relay:     netip.AddrPortFrom(r.advertised, port),
			Created:   c.created,
		})
	}
	slices.SortFunc(out, func(a, b Allocation) int { return int(a.Relay.Port()) - int(b.Relay.Port()) })
	return out
}

// CloseAllocation ends the allocation whose relay is relay and reports
// whether there was one. Closing the relay socket makes pion delete the
// allocation (its read loop ends), as the lifetime cap does; the client
// learns it when its next Refresh gets 437.
func (s *Server) CloseAllocation(relay netip.AddrPort) bool {
	if !s.relays.isRelayIP(relay.Addr()) {
		return false
	}
	c := s.relays.conn(net.UDPAddrFromAddrPort(relay))
	if c == nil || !c.counted {
		return false
	}
	_ = c.Close()
	return true
}

// Drain refuses new allocations from now on (508, RFC 8656 §7.2: the server
// cannot allocate now); live allocations keep relaying until Close. Binding
// requests are still answered.
func (s *Server) Drain() { s.draining.Store(true) }

// described records who holds the allocation on relay, once pion reports it.
func (r *relays) described(relay net.Addr, client netip.AddrPort, transport string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.live[addrPortOf(relay).Port()]; c != nil {
		c.client, c.transport, c.created = client, transport, time.Now()
	}
}

// transportOf names how the client at src reaches the server: udp, or
// the transport its TCP/TLS connection was recorded with.
func (s *Server) transportOf(src net.Addr) string {
	if t, stream := s.streamClients.Load(addrPortOf(src)); stream {
		return t.(string)
	}
	return "udp"
}
