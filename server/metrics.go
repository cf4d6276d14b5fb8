package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/server/signal"
	"github.com/parley-rtc/parley/turn"
)

// newRegistry is the registry GET /metrics serves. It is the server's own,
// not Prometheus' global one, so that several servers (tests, embedders) can
// live in one process.
func (s *Server) newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	s.rpcMetrics = newRPCMetrics()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		turnCollector{s.turn},
		signalingCollector{s},
		webhookCollector{s.events},
		s.iceOutcomes,
	)
	s.rpcMetrics.register(reg)
	s.callMetrics = newCallMetrics()
	s.callMetrics.register(reg)
	s.clusterMetrics.register(reg, s)
	return reg
}

// callMetrics count calls (calls.go): each call once, when its setup
// concludes, and the time from invite to answer.
type callMetrics struct {
	calls *prometheus.CounterVec
	setup prometheus.Histogram
}

func newCallMetrics() *callMetrics {
	return &callMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_calls_total",
			Help: "Calls by how their setup concluded, each counted once: answered, busy (486), declined (603), canceled (487), timeout (408), offline (480: the callee had no session), unavailable (480: its ringing devices all went away).",
		}, []string{"outcome"}),
		setup: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_call_setup_seconds",
			Help:    "Time from call.invite to call.accept, for answered calls.",
			Buckets: []float64{.1, .25, .5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60, 120, 300},
		}),
	}
}

func (m *callMetrics) register(reg *prometheus.Registry) {
	for _, o := range signal.CallOutcomes {
		m.calls.WithLabelValues(o)
	}
	reg.MustRegister(m.calls, m.setup)
}

func (m *callMetrics) outcome(o string) {
	if m != nil && o != "" {
		m.calls.WithLabelValues(o).Inc()
	}
}

func (m *callMetrics) answered(took time.Duration) {
	if m != nil {
		m.outcome("answered")
		m.setup.Observe(took.Seconds())
	}
}

// rpcMetrics are updated on the request path, by the observe middleware.
// Labels are bounded: method names come from the schema (the middleware
// wraps registered methods only) and codes from its error table.
type rpcMetrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rateLimited prometheus.Counter
	sessions    *prometheus.CounterVec
	resumes     *prometheus.CounterVec
	// detachedEnded counts the detached sessions ended before their
	// window passed, by the cap they were over (detached.go).
	detachedEnded *prometheus.CounterVec
}

func newRPCMetrics() *rpcMetrics {
	return &rpcMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_rpc_requests_total",
			Help: "JSON-RPC requests answered, by method and code (0: success; else the error code).",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "parley_rpc_duration_seconds",
			Help:    "Time to answer a JSON-RPC request in the server (not the network), by method.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"method"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_rate_limited_requests_total",
			Help: "Requests refused with 429 (the connection's request rate, or a method's own limit).",
		}),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_sessions_total",
			Help: "session.connect answers (resumes included), by result (ok, or the error's reason such as unauthenticated or draining).",
		}, []string{"result"}),
		detachedEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_detached_sessions_ended_total",
			Help: "Dropped sessions ended before their resume window passed, by the cap they were over (address: --max-detached-per-ip, or --max-conns-per-ip when a new connection needed room; identity: --max-detached-per-identity).",
		}, []string{"cap"}),
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_resumes_total",
			Help: "session.connect with resume, by result (ok; session_not_found: the window passed; resume_gap: the missed notifications were no longer buffered; unauthenticated: a wrong token).",
		}, []string{"result"}),
	}
}

func (m *rpcMetrics) register(reg *prometheus.Registry) {
	// Series exist from the start, so dashboards and rate() see a zero
	// before the first event instead of no data.
	m.sessions.WithLabelValues("ok")
	m.resumes.WithLabelValues("ok")
	m.detachedEnded.WithLabelValues(signal.CapAddress)
	m.detachedEnded.WithLabelValues(signal.CapIdentity)
	reg.MustRegister(m.requests, m.duration, m.rateLimited, m.sessions, m.resumes, m.detachedEnded)
}

