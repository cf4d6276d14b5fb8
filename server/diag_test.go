package server

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/internal/testkit"
)

// failedReport is a relay-only peer connection that gathered nothing.
func failedReport(opts ...func(*api.DiagReport)) *api.DiagReport {
	r := &api.DiagReport{
		Trigger: api.DiagTriggerFailed, ConnectionState: "failed", ICEConnectionState: "failed",
		SignalingState: "stable", ICETransportPolicy: "relay",
		Local: &api.DiagCandidateCounts{}, Remote: &api.DiagCandidateCounts{Relay: 1}, RemoteCandidates: 1,
		ICEServers: []api.DiagIceServer{{URL: "turn:127.0.0.1:3478?transport=udp"}}, ElapsedMs: 16000, Agent: "test",
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

func report(p *peer, room, remote string, r *api.DiagReport) api.DiagVerdict {
	p.t.Helper()
	return call[api.DiagVerdict](p.t.(*testing.T), p, "diag.report", map[string]any{"roomId": room, "peerId": remote, "report": r})
}

// TestDiagReportExplained: both sides' reports make a verdict; the pair's
// failure is counted once in parley_ice_outcomes_total and sent as
// peer.connectionFailed; admin.diag.explain shows both reports.
func TestDiagReportExplained(t *testing.T) {
	ts := startServer(t)
	ops := admin(t, ts)
	alice, bob := ts.roomOfTwo(t, "call")
	unreachable := func(r *api.DiagReport) {
		r.CandidateErrors = []api.DiagCandidateError{{URL: "turn:127.0.0.1:3478?transport=udp", ErrorCode: 701, ErrorText: "TURN allocate request timed out."}}
	}
	v := report(alice, "call", bob.peerID, failedReport(unreachable))
	if v.Result != api.DiagResultFailed || v.Cause != "turn_unreachable" || !strings.Contains(v.Explanation, "alice (peer "+alice.peerID+") could not reach its TURN server") {
		t.Fatalf("alice's verdict %+v", v)
	}
	v = report(bob, "call", alice.peerID, failedReport(func(r *api.DiagReport) { r.ICETransportPolicy = "all"; r.Local.Host = 1 }))
	if v.Cause != "turn_unreachable" {
		t.Fatalf("bob's verdict %+v", v)
	}
	report(bob, "call", alice.peerID, failedReport(func(r *api.DiagReport) { r.ICETransportPolicy = "all"; r.Local.Host = 1 }))
	if m := scrape(t, ts); m[`parley_ice_outcomes_total{cause=turn_unreachable,result=failed}`] != 1 {
		t.Fatalf("outcomes counted: %v", m[`parley_ice_outcomes_total{cause=turn_unreachable,result=failed}`])
	}
	var failed []api.Event
	for _, e := range waitEvents(t, ops, 4) {
		if e.Type == "peer.connectionFailed" {
			failed = append(failed, e)
		}
	}
	if len(failed) != 1 || failed[0].Data.RoomID != "call" || failed[0].Data.Cause != "turn_unreachable" || failed[0].Data.RoomSeq != 4 || // after room.started and two peer.joined
		failed[0].Data.PeerID != alice.peerID || failed[0].Data.RemoteIdentity != "bob" {
		t.Fatalf("peer.connectionFailed events %+v", failed)
	}

	x := call[api.DiagExplanation](t, ops, "admin.diag.explain", map[string]any{"roomId": "call", "peerId": bob.peerID})
	if len(x.Pairs) != 1 || x.Pairs[0].Verdict.Cause != "turn_unreachable" || x.Pairs[0].A.Report == nil || x.Pairs[0].B.Report == nil {
		t.Fatalf("admin.diag.explain = %+v", x)
	}
	if x = call[api.DiagExplanation](t, ops, "admin.diag.explain", map[string]any{"roomId": "call", "peerId": "nobody"}); len(x.Pairs) != 0 {
		t.Fatalf("pairs of another peer: %+v", x.Pairs)
	}
	_, err := ops.Call("admin.diag.explain", map[string]any{"roomId": "elsewhere"})
	rpcError(t, err, 404, `no diag.report about room "elsewhere"`)
	_, err = alice.Call("admin.diag.explain", map[string]any{"roomId": "call"})
	rpcError(t, err, 403, "admin.diag.explain needs the admin grant")
}

// TestDiagReportRefused: a report names a room the session is in and a
// peer other than itself; it is bounded by the schema.
func TestDiagReportRefused(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.roomOfTwo(t, "call")
	_, err := alice.Call("diag.report", map[string]any{"roomId": "other", "peerId": bob.peerID, "report": failedReport()})
	rpcError(t, err, 404, `room "other" does not exist or you are not in it`)
	_, err = alice.Call("diag.report", map[string]any{"roomId": "call", "peerId": alice.peerID, "report": failedReport()})
	rpcError(t, err, 400, "peerId is your own peer id")
	_, err = alice.Call("diag.report", map[string]any{"roomId": "call", "peerId": bob.peerID, "report": failedReport(func(r *api.DiagReport) {
		r.CandidateErrors = make([]api.DiagCandidateError, 17)
	})})
	rpcError(t, err, -32602, "")
}

// TestDiagJoinsTheTURNRecord: an allocation the co-hosted TURN server
// refused because the credentials had expired explains alice's failure.
func TestDiagJoinsTheTURNRecord(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.roomOfTwo(t, "call")
	tsrv := ts.srv.TURN()
	user, pass, _ := tsrv.Issue("alice", -time.Minute)
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := testkit.TURNClient(t, conn, tsrv.Addrs().UDP.String(), user, pass).Allocate(); err == nil {
		t.Fatal("an allocation with expired credentials succeeded")
	}
	v := report(alice, "call", bob.peerID, failedReport(func(r *api.DiagReport) {
		r.CandidateErrors = []api.DiagCandidateError{{URL: "turn:127.0.0.1:3478?transport=udp", ErrorCode: 401}}
	}))
	if v.Cause != "turn_credentials_expired" || !strings.Contains(strings.Join(v.Evidence, "\n"), "TURN, alice (peer "+alice.peerID+"): authExpired") {
		t.Fatalf("verdict %+v", v)
	}
}

// TestDiagOneSideCountedAfterGrace: a failure only one side reports is
// counted after the grace, with the cause its report gives.
func TestDiagOneSideCountedAfterGrace(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.roomOfTwo(t, "call")
	report(alice, "call", bob.peerID, failedReport(func(r *api.DiagReport) { r.ICEServers = nil }))
	const series = `parley_ice_outcomes_total{cause=no_relay_candidate,result=failed}`
	if m := scrape(t, ts); m[series] != 0 {
		t.Fatalf("counted before the grace: %v", m[series])
	}
	deadline := time.Now().Add(diagGrace + 10*time.Second)
	for scrape(t, ts)[series] != 1 {
		if time.Now().After(deadline) {
			t.Fatal("not counted after the grace")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDiagJoinsTheSignalingRecord: the core's per-pair record joins the
// reports. An offer bob never answered is answer_never_sent, counted by
// the server; an offer refused as too large (413) is offer_never_sent
// naming the refusal; the record outlives the peers' seats (it was read
// with the reports). Run with PARLEY_TEST_STORE=redis, the record is
// Redis's.
func TestDiagJoinsTheSignalingRecord(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Limits.MaxSDPBytes = len(sampleSDP) })
	ops := admin(t, ts)
	alice, bob := ts.roomOfTwo(t, "call")
	alice.must("sdp.offer", map[string]any{"roomId": "call", "to": bob.peerID, "sdp": sampleSDP})
	bob.expect("sdp.offer")
	waiting := func(r *api.DiagReport) {
		r.ICETransportPolicy, r.SignalingState, r.AwaitingAnswer = "all", "have-local-offer", true
		r.Local, r.Remote, r.RemoteCandidates = &api.DiagCandidateCounts{Host: 1}, &api.DiagCandidateCounts{}, 0
	}
	v := report(alice, "call", bob.peerID, failedReport(waiting))
	if v.Cause != "answer_never_sent" || !strings.Contains(v.Explanation, "the server delivered 1 offer(s) to bob (peer "+bob.peerID+") and relayed no answer from it") {
		t.Fatalf("verdict %+v", v)
	}

	carol, dave := ts.connect(t, "carol"), ts.connect(t, "dave")
	joinRoom(carol, "big")
	joinRoom(dave, "big")
	_, err := carol.Call("sdp.offer", map[string]any{"roomId": "big", "to": dave.peerID, "sdp": sampleSDP + "a=x\r\n"})
	rpcError(t, err, 413, "over this server's limit")
	v = report(carol, "big", dave.peerID, failedReport(func(r *api.DiagReport) { r.ICETransportPolicy = "all"; r.Local.Host = 1 }))
	if v.Cause != "offer_never_sent" || !strings.Contains(v.Explanation, "the server refused 1 (491 glare or 413 too large)") {
		t.Fatalf("verdict %+v", v)
	}

	// The peers leave: the record, read with the reports, stays.
	alice.must("room.leave", map[string]any{"roomId": "call"})
	bob.must("room.leave", map[string]any{"roomId": "call"})
	x := call[api.DiagExplanation](t, ops, "admin.diag.explain", map[string]any{"roomId": "call"})
	if len(x.Pairs) != 1 || x.Pairs[0].Verdict.Cause != "answer_never_sent" || !strings.Contains(x.Pairs[0].Verdict.Explanation, "delivered 1 offer(s)") {
		t.Fatalf("after the peers left: %+v", x.Pairs)
	}
}
