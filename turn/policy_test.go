package turn

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestPolicyDefaults(t *testing.T) {
	p, err := NewPolicy(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	denied := []string{
		"127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.1.1",
		"100.64.0.1", "100.127.255.254", "169.254.169.254", "169.254.0.1", "0.0.0.0", "0.1.2.3",
		"224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.0.8", "192.0.2.1",
		"198.18.0.1", "198.19.255.255", "198.51.100.7", "203.0.113.9", "192.88.99.1",
		"::", "::1", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0", "ff02::1", "fec0::1", "100::1",
		"2001:db8::1", "2001::1", "2001:2::1", "3fff::1", "64:ff9b:1::a00:1",
		// IPv4 inside IPv6, judged by the IPv4.
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "::10.0.0.1",
		"::ffff:0:10.0.0.1", "64:ff9b::a00:1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
		"2002:a00:1::1", "2002:7f00:1::", "2002:a9fe:a9fe:1234::5",
	}
	allowed := []string{
		"8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
		"192.167.255.255", "169.253.255.255", "223.255.255.255",
		"2606:4700:4700::1111", "2a00:1450:4001::1",
		"::ffff:8.8.8.8", "::8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	}
	for _, s := range denied {
		if p.Allowed(netip.MustParseAddr(s)) {
			t.Errorf("%s allowed, want denied", s)
		}
	}
	for _, s := range allowed {
		if !p.Allowed(netip.MustParseAddr(s)) {
			t.Errorf("%s denied, want allowed", s)
		}
	}
}

func TestPolicyLists(t *testing.T) {
	p, err := NewPolicy([]string{"10.1.0.0/16", "fd00::/8", "127.0.0.1"}, []string{"10.1.2.0/24", "8.8.4.4", "2002::/16"})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{
		"10.1.9.9":          true,  // allowed range beats the default deny
		"::ffff:10.1.9.9":   true,  // in every spelling
		"64:ff9b::a01:909":  true,  // NAT64 of 10.1.9.9
		"10.1.2.3":          false, // explicit deny beats allow
		"10.2.0.1":          false, // default deny outside the allowed range
		"127.0.0.1":         true,  // a single address means /32
		"127.0.0.2":         false,
		"fd00::5":           true,
		"fc00::5":           false,
		"8.8.4.4":           false, // deny works on public addresses too
		"::ffff:8.8.4.4":    false,
		"8.8.8.8":           true,
		"2002:808:808::1":   false, // a deny written in IPv6 denies the IPv6 form
		"64:ff9b::808:808":  true,
		"64:ff9b::808:404":  false,
		"::ffff:10.1.2.255": false,
	}
	for s, want := range cases {
		if got := p.Allowed(netip.MustParseAddr(s)); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", s, got, want)
		}
	}
}

func TestPolicyBadCIDR(t *testing.T) {
	for _, c := range []struct{ allow, deny []string }{
		{allow: []string{"10.0.0.0/33"}},
		{deny: []string{"not-an-ip"}},
		{allow: []string{"10.0.0.0/8", ""}},
		{deny: []string{"fe80::/10%eth0"}},
	} {
		_, err := NewPolicy(c.allow, c.deny)
		if err == nil || !strings.Contains(err.Error(), "-peer: ") {
			t.Errorf("NewPolicy(%q, %q) = %v, want an error naming the key", c.allow, c.deny, err)
		}
	}
}

// encodings are every way an IPv6 address can carry an IPv4 one.
var encodings = map[string]func(v4 [4]byte) netip.Addr{
	"mapped ::ffff:a.b.c.d": func(v4 [4]byte) netip.Addr { return netip.AddrFrom16(netip.AddrFrom4(v4).As16()) },
	"compatible ::a.b.c.d": func(v4 [4]byte) netip.Addr {
		var b [16]byte
		copy(b[12:], v4[:])
		return netip.AddrFrom16(b)
	},
	"SIIT ::ffff:0:a.b.c.d": func(v4 [4]byte) netip.Addr {
		b := [16]byte{8: 0xff, 9: 0xff}
		copy(b[12:], v4[:])
		return netip.AddrFrom16(b)
	},
	"NAT64 64:ff9b::a.b.c.d": func(v4 [4]byte) netip.Addr {
		b := [16]byte{0: 0x00, 1: 0x64, 2: 0xff, 3: 0x9b}
		copy(b[12:], v4[:])
		return netip.AddrFrom16(b)
	},
	"6to4 2002:aabb:ccdd::": func(v4 [4]byte) netip.Addr {
		b := [16]byte{0: 0x20, 1: 0x02, 15: 1}
		copy(b[2:6], v4[:])
		return netip.AddrFrom16(b)
	},
}

// TestPolicyProperty: a random address of a denied IPv4 range is refused in
// every IPv6 encoding, and a random public IPv4 address is allowed in all.
func TestPolicyProperty(t *testing.T) {
	p, err := NewPolicy(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var v4denied []netip.Prefix
	for _, d := range defaultDenied {
		if d.Addr().Is4() {
			v4denied = append(v4denied, d)
		}
	}
	rng := rand.New(rand.NewPCG(5766, 8656))
	randomIn := func(pfx netip.Prefix) [4]byte {
		b := pfx.Addr().As4()
		host := rng.Uint32() & (1<<(32-pfx.Bits()) - 1)
		for i := range 4 {
			b[i] |= byte(host >> (24 - 8*i))
		}
		return b
	}
	const rounds = 2000
	for range rounds {
		v4 := randomIn(v4denied[rng.IntN(len(v4denied))])
		if p.Allowed(netip.AddrFrom4(v4)) {
			t.Fatalf("%v allowed", netip.AddrFrom4(v4))
		}
		for name, enc := range encodings {
			if a := enc(v4); p.Allowed(a) {
				t.Fatalf("%s: %s (%v) allowed", name, a, netip.AddrFrom4(v4))
			}
		}
	}
	public := 0
	for range rounds * 10 {
		u := rng.Uint32()
		v4 := [4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)}
		if contains(v4denied, netip.AddrFrom4(v4)) {
			continue
		}
		public++
		if !p.Allowed(netip.AddrFrom4(v4)) {
			t.Fatalf("public %v denied", netip.AddrFrom4(v4))
		}
		for name, enc := range encodings {
			if a := enc(v4); !p.Allowed(a) {
				t.Fatalf("%s: %s (public %v) denied", name, a, netip.AddrFrom4(v4))
			}
		}
	}
	if public < rounds {
		t.Fatalf("only %d public samples", public)
	}
}

// TestPolicyRefusesTheHost: a server's policy refuses its own host's
// addresses in every spelling, even where an allow range covers them,
// and loopback and the unspecified addresses always.
func TestPolicyRefusesTheHost(t *testing.T) {
	p, err := NewPolicy([]string{"0.0.0.0/0", "::/0"}, []string{"8.8.4.4"})
	if err != nil {
		t.Fatal(err)
	}
	p.host = hostAddresses(
		[]netip.Addr{netip.MustParseAddr("203.0.113.10"), netip.MustParseAddr("::ffff:203.0.113.11"), {}},
		[]net.Addr{&net.IPNet{IP: net.ParseIP("192.0.2.2"), Mask: net.CIDRMask(24, 32)}, &net.IPNet{IP: net.ParseIP("2001:db8::10"), Mask: net.CIDRMask(64, 128)}},
	)
	cases := map[string]bool{
		"203.0.113.10":         false, // configured (a listener, the public address)
		"::ffff:203.0.113.10":  false, // in every spelling
		"64:ff9b::cb00:710a":   false,
		"2002:cb00:710a::1":    false,
		"203.0.113.11":         false, // configured as a mapped address
		"192.0.2.2":            false, // an interface address
		"2001:db8::10":         false,
		"fe80::1%eth0":         true,  // allowed by ::/0, not the host's
		"127.0.0.1":            false, // loopback is the host, whatever the allow list says
		"127.3.2.1":            false,
		"::1":                  false,
		"::ffff:127.0.0.1":     false,
		"0.0.0.0":              false, // reaches the host on Linux
		"::":                   false,
		"203.0.113.12":         true, // a neighbour in the allowed range
		"2001:db8::11":         true,
		"8.8.8.8":              true,
		"8.8.4.4":              false, // the deny list still applies
		"2606:4700:4700::1111": true,
	}
	for s, want := range cases {
		if got := p.Allowed(netip.MustParseAddr(s)); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", s, got, want)
		}
	}
	// A loopback-only server admits loopback peers (and only those more).
	p.loopbackPeers = true
	for s, want := range map[string]bool{"127.0.0.1": true, "127.3.2.1": true, "::1": true, "::ffff:127.0.0.1": true,
		"192.0.2.2": false, "0.0.0.0": false, "203.0.113.10": false, "8.8.4.4": false} {
		if got := p.Allowed(netip.MustParseAddr(s)); got != want {
			t.Errorf("with loopback peers: Allowed(%s) = %v, want %v", s, got, want)
		}
	}
	// Without a host (NewPolicy alone), only the lists and defaults count.
	bare, _ := NewPolicy([]string{"127.0.0.1"}, nil)
	if !bare.Allowed(netip.MustParseAddr("127.0.0.1")) {
		t.Error("a policy without a host refused an allowed loopback address")
	}
}