// resumed counts a resume's outcome.
func (m *rpcMetrics) resumed(err error) {
	result := "ok"
	if err != nil {
		result = "internal_error"
		if e := rpc.AsError(err); e != nil {
			result = errorReason(e)
		}
	}
	m.resumes.WithLabelValues(result).Inc()
}

// observe is the outermost middleware: it times and counts every answer,
// including those the inner middleware refuses (rate limit, no session).
// The success series are looked up once per method, at registration.
func (m *rpcMetrics) observe(method string, next rpc.MethodFunc) rpc.MethodFunc {
	ok := m.requests.WithLabelValues(method, "0")
	took := m.duration.WithLabelValues(method)
	connect := method == api.MethodSessionConnect
	return func(ctx context.Context, params jsontext.Value) (any, error) {
		start := time.Now()
		res, err := next(ctx, params)
		took.Observe(time.Since(start).Seconds())
		if err == nil {
			ok.Inc()
			if connect {
				m.sessions.WithLabelValues("ok").Inc()
			}
			return res, nil
		}
		code, reason := int64(rpc.CodeInternalError), "internal_error"
		if e := rpc.AsError(err); e != nil {
			code, reason = e.Code, errorReason(e)
		}
		m.requests.WithLabelValues(method, strconv.FormatInt(code, 10)).Inc()
		if code == api.CodeRateLimited {
			m.rateLimited.Inc()
		}
		if connect {
			m.sessions.WithLabelValues(reason).Inc()
		}
		return nil, err
	}
}

// errorReason is the bounded label for an error: its schema reason token,
// or the JSON-RPC class for protocol errors (whose data.reason is free text).
func errorReason(e *rpc.Error) string {
	if d, ok := e.Data.(*api.ErrorData); ok && e.Code > 0 {
		return d.Reason
	}
	if e.Code == rpc.CodeInvalidParams {
		return "invalid_params"
	}
	return "error_" + strconv.FormatInt(e.Code, 10)
}

var (
	sessionsActive  = prometheus.NewDesc("parley_sessions_active", "Sessions on this node now, by state (connected, or reconnecting: waiting for a resume).", []string{"state"}, nil)
	connectionsOpen = prometheus.NewDesc("parley_connections_active", "WebSocket connections open now (with or without a session).", nil, nil)
	connsClosed     = prometheus.NewDesc("parley_connections_closed_total", "WebSocket connections ended, by reason (slow_consumer: its outbound queue filled, it fell behind a burst; write_timeout: a write timed out, it stopped reading; see the README for the close codes).", []string{"reason"}, nil)
	roomsActive     = prometheus.NewDesc("parley_rooms_active", "Rooms open now.", nil, nil)
	roomPeers       = prometheus.NewDesc("parley_room_peers", "Rooms by their number of peers, at scrape time.", nil, nil)
	notesSent       = prometheus.NewDesc("parley_notifications_sent_total", "Notifications queued to clients.", nil, nil)
	notesDropped    = prometheus.NewDesc("parley_notifications_dropped_total", "Notifications not queued, by reason (queue_full: the client was cut off as a slow consumer; closed: its connection was closing).", []string{"reason"}, nil)
	replayNotes     = prometheus.NewDesc("parley_replay_buffered_notifications", "Notifications kept in sessions' replay buffers for a resume now: not yet acknowledged with session.ack, within --replay-messages per session.", nil, nil)
	replayBytes     = prometheus.NewDesc("parley_replay_buffered_bytes", "Bytes of the notifications in parley_replay_buffered_notifications.", nil, nil)
	httpConns       = prometheus.NewDesc("parley_http_connections_active", "TCP connections the HTTP listener holds now, WebSockets included.", nil, nil)
	httpRefused     = prometheus.NewDesc("parley_http_connections_refused_total", "TCP connections closed as soon as accepted, by reason (per_ip: the address held --max-conns-per-ip; open_files: the process was near its open-file limit).", []string{"reason"}, nil)
	preAuthBytes    = prometheus.NewDesc("parley_preauth_bytes_total", "Bytes read from (in) and queued to (out) WebSocket connections before session.connect succeeded.", []string{"direction"}, nil)
)

