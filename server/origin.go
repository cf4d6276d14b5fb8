package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Which browser pages may talk to this server. A page's Origin is never
// compared with the request's Host: under DNS rebinding both name the
// attacker's domain (rebind.evil.example resolving to this server), so
// "same origin" would admit any page. A production server admits the
// origins of its --public-url and --allowed-origins; a dev server also
// admits loopback pages, and answers only requests addressed to a
// loopback host (or a --public-url host), which a rebinding page is not.

// originAllowed reports whether a WebSocket upgrade's Origin may open a
// connection. Clients that send no Origin are not browsers (bots, CLIs)
// and authenticate with tokens.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || s.cfg.AllowAnyOrigin || slices.Contains(s.cfg.AllowedOrigins, origin) {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return slices.Contains(s.publicOrigins, canonicalOrigin(u)) || s.cfg.Dev && loopbackName(u.Hostname())
}

// refuseOrigin answers a WebSocket upgrade from a page whose origin is not
// allowed: 403 naming the origin and the flag that admits it (operators
// debugging a deployment see why), logged at info, rate-limited.
func (s *Server) refuseOrigin(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	hint := "add it to --allowed-origins, or serve the page from this server's --public-url"
	if s.cfg.Dev {
		hint += " (dev mode also admits pages on localhost, 127.0.0.0/8 and [::1])"
	}
	s.refusals.info(s.log, "websocket refused: origin not allowed", "origin", origin, "remote", remoteAddr(r), "host", r.Host)
	http.Error(w, fmt.Sprintf("origin %q may not open a WebSocket to this server: %s", origin, hint), http.StatusForbidden)
}

// devHostsOnly answers, in dev mode, only requests addressed to a loopback
// host or a --public-url host: a dev server admits bare identities and
// loopback pages, which a DNS-rebinding page (Host: rebind.evil.example,
// resolving to 127.0.0.1) must not be taken for.
func (s *Server) devHostsOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := (&url.URL{Host: r.Host}).Hostname()
		if loopbackName(host) || slices.Contains(s.publicHosts, strings.ToLower(host)) {
			next.ServeHTTP(w, r)
			return
		}
		s.refusals.info(s.log, "request refused: a dev server answers only loopback hosts", "host", r.Host, "remote", remoteAddr(r), "path", r.URL.Path)
		http.Error(w, fmt.Sprintf("host %q is not loopback: a dev server answers only requests to localhost, 127.0.0.0/8 or [::1] "+
			"(a guard against DNS rebinding); to reach it by another name, give that URL as --public-url", r.Host), http.StatusForbidden)
	})
}

// loopbackName reports whether a URL's host name is loopback: localhost
// (or a name under .localhost, which browsers resolve to loopback
// themselves, RFC 6761) or a loopback IP.
func loopbackName(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// canonicalOrigin is u's origin as a browser serializes it: lower-case
// scheme and host, no default port, no path.
func canonicalOrigin(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if port == "" || scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		port = ""
	}
	hostport := host
	if strings.Contains(host, ":") {
		hostport = "[" + host + "]"
	}
	if port != "" {
		hostport += ":" + port
	}
	return scheme + "://" + hostport
}

// refusalLog logs refused requests at info, about one a second at most
// (bursts of 10), so a page hammering the server cannot flood the log;
// the next line logged says how many were left out.
type refusalLog struct {
	limit   *rate.Limiter
	skipped atomic.Int64
}

func newRefusalLog() *refusalLog {
	return &refusalLog{limit: rate.NewLimiter(rate.Every(time.Second), 10)}
}

func (l *refusalLog) info(log *slog.Logger, msg string, args ...any) {
	if !l.limit.Allow() {
		l.skipped.Add(1)
		return
	}
	if n := l.skipped.Swap(0); n > 0 {
		args = append(args, "not_logged_since", n)
	}
	log.Info(msg, args...)
}

// addPublicHosts admits ACME domains as --public-url hosts are admitted:
// the certificate names them, so browsers reach this server there. Pages
// from https://DOMAIN (and https://DOMAIN:PORT when the listen port is
// not 443) may connect, and a dev server answers those hosts.
func (s *Server) addPublicHosts(domains []string) {
	_, port, _ := net.SplitHostPort(s.cfg.Listen)
	for _, d := range domains {
		d = strings.ToLower(d)
		s.publicHosts = append(s.publicHosts, d)
		s.publicOrigins = append(s.publicOrigins, "https://"+d)
		if port != "443" && port != "0" && port != "" {
			s.publicOrigins = append(s.publicOrigins, "https://"+net.JoinHostPort(d, port))
		}
	}
}
