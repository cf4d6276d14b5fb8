package server

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/parley-rtc/parley/internal/testkit"
)

// expectSeries checks that each of want's series was scraped with its value.
func expectSeries(t *testing.T, got, want map[string]float64) {
	t.Helper()
	for name, w := range want {
		if v, ok := got[name]; !ok || v != w {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, w)
		}
	}
}

// scrape GETs /metrics and returns every sample as "name{labels}" → value.
func scrape(t *testing.T, ts *testServer) map[string]float64 {
	t.Helper()
	res, err := http.Get(ts.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", res.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				out[name+"_count"+labelString(m)] = float64(h.GetSampleCount())
				out[name+"_sum"+labelString(m)] = h.GetSampleSum()
				continue
			}
			out[name+labelString(m)] = value(m)
		}
	}
	return out
}

func labelString(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// TestTURNMetrics: two allocations relaying to each other, a refused
// credential and a denied peer show up on /metrics, and no sample carries
// a username or identity.
func TestTURNMetrics(t *testing.T) {
	ts := startServer(t)
	alice := ts.connect(t, "alice")
	servers := iceServersOf(t, alice)
	udp := turnAddr(t, servers.URLs, "turn:", "?transport=udp")
	ca, ra := turnAllocate(t, "udp", udp, servers.Username, servers.Credential)
	cb, rb := turnAllocate(t, "udp", udp, servers.Username, servers.Credential)
	relayOnce(t, ca, cb, ra, rb, "metrics")
	if err := ca.CreatePermission(&net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 9}); err == nil {
		t.Fatal("permission to 10.0.0.1 granted")
	}
	if _, err := turnClient(t, "udp", udp, servers.Username, "wrong").Allocate(); err == nil {
		t.Fatal("allocation with a wrong password succeeded")
	}

	var got map[string]float64
	testkit.Eventually(t, "TURN counters on /metrics", func() bool {
		got = scrape(t, ts)
		return got["parley_turn_relayed_packets_total{direction=to_peer}"] >= 1 &&
			got["parley_turn_relayed_packets_total{direction=from_peer}"] >= 1
	})
	for name, min := range map[string]float64{
		"parley_turn_allocations_active":                      2,
		"parley_turn_allocations_created_total":               2,
		"parley_turn_relayed_bytes_total{direction=to_peer}":  float64(len("metrics")),
		"parley_turn_denied_peers_total":                      1,
		"parley_turn_auth_failures_total":                     1,
		"parley_stun_binding_responses_total{result=success}": 0,
		"go_goroutines":                 1,
		"process_resident_memory_bytes": 1,
	} {
		v, ok := got[name]
		if !ok || v < min {
			t.Errorf("%s = %v (present %v), want ≥ %v", name, v, ok, min)
		}
	}
	for name := range got {
		if strings.Contains(name, "alice") {
			t.Errorf("sample %s carries an identity", name)
		}
	}
	if problems, err := testutil.GatherAndLint(ts.srv.metrics); err != nil || len(problems) > 0 {
		t.Errorf("metrics lint: %v %+v", err, problems)
	}
}