// roomPeerBuckets are the upper bounds of parley_room_peers.
var roomPeerBuckets = []float64{1, 2, 3, 4, 6, 8, 12, 16, 32, 64, 128, 1024}

// signalingCollector reads the signaling state at scrape time: the request
// path pays nothing for gauges it can count when asked.
type signalingCollector struct{ s *Server }

func (c signalingCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sessionsActive, connectionsOpen, connsClosed, roomsActive, roomPeers, notesSent, notesDropped, replayNotes, replayBytes, preAuthBytes, httpConns, httpRefused} {
		ch <- d
	}
}

func (c signalingCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	s.connsMu.Lock()
	conns, tcp := len(s.conns), 0
	for _, n := range s.perIP {
		tcp += n
	}
	s.connsMu.Unlock()
	ch <- prometheus.MustNewConstMetric(connectionsOpen, prometheus.GaugeValue, float64(conns))
	ch <- prometheus.MustNewConstMetric(httpConns, prometheus.GaugeValue, float64(tcp))
	ch <- prometheus.MustNewConstMetric(httpRefused, prometheus.CounterValue, float64(s.refusedConns.perIP.Load()), "per_ip")
	ch <- prometheus.MustNewConstMetric(httpRefused, prometheus.CounterValue, float64(s.refusedConns.files.Load()), "open_files")
	n := s.core.Count(context.Background())
	ch <- prometheus.MustNewConstMetric(sessionsActive, prometheus.GaugeValue, float64(n.Attached), "connected")
	ch <- prometheus.MustNewConstMetric(sessionsActive, prometheus.GaugeValue, float64(n.Detached), "reconnecting")
	ch <- prometheus.MustNewConstMetric(replayNotes, prometheus.GaugeValue, float64(n.ReplayFrames))
	ch <- prometheus.MustNewConstMetric(replayBytes, prometheus.GaugeValue, float64(n.ReplayBytes))
	for _, r := range rpc.CloseReasons() {
		ch <- prometheus.MustNewConstMetric(connsClosed, prometheus.CounterValue, float64(s.rpcStats.Closes(r)), r.String())
	}
	st := &s.rpcStats
	ch <- prometheus.MustNewConstMetric(notesSent, prometheus.CounterValue, float64(st.Notifications.Load()))
	ch <- prometheus.MustNewConstMetric(notesDropped, prometheus.CounterValue, float64(st.DroppedQueueFull.Load()), "queue_full")
	ch <- prometheus.MustNewConstMetric(notesDropped, prometheus.CounterValue, float64(st.DroppedClosed.Load()), "closed")
	ch <- prometheus.MustNewConstMetric(preAuthBytes, prometheus.CounterValue, float64(st.PreAuthBytesIn.Load()), "in")
	ch <- prometheus.MustNewConstMetric(preAuthBytes, prometheus.CounterValue, float64(st.PreAuthBytesOut.Load()), "out")

	buckets := make(map[float64]uint64, len(roomPeerBuckets))
	var rooms, peers uint64
	for _, n := range s.core.RoomSizes(context.Background()) {
		rooms++
		peers += uint64(n)
		for _, b := range roomPeerBuckets {
			if float64(n) <= b {
				buckets[b]++
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(roomsActive, prometheus.GaugeValue, float64(rooms))
	ch <- prometheus.MustNewConstHistogram(roomPeers, rooms, float64(peers), buckets)
}

// MetricsHandler serves GET /metrics: on the main listener, or on
// --metrics-listen (which the binary serves itself).
func (s *Server) MetricsHandler() http.Handler {
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
