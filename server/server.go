// Package server is the Parley signaling service: sessions, rooms and relay
// behind JSON-RPC (package rpc), wired to HTTP.
package server

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/api/apirpc"
	tsclient "github.com/parley-rtc/parley/clients/ts"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/server/demux"
	"github.com/parley-rtc/parley/server/signal"
	"github.com/parley-rtc/parley/server/signal/redisstore"
	"github.com/parley-rtc/parley/web"
	"github.com/parley-rtc/parley/webhook"
)

// methodDiscover is the OpenRPC service-discovery method.
const methodDiscover = "rpc.discover"

// Server is one Parley node.
type Server struct {
	cfg      Config
	keys     APIKeys
	log      *slog.Logger
	core     *signal.Core
	store    signal.Store
	redis    *redisstore.Store // cluster mode, or nil
	mux      *rpc.Mux
	upgrader *rpc.Upgrader
	tls      *tls.Config
	certs    *certFile  // --tls-cert, or nil
	acme     *acmeCerts // --acme-domain, or nil
	turn     *turnState
	metrics  *prometheus.Registry
	// rpcMetrics count requests as they are answered; rpcStats are the
	// connections' shared counters, read at scrape time.
	rpcMetrics     *rpcMetrics
	callMetrics    *callMetrics
	clusterMetrics *clusterMetrics // cluster mode, or nil
	rpcStats       rpc.Stats
	now            func() time.Time
	// publicOrigins and publicHosts come from cfg.PublicURL (origin.go);
	// refusals logs refused origins and hosts.
	publicOrigins, publicHosts []string
	refusals                   *refusalLog
	// onePortURL is the turns: URL of the TLS listener, set by Serve
	// when that listener carries TURN too (oneport.go).
	onePortURL string

	started time.Time
	// draining: Drain was called (no new sessions); closing: shutdown has
	// begun (no new connections).
	draining atomic.Bool
	closing  atomic.Bool
	drainAt  atomic.Int64  // Unix milliseconds of the drain deadline; 0 until Drain
	drained  chan struct{} // closed when a draining node should exit
	// reapedCh is closed when the cluster reaped this node (cluster.go);
	// stopSweep stops its orphan sweep.
	reapedCh   chan struct{}
	reapedOnce sync.Once
	stopSweep  context.CancelFunc

	connsMu sync.Mutex
	conns   map[*rpc.Conn]*connState
	perIP   map[netip.Addr]int // HTTP connections (WebSockets included) by source address
	wg      sync.WaitGroup

	files        *fileBudget // descriptors for connections (listener.go)
	refusedConns connRefusals

	// events numbers, keeps and delivers the events for app backends
	// (events.go); diag keeps the clients' connection reports (diag.go).
	events      *webhook.Dispatcher
	diag        diagRecord
	graces      diagGraces
	iceOutcomes *prometheus.CounterVec
}

