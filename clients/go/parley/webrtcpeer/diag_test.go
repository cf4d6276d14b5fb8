package webrtcpeer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/clients/go/parley"
	"github.com/parley-rtc/parley/internal/testkit/parleyproc"
)

const apiKey = "main:kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"

// explain asks the server why over POST /rpc with the API key, until
// done accepts the answer.
func explain(t *testing.T, p *parleyproc.Process, room string, done func(api.DiagExplanation) bool) api.DiagExplanation {
	t.Helper()
	deadline := time.Now().Add(wait + 15*time.Second)
	for {
		body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "admin.diag.explain", "params": map[string]any{"roomId": room}})
		req, _ := http.NewRequest(http.MethodPost, "http://"+p.Addr+"/rpc", bytes.NewReader(body))
		kid, secret, _ := strings.Cut(apiKey, ":")
		req.SetBasicAuth(kid, secret)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		var answer struct {
			Result api.DiagExplanation `json:"result"`
		}
		_ = json.Unmarshal(raw, &answer)
		if done(answer.Result) {
			return answer.Result
		}
		if time.Now().After(deadline) {
			t.Fatalf("admin.diag.explain never satisfied the test: %s", raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDiagnosticsReported: two pion peers that connect through Parley's
// TURN each report it by themselves; the server explains the pair as
// connected through TURN from both reports.
func TestDiagnosticsReported(t *testing.T) {
	p := parleyproc.Start(t, binary, nil, "--dev", "--listen", "127.0.0.1:0", "--turn-listen", "127.0.0.1:0", "--api-keys", apiKey)
	relay := webrtc.Configuration{ICETransportPolicy: webrtc.ICETransportPolicyRelay}
	alice := join(t, p.URL(), "alice", relay)
	bob := join(t, p.URL(), "bob", relay)
	alice.open(t, bob.client.Session().PeerID, "hi bob")
	expect(t, bob.got, "hi bob")
	x := explain(t, p, "lab", func(x api.DiagExplanation) bool {
		return len(x.Pairs) == 1 && x.Pairs[0].A.Report != nil && x.Pairs[0].B.Report != nil
	})
	pair := x.Pairs[0]
	if v := pair.Verdict; v.Result != api.DiagResultConnected || v.Cause != "none" || !strings.Contains(v.Explanation, "through TURN") {
		t.Fatalf("verdict %+v", v)
	}
	for _, side := range []api.DiagSide{pair.A, pair.B} {
		r := side.Report
		if r.Agent != "parley-go" || r.Trigger != api.DiagTriggerConnected || r.ICETransportPolicy != "relay" || r.Local.Relay == 0 ||
			r.SelectedPair == nil || r.SelectedPair.Local.Type != api.DiagCandidateTypeRelay || r.RemoteCandidates == 0 {
			t.Fatalf("%s's report %+v", side.Identity, r)
		}
		if len(side.Turn) == 0 || side.Turn[0].Kind != api.TurnEventKindAllocated {
			t.Fatalf("%s's TURN record %+v", side.Identity, side.Turn)
		}
	}
}

// TestUnansweredOfferExplained: a pion peer that never answers. The
// offerer reports after 15 s of waiting, and the server names the cause:
// answer_never_sent, about the silent peer.
func TestUnansweredOfferExplained(t *testing.T) {
	p := parleyproc.Start(t, binary, nil, "--dev", "--listen", "127.0.0.1:0", "--no-turn", "--api-keys", apiKey)
	alice := join(t, p.URL(), "alice", webrtc.Configuration{})
	// bob is in the room but ignores every offer (no Accept).
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	silent, err := parley.Dial(ctx, p.URL(), parley.Options{Identity: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = silent.Close() })
	if _, err := silent.RoomJoin(ctx, &api.RoomJoinParams{RoomID: "lab"}); err != nil {
		t.Fatal(err)
	}
	alice.open(t, silent.Session().PeerID, "anyone?")
	x := explain(t, p, "lab", func(x api.DiagExplanation) bool { return len(x.Pairs) == 1 })
	if v := x.Pairs[0].Verdict; v.Result != api.DiagResultChecking || v.Cause != "answer_never_sent" || v.PeerID != silent.Session().PeerID {
		t.Fatalf("verdict %+v", v)
	}
}

// TestDeniedPeerExplained: alice relays only; bob offers direct
// candidates only (STUN, no TURN), on loopback, which --turn-deny-peer
// closes to relays. The TURN server refuses alice's permission to bob's
// address, and the server names it.
func TestDeniedPeerExplained(t *testing.T) {
	p := parleyproc.Start(t, binary, nil, "--dev", "--listen", "127.0.0.1:0", "--turn-listen", "127.0.0.1:0",
		"--turn-deny-peer", "127.0.0.0/8", "--api-keys", apiKey)
	turnAddrs := p.WaitTURN(t)
	alice := join(t, p.URL(), "alice", webrtc.Configuration{ICETransportPolicy: webrtc.ICETransportPolicyRelay})
	bob := join(t, p.URL(), "bob", webrtc.Configuration{ICEServers: []webrtc.ICEServer{{URLs: []string{"stun:" + turnAddrs.UDP}}}})
	alice.open(t, bob.client.Session().PeerID, "hi bob")
	x := explain(t, p, "lab", func(x api.DiagExplanation) bool {
		return len(x.Pairs) == 1 && x.Pairs[0].Verdict.Cause == "peer_address_denied_by_policy"
	})
	v := x.Pairs[0].Verdict
	if v.PeerID != alice.client.Session().PeerID || !strings.Contains(v.Explanation, "a permission to 127.0.0.1:") {
		t.Fatalf("verdict %+v", v)
	}
}
