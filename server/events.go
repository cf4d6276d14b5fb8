package server

import (
	"cmp"
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/webhook"
)

// Events for app backends are the signaling core's: it publishes them in
// the transactions that make them happen, and the store numbers them in
// its commit (package signal, events.go). On one node the memory store
// hands them to the webhook.Dispatcher, which keeps the latest for
// admin.events.list and delivers them to the configured URLs (Standard
// Webhooks, in order per room). In a cluster they are the Redis store's
// events stream: admin.events.list reads it, and for each URL one node at
// a time delivers from it (webhook.Journal).

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
	limit := min(cmp.Or(int(p.Limit), defaultEventPage), maxEventPage)
	if s.redis != nil {
		events, more, oldest, err := s.redis.Events().List(ctx, p.After, limit)
		if err != nil {
			return nil, s.core.StoreError("read", err)
		}
		return &api.EventList{Events: events, More: more, Oldest: oldest}, nil
	}
	events, more, oldest := s.events.List(p.After, limit)
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
