package nattype

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/parley-rtc/parley/internal/testkit"
	"github.com/parley-rtc/parley/turn/binding"
)

// TestDirectSeedsTable is the seeds' direct-connection table, the matrix
// the NAT lab (turn/natlab, after shared/reference/natlab.sh) measures:
// cone pairs punch through, symmetric meets only full and restricted cones.
func TestDirectSeedsTable(t *testing.T) {
	for _, c := range []struct {
		a, b Type
		want bool
	}{
		{FullCone, Symmetric, true},
		{RestrictedCone, RestrictedCone, true},
		{RestrictedCone, PortRestrictedCone, true},
		{RestrictedCone, Symmetric, true},
		{PortRestrictedCone, PortRestrictedCone, true},
		{PortRestrictedCone, Symmetric, false},
		{Symmetric, Symmetric, false},
	} {
		if got := Direct(c.a, c.b); got != c.want {
			t.Errorf("Direct(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestDirectEveryPair: the relation is symmetric, open internet behaves as
// a full cone, and UDP blocked or unknown never goes direct.
func TestDirectEveryPair(t *testing.T) {
	for a := Unknown; a <= UDPBlocked; a++ {
		for b := Unknown; b <= UDPBlocked; b++ {
			if Direct(a, b) != Direct(b, a) {
				t.Errorf("Direct(%s, %s) != Direct(%s, %s)", a, b, b, a)
			}
			if a == OpenInternet && Direct(a, b) != Direct(FullCone, b) {
				t.Errorf("open internet and full cone differ against %s", b)
			}
			if (a == Unknown || a == UDPBlocked) && Direct(a, b) {
				t.Errorf("Direct(%s, %s) = true", a, b)
			}
		}
	}
}

func TestParseType(t *testing.T) {
	for ty := Unknown + 1; ty <= UDPBlocked; ty++ {
		text, _ := ty.MarshalText()
		for _, s := range []string{ty.String(), string(text)} {
			if got, err := ParseType(s); err != nil || got != ty {
				t.Errorf("ParseType(%q) = %s, %v; want %s", s, got, err, ty)
			}
		}
	}
	for s, want := range map[string]Type{"full": FullCone, "rcone": RestrictedCone, "prc": PortRestrictedCone, "sym": Symmetric} {
		if got, err := ParseType(s); err != nil || got != want {
			t.Errorf("ParseType(%q) = %s, %v", s, got, err)
		}
	}
	if _, err := ParseType("cone-ish"); err == nil {
		t.Error("ParseType accepted nonsense")
	}
}

// TestResultJSON: a Result survives JSON (parley doctor --json, the NAT lab's probe).
func TestResultJSON(t *testing.T) {
	in := Result{Type: PortRestrictedCone, Mapping: EndpointIndependent, Filtering: AddressAndPortDependent,
		Public: netip.MustParseAddrPort("203.0.113.1:41000"), NAT: true, Other: netip.MustParseAddrPort("203.0.113.11:3479")}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Result
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("%s → %+v, %v", b, out, err)
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		nat                bool
		mapping, filtering Behavior
		want               Type
	}{
		{false, EndpointIndependent, EndpointIndependent, OpenInternet},
		{true, EndpointIndependent, EndpointIndependent, FullCone},
		{true, EndpointIndependent, AddressDependent, RestrictedCone},
		{false, EndpointIndependent, AddressDependent, RestrictedCone}, // a firewall, no NAT
		{true, EndpointIndependent, AddressAndPortDependent, PortRestrictedCone},
		{true, AddressDependent, AddressAndPortDependent, Symmetric},
		{true, AddressAndPortDependent, EndpointIndependent, Symmetric},
	} {
		if got := classify(c.nat, c.mapping, c.filtering); got != c.want {
			t.Errorf("classify(%v, %s, %s) = %s, want %s", c.nat, c.mapping, c.filtering, got, c.want)
		}
	}
}

var (
	ip1 = netip.MustParseAddr("127.0.0.1")
	ip2 = netip.MustParseAddr("127.0.0.2")
)

func udp(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip1, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func server(t *testing.T, alt netip.AddrPort) *binding.Server {
	return testkit.STUNServer(t, netip.AddrPortFrom(ip1, 0), alt)
}

// TestLoopback runs every test against the binding server on 127.0.0.1 and
// 127.0.0.2. Loopback has no NAT and no filter, so the answer is open
// internet (endpoint-independent mapping and filtering, NAT false), the
// public address is the socket's own, and hairpinning works (a datagram to
// our own address arrives).
func TestLoopback(t *testing.T) {
	s := server(t, netip.AddrPortFrom(ip2, 0))
	c := udp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := Discover(ctx, c, s.Addr(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := Result{
		Type: OpenInternet, Mapping: EndpointIndependent, Filtering: EndpointIndependent,
		Public: c.LocalAddr().(*net.UDPAddr).AddrPort(), NAT: false, Hairpinning: true, Other: s.OtherAddr(),
	}
	if res != want {
		t.Errorf("Discover =\n %+v, want\n %+v", res, want)
	}
}

func TestWithoutAlternate(t *testing.T) {
	s := server(t, netip.AddrPort{})
	c := udp(t)
	res, err := Discover(context.Background(), c, s.Addr(), Options{})
	if !errors.Is(err, ErrNoRFC5780) {
		t.Fatalf("err = %v, want ErrNoRFC5780", err)
	}
	if res.Public != c.LocalAddr().(*net.UDPAddr).AddrPort() || res.Type != Unknown {
		t.Errorf("result %+v", res)
	}
}

// TestUDPBlocked: a socket that never answers. The wait is bounded by
// RTO·(2^Attempts − 1).
func TestUDPBlocked(t *testing.T) {
	silent := udp(t)
	start := time.Now()
	res, err := Discover(context.Background(), udp(t), silent.LocalAddr().(*net.UDPAddr).AddrPort(), Options{RTO: 20 * time.Millisecond, Attempts: 3})
	if err != nil || res.Type != UDPBlocked {
		t.Fatalf("Discover = %+v, %v; want UDP blocked", res, err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %s, want about 140ms", took)
	}
}

func TestContextCancelled(t *testing.T) {
	silent := udp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Discover(ctx, udp(t), silent.LocalAddr().(*net.UDPAddr).AddrPort(), Options{RTO: time.Second, Attempts: 5})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %s after a 50ms deadline", took)
	}
}
