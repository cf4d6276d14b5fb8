package turn

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"

	"github.com/parley-rtc/parley/internal/testkit"
)

// TestAdminAllocations: operators see each allocation with its identity,
// transport and relay, can end one, and a draining server refuses new
// allocations with 508 while the live ones keep relaying.
func TestAdminAllocations(t *testing.T) {
	cert := testkit.SelfSigned(t)
	s := startTURN(t, func(c *Config) { c.TLSListen = "127.0.0.1:0"; c.TLS = cert.TLS })
	relays := map[string]net.PacketConn{}
	clients := map[string]*pionturn.Client{}
	for _, transport := range []string{"udp", "tcp", "tls"} {
		conn, server := clientConn(t, s, transport, cert.Pool)
		c := pionClient(t, s, conn, server, "id-"+transport)
		relay, err := c.Allocate()
		if err != nil {
			t.Fatalf("Allocate over %s: %v", transport, err)
		}
		t.Cleanup(func() { relay.Close() })
		relays[transport], clients[transport] = relay, c
	}

	var list []Allocation
	testkit.Eventually(t, "three allocations listed", func() bool { list = s.Allocations(); return len(list) == 3 })
	for _, a := range list {
		transport := a.Transport
		relay, ok := relays[transport]
		if !ok || a.Identity != "id-"+transport || a.Relay != addrPortOf(relay.LocalAddr()) ||
			a.Client.Addr() != netip.MustParseAddr("127.0.0.1") || a.Created.IsZero() {
			t.Errorf("listed %+v; relay over %s is %v", a, transport, relays[transport].LocalAddr())
		}
	}

	if s.CloseAllocation(netip.MustParseAddrPort("127.0.0.1:1")) {
		t.Error("closed an allocation that does not exist")
	}
	if !s.CloseAllocation(addrPortOf(relays["udp"].LocalAddr())) {
		t.Fatal("CloseAllocation of the udp allocation: not found")
	}
	testkit.Eventually(t, "the closed allocation gone", func() bool { return len(s.Allocations()) == 2 && s.Stats().AllocationsActive == 2 })

	s.Drain()
	user, pass, _ := s.Issue("late", time.Hour)
	if res := newRawClient(t, s, user, pass).request(stun.MethodAllocate, udpTransport); errorCode(res) != stun.CodeInsufficientCapacity {
		t.Fatalf("Allocate while draining: %s code %d, want 508", res.Type, errorCode(res))
	}
	relayBetween(t, clients["tcp"], clients["tls"], relays["tcp"], relays["tls"])
}
