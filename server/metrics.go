package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parley-rtc/parley/turn"
)

// newRegistry is the registry GET /metrics serves. It is the server's own,
// not Prometheus' global one, so that several servers (tests, embedders) can
// live in one process.
func (s *Server) newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		turnCollector{s.turn},
	)
	return reg
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{})
}

// turnMetric is one time series read from turn.Stats at scrape time.
type turnMetric struct {
	desc   *prometheus.Desc
	kind   prometheus.ValueType
	labels []string
	value  func(turn.Stats) float64
}

func turnDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	relayedPackets = turnDesc("parley_turn_relayed_packets_total", "Datagrams relayed, by direction (to_peer: client → peer; from_peer: peer → client).", "direction")
	relayedBytes   = turnDesc("parley_turn_relayed_bytes_total", "Payload bytes relayed, by direction.", "direction")
	bindingAnswers = turnDesc("parley_stun_binding_responses_total", "STUN Binding responses sent, by result (success; error: 400/420).", "result")
)

// turnMetrics are the STUN/TURN counters. Labels are bounded enums: never
// usernames, identities or addresses.
var turnMetrics = []turnMetric{
	{turnDesc("parley_turn_allocations_active", "TURN allocations open now."), prometheus.GaugeValue, nil,
		func(s turn.Stats) float64 { return float64(s.AllocationsActive) }},
	{turnDesc("parley_turn_allocations_created_total", "TURN allocations created."), prometheus.CounterValue, nil,
		func(s turn.Stats) float64 { return float64(s.AllocationsTotal) }},
	{relayedPackets, prometheus.CounterValue, []string{"to_peer"}, func(s turn.Stats) float64 { return float64(s.PacketsToPeers) }},
	{relayedPackets, prometheus.CounterValue, []string{"from_peer"}, func(s turn.Stats) float64 { return float64(s.PacketsFromPeers) }},
	{relayedBytes, prometheus.CounterValue, []string{"to_peer"}, func(s turn.Stats) float64 { return float64(s.BytesToPeers) }},
	{relayedBytes, prometheus.CounterValue, []string{"from_peer"}, func(s turn.Stats) float64 { return float64(s.BytesFromPeers) }},
	{turnDesc("parley_turn_auth_failures_total", "TURN requests whose credentials were refused (wrong, expired or unknown)."), prometheus.CounterValue, nil,
		func(s turn.Stats) float64 { return float64(s.AuthFailures) }},
	{turnDesc("parley_turn_unauthorized_suppressed_total", "401 replies not sent because the source IP was over its rate."), prometheus.CounterValue, nil,
		func(s turn.Stats) float64 { return float64(s.Unauthorized) }},
	{turnDesc("parley_turn_denied_peers_total", "Permissions, channels or datagrams refused by the relay policy (anti-SSRF)."), prometheus.CounterValue, nil,
		func(s turn.Stats) float64 { return float64(s.DeniedPeers) }},
	{turnDesc("parley_turn_quota_rejections_total", "Allocations or permissions refused by a quota (486, 508)."), prometheus.CounterValue, nil,
		func(s turn.Stats) float64 { return float64(s.QuotaHits) }},
	{turnDesc("parley_turn_bandwidth_dropped_packets_total", "Datagrams dropped by the per-allocation bandwidth cap."), prometheus.CounterValue, nil,
		func(s turn.Stats) float64 { return float64(s.BandwidthDrops) }},
	{turnDesc("parley_turn_streams_refused_total", "TCP/TLS connections closed at once because their address held its cap of streams."), prometheus.CounterValue, nil,
		func(s turn.Stats) float64 { return float64(s.StreamsRefused) }},
	{bindingAnswers, prometheus.CounterValue, []string{"success"}, func(s turn.Stats) float64 { return float64(s.Binding.Answered) }},
	{bindingAnswers, prometheus.CounterValue, []string{"error"}, func(s turn.Stats) float64 { return float64(s.Binding.Rejected) }},
	{turnDesc("parley_stun_malformed_total", "Datagrams that looked like a STUN Binding request but did not decode."), prometheus.CounterValue, nil,
		func(s turn.Stats) float64 { return float64(s.Binding.Malformed) }},
}

// turnCollector reads the STUN/TURN counters at scrape time, so the relay
// path only ever increments atomics. Without TURN it reports nothing.
type turnCollector struct{ t *turnState }

func (c turnCollector) Describe(ch chan<- *prometheus.Desc) {
	seen := map[*prometheus.Desc]bool{}
	for _, m := range turnMetrics {
		if !seen[m.desc] {
			seen[m.desc] = true
			ch <- m.desc
		}
	}
}

func (c turnCollector) Collect(ch chan<- prometheus.Metric) {
	srv := c.t.srv
	if srv == nil {
		return
	}
	st := srv.Stats()
	for _, m := range turnMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(st), m.labels...)
	}
}
