package turn

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Policy decides which peer addresses an allocation may relay to. Without
// it a TURN server is an open proxy into the network it runs in: a client
// could reach the cloud metadata service (169.254.169.254), databases on
// 10/8, or the host's own loopback services. Debian's coturn 4.6.1 with its
// defaults relays to 10/8, 172.16/12, 192.168/16 and 169.254.169.254
// (measured); Parley refuses them by default.
//
// The verdict for an address, in order:
//  1. in a deny-peer range: denied (an operator's explicit "no" wins);
//  2. in an allow-peer range: allowed (e.g. a private media network);
//  3. in a default-denied range (defaultDenied below): denied;
//  4. otherwise: allowed.
//
// A server's Policy also refuses this host's own addresses (hostAddresses:
// its listeners, its public and alternate addresses, every interface
// address, loopback and the unspecified address) before anything else,
// whatever the lists say: a relay that reaches its own server nests
// allocations through itself (quota and rate-limit evasion, traffic loops)
// and reaches every UDP service on the host. Its own live relays stay
// reachable (Server.peerAllowed), and a loopback-only server may admit
// loopback peers, but never its own listeners (Config.LoopbackPeers).
//
// An IPv6 address that embeds an IPv4 one (::ffff:a.b.c.d, ::a.b.c.d,
// ::ffff:0:a.b.c.d, 64:ff9b::/96 NAT64, 2002::/16 6to4) is judged by the
// embedded IPv4 address with these same rules, so no spelling of 10.0.0.1
// gets through; a deny range written in IPv6 still denies the IPv6 form.
type Policy struct {
	allow, deny []netip.Prefix
	host        map[netip.Addr]bool // nil: no host to protect (NewPolicy alone)
	// loopbackPeers admits loopback peers (Config.LoopbackPeers): the
	// server's listeners are loopback-only, so its clients are all on this
	// host, which they reach without a relay anyway.
	loopbackPeers bool
}

// defaultDenied are the ranges no relay may reach unless allowed. The
// documentation and benchmarking ranges are included: no real peer lives
// there, and labs often route them internally.
var defaultDenied = mustPrefixes(
	// IPv4 (RFC 6890 special-purpose registry).
	"0.0.0.0/8",       // "this network", includes the unspecified address
	"10.0.0.0/8",      // RFC 1918 private
	"100.64.0.0/10",   // RFC 6598 carrier-grade NAT
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local, includes cloud metadata 169.254.169.254
	"172.16.0.0/12",   // RFC 1918 private
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // TEST-NET-1 documentation
	"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
	"192.168.0.0/16",  // RFC 1918 private
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // TEST-NET-2 documentation
	"203.0.113.0/24",  // TEST-NET-3 documentation
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, includes broadcast 255.255.255.255
	// IPv6.
	"::/128",         // unspecified
	"::1/128",        // loopback
	"100::/64",       // discard-only
	"64:ff9b:1::/48", // local-use NAT64 (RFC 8215): the IPv4 may sit anywhere in it
	"2001::/32",      // Teredo: tunnels to an IPv4 address we cannot judge
	"2001:2::/48",    // benchmarking
	"2001:db8::/32",  // documentation
	"3fff::/20",      // documentation (RFC 9637)
	"fc00::/7",       // unique local
	"fe80::/10",      // link-local
	"fec0::/10",      // site-local (deprecated)
	"ff00::/8",       // multicast
)

// NewPolicy parses the operator's allow and deny lists (CIDRs, or single
// addresses meaning a /32 or /128). A bad entry is an error naming it, so a
// typo fails start-up instead of silently opening or closing the relay.
func NewPolicy(allow, deny []string) (*Policy, error) {
	a, errAllow := parsePrefixes("allow-peer", allow)
	d, errDeny := parsePrefixes("deny-peer", deny)
	if err := errors.Join(errAllow, errDeny); err != nil {
		return nil, err
	}
	return &Policy{allow: a, deny: d}, nil
}

