package turn

import (
	"hash/maphash"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// allocationQuota counts open relays per identity and in total. An
// allocation is counted from the moment its relay socket opens until it
// closes, so the count can neither leak (a failed Allocate never opened a
// socket) nor be dodged.
//
// pion asks the QuotaHandler before it creates the allocation, without
// reserving anything; admit answers that question (486 when full). acquire,
// called when the relay socket is opened, makes the count exact: two
// Allocates racing past admit for the last slot get one relay and one 508.
type allocationQuota struct {
	perIdentity, total int

	mu         sync.Mutex
	byIdentity map[string]int
	count      int
}

func newAllocationQuota(perIdentity, total int) *allocationQuota {
	return &allocationQuota{perIdentity: perIdentity, total: total, byIdentity: make(map[string]int)}
}

func (q *allocationQuota) admit(identity string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count < q.total && q.byIdentity[identity] < q.perIdentity
}

func (q *allocationQuota) acquire(identity string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.count >= q.total || q.byIdentity[identity] >= q.perIdentity {
		return false
	}
	q.count++
	q.byIdentity[identity]++
	return true
}

func (q *allocationQuota) release(identity string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.count--
	if q.byIdentity[identity]--; q.byIdentity[identity] <= 0 {
		delete(q.byIdentity, identity)
	}
}

// fiveTuple names an allocation the way pion does: client address and the
// server address it reached (the transport is always reported as UDP).
type fiveTuple struct{ src, dst netip.AddrPort }

func tupleOf(src, dst net.Addr) fiveTuple {
	return fiveTuple{src: addrPortOf(src), dst: addrPortOf(dst)}
}

// permissionTable tracks the peers each allocation holds a permission for,
// fed by pion's permission events, so a CreatePermission or ChannelBind that
// would exceed the per-allocation cap is refused before pion adds it.
//
// An entry names its allocation's relay address, and only that
// allocation's events touch it. pion's events for one five-tuple can arrive
// out of order when an allocation is replaced at once from the same client
// address: a deleted allocation's relay reader ends with DeleteAllocation by
// five-tuple whenever it gets to run (pion/turn v5.1.3), so an old
// allocation's delete can come after its successor's create, and the
// successor itself can be deleted before its create event is out. live
// reports whether a relay socket is still open: pion closes it before the
// delete event, which is what orders them here.
type permissionTable struct {
	max  int
	live func(relay net.Addr) bool

	mu    sync.Mutex
	peers map[fiveTuple]*allocationPeers
}

// allocationPeers is one allocation's entry in the permissionTable.
type allocationPeers struct {
	relay net.Addr
	set   map[netip.Addr]struct{}
}

func newPermissionTable(max int, live func(relay net.Addr) bool) *permissionTable {
	return &permissionTable{max: max, live: live, peers: make(map[fiveTuple]*allocationPeers)}
}

// open starts a's entry for the allocation relaying at relay, unless that
// allocation is gone already.
func (t *permissionTable) open(a fiveTuple, relay net.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.live(relay) {
		t.peers[a] = &allocationPeers{relay: relay, set: make(map[netip.Addr]struct{})}
	}
}

// close ends a's entry unless it belongs to a successor that is still open.
func (t *permissionTable) close(a fiveTuple) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.peers[a]; ok && !t.live(e.relay) {
		delete(t.peers, a)
	}
}

// entry is a's entry if it belongs to the allocation relaying at relay.
func (t *permissionTable) entry(a fiveTuple, relay net.Addr) (*allocationPeers, bool) {
	e, ok := t.peers[a]
	return e, ok && addrPortOf(e.relay) == addrPortOf(relay)
}

func (t *permissionTable) add(a fiveTuple, relay net.Addr, peer netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.entry(a, relay); ok {
		e.set[peer.Unmap()] = struct{}{}
	}
}

func (t *permissionTable) remove(a fiveTuple, relay net.Addr, peer netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.entry(a, relay); ok {
		delete(e.set, peer.Unmap())
	}
}

// fits reports whether allocation a may hold permissions for peers too. An
// unknown allocation fits: pion answers for it (437 or no allocation).
func (t *permissionTable) fits(a fiveTuple, peers []netip.Addr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.peers[a]
	if !ok {
		return true
	}
	set := e.set
	n := len(set)
	seen := make(map[netip.Addr]struct{}, len(peers))
	for _, p := range peers {
		p = p.Unmap()
		if _, held := set[p]; held {
			continue
		}
		if _, dup := seen[p]; !dup {
			seen[p] = struct{}{}
			n++
		}
	}
	return n <= t.max
}

// unauthorizedLimiter rate-limits 401 replies per source IP. A 401 is what
// anyone can get from a TURN server with a spoofed source address, so
// without a cap the server is a reflector. The limiter keeps a fixed table
// of buckets indexed by a keyed hash of the IP: unauthenticated traffic
// creates no state, at the price of unrelated IPs sometimes sharing a
// bucket (which only makes the cap stricter for them).
type unauthorizedLimiter struct {
	seed    maphash.Seed
	buckets []*rate.Limiter
}

const (
	unauthorizedBuckets = 1024
	unauthorizedRate    = 10 // 401 replies per second per source IP
	unauthorizedBurst   = 20 // a real client needs one per Allocate, plus stale nonces
)

func newUnauthorizedLimiter() *unauthorizedLimiter {
	l := &unauthorizedLimiter{seed: maphash.MakeSeed(), buckets: make([]*rate.Limiter, unauthorizedBuckets)}
	for i := range l.buckets {
		l.buckets[i] = rate.NewLimiter(unauthorizedRate, unauthorizedBurst)
	}
	return l
}

func (l *unauthorizedLimiter) allow(ip netip.Addr, now time.Time) bool {
	b := ip.Unmap().As16()
	return l.buckets[maphash.Bytes(l.seed, b[:])%unauthorizedBuckets].AllowN(now, 1)
}

// addrPortOf converts the addresses pion hands around; anything else (never
// seen in practice) becomes the zero AddrPort.
func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case *net.TCPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}
