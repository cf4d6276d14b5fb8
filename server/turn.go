package server

import (
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/turn"
)

// turnDefaultTLSPort is where TURN over TLS listens when --tls-cert is given
// and --turn-tls-listen is not.
const turnDefaultTLSPort = "5349"

// turnState is the co-hosted STUN/TURN server, started at most once.
type turnState struct {
	cfg  turn.Config
	on   bool
	once sync.Once
	err  error
	srv  *turn.Server
	urls atomic.Pointer[turnURLs] // the last list Server.turnURLs built
}

// newTURNState prepares the TURN section (checked by Config.Validate). In
// dev mode a throw-away secret is made; outside dev mode TURN runs only
// with a secret (a server that never meant to relay must not start doing
// so on upgrade).
func newTURNState(c Config, tlsCfg *tls.Config, log interface{ Info(string, ...any) }) *turnState {
	st := &turnState{on: !c.NoTURN && (c.Dev || len(c.TURN.Secrets) > 0)}
	if !st.on {
		if !c.NoTURN {
			log.Info("STUN/TURN is off: give --turn-secret to run it (or --dev)")
		}
		return st
	}
	st.cfg = c.turnConfig(tlsCfg)
	if len(st.cfg.Secrets) == 0 {
		st.cfg.Secrets = []string{NewSecret()}
	}
	if st.cfg.LoopbackPeers {
		log.Info("dev mode: TURN relays reach loopback peers (its listeners are loopback-only), never its own ports")
	}
	return st
}

// turnConfig is the TURN section as the server runs it, with tlsCfg (the
// WSS certificate, nil without TLS): TURN over TLS defaults to the listen
// IP, port 5349; the URLs' host to the first ACME domain; relays may not reach the HTTP listeners' addresses (nor
// any other of this host's: package turn adds those); and in dev mode with
// loopback-only TURN listeners relays reach loopback peers, so that two
// local browsers connect when one of them is forced to relay (only local
// clients can allocate there, and they reach loopback anyway).
func (c *Config) turnConfig(tlsCfg *tls.Config) turn.Config {
	t := c.TURN
	t.TLS = tlsCfg
	if t.Host == "" && len(c.ACME.Domains) > 0 {
		t.Host = c.ACME.Domains[0] // the name on the certificate, which turns: needs
	}
	if t.TLSListen == "" && tlsCfg != nil {
		if host, _, err := net.SplitHostPort(t.Listen); err == nil {
			t.TLSListen = net.JoinHostPort(host, turnDefaultTLSPort)
		}
	}
	t.HostAddresses = nil
	for _, listen := range []string{c.Listen, c.MetricsListen} {
		if ip, ok := listenIP(listen); ok {
			t.HostAddresses = append(t.HostAddresses, ip)
		}
	}
	t.LoopbackPeers = c.Dev
	for _, listen := range []string{t.Listen, t.TLSListen, t.Alternate} {
		if ip, ok := listenIP(listen); listen != "" && (!ok || !ip.IsLoopback()) {
			t.LoopbackPeers = false
		}
	}
	return t
}

// listenIP is the IP of a listen address, if it names one.
func listenIP(listen string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(host)
	return ip, err == nil
}

// StartTURN opens the STUN/TURN listeners, if TURN is on. Serve calls it
// too; a caller that wants the bound addresses first (to print them) calls
// it before Serve.
func (s *Server) StartTURN() error {
	t := s.turn
	t.once.Do(func() {
		if !t.on {
			return
		}
		cfg := t.cfg
		cfg.Logger = s.log
		cfg.OnEvent = s.turnEventSink()
		if t.srv, t.err = turn.Start(cfg); t.err != nil {
			t.err = fmt.Errorf("STUN/TURN: %w", t.err)
		}
	})
	return t.err
}

// TURN returns the running STUN/TURN server, or nil.
func (s *Server) TURN() *turn.Server { return s.turn.srv }

