package turn

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

// TestPermissionTableEventOrder replays pion's events for one five-tuple in
// the orders they can arrive in when an allocation is replaced from the
// same client address (see permissionTable), and checks which allocation's
// entry the table ends with and what it holds.
func TestPermissionTableEventOrder(t *testing.T) {
	tuple := fiveTuple{src: netip.MustParseAddrPort("198.51.100.1:40000"), dst: netip.MustParseAddrPort("127.0.0.1:3478")}
	relay := func(port int) net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port} }
	first, second := relay(50001), relay(50002)
	peer := netip.MustParseAddr("192.0.2.7")

	// Steps: "open R" and "close R" are a relay socket opening and closing
	// (pion closes it before its delete event); "created R", "deleted",
	// "permission R" are pion's events.
	tests := []struct {
		name      string
		steps     []string
		wantRelay net.Addr // nil: no entry
		wantPeers int
	}{
		{"created then deleted", []string{"open 1", "created 1", "permission 1", "close 1", "deleted"}, nil, 0},
		{"successor created before the old delete", []string{"open 1", "created 1", "close 1", "open 2", "created 2", "deleted"}, second, 0},
		{"successor deleted before its create", []string{"open 1", "created 1", "close 1", "deleted", "open 2", "close 2", "deleted", "created 2"}, nil, 0},
		{"the old allocation's permission after the successor's create", []string{"open 1", "created 1", "close 1", "open 2", "created 2", "permission 1"}, second, 0},
		{"the successor's own permission", []string{"open 1", "created 1", "close 1", "deleted", "open 2", "created 2", "permission 2"}, second, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			open := map[net.Addr]bool{}
			table := newPermissionTable(3, func(r net.Addr) bool { return open[r] })
			relays := map[string]net.Addr{"1": first, "2": second}
			for _, step := range tt.steps {
				verb, arg, _ := strings.Cut(step, " ")
				switch r := relays[arg]; verb {
				case "open":
					open[r] = true
				case "close":
					delete(open, r)
				case "created":
					table.open(tuple, r)
				case "deleted":
					table.close(tuple)
				case "permission":
					table.add(tuple, r, peer)
				default:
					t.Fatalf("bad step %q", step)
				}
			}
			e, ok := table.peers[tuple]
			switch {
			case tt.wantRelay == nil && ok:
				t.Fatalf("entry for relay %v left, want none", e.relay)
			case tt.wantRelay != nil && !ok:
				t.Fatalf("no entry, want relay %v's", tt.wantRelay)
			case ok && (e.relay != tt.wantRelay || len(e.set) != tt.wantPeers):
				t.Fatalf("entry for relay %v with %d peers, want relay %v's with %d", e.relay, len(e.set), tt.wantRelay, tt.wantPeers)
			}
		})
	}
}