// TestSignalingMetrics scripts a session (two peers, a room, a relayed
// candidate, refused requests) and checks the series it must leave, exactly
// where the script decides the value; then promtool checks the exposition.
func TestSignalingMetrics(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.connect(t, "alice"), ts.connect(t, "bob")
	alice.must("room.join", map[string]any{"roomId": "m", "create": true})
	bob.must("room.join", map[string]any{"roomId": "m"})
	alice.expect("room.peerJoined")
	alice.must("sdp.offer", map[string]any{"roomId": "m", "to": bob.peerID, "sdp": sampleSDP})
	bob.expect("sdp.offer")
	alice.must("ice.candidate", map[string]any{"roomId": "m", "to": bob.peerID, "candidate": map[string]any{
		"candidate": "candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host", "sdpMid": "0"}})
	bob.expect("ice.candidate")
	_, err := alice.Call("room.join", map[string]any{"roomId": "bad room"})
	rpcError(t, err, -32602, "roomId")
	_, err = alice.Call("room.leave", map[string]any{"roomId": "nope"})
	rpcError(t, err, 404, "nope")
	_, err = ts.dial(t, nil).Call("session.connect", map[string]any{"token": "not-a-jwt"})
	rpcError(t, err, 401, "token")
	_, err = ts.dial(t, nil).Call("session.connect", map[string]any{"identity": "alice",
		"resume": map[string]any{"sessionId": "gone", "resumeToken": "t", "lastSeq": 0}})
	rpcError(t, err, 404, "gone")

	got := scrape(t, ts)
	expectSeries(t, got, map[string]float64{
		"parley_sessions_total{result=ok}":                           2,
		"parley_sessions_total{result=unauthenticated}":              1,
		"parley_sessions_total{result=session_not_found}":            1,
		"parley_resumes_total{result=session_not_found}":             1,
		"parley_sessions_active{state=connected}":                    2,
		"parley_sessions_active{state=reconnecting}":                 0,
		"parley_rpc_requests_total{code=0,method=session.connect}":   2,
		"parley_rpc_requests_total{code=401,method=session.connect}": 1,
		"parley_rpc_requests_total{code=0,method=room.join}":         2,
		"parley_rpc_requests_total{code=-32602,method=room.join}":    1,
		"parley_rpc_requests_total{code=404,method=room.leave}":      1,
		"parley_rpc_requests_total{code=0,method=ice.candidate}":     1,
		"parley_rpc_requests_total{code=0,method=sdp.offer}":         1,
		"parley_rpc_duration_seconds_count{method=ice.candidate}":    1,
		"parley_rooms_active":                                        1,
		"parley_room_peers_count":                                    1,
		"parley_room_peers_sum":                                      2,
		"parley_notifications_sent_total":                            3, // peerJoined to alice, sdp.offer and ice.candidate to bob
		"parley_notifications_dropped_total{reason=queue_full}":      0,
		"parley_rate_limited_requests_total":                         0,
		"parley_replay_buffered_notifications":                       3, // the same three, kept for a resume
	})
	// bob acknowledges his two: only alice's one is kept.
	bob.must("session.ack", map[string]any{"seq": 2})
	before := got["parley_replay_buffered_bytes"]
	got = scrape(t, ts)
	if n, b := got["parley_replay_buffered_notifications"], got["parley_replay_buffered_bytes"]; n != 1 || b <= 0 || b >= before {
		t.Errorf("after bob's ack: %v notifications, %v bytes kept (%v before); want 1, fewer bytes", n, b, before)
	}

	_ = bob.Close()
	testkit.Eventually(t, "bob's closed connection on /metrics", func() bool {
		got = scrape(t, ts)
		// alice and the two refused connections remain: a failed session.connect may be retried.
		return got["parley_connections_closed_total{reason=peer_gone}"] == 1 && got["parley_connections_active"] == 3 &&
			got["parley_sessions_active{state=reconnecting}"] == 1 // bob's seat waits for a resume
	})
	for name := range got {
		if strings.Contains(name, "alice") || strings.Contains(name, "room=") || strings.Contains(name, bob.peerID) {
			t.Errorf("sample %s carries an identity, room or peer id", name)

		}
	}
	promtoolCheck(t, ts)
}

// TestRateLimitedMetric: every 429 answered is counted once.
func TestRateLimitedMetric(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Limits.RateBurst, c.Limits.RatePerSecond = 3, 0.001 })
	p := ts.connect(t, "carol") // takes one token of the burst
	refused := 0
	for range 5 { // 2 answered, 3 refused: one more would close the connection (4029)
		if _, err := p.Call("ice.servers", map[string]any{}); err != nil {
			rpcError(t, err, 429, "too many requests")
			refused++
		}
	}
	got := scrape(t, ts)
	if refused == 0 || got["parley_rate_limited_requests_total"] != float64(refused) ||
		got["parley_rpc_requests_total{code=429,method=ice.servers}"] != float64(refused) {
		t.Fatalf("%d requests refused; rate_limited_requests_total = %v, requests{code=429} = %v", refused,
			got["parley_rate_limited_requests_total"], got["parley_rpc_requests_total{code=429,method=ice.servers}"])
	}
}

// promtoolCheck runs Debian's promtool over the server's /metrics output.
func promtoolCheck(t *testing.T, ts *testServer) {
	t.Helper()
	promtool := testkit.Tool(t, "promtool", "prometheus")
	res, err := http.Get(ts.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = res.Body
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestDashboardSeriesExist: every parley_* series the Grafana dashboard
// (deploy/grafana/parley.json) queries is one the server exports.
func TestDashboardSeriesExist(t *testing.T) {
	dashboard, err := os.ReadFile("../deploy/grafana/parley.json")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t)
	ts.connect(t, "alice")
	res, err := http.Get(ts.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`parley_[a-z0-9_]+`).FindAllString(string(dashboard), -1)
	if len(used) == 0 {
		t.Fatal("the dashboard queries no parley_* series")
	}
	for _, name := range used {
		family := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && families[base] != nil {
				family = base
			}
		}
		if families[family] == nil {
			t.Errorf("the dashboard queries %s, which /metrics does not export", name)
		}
	}
}