// closeTURN ends every allocation at shutdown.
func (s *Server) closeTURN() error {
	if s.turn.srv == nil {
		return nil
	}
	return s.turn.srv.Close()
}

// iceServers is what clients pass to RTCPeerConnection: the co-hosted
// server with fresh credentials for identity, then any configured extra
// servers; expires is when the credentials stop allowing new allocations
// (0 without TURN).
func (s *Server) iceServers(identity string) (servers []api.IceServer, expires int64) {
	servers = []api.IceServer{}
	if t := s.turn.srv; t != nil {
		user, pass, exp := t.Issue(identity, s.cfg.TURN.CredentialTTL)
		servers = append(servers, api.IceServer{URLs: s.turnURLs(t), Username: user, Credential: pass})
		expires = exp.Unix()
	}
	if len(s.cfg.ICEServers) > 0 {
		servers = append(servers, api.IceServer{URLs: s.cfg.ICEServers})
	}
	return servers, expires
}

// turnURLs are t's URLs and, when the signaling port carries TURN too,
// its turns: URL. Every session.connect hands them out: they are built
// once for each turns: URL seen (Serve sets it), and callers only read
// the list (capacity clipped, so an append copies).
func (s *Server) turnURLs(t *turn.Server) []string {
	if c := s.turn.urls.Load(); c != nil && c.srv == t && c.onePort == s.onePortURL {
		return c.urls
	}
	c := &turnURLs{srv: t, onePort: s.onePortURL, urls: t.URLs()}
	if c.onePort != "" {
		c.urls = append(c.urls, c.onePort)
	}
	c.urls = slices.Clip(c.urls)
	s.turn.urls.Store(c)
	return c.urls
}

// turnURLs is the list turnURLs built, with what it was built from.
type turnURLs struct {
	srv     *turn.Server
	onePort string
	urls    []string
}

// turnCredentials answers GET /v1/turn-credentials in the TURN REST API
// draft's shape (draft-uberti-behave-turn-rest-00 §2.2), for app backends
// that hand credentials to clients themselves. The API key goes in the
// Authorization header, as HTTP Basic (key id and secret) or "Bearer
// kid:secret", never in the URL (the draft's key= parameter would end up in
// access logs). username is the identity the credentials are for.
func (s *Server) turnCredentials(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
	}
	if !s.apiKeyAuth(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="parley"`)
		fail(http.StatusUnauthorized, "send an API key: HTTP Basic (key id, secret) or Authorization: Bearer kid:secret")
		return
	}
	q := r.URL.Query()
	if svc := q.Get("service"); svc != "turn" {
		fail(http.StatusBadRequest, fmt.Sprintf("service must be turn, not %q", svc))
		return
	}
	identity := q.Get("username")
	if !api.ValidIdentity(identity) {
		fail(http.StatusBadRequest, fmt.Sprintf("username %q is not a valid identity", identity))
		return
	}
	t := s.turn.srv
	if t == nil {
		fail(http.StatusServiceUnavailable, "STUN/TURN is not running on this server")
		return
	}
	ttl := s.cfg.TURN.CredentialTTL
	user, pass, _ := t.Issue(identity, ttl)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(struct {
		Username string   `json:"username"`
		Password string   `json:"password"`
		TTL      int64    `json:"ttl"`
		URIs     []string `json:"uris"`
	}{user, pass, int64(ttl / time.Second), s.turnURLs(t)})
}

// apiKeyAuth checks an API key sent as HTTP Basic or as Bearer kid:secret.
func (s *Server) apiKeyAuth(r *http.Request) bool {
	kid, secret, ok := r.BasicAuth()
	if !ok {
		bearer, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !found {
			return false
		}
		kid, secret, ok = strings.Cut(bearer, ":")
		if !ok {
			return false
		}
	}
	want, known := s.keys[kid]
	return known && subtle.ConstantTimeCompare(want, []byte(secret)) == 1
}
