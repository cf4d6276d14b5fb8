package turn

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// TestRecordBounds: repeats fold, an identity keeps its latest
// RecordEvents events, and the record keeps the RecordIdentities touched
// last.
func TestRecordBounds(t *testing.T) {
	now := time.Unix(1000, 0)
	r := newRecord(func() time.Time { return now }, nil)
	peer := netip.MustParseAddrPort("10.0.0.1:80")
	r.add("alice", EventPeerDenied, peer)
	now = now.Add(time.Second)
	r.add("alice", EventPeerDenied, peer)
	r.add("alice", EventPeerDenied, netip.MustParseAddrPort("10.0.0.2:80"))
	got := r.of("alice")
	if len(got) != 2 || got[0].Count != 2 || !got[0].At.Equal(now) || got[1].Count != 1 {
		t.Fatalf("folded record %+v", got)
	}
	for i := range RecordEvents + 5 {
		r.add("bob", EventAuthExpired+EventKind(i%2), netip.AddrPort{})
	}
	if got := r.of("bob"); len(got) != RecordEvents || got[len(got)-1].Kind != EventAuthExpired+EventKind((RecordEvents+4)%2) {
		t.Fatalf("bob's record holds %d events", len(got))
	}
	for i := range RecordIdentities {
		r.add(fmt.Sprintf("id%d", i), EventAllocated, netip.AddrPort{})
	}
	if r.of("alice") != nil || r.of("bob") != nil || len(r.of("id0")) != 1 || len(r.entries) != RecordIdentities {
		t.Fatalf("the oldest identities were not dropped: %d kept", len(r.entries))
	}
}

// kinds lists a record as "kind@addr×count".
func kinds(events []Event) string {
	var out []string
	for _, e := range events {
		s := e.Kind.String()
		if e.Addr.IsValid() {
			s += "@" + e.Addr.String()
		}
		if e.Count > 1 {
			s += fmt.Sprintf("×%d", e.Count)
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// TestRecordTellsWhy: real TURN requests leave the record admin.diag.explain
// reads: allocations with their relay, expired and wrong credentials told
// apart, the peer address the relay policy refused, quota refusals. The
// challenge every client first gets (a request without credentials) is not
// recorded.
func TestRecordTellsWhy(t *testing.T) {
	s := startTURN(t, func(c *Config) {
		c.MaxAllocationsPerIdentity = 1
		c.MaxPermissionsPerAllocation = 1
	})
	expired := Username(time.Now().Add(-time.Minute), "eve")
	newRawClient(t, s, expired, Password([]byte(testSecret), expired)).request(stun.MethodAllocate, udpTransport)
	wrong := Username(time.Now().Add(time.Hour), "walter")
	newRawClient(t, s, wrong, "bi/wv7w85lyv6QFYSM0dc8LDxmI=").request(stun.MethodAllocate, udpTransport)

	user, pass, _ := s.Issue("alice", time.Hour)
	c := newRawClient(t, s, user, pass)
	c.allocate()
	if res := c.request(stun.MethodCreatePermission, xorPeer16{ip: netip.MustParseAddr("::ffff:10.0.0.1"), port: 80}); errorCode(res) != stun.CodeForbidden {
		t.Fatalf("permission to 10.0.0.1: code %d, want 403", errorCode(res))
	}
	if res := c.request(stun.MethodCreatePermission, xorPeer16{ip: netip.MustParseAddr("::ffff:8.8.8.8"), port: 53}); res.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("permission to 8.8.8.8: code %d", errorCode(res))
	}
	if res := c.request(stun.MethodCreatePermission, xorPeer16{ip: netip.MustParseAddr("::ffff:1.1.1.1"), port: 53}); errorCode(res) != stun.CodeInsufficientCapacity {
		t.Fatalf("second peer: code %d, want 508", errorCode(res))
	}
	if res := newRawClient(t, s, user, pass).request(stun.MethodAllocate, udpTransport); errorCode(res) != stun.CodeAllocQuotaReached {
		t.Fatalf("second allocation: code %d, want 486", errorCode(res))
	}

	relay := s.Allocations()[0].Relay
	for identity, want := range map[string]string{
		"eve":    "authExpired",
		"walter": "authWrong",
		"alice":  "allocated@" + relay.String() + " peerDenied@10.0.0.1:80 permissionQuota allocationQuota",
	} {
		if got := kinds(s.Events(identity)); got != want {
			t.Errorf("%s's record: %q, want %q", identity, got, want)
		}
	}
}
