package server

import (
	"fmt"
	"time"

	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/server/signal"
	"github.com/parley-rtc/parley/server/signal/memstore"
	"github.com/parley-rtc/parley/webhook"
)

// The signaling state machine is package signal's; the server builds it
// over a store, and gives it connections (connAdapter), a clock (the
// server's, which tests replace) and its metrics (observer).

// newCore builds the core over a memory store, or in cluster mode over
// the cluster's Redis.
func (s *Server) newCore() error {
	l := s.cfg.Limits
	clock := serverClock{s}
	cfg := signal.StoreConfig{
		Node:           s.cfg.NodeID,
		Clock:          clock,
		Encode:         rpc.AppendNotification,
		ReplayMessages: l.ReplayMessages,
		ReplayBytes:    l.ReplayBytes,
		EventRetain:    s.cfg.Webhook.Retain,
		Log:            s.log,
	}
	// Events: a single node's store hands them to the dispatcher as it
	// commits; a cluster's appends them to its stream, from which one node
	// per URL delivers them (webhook.Journal).
	hooks := s.cfg.Webhook
	hooks.Logger = s.log
	if s.cfg.clustered() {
		st, err := s.newRedisStore(cfg)
		if err != nil {
			return err
		}
		s.redis, s.store = st, st
		hooks.Journal = st.Events()
	}
	events, err := webhook.New(hooks)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	s.events = events
	if s.redis == nil {
		cfg.Events = events
		s.store = memstore.New(cfg)
	}
	s.diag = s.newDiagRecord()
	var refresh time.Duration
	if s.turn.on {
		refresh = s.refreshEvery()
	}
	s.core = signal.New(signal.Config{
		Limits:       l.Limits,
		Duplicate:    s.cfg.DuplicateIdentity,
		Node:         s.cfg.NodeID,
		Cluster:      s.redis != nil,
		Clock:        clock,
		Log:          s.log,
		Observer:     observer{s},
		ICEServers:   s.iceServers,
		RefreshEvery: refresh,
	}, s.store)
	if s.redis != nil {
		s.redis.SetReaper(s.core.Reap)
	}
	return nil
}

// serverClock is s.now (which tests set) with the system's timers.
type serverClock struct{ s *Server }

func (c serverClock) Now() time.Time { return c.s.now() }

func (serverClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// connAdapter is an rpc.Conn as the core reaches it.
type connAdapter struct{ *rpc.Conn }

func (c connAdapter) Attached()                  { c.Authenticated() }
func (c connAdapter) Deliver(frame []byte) error { return c.NotifyRaw(frame) }

func (c connAdapter) Close(reason signal.CloseReason, text string) {
	switch reason {
	case signal.CloseReplaced:
		c.Conn.Close(rpc.CloseReplaced, text)
	case signal.CloseMigrate:
		c.Conn.Close(rpc.CloseResumeElsewhere, text)
	default:
		c.Conn.Close(rpc.CloseInternal, text)
	}
}

// observer counts what the core does.
type observer struct{ s *Server }

func (o observer) CallOutcome(outcome string)      { o.s.callMetrics.outcome(outcome) }
func (o observer) CallAnswered(took time.Duration) { o.s.callMetrics.answered(took) }
func (o observer) DetachedEnded(cap string) {
	o.s.rpcMetrics.detachedEnded.WithLabelValues(cap).Inc()
}
func (o observer) Reaped(n int) { o.s.clusterMetrics.reaped(n) }

// minRefresh bounds how often a session's ICE servers are refreshed,
// whatever the credential TTL.
const minRefresh = time.Second

// refreshEvery is the period of ice.serversRefreshed: half the TURN
// credential TTL, so fresh credentials arrive long before the old expire.
func (s *Server) refreshEvery() time.Duration {
	return max(s.cfg.TURN.CredentialTTL/2, minRefresh)
}
