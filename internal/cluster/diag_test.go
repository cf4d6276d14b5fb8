package cluster

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/internal/testkit"
	"github.com/parley-rtc/parley/turn"
)

// TestDiagAcrossNodes: "ICE failure explained" holds across nodes. Alice
// is on node 1 and bob on node 2, each with its node's TURN; bob's TURN
// credentials had expired, and node 2's TURN refused a real TURN client's
// Allocate with them (401). Each reports the failed pair to its own node;
// admin.diag.explain on node 3 sees both reports and node 2's TURN
// record, and names turn_credentials_expired about bob. The failure is
// counted once cluster-wide: one peer.connectionFailed, and one
// parley_ice_outcomes_total over the three nodes, also after the grace
// that the first report started on node 1.
func TestDiagAcrossNodes(t *testing.T) {
	const secret = "diag-across-nodes-secret-0123456789"
	c := newCluster(t, 3, nil, "--no-turn=false", "--turn-listen", "127.0.0.1:0", "--turn-secret", secret)
	turn2 := c.nodes[1].WaitTURN(t).UDP
	alice, bob := c.roomOfTwo("alice", "bob")

	user := turn.Username(time.Now().Add(-time.Minute), "bob")
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := testkit.TURNClient(t, conn, turn2, user, turn.Password([]byte(secret), user)).Allocate(); err == nil {
		t.Fatal("node 2's TURN allocated with expired credentials")
	}

	failed := func(policy string, errs ...api.DiagCandidateError) *api.DiagReport {
		r := &api.DiagReport{
			Trigger: api.DiagTriggerFailed, ConnectionState: "failed", ICEConnectionState: "failed",
			SignalingState: "stable", ICETransportPolicy: policy,
			Local: &api.DiagCandidateCounts{}, Remote: &api.DiagCandidateCounts{Host: 1}, RemoteCandidates: 1,
			ICEServers: []api.DiagIceServer{{URL: "turn:" + turn2 + "?transport=udp"}}, ElapsedMs: 16000, Agent: "test",
			CandidateErrors: errs,
		}
		if policy == "all" {
			r.Local.Host = 1
		}
		return r
	}
	alice.must("diag.report", map[string]any{"roomId": "r", "peerId": bob.peerID, "report": failed("all")})
	bob.must("diag.report", map[string]any{"roomId": "r", "peerId": alice.peerID, "report": failed("relay",
		api.DiagCandidateError{URL: "turn:" + turn2 + "?transport=udp", ErrorCode: 401})})

	var x api.DiagExplanation
	adminWith(t, c.nodes[2], "admin.diag.explain", map[string]any{"roomId": "r"}, &x)
	if len(x.Pairs) != 1 {
		t.Fatalf("admin.diag.explain on node 3: %+v", x)
	}
	p := x.Pairs[0]
	v := p.Verdict
	if v.Result != api.DiagResultFailed || v.Cause != "turn_credentials_expired" || v.PeerID != bob.peerID ||
		!strings.Contains(strings.Join(v.Evidence, "\n"), "TURN, bob (peer "+bob.peerID+"): authExpired") {
		t.Fatalf("node 3's verdict %+v", v)
	}
	if p.A.Report == nil || p.B.Report == nil {
		t.Fatalf("node 3 lacks a report: %+v", p)
	}

	// Once cluster-wide, after the grace too.
	time.Sleep(6 * time.Second)
	const series = `parley_ice_outcomes_total{cause="turn_credentials_expired",result="failed"}`
	var counted float64
	for _, n := range c.nodes {
		counted += metric(t, n, series)
	}
	var sent []api.Event
	for _, e := range listEvents(t, c.nodes[2]) {
		if e.Type == "peer.connectionFailed" {
			sent = append(sent, e)
		}
	}
	if counted != 1 || len(sent) != 1 {
		t.Fatalf("the failure was counted %v times and sent %d times (%+v), want once", counted, len(sent), sent)
	}
	if d := sent[0].Data; d.PeerID != bob.peerID || d.RemoteIdentity != "alice" || d.Cause != "turn_credentials_expired" {
		t.Fatalf("peer.connectionFailed %+v", d)
	}
}
