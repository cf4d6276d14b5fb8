package server

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/server/signal"
	"github.com/parley-rtc/parley/server/signal/redisstore"
)

// Cluster mode: with --redis-url the signaling state lives in Redis
// (package redisstore), shared by every node that names the same Redis:
// a client may connect to any node, and a session resumes on any of them.
// TURN stays per node.

// Redis is where a cluster keeps its state.
type Redis struct {
	URL            string   `koanf:"url" usage:"cluster mode: keep the signaling state in this Redis (7.0+ or Valkey; redis://[user:password@]host:port/db, rediss:// for TLS), shared by every node given the same; one primary (Sentinel allowed), not Redis Cluster"`
	SentinelMaster string   `koanf:"sentinel-master" usage:"find the Redis primary through Sentinel under this master name (the URL still gives the database, credentials and TLS)"`
	SentinelAddrs  []string `koanf:"sentinel-addrs" usage:"the Sentinels' host:port addresses, with --redis-sentinel-master"`
}

// clustered reports whether the node runs in cluster mode.
func (c *Config) clustered() bool { return c.Redis.URL != "" }

// nodeIDPattern bounds node ids: they name keys and wake-up channels.
var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

// validateCluster checks the cluster settings.
func (c *Config) validateCluster(bad func(key, format string, args ...any)) {
	if c.NodeID != "" && !nodeIDPattern.MatchString(c.NodeID) {
		bad("node-id", "%q: letters, digits, dots, dashes and underscores, at most 100", c.NodeID)
	}
	r := c.Redis
	if r.URL == "" {
		if r.SentinelMaster != "" || len(r.SentinelAddrs) > 0 {
			bad("redis.url", "Sentinel settings need --redis-url (for the database, credentials and TLS)")
		}
		return
	}
	if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		bad("redis.url", "%q is not a redis:// or rediss:// URL", r.URL)
		return
	}
	if _, err := redisstore.ParseURL(r.URL, r.SentinelMaster, r.SentinelAddrs); err != nil {
		bad("redis.url", "%v", err)
	}
	if len(r.SentinelAddrs) > 0 && r.SentinelMaster == "" {
		bad("redis.sentinel-master", "--redis-sentinel-addrs needs the master's name")
	}
}

// defaultNodeID is the host's name and a random suffix: a restarted node
// is a new node (its predecessor's sessions were reaped or handed over).
func defaultNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "parley"
	}
	host = strings.Map(func(r rune) rune {
		if r < 128 && (r == '.' || r == '-' || r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return r
		}
		return '-'
	}, host)
	return fmt.Sprintf("%.80s-%s", host, signal.NewID(6))
}

