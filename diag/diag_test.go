package diag

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/api"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// report builds a report; the options change it.
func report(trigger api.DiagTrigger, opts ...func(*api.DiagReport)) *api.DiagReport {
	r := &api.DiagReport{
		Trigger:            trigger,
		ConnectionState:    string(trigger),
		ICEConnectionState: string(trigger),
		SignalingState:     "stable",
		ICETransportPolicy: "all",
		Local:              &api.DiagCandidateCounts{Host: 2, Srflx: 1, Relay: 1},
		Remote:             &api.DiagCandidateCounts{Host: 2, Srflx: 1, Relay: 1},
		RemoteCandidates:   4,
		ICEServers: []api.DiagIceServer{
			{URL: "stun:turn.example:3478", Srflx: 1},
			{URL: "turn:turn.example:3478?transport=udp", Relay: 1},
		},
		ElapsedMs: 15000,
	}
	if trigger == api.DiagTriggerChecking {
		r.ConnectionState, r.ICEConnectionState = "connecting", "checking"
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

func local(host, srflx, relay int64) func(*api.DiagReport) {
	return func(r *api.DiagReport) { r.Local = &api.DiagCandidateCounts{Host: host, Srflx: srflx, Relay: relay} }
}

func remote(host, srflx, prflx, relay int64) func(*api.DiagReport) {
	return func(r *api.DiagReport) {
		r.Remote = &api.DiagCandidateCounts{Host: host, Srflx: srflx, Prflx: prflx, Relay: relay}
		r.RemoteCandidates = host + srflx + relay
	}
}

func relayOnly(r *api.DiagReport) { r.ICETransportPolicy = "relay" }

func candidateError(url string, code int64) func(*api.DiagReport) {
	return func(r *api.DiagReport) {
		r.CandidateErrors = append(r.CandidateErrors, api.DiagCandidateError{URL: url, ErrorCode: code})
	}
}

func selected(l, rm api.DiagCandidateType) func(*api.DiagReport) {
	return func(r *api.DiagReport) {
		r.SelectedPair = &api.DiagSelectedPair{Local: api.DiagCandidate{Type: l, Protocol: api.DiagProtocolUdp}, Remote: api.DiagCandidate{Type: rm}}
		r.ConnectMs = 420
	}
}

func sideOf(peer, identity string, r *api.DiagReport, turn ...api.TurnEvent) Side {
	return Side{PeerID: peer, Identity: identity, Report: r, ReportedAt: t0, TURN: turn}
}

func turnEvent(ago time.Duration, kind api.TurnEventKind, addr string) api.TurnEvent {
	return api.TurnEvent{At: t0.Add(-ago).UnixMilli(), Kind: kind, Address: addr, Count: 1}
}

// TestExplain: each cause from the reports and records that show it, as a
// WebRTC engineer reading both browsers' logs and the TURN server's would
// name it.
func TestExplain(t *testing.T) {
	tests := []struct {
		name   string
		pair   Pair
		result api.DiagResult
		cause  string
		says   string // a fragment of the sentence
	}{
		{"connected directly",
			Pair{A: sideOf("pa", "alice", report("connected", selected("srflx", "host"))), B: sideOf("pb", "bob", nil)},
			"connected", CauseNone, "connected directly in 420ms: alice (peer pa)'s srflx/udp candidate with bob (peer pb)'s host"},
		{"connected through TURN",
			Pair{A: sideOf("pa", "alice", report("connected", selected("relay", "srflx"))), B: sideOf("pb", "bob", report("connected"))},
			"connected", CauseNone, "through TURN"},
		{"nobody reported",
			Pair{A: sideOf("pa", "alice", nil), B: sideOf("pb", "bob", nil)},
			"unknown", CauseUnknown, "neither side has reported"},
		{"an offer the other side applied and never answered",
			Pair{A: sideOf("pa", "alice", report("checking", func(r *api.DiagReport) { r.AwaitingAnswer = true })),
				B: sideOf("pb", "bob", report("checking", func(r *api.DiagReport) { r.SignalingState = "have-remote-offer" }))},
			"checking", CauseAnswerNeverSent, "bob (peer pb) applied the offer (have-remote-offer) but never answered"},
		{"no answer, by the server's record alone",
			Pair{A: sideOf("pa", "alice", report("failed")), B: sideOf("pb", "bot", nil),
				Signaling: &Signaling{AToB: Relay{Offers: 1, Candidates: 3}}},
			"failed", CauseAnswerNeverSent, "the server delivered 1 offer(s) to bot (peer pb) and relayed no answer"},
		{"no offer delivered: glare refused both",
			Pair{A: sideOf("pa", "alice", report("checking")), B: sideOf("pb", "bob", report("checking")),
				Signaling: &Signaling{AToB: Relay{Glare: 1}, BToA: Relay{Glare: 1}}},
			"checking", CauseOfferNeverSent, "refused 2 (491 glare or 413 too large)"},
		{"DTLS after ICE",
			Pair{A: sideOf("pa", "alice", report("failed", func(r *api.DiagReport) { r.ICEConnectionState = "connected" })), B: sideOf("pb", "bob", report("failed"))},
			"failed", CauseDTLSFailed, "DTLS handshake"},
		{"connected, then lost",
			Pair{A: sideOf("pa", "alice", report("failed", selected("host", "host"))), B: sideOf("pb", "bob", report("failed"))},
			"failed", CauseConnectionLost, "connected after 420ms, then lost"},
		{"the relay policy refused the peer's address",
			Pair{A: sideOf("pa", "alice", report("failed", relayOnly, local(0, 0, 1)), turnEvent(5*time.Second, "allocated", "203.0.113.1:50000"), turnEvent(4*time.Second, "peerDenied", "10.1.2.3:40000")),
				B: sideOf("pb", "bob", report("failed"))},
			"failed", CausePeerDenied, "refused alice (peer pa)'s relay a permission to 10.1.2.3:40000 (bob (peer pb)'s candidate address)"},
		{"expired TURN credentials",
			Pair{A: sideOf("pa", "alice", report("failed", relayOnly, local(0, 0, 0), candidateError("turn:turn.example:3478?transport=udp", 401)), turnEvent(10*time.Second, "authExpired", "")),
				B: sideOf("pb", "bob", report("failed"))},
			"failed", CauseTURNExpired, "alice (peer pa)'s allocation: its TURN credentials had expired"},
		{"expired credentials while still checking",
			Pair{A: sideOf("pa", "alice", report("checking", relayOnly, local(0, 0, 0)), turnEvent(time.Second, "authExpired", "")), B: sideOf("pb", "bob", nil)},
			"checking", CauseTURNExpired, "had expired"},
		{"an expiry from before this connection is not its cause",
			Pair{A: sideOf("pa", "alice", report("failed", relayOnly, local(0, 0, 0)), turnEvent(time.Hour, "authExpired", "")), B: sideOf("pb", "bob", report("failed"))},
			"failed", CauseNoRelayCandidate, "gathered none from 1 TURN server(s)"},
		{"expired credentials, then a relay all the same",
			Pair{A: sideOf("pa", "alice", report("failed", local(1, 1, 1), remote(1, 1, 2, 0)), turnEvent(time.Second, "authExpired", "")),
				B: sideOf("pb", "bob", report("failed", local(1, 1, 0), remote(1, 1, 0, 1)))},
			"failed", CauseUnknown, "neither the reports nor"},
		{"wrong TURN credentials",
			Pair{A: sideOf("pa", "alice", report("failed", relayOnly, local(0, 0, 0)), turnEvent(time.Second, "authWrong", "")), B: sideOf("pb", "bob", report("failed"))},
			"failed", CauseTURNRejected, "does not verify"},
		{"TURN quota",
			Pair{A: sideOf("pa", "alice", report("failed", relayOnly, local(0, 0, 0)), turnEvent(time.Second, "allocationQuota", "")), B: sideOf("pb", "bob", report("failed"))},
			"failed", CauseTURNQuota, "486"},
		{"TURN unreachable",
			Pair{A: sideOf("pa", "alice", report("failed", relayOnly, local(0, 0, 0), candidateError("turn:turn.example:3478?transport=udp", 701))), B: sideOf("pb", "bob", report("failed"))},
			"failed", CauseTURNUnreachable, "could not reach its TURN server: turn:turn.example:3478?transport=udp (error 701"},
		{"relay only without a TURN server",
			Pair{A: sideOf("pa", "alice", report("failed", relayOnly, local(0, 0, 0), func(r *api.DiagReport) { r.ICEServers = nil })), B: sideOf("pb", "bob", report("failed"))},
			"failed", CauseNoRelayCandidate, "was given no TURN server"},
		{"candidates never delivered",
			Pair{A: sideOf("pa", "alice", report("failed", local(2, 1, 1))), B: sideOf("pb", "bob", report("failed", remote(0, 0, 0, 0)))},
			"failed", CauseCandidatesUndelivered, "alice (peer pa) gathered 4 candidate(s) but none reached bob (peer pb)"},
		{"candidates held for an offer that never came, by the server's record",
			Pair{A: sideOf("pa", "alice", report("checking")), B: sideOf("pb", "bob", report("checking")),
				Signaling: &Signaling{AToB: Relay{Offers: 1, HeldCandidates: 3}, BToA: Relay{Answers: 1, Candidates: 2}}},
			"checking", CauseCandidatesUndelivered, "the server delivered 0, held 3 waiting for an offer"},
		{"a side gathered nothing",
			Pair{A: sideOf("pa", "alice", report("failed", local(0, 0, 0))), B: sideOf("pb", "bob", report("failed", remote(0, 0, 0, 0)))},
			"failed", CauseNoRemoteCandidates, "alice (peer pa) gathered no candidate at all"},
		{"STUN unreachable",
			Pair{A: sideOf("pa", "alice", report("failed", local(2, 0, 0), candidateError("stun:turn.example:3478", 701))), B: sideOf("pb", "bob", report("failed", local(1, 1, 0)))},
			"failed", CauseSTUNUnreachable, "its STUN server stun:turn.example:3478 did not answer"},
		{"both direct only behind NAT, one symmetric",
			Pair{A: sideOf("pa", "alice", report("failed", local(1, 1, 0), remote(1, 1, 0, 0))), B: sideOf("pb", "bob", report("failed", local(1, 1, 0), remote(1, 1, 1, 0)))},
			"failed", CauseSymmetricNAT, "bob (peer pb) saw alice (peer pa)'s checks arrive from a port it had not announced"},
		{"host candidates only on both sides",
			Pair{A: sideOf("pa", "alice", report("failed", local(1, 0, 0), remote(1, 0, 0, 0), func(r *api.DiagReport) { r.ICEServers = nil })),
				B: sideOf("pb", "bob", report("failed", local(1, 0, 0), remote(1, 0, 0, 0), func(r *api.DiagReport) { r.ICEServers = nil }))},
			"failed", CauseNoRelayCandidate, "neither side has a relay candidate"},
		{"only one side reported",
			Pair{A: sideOf("pa", "alice", report("failed", remote(0, 0, 0, 0))), B: sideOf("pb", "bob", nil)},
			"failed", CauseOneSideReported, "only alice (peer pa) reported"},
		{"still checking, nothing wrong yet",
			Pair{A: sideOf("pa", "alice", report("checking")), B: sideOf("pb", "bob", nil)},
			"checking", CauseStillChecking, "still checking"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Explain(tc.pair)
			if v.Result != tc.result || v.Cause != tc.cause || !strings.Contains(v.Explanation, tc.says) {
				t.Fatalf("Explain = %s %s: %q\nwant %s %s saying %q\nevidence:\n  %s", v.Result, v.Cause, v.Explanation, tc.result, tc.cause, tc.says, strings.Join(v.Evidence, "\n  "))
			}
			if !slices.Contains(Causes, v.Cause) {
				t.Fatalf("cause %q is not listed in Causes", v.Cause)
			}
			if len(v.Evidence) > 16 || len([]rune(v.Explanation)) > 1024 {
				t.Fatalf("verdict over the schema's bounds: %d evidence lines, %d characters", len(v.Evidence), len(v.Explanation))
			}
		})
	}
}

// TestEvidenceBounded: however much was reported, the evidence keeps to
// the schema's 16 lines of 256 characters.
func TestEvidenceBounded(t *testing.T) {
	long := strings.Repeat("→", 300)
	r := report("failed", func(r *api.DiagReport) {
		for range 16 {
			r.CandidateErrors = append(r.CandidateErrors, api.DiagCandidateError{URL: "turn:x", ErrorCode: 701, ErrorText: long})
		}
	})
	v := Explain(Pair{A: sideOf("pa", "alice", r), B: sideOf("pb", "bob", r)})
	if len(v.Evidence) != 16 {
		t.Fatalf("%d evidence lines", len(v.Evidence))
	}
	for _, line := range v.Evidence {
		if n := len([]rune(line)); n > 256 {
			t.Fatalf("an evidence line of %d characters", n)
		}
	}
}

// TestExplainNamesThePeer: the verdict names the peer whose side the cause
// is about, and none when it is about both.
func TestExplainNamesThePeer(t *testing.T) {
	for _, tc := range []struct {
		pair  Pair
		about string
	}{
		{Pair{A: sideOf("pa", "alice", report("checking", func(r *api.DiagReport) { r.AwaitingAnswer = true })), B: sideOf("pb", "bob", nil)}, "pb"},
		{Pair{A: sideOf("pa", "alice", report("failed")), B: sideOf("pb", "bob", report("failed", relayOnly, local(0, 0, 0)), turnEvent(time.Second, "authExpired", ""))}, "pb"},
		{Pair{A: sideOf("pa", "alice", report("failed", local(1, 1, 0), remote(1, 1, 1, 0))), B: sideOf("pb", "bob", report("failed", local(1, 1, 0), remote(1, 1, 0, 0)))}, ""},
	} {
		if v := Explain(tc.pair); v.PeerID != tc.about {
			t.Errorf("%s is about %q, want %q", v.Cause, v.PeerID, tc.about)
		}
	}
}