// New checks cfg and builds a server; nothing listens yet.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	keys, err := ParseAPIKeys(cfg.APIKeys)
	if err != nil {
		return nil, fmt.Errorf("api-keys: %w", err)
	}
	s := &Server{
		cfg:      cfg,
		keys:     keys,
		log:      log,
		now:      time.Now,
		started:  time.Now(),
		drained:  make(chan struct{}),
		reapedCh: make(chan struct{}),
		conns:    make(map[*rpc.Conn]*connState),
		perIP:    make(map[netip.Addr]int),

		refusals: newRefusalLog(),
		files:    newFileBudget(log),
	}
	for _, raw := range cfg.PublicURL {
		u, _ := url.Parse(raw) // checked by Validate
		s.publicOrigins = append(s.publicOrigins, canonicalOrigin(u))
		s.publicHosts = append(s.publicHosts, strings.ToLower(u.Hostname()))
	}
	switch {
	case cfg.TLSCert != "":
		if s.certs, err = loadCertFile(cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, err
		}
		s.tls = &tls.Config{GetCertificate: s.certs.getCertificate, MinVersion: tls.VersionTLS12, NextProtos: nextProtos}
	case len(cfg.ACME.Domains) > 0:
		s.acme = newACMECerts(cfg.ACME, log)
		s.tls = &tls.Config{GetCertificate: s.acme.getCertificate, MinVersion: tls.VersionTLS12,
			NextProtos: append(slices.Clip(nextProtos), demux.ALPNACME)}
		s.addPublicHosts(cfg.ACME.Domains)
	}
	s.turn = newTURNState(cfg, s.tls, log)
	s.iceOutcomes = newICEOutcomes()
	if cfg.clustered() && cfg.NodeID == "" {
		s.cfg.NodeID = defaultNodeID()
	}
	if err := s.newCore(); err != nil {
		return nil, err
	}
	s.metrics = s.newRegistry()
	s.upgrader = rpc.NewUpgrader(s.originAllowed, s.connConfig()) // serveWS has answered refusals with the reason; this is the backstop
	s.mux = rpc.NewMux()
	s.mux.SetLogger(log)
	s.mux.Use(s.rpcMetrics.observe)
	s.mux.Use(s.rateLimit)
	s.mux.Use(requireSession)
	apirpc.Register(s.mux, s)
	s.mux.Handle(methodDiscover, s.discover)
	return s, nil
}

// discover answers rpc.discover with the OpenRPC document, once per
// WebSocket connection: it is the one large reply a client without
// credentials can ask for (95 KB for a 50-byte request), and it never
// changes. GET /openrpc.json serves it too, cacheably.
func (s *Server) discover(ctx context.Context, _ jsontext.Value) (any, error) {
	if st := connStateFrom(ctx); st != nil {
		if !st.discovered.CompareAndSwap(false, true) {
			return nil, api.ErrConflict("rpc.discover was answered on this connection already; GET /openrpc.json serves the same document, cacheably")
		}
		st.conn.AllowReply(len(api.Document))
	}
	return rpc.Verbatim(api.Document), nil
}

// serveDocument serves GET /openrpc.json with validators (the document's
// hash as its ETag), so a client that has it revalidates for a 304.
func serveDocument(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", `"`+api.DocumentSHA256+`"`)
	w.Header().Set("Cache-Control", "public, max-age=300")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(api.Document))
}

// Handler routes the HTTP surface; a dev server's only to loopback hosts.
func (s *Server) Handler() http.Handler {
	m := http.NewServeMux()
	for _, r := range s.routes() {
		m.Handle(r.pattern, r.handler)
	}
	if s.cfg.Dev {
		return s.devHostsOnly(m)
	}
	return m
}

// route is one ServeMux pattern ("METHOD /path") of the HTTP surface;
// openapi/parley.openapi.yaml documents each (a test holds them equal).
type route struct {
	pattern string
	handler http.Handler
}

// routes is the HTTP surface of this server's configuration: /metrics only
// without --metrics-listen, /demo/ only in dev mode.
func (s *Server) routes() []route {
	routes := []route{
		{"GET /rpc", http.HandlerFunc(s.serveWS)},
		{"POST /rpc", rpc.HTTPHandler(s.mux, s.cfg.Limits.MaxFrameBytes, s.prepareHTTP)},
		{"GET /openrpc.json", http.HandlerFunc(serveDocument)},
		{"GET /v1/turn-credentials", http.HandlerFunc(s.turnCredentials)},
		{"GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("ok\n"))
		})},
		{"GET /readyz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if s.draining.Load() {
				http.Error(w, "draining", http.StatusServiceUnavailable)
				return
			}
			if err := s.storeHealthy(); err != nil {
				http.Error(w, "cluster store unavailable: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("ready\n"))
		})},
		{"GET /client/", publicScripts(http.StripPrefix("/client/", http.FileServerFS(tsclient.Dist)))},
		{"GET /inspector/", http.StripPrefix("/inspector/", http.FileServerFS(web.Inspector))},
		{"GET /favicon.ico", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "image/x-icon")
			w.Header().Set("Cache-Control", "public, max-age=86400")
			_, _ = w.Write(web.Favicon)
		})},
		{"GET /{$}", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = fmt.Fprint(w, "Parley signaling server.\nJSON-RPC 2.0 over WebSocket at /rpc (and POST /rpc); schema at /openrpc.json; the TypeScript client at /client/index.js.\n")
			if s.cfg.Dev {
				_, _ = fmt.Fprint(w, "Dev mode: open /demo/ in two tabs.\n")
			}
		})},
	}
	if s.cfg.MetricsListen == "" {
		routes = append(routes, route{"GET /metrics", s.MetricsHandler()})
	}
	if s.cfg.Dev {
		routes = append(routes, route{"GET /demo/", http.StripPrefix("/demo/", http.FileServerFS(web.Demo))})
	}
	return routes
}