// newRedisStore opens this node's view of the cluster's state.
func (s *Server) newRedisStore(cfg signal.StoreConfig) (*redisstore.Store, error) {
	r := s.cfg.Redis
	opts, err := redisstore.ParseURL(r.URL, r.SentinelMaster, r.SentinelAddrs)
	if err != nil {
		return nil, err
	}
	s.clusterMetrics = newClusterMetrics()
	start, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := redisstore.New(start, redisstore.Config{
		StoreConfig: cfg,
		Redis:       opts,
		Describe: func() redisstore.NodeInfo {
			return redisstore.NodeInfo{Version: s.cfg.Version, StartedAt: s.started.UnixMilli(), Draining: s.draining.Load()}
		},
		Observer: s.clusterMetrics,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster mode: %w", err)
	}
	st.OnReaped(s.reaped)
	sweep, stop := context.WithCancel(context.Background())
	s.stopSweep = stop
	go s.sweepOrphans(sweep)
	return st, nil
}

// reaped: this node lost its lease and the cluster handed its sessions to
// other nodes; the store has closed their connections (4307). The node
// stops: Serve returns an error, and its supervisor starts a new node.
func (s *Server) reaped() {
	s.reapedOnce.Do(func() { close(s.reapedCh) })
}

// errReaped is what Serve returns when the cluster reaped this node.
var errReaped = errors.New("this node lost its lease and the cluster reaped its sessions (Redis was unreachable, or the node stopped, for longer than the lease); start it again")

// storeHealthy reports whether this node can serve: always on a single
// node; in a cluster, while it holds its lease.
func (s *Server) storeHealthy() error {
	if s.redis == nil {
		return nil
	}
	return s.redis.Healthy()
}

// migrateReplyGrace is how long the connection that asked for the drain
// keeps going before it migrates too: its answer goes out first.
const migrateReplyGrace = time.Second

// migrate closes every connection of this draining node with 4307: its
// sessions resume on other nodes (session.draining told them so). The
// asker's connection closes a moment later, after its answer.
func (s *Server) migrate(asker *rpc.Conn) {
	const text = "this node is draining: resume on another node"
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	for c := range s.conns {
		if c == asker {
			time.AfterFunc(migrateReplyGrace, func() { c.Close(rpc.CloseResumeElsewhere, text) })
			continue
		}
		c.Close(rpc.CloseResumeElsewhere, text)
	}
}

// orphanEvery is how often a node looks for sessions the cluster holds as
// attached to it without a connection here.
const orphanEvery = 30 * time.Second

// sweepOrphans detaches, every orphanEvery, the sessions attached to this
// node in the cluster's state that have had no connection here two sweeps
// in a row: their connection's end could not be written (Redis was away
// for longer than connEnded tries), and without this they would never
// time out.
func (s *Server) sweepOrphans(ctx context.Context) {
	tick := time.NewTicker(orphanEvery)
	defer tick.Stop()
	suspects := map[string]uint64{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		refs, err := s.core.Unconnected(ctx, func(id string) bool { return s.store.Conn(id) != nil })
		if err != nil {
			continue
		}
		next := make(map[string]uint64, len(refs))
		for _, ref := range refs {
			if gen, ok := suspects[ref.ID]; ok && gen == ref.Gen {
				s.log.Warn("session detached: it had no connection here", "session", ref.ID)
				_ = s.core.ConnEnded(ctx, &ref, true, "orphaned")
				continue
			}
			next[ref.ID] = ref.Gen
		}
		suspects = next
	}
}

// clusterNodes is admin.node.status's list of nodes.
func (s *Server) clusterNodes(ctx context.Context, st *api.NodeStatus) {
	if s.redis == nil {
		return
	}
	st.NodeID = s.cfg.NodeID
	nodes, err := s.redis.Nodes(ctx)
	if err != nil {
		s.log.Warn("admin.node.status: nodes not read", "err", err)
		return
	}
	st.Nodes = make([]api.ClusterNode, 0, len(nodes))
	for _, n := range nodes {
		st.Nodes = append(st.Nodes, api.ClusterNode{
			NodeID: n.ID, Alive: n.Alive, Draining: n.Info.Draining, Version: n.Info.Version,
			StartedAt: n.Info.StartedAt, Sessions: n.Sessions,
		})
	}
}

// clusterMetrics count what cluster mode does (nil on a single node).
// No label carries a user: commands are Redis' command names.
type clusterMetrics struct {
	commands   *prometheus.HistogramVec
	errors     *prometheus.CounterVec
	reconnects prometheus.Counter
	catchUps   *prometheus.CounterVec
	conflicts  prometheus.Counter
	reapedN    prometheus.Counter
	nodes      *prometheus.Desc
}

func newClusterMetrics() *clusterMetrics {
	return &clusterMetrics{
		commands: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "parley_redis_command_duration_seconds",
			Help:    "Cluster mode: time of each Redis command (or pipeline) this node sent, by command (evalsha: a transaction's commit).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"command"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_redis_errors_total",
			Help: "Cluster mode: Redis commands that failed (Redis unreachable, a timeout), by command.",
		}, []string{"command"}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_redis_reconnects_total",
			Help: "Cluster mode: times this node's pub/sub connection to Redis came back; each catches up every session attached here from its log.",
		}),
		catchUps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_redis_catchup_frames_total",
			Help: "Cluster mode: notifications delivered from a session's log rather than from a commit of this node, by why: hint (another node's commit), reconnect, check (a hint lost), gap, attach, close.",
		}, []string{"reason"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_redis_conflicts_total",
			Help: "Cluster mode: transactions that ran again because what they read changed before they committed.",
		}),
		reapedN: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_reaped_sessions_total",
			Help: "Cluster mode: sessions this node detached because their node left the cluster (its lease lapsed, or it shut down), for a resume elsewhere.",
		}),
		nodes: prometheus.NewDesc("parley_cluster_nodes", "Cluster mode: nodes holding a live lease, as this node reads Redis.", nil, nil),
	}
}

func (m *clusterMetrics) register(reg *prometheus.Registry, s *Server) {
	if m == nil {
		return
	}
	reg.MustRegister(m.commands, m.errors, m.reconnects, m.catchUps, m.conflicts, m.reapedN, nodesCollector{m.nodes, s})
}

func (m *clusterMetrics) Command(name string, d time.Duration, err error) {
	m.commands.WithLabelValues(name).Observe(d.Seconds())
	if err != nil {
		m.errors.WithLabelValues(name).Inc()
	}
}

func (m *clusterMetrics) Reconnected() { m.reconnects.Inc() }
func (m *clusterMetrics) CaughtUp(reason string, frames int) {
	m.catchUps.WithLabelValues(reason).Add(float64(frames))
}
func (m *clusterMetrics) Conflict() { m.conflicts.Inc() }

func (m *clusterMetrics) reaped(n int) {
	if m != nil {
		m.reapedN.Add(float64(n))
	}
}

// nodesCollector counts the live nodes at scrape time.
type nodesCollector struct {
	desc *prometheus.Desc
	s    *Server
}

func (c nodesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c nodesCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	nodes, err := c.s.redis.Nodes(ctx)
	if err != nil {
		return
	}
	alive := 0
	for _, n := range nodes {
		if n.Alive {
			alive++
		}
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(alive))
}
