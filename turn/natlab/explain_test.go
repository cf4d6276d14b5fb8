package natlab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/clients/go/parley"
	"github.com/parley-rtc/parley/clients/go/parley/webrtcpeer"
	"github.com/parley-rtc/parley/internal/testkit"
	"github.com/parley-rtc/parley/turn/nattype"
)

// The explain case (issue 15): two pion peers, each behind its NAT in the
// lab, signal through Parley (on the lab's "Internet", their NATs in the
// way of the WebSocket too) and report what their PeerConnections saw
// (webrtcpeer's diag.report). A pair the table says cannot punch, with
// TURN withheld (STUN only), fails and is explained as
// both_sides_direct_only_behind_symmetric_nat; the same pair with the
// session's ICE servers (Parley's TURN) connects through a relay, and the
// explanation says so.

// labKey signs the probes' tokens: clients behind the lab's NATs are not
// on loopback, where --dev accepts bare identities.
const labKey = "lab:natlabnatlabnatlabnatlabnatlabnatlab"

// wsURL is Parley's WebSocket as the lab's clients reach it.
var wsURL = "ws://" + srvIP + ":7880/rpc"

func testExplain(t *testing.T, l *lab, port int) {
	pair := [2]string{"sym", "sym"}
	if nattype.Direct(labTypes[pair[0]], labTypes[pair[1]]) {
		t.Fatalf("the table says %s ↔ %s punches through; the case needs a pair that cannot", pair[0], pair[1])
	}
	l.setNAT(t, "a", pair[0], port)
	l.setNAT(t, "b", pair[1], port)
	for _, tc := range []struct {
		name   string
		turn   bool
		result api.DiagResult
		cause  string
		says   string
	}{
		{"stun-only", false, api.DiagResultFailed, "both_sides_direct_only_behind_symmetric_nat", "both sides are behind NAT and offered direct candidates only"},
		{"with-turn", true, api.DiagResultConnected, "none", "connected through TURN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			room := "explain-" + tc.name
			start := time.Now()
			outs := both(t, func(side string) (string, error) {
				return l.helper(context.Background(), "c"+side, "peer", "-name="+side, "-url="+wsURL, "-room="+room,
					fmt.Sprint("-turn=", tc.turn), "-window=45s")
			})
			var x api.DiagExplanation
			if err := json.Unmarshal([]byte(outs[0]), &x); err != nil || len(x.Pairs) != 1 {
				t.Fatalf("side a's explanation: %v: %s", err, outs[0])
			}
			v := x.Pairs[0].Verdict
			t.Logf("%s ↔ %s %s: %s in %s: %s (%s)", pair[0], pair[1], tc.name, v.Result, time.Since(start).Round(time.Millisecond), v.Cause, v.Explanation)
			if v.Result != tc.result || v.Cause != tc.cause || !strings.Contains(v.Explanation, tc.says) {
				t.Fatalf("verdict %+v; want %s, %s, saying %q", v, tc.result, tc.cause, tc.says)
			}
			for _, s := range []api.DiagSide{x.Pairs[0].A, x.Pairs[0].B} {
				r := s.Report
				if r.Local == nil || r.Local.Srflx == 0 {
					t.Errorf("%s gathered no server-reflexive candidate behind its NAT: %+v", s.Identity, r.Local)
				}
				if tc.turn && (r.SelectedPair == nil || r.SelectedPair.Local.Type != api.DiagCandidateTypeRelay && r.SelectedPair.Remote.Type != api.DiagCandidateTypeRelay) {
					t.Errorf("%s connected, but not through a relay: %+v", s.Identity, r.SelectedPair)
				}
				if !tc.turn && r.Local.Relay != 0 {
					t.Errorf("%s has relay candidates with TURN withheld: %+v", s.Identity, r.Local)
				}
			}
		})
	}
}

// probePeer joins room as identity name through Parley at url and makes
// a WebRTC data channel with the room's other peer (side a offers). With
// turn it uses the session's ICE servers (Parley's STUN and TURN), else
// Parley's STUN alone. Once its PeerConnection connected or failed, it
// waits for admin.diag.explain to hold both sides' reports of that outcome
// and prints the explanation.
func probePeer(name, url, room string, turn bool, window time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	kid, secret, _ := strings.Cut(labKey, ":")
	token := testkit.SignHS256(kid, secret, fmt.Sprintf(`{"sub":%q,"exp":%d,"admin":true}`, name, time.Now().Add(time.Hour).Unix()))
	c, err := parley.Dial(ctx, url, parley.Options{Token: token})
	if err != nil {
		return fmt.Errorf("dial %s: %w", url, err)
	}
	defer c.Close()
	var cfg webrtc.Configuration
	if !turn {
		cfg.ICEServers = []webrtc.ICEServer{{URLs: []string{fmt.Sprintf("stun:%s:%d", srvIP, srvPort)}}}
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIPFilter(func(ip net.IP) bool { return !ip.IsLoopback() })
	// A pair that cannot connect fails within seconds, not pion's 30.
	se.SetICETimeouts(2*time.Second, 4*time.Second, time.Second)
	mgr := webrtcpeer.New(c, room, webrtcpeer.Options{Configuration: cfg, API: webrtc.NewAPI(webrtc.WithSettingEngine(se)), Accept: func(*webrtcpeer.Peer) {}})
	defer mgr.Close()
	if _, err := c.RoomJoin(ctx, &api.RoomJoinParams{RoomID: room, Create: true}); err != nil {
		return fmt.Errorf("join %s: %w", room, err)
	}
	var remote string
	for remote == "" {
		info, err := c.RoomGet(ctx, &api.RoomGetParams{RoomID: room})
		if err != nil {
			return err
		}
		for _, p := range info.Peers {
			if p.PeerID != c.Session().PeerID {
				remote = p.PeerID
			}
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return errors.New("the other side never joined")
		}
	}
	if name == "a" {
		p, err := mgr.Add(remote)
		if err != nil {
			return err
		}
		if _, err := p.PC().CreateDataChannel("lab", nil); err != nil {
			return err
		}
	}
	// Wait for the PeerConnection's outcome, then for both reports of it.
	var outcome api.DiagTrigger
	for outcome == "" {
		if p := mgr.Peer(remote); p != nil {
			switch p.PC().ConnectionState() {
			case webrtc.PeerConnectionStateConnected:
				outcome = api.DiagTriggerConnected
			case webrtc.PeerConnectionStateFailed:
				outcome = api.DiagTriggerFailed
			}
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return errors.New("the peer connection neither connected nor failed")
		}
	}
	for {
		x, err := c.AdminDiagExplain(ctx, &api.AdminDiagExplainParams{RoomID: room})
		if err == nil && len(x.Pairs) == 1 && reportedAs(x.Pairs[0], outcome) {
			out, err := json.Marshal(x)
			if err != nil {
				return err
			}
			fmt.Println(string(out))
			return nil
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return fmt.Errorf("admin.diag.explain never held both sides' %s reports (last: %v %+v)", outcome, err, x)
		}
	}
}

// reportedAs: both sides of p reported trigger.
func reportedAs(p api.DiagPair, trigger api.DiagTrigger) bool {
	return p.A.Report != nil && p.B.Report != nil && p.A.Report.Trigger == trigger && p.B.Report.Trigger == trigger
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
