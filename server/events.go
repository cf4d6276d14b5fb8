package server

import (
	"cmp"
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/server/signal"
	"github.com/parley-rtc/parley/webhook"
)

// Events for app backends: every event goes to the webhook.Dispatcher,
// which keeps the latest for admin.events.list and delivers them to the
// configured URLs (Standard Webhooks, in order per room).
//
// What the transport sees is published here: a session starts with
// session.connect and ends with its connection, or, detached, when its
// resume window has passed. The rest (room.*, peer.*, call.*) is the
// signaling core's to publish, through the webhook.Sink it is given.

// sessionEvents remembers the sessions whose session.started went out,
// with their start, so that each gets exactly one session.ended.
type sessionEvents struct {
	started sync.Map // session id → time.Time
}

// sessionStarted publishes session.started for a fresh session.
func (s *Server) sessionStarted(sess *signal.Ref) {
	s.sessionEvents.started.Store(sess.ID, s.now())
	s.events.Publish(webhook.SessionStarted, api.EventData{SessionID: sess.ID, PeerID: sess.PeerID, Identity: sess.Identity})
}

// connectionEnded runs when a connection that carried sess has closed
// (after connEnded): session.ended if the session ended with it (or
// before it: replaced, a resume gap); if the session waits for a resume,
// the question is asked again once its window has passed.
func (s *Server) connectionEnded(sess *signal.Ref, reason rpc.CloseReason) {
	switch s.stateOf(sess) {
	case "":
		s.sessionEnded(sess, reason.String())
	case api.SessionStateReconnecting:
		time.AfterFunc(s.cfg.Limits.ResumeWindow+time.Second, func() {
			if s.stateOf(sess) == "" {
				s.sessionEnded(sess, string(api.PeerLeftReasonTimeout))
			}
		})
	}
}

// sessionEnded publishes session.ended once per session.started.
func (s *Server) sessionEnded(sess *signal.Ref, reason string) {
	v, ok := s.sessionEvents.started.LoadAndDelete(sess.ID)
	if !ok {
		return
	}
	s.events.Publish(webhook.SessionEnded, api.EventData{
		SessionID: sess.ID, PeerID: sess.PeerID, Identity: sess.Identity,
		Reason: reason, DurationMs: s.now().Sub(v.(time.Time)).Milliseconds(),
	})
}

// stateOf is where sess stands in the core: connected, reconnecting
// (waiting for a resume), or "" once it has ended.
func (s *Server) stateOf(sess *signal.Ref) api.SessionState {
	info, err := s.core.SessionInfo(context.Background(), sess.ID)
	if err != nil {
		return ""
	}
	return info.State
}

// Paging bounds of admin.events.list.
const (
	defaultEventPage = 100
	maxEventPage     = 1000
)

// AdminEventsList returns retained events after a cursor.
func (s *Server) AdminEventsList(ctx context.Context, p *api.AdminEventsListParams) (*api.EventList, error) {
	if err := s.adminOf(ctx, api.MethodAdminEventsList); err != nil {
		return nil, err
	}
	events, more, oldest := s.events.List(p.After, min(cmp.Or(int(p.Limit), defaultEventPage), maxEventPage))
	return &api.EventList{Events: events, More: more, Oldest: oldest}, nil
}

var (
	webhookDelivered = prometheus.NewDesc("parley_webhook_delivered_total", "Webhook deliveries answered with a 2xx (per URL: an event sent to two URLs counts twice).", nil, nil)
	webhookFailed    = prometheus.NewDesc("parley_webhook_failed_total", "Webhook deliveries given up after --webhook-give-up-after of retries.", nil, nil)
	webhookRetried   = prometheus.NewDesc("parley_webhook_retries_total", "Webhook delivery attempts that failed and will be retried (same webhook-id).", nil, nil)
	webhookDropped   = prometheus.NewDesc("parley_webhook_dropped_total", "Webhook deliveries dropped from a full queue (--webhook-queue), oldest first.", nil, nil)
	webhookQueued    = prometheus.NewDesc("parley_webhook_queue_depth", "Webhook deliveries waiting now (in flight and retrying included), over every URL.", nil, nil)
	webhookLatency   = prometheus.NewDesc("parley_webhook_delivery_seconds", "Time from an event to its delivery's 2xx, retries included.", nil, nil)
)

// webhookCollector reads the dispatcher's counters at scrape time.
type webhookCollector struct{ d *webhook.Dispatcher }

func (c webhookCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{webhookDelivered, webhookFailed, webhookRetried, webhookDropped, webhookQueued, webhookLatency} {
		ch <- d
	}
}

func (c webhookCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.d.Stats()
	ch <- prometheus.MustNewConstMetric(webhookDelivered, prometheus.CounterValue, float64(st.Delivered))
	ch <- prometheus.MustNewConstMetric(webhookFailed, prometheus.CounterValue, float64(st.Failed))
	ch <- prometheus.MustNewConstMetric(webhookRetried, prometheus.CounterValue, float64(st.Retried))
	ch <- prometheus.MustNewConstMetric(webhookDropped, prometheus.CounterValue, float64(st.Dropped))
	ch <- prometheus.MustNewConstMetric(webhookQueued, prometheus.GaugeValue, float64(st.Queued))
	buckets := make(map[float64]uint64, len(webhook.LatencyBuckets))
	for i, b := range webhook.LatencyBuckets {
		buckets[b] = st.Latency.Counts[i]
	}
	ch <- prometheus.MustNewConstHistogram(webhookLatency, st.Latency.Count, st.Latency.SumSeconds, buckets)
}
