package turn

import (
	"sync/atomic"

	"github.com/parley-rtc/parley/turn/binding"
)

// Stats is a snapshot of what the TURN server did since it started. No field
// is broken down by user: usernames and identities never reach metrics.
type Stats struct {
	AllocationsActive int64  // allocations open now
	AllocationsTotal  uint64 // allocations ever created
	PacketsToPeers    uint64 // datagrams relayed from clients to peers
	BytesToPeers      uint64
	PacketsFromPeers  uint64 // datagrams relayed from peers to clients
	BytesFromPeers    uint64
	AuthFailures      uint64 // requests whose credentials were refused
	Unauthorized      uint64 // 401 replies not sent because the source IP was over its rate
	DeniedPeers       uint64 // permissions, channels or datagrams refused by the relay policy
	QuotaHits         uint64 // allocations or permissions refused by a quota
	BandwidthDrops    uint64 // datagrams dropped by the per-allocation bandwidth cap
	StreamsRefused    uint64 // TCP/TLS connections closed at once: their address was at its cap
	Binding           binding.Stats
}

// counters are the live values behind Stats.
type counters struct {
	allocationsActive atomic.Int64
	allocationsTotal  atomic.Uint64
	packetsToPeers    atomic.Uint64
	bytesToPeers      atomic.Uint64
	packetsFromPeers  atomic.Uint64
	bytesFromPeers    atomic.Uint64
	authFailures      atomic.Uint64
	unauthorized      atomic.Uint64
	deniedPeers       atomic.Uint64
	quotaHits         atomic.Uint64
	bandwidthDrops    atomic.Uint64
	streamsRefused    atomic.Uint64
	fastRelayed       atomic.Uint64 // of packetsFromPeers, those the fast path sent
}

func (c *counters) snapshot() Stats {
	return Stats{
		AllocationsActive: c.allocationsActive.Load(),
		AllocationsTotal:  c.allocationsTotal.Load(),
		PacketsToPeers:    c.packetsToPeers.Load(),
		BytesToPeers:      c.bytesToPeers.Load(),
		PacketsFromPeers:  c.packetsFromPeers.Load(),
		BytesFromPeers:    c.bytesFromPeers.Load(),
		AuthFailures:      c.authFailures.Load(),
		Unauthorized:      c.unauthorized.Load(),
		DeniedPeers:       c.deniedPeers.Load(),
		QuotaHits:         c.quotaHits.Load(),
		BandwidthDrops:    c.bandwidthDrops.Load(),
		StreamsRefused:    c.streamsRefused.Load(),
	}
}