// Allowed reports whether a relay may send to ip.
func (p *Policy) Allowed(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false // an address we could not read is not one we relay to
	}
	ip = ip.WithZone("")
	if p.isHost(ip) || contains(p.deny, ip) {
		return false
	}
	if p.loopbackPeers && ip.IsLoopback() {
		return true
	}
	if v4, ok := embeddedIPv4(ip); ok {
		return p.Allowed(v4)
	}
	if contains(p.allow, ip) {
		return true
	}
	return !contains(defaultDenied, ip)
}

// isHost reports whether ip reaches this host: one of its addresses, or
// any loopback (unless loopbackPeers) or unspecified address (sending to
// 0.0.0.0 reaches the local host on Linux).
func (p *Policy) isHost(ip netip.Addr) bool {
	switch {
	case p.host == nil:
		return false
	case ip.IsLoopback():
		return !p.loopbackPeers
	}
	return p.host[ip] || ip.IsUnspecified()
}

// canonical is the address a peer address reaches: the IPv4 address it
// embeds, if any (see embeddedIPv4), else itself without a zone.
func canonical(ip netip.Addr) netip.Addr {
	ip = ip.WithZone("")
	if v4, ok := embeddedIPv4(ip); ok {
		return v4
	}
	return ip
}

// hostAddresses are the addresses a server's relays must never reach:
// configured (the listeners', the public and alternate ones, the
// embedding program's) and the host's interface addresses, read once at
// start.
func hostAddresses(configured []netip.Addr, interfaces []net.Addr) map[netip.Addr]bool {
	host := make(map[netip.Addr]bool, len(configured)+len(interfaces))
	add := func(a netip.Addr) {
		if a.IsValid() {
			host[a.Unmap().WithZone("")] = true
		}
	}
	for _, a := range configured {
		add(a)
	}
	for _, ifa := range interfaces {
		if n, ok := ifa.(*net.IPNet); ok {
			a, _ := netip.AddrFromSlice(n.IP)
			add(a)
		}
	}
	return host
}

// embeddedIPv4 returns the IPv4 address an IPv6 address carries in one of
// the encodings a relay would deliver to that IPv4 host: IPv4-mapped
// (::ffff:0:0/96), IPv4-compatible (::/96), SIIT (::ffff:0:0:0/96), NAT64
// well-known prefix (64:ff9b::/96, RFC 6052) and 6to4 (2002::/16, RFC 3056).
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	v4 := func(i int) netip.Addr { return netip.AddrFrom4([4]byte(b[i : i+4])) }
	zero := func(from, to int) bool {
		for _, x := range b[from:to] {
			if x != 0 {
				return false
			}
		}
		return true
	}
	switch {
	case ip.Is4In6():
		return ip.Unmap(), true
	case zero(0, 12): // ::a.b.c.d, including :: and ::1 (→ 0.0.0.0, 0.0.0.1: denied)
		return v4(12), true
	case zero(0, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0: // ::ffff:0:a.b.c.d
		return v4(12), true
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(4, 12): // 64:ff9b::a.b.c.d
		return v4(12), true
	case b[0] == 0x20 && b[1] == 0x02: // 2002:aabb:ccdd::/48
		return v4(2), true
	}
	return netip.Addr{}, false
}

func contains(prefixes []netip.Prefix, ip netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func parsePrefixes(key string, list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(s); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a CIDR like 10.1.0.0/16 or 2001:db8::/32: %w", key, s, err)
		}
		if p.Addr().Zone() != "" {
			return nil, fmt.Errorf("%s: %q: zones are not allowed", key, s)
		}
		// A mapped prefix (::ffff:10.0.0.0/104) means its IPv4 range, which
		// is how Allowed judges mapped addresses.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func mustPrefixes(list ...string) []netip.Prefix {
	p, err := parsePrefixes("default", list)
	if err != nil {
		panic(err)
	}
	return p
}
