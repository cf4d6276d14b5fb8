package server

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

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
	eventually(t, "TURN counters on /metrics", func() bool {
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
