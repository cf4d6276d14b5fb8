package server

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// validate checks the ACME section; withCert says a --tls-cert is given.
func (a ACME) validate(withCert bool) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("acme.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if len(a.Domains) == 0 {
		if a.HTTPListen != "" {
			bad("http-listen", "answers ACME challenges, so it needs --acme-domain")
		}
		return errs
	}
	if withCert {
		bad("domain", "a certificate comes from --tls-cert or from ACME, not both")
	}
	for _, d := range a.Domains {
		if !validDomain(d) {
			bad("domain", "%q is not a DNS name like signal.example.com (ACME certificates here name hosts, not IP addresses or wildcards)", d)
		}
	}
	if a.CacheDir == "" {
		bad("cache-dir", "needed with --acme-domain: the account and certificates must outlive a restart (CAs limit how often they issue)")
	}
	if u, err := url.Parse(a.Directory); err != nil || u.Scheme != "https" || u.Host == "" {
		bad("directory", "%q is not an https URL", a.Directory)
	}
	if a.Email != "" && !strings.Contains(a.Email, "@") {
		bad("email", "%q is not an email address", a.Email)
	}
	if a.HTTPListen != "" {
		if _, _, err := net.SplitHostPort(a.HTTPListen); err != nil {
			bad("http-listen", "%v", err)
		}
	}
	return errs
}

// validDomain reports whether d is a host name with a dot, made of letters,
// digits and hyphens: what an ACME CA issues for over HTTP-01 and
// TLS-ALPN-01.
func validDomain(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") || net.ParseIP(d) != nil {
		return false
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// acmeCerts is the certificate source of a server with --acme-domain.
type acmeCerts struct {
	m       *autocert.Manager
	domains []string
	http    http.Handler // HTTP-01 and the redirect to https; nil without HTTPListen
	log     *slog.Logger
}

func newACMECerts(a ACME, log *slog.Logger) *acmeCerts {
	c := &acmeCerts{
		m: &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			Cache:      autocert.DirCache(a.CacheDir),
			HostPolicy: autocert.HostWhitelist(a.Domains...),
			Email:      a.Email,
			Client:     &acme.Client{DirectoryURL: a.Directory},
		},
		domains: a.Domains,
		log:     log,
	}
	if a.HTTPListen != "" {
		// Before any certificate is asked for: it is what lets the
		// manager try HTTP-01 when TLS-ALPN-01 fails. The manager checks
		// the Host header against the domains, port and all; a CA always
		// asks port 80, whose requests name none, but a port forwarded to
		// another one may, so the port goes.
		h := c.m.HTTPHandler(nil)
		c.http = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if host, _, err := net.SplitHostPort(r.Host); err == nil {
				r.Host = host
			}
			h.ServeHTTP(w, r)
		})
	}
	return c
}

// getCertificate is the TLS listeners' GetCertificate. A client that names
// no server (it dialled an IP address: a TURN client given turns:IP) gets
// the first domain's certificate.
func (c *acmeCerts) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello.ServerName == "" {
		h := *hello
		h.ServerName = c.domains[0]
		hello = &h
	}
	return c.m.GetCertificate(hello)
}

// prefetch has each domain's certificate issued (or read from the cache)
// now, not in the first client's handshake; a failure is logged, and the
// next handshake tries again. The listener must be serving: the CA checks
// the TLS-ALPN-01 challenge through it.
func (c *acmeCerts) prefetch() {
	for _, d := range c.domains {
		hello := &tls.ClientHelloInfo{
			ServerName:        d,
			SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
			SupportedCurves:   []tls.CurveID{tls.CurveP256},
			CipherSuites:      []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
			SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
		}
		began := time.Now()
		cert, err := c.m.GetCertificate(hello)
		if err != nil {
			c.log.Error("ACME: no certificate yet; the next TLS handshake tries again", "domain", d, "err", err)
			continue
		}
		c.log.Info("ACME: certificate ready", "domain", d, "expires", cert.Leaf.NotAfter.UTC().Format(time.RFC3339),
			"took", time.Since(began).Round(time.Millisecond).String())
	}
}

// ACMEHTTPHandler answers ACME HTTP-01 challenges and redirects every other
// request to https, for --acme-http-listen; nil without it.
func (s *Server) ACMEHTTPHandler() http.Handler {
	if s.acme == nil {
		return nil
	}
	return s.acme.http
}