// publicScripts lets pages of any origin import the client as a module
// (module scripts are fetched with CORS); it is public code, no credentials.
func publicScripts(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		h.ServeHTTP(w, r)
	})
}

// Serve answers on ln until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.StartTURN(); err != nil {
		return err
	}
	ln = &guardedListener{Listener: ln, s: s, files: s.files}
	if s.tls != nil {
		ln = s.onePort(ln)
	}
	hs := s.HTTPServer(s.Handler())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if s.acme != nil {
		go s.acme.prefetch()
	}
	select {
	case err := <-errc:
		return errors.Join(fmt.Errorf("serve: %w", err), s.closeTURN(), s.closeStore())
	case <-ctx.Done():
	case <-s.drained:
	case <-s.reapedCh:
		return errors.Join(errReaped, s.shutdown(hs))
	}
	return s.shutdown(hs)
}

// HTTPServer serves h with the configured HTTP timeouts: a request's
// headers and body must arrive within --http-read-timeout, its answer be
// written within --http-write-timeout (a WebSocket sets its own deadlines
// once upgraded), and a keep-alive connection may idle --http-idle-timeout
// between requests.
func (s *Server) HTTPServer(h http.Handler) *http.Server {
	l := s.cfg.Limits
	return &http.Server{
		Handler:      h,
		ReadTimeout:  l.HTTPReadTimeout,
		WriteTimeout: l.HTTPWriteTimeout,
		IdleTimeout:  l.HTTPIdleTimeout,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

// shutdown stops accepting, tells every room it is closing (a node of a
// cluster hands its sessions over instead: they resume on other nodes),
// closes every connection with "going away", and waits (bounded) for them
// to finish.
func (s *Server) shutdown(hs *http.Server) error {
	s.draining.Store(true)
	s.closing.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(ctx)
	err = errors.Join(err, s.core.Shutdown(ctx, "server_shutdown"))
	err = errors.Join(err, s.closeTURN())
	s.connsMu.Lock()
	for c := range s.conns {
		c.Close(rpc.CloseGoingAway, "server shutting down")
	}
	s.connsMu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, errors.New("connections still open at the shutdown deadline"))
	}
	s.events.Close()
	err = errors.Join(err, s.closeStore())
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// closeStore leaves the cluster (its sessions handed over) and closes the
// connection to Redis; nothing on a single node.
func (s *Server) closeStore() error {
	if s.redis == nil {
		return nil
	}
	s.stopSweep()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var err error
	if s.redis.Healthy() == nil {
		err = s.redis.Leave(ctx)
	}
	return errors.Join(err, s.redis.Close())
}

// prepareHTTP authenticates POST /rpc: HTTP Basic with an API key's id and
// secret, for app backends making stateless calls.
func (s *Server) prepareHTTP(r *http.Request) (context.Context, error) {
	kid, secret, ok := r.BasicAuth()
	if !ok {
		return nil, api.ErrUnauthenticated("POST /rpc needs HTTP Basic auth with an API key (key id as user, secret as password)")
	}
	want, known := s.keys[kid]
	if !known || subtle.ConstantTimeCompare(want, []byte(secret)) != 1 {
		return nil, api.ErrUnauthenticated("unknown API key or wrong secret")
	}
	return context.WithValue(r.Context(), apiKeyKey{}, kid), nil
}
