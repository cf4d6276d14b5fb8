package binding

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// BenchmarkRespond is the CPU cost of one answer, without the socket.
func BenchmarkRespond(b *testing.B) {
	s := &Server{rfc5780: true, software: []byte("parley")}
	r := newResponder()
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint).Raw
	from := netip.MustParseAddrPort("198.51.100.7:50000")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.respond(r, slotPrimary, req, from); !ok {
			b.Fatal("dropped")
		}
	}
}

// BenchmarkBindingUDP measures Binding requests/s over loopback: parallel
// clients, each with its own socket and a window of outstanding requests,
// against a server with one SO_REUSEPORT socket per core.
func BenchmarkBindingUDP(b *testing.B) {
	const window = 16
	s, _ := start(b, Config{Listen: netip.AddrPortFrom(ip1, 0)})
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint).Raw
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := client(b, ip1)
		buf := make([]byte, 1500)
		inflight := 0
		for pb.Next() {
			for inflight < window {
				if _, err := c.WriteToUDPAddrPort(req, s.Addr()); err != nil {
					b.Error(err)
					return
				}
				inflight++
			}
			// A lost datagram would stall the window: a short deadline
			// refills it instead.
			_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
				inflight = 0
				continue
			}
			inflight--
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
