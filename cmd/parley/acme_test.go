package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	pionturn "github.com/pion/turn/v5"

	"github.com/parley-rtc/parley/internal/testkit"
	"github.com/parley-rtc/parley/internal/testkit/parleyproc"
)

// The ACME tests run Pebble, the Let's Encrypt test CA, built from its Go
// module (a tool of this module: go.mod's tool block), with
// pebble-challtestsrv answering its DNS queries: every name is 127.0.0.1.
const acmeDomain = "parley.test"

// pebbleCmd is where Pebble's commands are, at the version go.mod names.
const pebbleCmd = "github.com/letsencrypt/pebble/v2/cmd/"

var (
	pebbleOnce              sync.Once
	pebbleBin, challtestBin string
	pebbleBuildErr          error
)

// pebbleTools builds pebble and pebble-challtestsrv once per test binary,
// beside the parley binary (TestMain removes them).
func pebbleTools(t *testing.T) (pebble, challtestsrv string) {
	t.Helper()
	pebbleOnce.Do(func() {
		dir := filepath.Dir(binary)
		pebbleBin, challtestBin = filepath.Join(dir, "pebble"), filepath.Join(dir, "pebble-challtestsrv")
		if pebbleBuildErr = parleyproc.Build(pebbleBin, pebbleCmd+"pebble"); pebbleBuildErr == nil {
			pebbleBuildErr = parleyproc.Build(challtestBin, pebbleCmd+"pebble-challtestsrv")
		}
	})
	if pebbleBuildErr != nil {
		t.Fatalf("build Pebble: %v", pebbleBuildErr)
	}
	return pebbleBin, challtestBin
}

// acmeCA is a running Pebble.
type acmeCA struct {
	directory string         // its ACME directory URL
	trustFile string         // the certificate of its own HTTPS, for SSL_CERT_FILE
	roots     *x509.CertPool // the roots of the certificates it issues
}

// startPebble runs challtestsrv and Pebble, which validates challenges on
// 127.0.0.1: TLS-ALPN-01 at tlsPort, HTTP-01 at httpPort, and issues
// certificates valid for validity.
func startPebble(t *testing.T, tlsPort, httpPort int, validity time.Duration) acmeCA {
	t.Helper()
	pebble, challtestsrv := pebbleTools(t)
	dns := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	runTool(t, "challtestsrv", exec.Command(challtestsrv, "-dnsserver", dns, "-management", net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))),
		"-http01", "", "-https01", "", "-doh", "", "-tlsalpn01", "", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""))

	dir := t.TempDir()
	cert := testkit.SelfSigned(t)
	certFile, keyFile := cert.Files(t, dir)
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	management := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	config, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": management,
		"certificate": certFile, "privateKey": keyFile,
		"httpPort": httpPort, "tlsPort": tlsPort,
		"ocspResponderURL": "", "externalAccountBindingRequired": false,
		"profiles": map[string]any{"default": map[string]any{"description": "short-lived, for the renewal test", "validityPeriod": int(validity / time.Second)}},
	}})
	configFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(configFile, config, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pebble, "-config", configFile, "-dnsserver", dns)
	// No random sleep before validating; every nonce good (the client's
	// retry of a bad one is not what this tests).
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	runTool(t, "pebble", cmd)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}}, Timeout: 5 * time.Second}
	ca := acmeCA{directory: "https://" + listen + "/dir", trustFile: certFile, roots: x509.NewCertPool()}
	var root []byte
	testkit.Eventually(t, "Pebble's root certificate", func() bool {
		res, err := client.Get("https://" + management + "/roots/0")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		root, err = io.ReadAll(res.Body)
		return err == nil && res.StatusCode == http.StatusOK
	})
	if !ca.roots.AppendCertsFromPEM(root) {
		t.Fatalf("Pebble's root is no PEM certificate: %q", root)
	}
	return ca
}

// runTool starts cmd, logging its output, and kills it when the test ends.
func runTool(t *testing.T, name string, cmd *exec.Cmd) {
	t.Helper()
	cmd.Stdout = &parleyproc.LogWriter{T: t, Prefix: name}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}

// acmeServer is a parley serve --dev that gets its certificate from ca.
func acmeServer(t *testing.T, ca acmeCA, listenPort int, extra ...string) *parleyproc.Process {
	t.Helper()
	args := append([]string{"--dev", "--listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(listenPort)),
		"--acme-domain", acmeDomain, "--acme-email", "ops@example.com", "--acme-cache-dir", t.TempDir(), "--acme-directory", ca.directory,
		"--turn-listen", "127.0.0.1:0", "--turn-tls-listen", "127.0.0.1:0"}, extra...)
	return startParley(t, []string{"SSL_CERT_FILE=" + ca.trustFile}, args...)
}

// servedCertificate is the certificate addr serves to a client that asks
// for the domain and checks the chain against the CA's roots.
func servedCertificate(addr string, roots *x509.CertPool) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: acmeDomain})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// waitCertificate waits until addr serves a certificate issued by the CA
// other than not (nil: any).
func waitCertificate(t *testing.T, addr string, roots *x509.CertPool, not *x509.Certificate, within time.Duration) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		cert, err := servedCertificate(addr, roots)
		if err == nil && (not == nil || !cert.Equal(not)) {
			return cert
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("no new certificate from the CA on %s within %s (last handshake: %v)", addr, within, last)
	return nil
}

// checkServes checks that the certificate cert serves WSS (with the ACME
// name admitted as a page origin, another refused) and TURN over TLS, on
// the signaling port and on the TURN-over-TLS listener.
func checkServes(t *testing.T, p *parleyproc.Process, turnTLS string, roots *x509.CertPool, cert *x509.Certificate) {
	t.Helper()
	tlsConfig := &tls.Config{RootCAs: roots, ServerName: acmeDomain}
	dialer := &websocket.Dialer{TLSClientConfig: tlsConfig, HandshakeTimeout: 5 * time.Second}
	origin := http.Header{"Origin": {"https://" + acmeDomain + ":" + strings.Split(p.Addr, ":")[1]}}
	ws, res, err := dialer.Dial("wss://"+p.Addr+"/rpc", origin)
	if err != nil {
		t.Fatalf("WSS from a page of https://%s: %v (%v)", acmeDomain, err, res)
	}
	defer ws.Close()
	if got := ws.UnderlyingConn().(*tls.Conn).ConnectionState().PeerCertificates[0]; !got.Equal(cert) {
		t.Fatalf("WSS serves certificate %s, want %s", got.SerialNumber, cert.SerialNumber)
	}
	if _, res, err := dialer.Dial("wss://"+p.Addr+"/rpc", http.Header{"Origin": {"https://evil.example"}}); err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("a page of another origin: %v %v, want 403", err, res)
	}
	var session iceServersResult
	if err := ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "session.connect", "params": map[string]any{"identity": "alice"}}); err != nil {
		t.Fatal(err)
	}
	var reply struct {
		Result iceServersResult `json:"result"`
	}
	if err := ws.ReadJSON(&reply); err != nil || len(reply.Result.ICEServers) != 1 {
		t.Fatalf("session.connect over WSS: %+v %v", reply, err)
	}
	session = reply.Result
	creds := session.ICEServers[0]
	if !slices.Contains(creds.URLs, "turns:"+acmeDomain+":"+strings.Split(p.Addr, ":")[1]+"?transport=tcp") {
		t.Fatalf("iceServers URLs %q lack the signaling port's turns: URL with the ACME name", creds.URLs)
	}
	for _, addr := range []string{p.Addr, turnTLS} {
		c, err := tls.Dial("tcp", addr, tlsConfig)
		if err != nil {
			t.Fatalf("TURN over TLS at %s: %v", addr, err)
		}
		if got := c.ConnectionState().PeerCertificates[0]; !got.Equal(cert) {
			t.Fatalf("TURN over TLS at %s serves certificate %s, want %s", addr, got.SerialNumber, cert.SerialNumber)
		}
		stream := pionturn.NewSTUNConn(c)
		client := testkit.TURNClient(t, stream, addr, creds.Username, creds.Credential)
		relay, err := client.Allocate()
		if err != nil {
			t.Fatalf("Allocate over TLS at %s: %v", addr, err)
		}
		_ = relay.Close()
		client.Close()
		_ = stream.Close()
	}
}

// TestACMETLSALPN: a fresh server with --acme-domain gets its certificate
// from the CA through a TLS-ALPN-01 challenge on its one port (it has no
// other), serves WSS and TURN over TLS with it, and renews it without a
// restart when the CA's short validity runs low (autocert renews with a
// third of the lifetime left).
func TestACMETLSALPN(t *testing.T) {
	const validity = 30 * time.Second
	port := freePort(t)
	ca := startPebble(t, port, freePort(t), validity)
	p := acmeServer(t, ca, port)
	turnTLS := p.WaitTURN(t).TLS
	first := waitCertificate(t, p.Addr, ca.roots, nil, 60*time.Second)
	if first.Subject.CommonName != acmeDomain && !slices.Contains(first.DNSNames, acmeDomain) {
		t.Fatalf("certificate for %v, want %s", first.DNSNames, acmeDomain)
	}
	if life := first.NotAfter.Sub(first.NotBefore); life > validity {
		t.Fatalf("certificate valid for %s, want Pebble's %s", life, validity)
	}
	checkServes(t, p, turnTLS, ca.roots, first)

	renewed := waitCertificate(t, p.Addr, ca.roots, first, validity+30*time.Second)
	if !renewed.NotBefore.After(first.NotBefore) || !time.Now().Before(first.NotAfter) {
		t.Fatalf("renewed certificate from %s (the first from %s, expiring %s): renewal came late", renewed.NotBefore, first.NotBefore, first.NotAfter)
	}
	select {
	case <-p.Done():
		t.Fatalf("parley exited: %v", p.Err())
	default:
	}
	checkServes(t, p, turnTLS, ca.roots, renewed)
	t.Logf("issued %s, renewed %s (valid %s), same process", first.NotBefore.Format(time.TimeOnly), renewed.NotBefore.Format(time.TimeOnly), validity)
}

// TestACMEHTTP01: with --acme-http-listen, a server whose TLS port the CA
// cannot reach gets its certificate through HTTP-01; that listener sends
// every other request to https.
func TestACMEHTTP01(t *testing.T) {
	port, httpPort, unreachable := freePort(t), freePort(t), freePort(t)
	ca := startPebble(t, unreachable, httpPort, time.Hour)
	p := acmeServer(t, ca, port, "--acme-http-listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)))
	turnTLS := p.WaitTURN(t).TLS
	cert := waitCertificate(t, p.Addr, ca.roots, nil, 60*time.Second)
	checkServes(t, p, turnTLS, ca.roots, cert)

	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/inspector/", httpPort), nil)
	req.Host = acmeDomain
	res, err := (&http.Transport{}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusFound || loc != "https://"+acmeDomain+"/inspector/" {
		t.Fatalf("plain HTTP: %s to %q, want 302 to https", res.Status, loc)
	}
}

// TestACMEConfig: the ACME settings are checked before anything starts.
func TestACMEConfig(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--acme-domain", "signal.example.com"}, "acme.cache-dir: needed"},
		{[]string{"--acme-domain", "192.0.2.1", "--acme-cache-dir", "/tmp/x"}, "acme.domain: \"192.0.2.1\" is not a DNS name"},
		{[]string{"--acme-domain", "*.example.com", "--acme-cache-dir", "/tmp/x"}, "is not a DNS name"},
		{[]string{"--acme-domain", "a.example.com", "--acme-cache-dir", "/tmp/x", "--tls-cert", "c", "--tls-key", "k"}, "not both"},
		{[]string{"--acme-http-listen", ":80"}, "acme.http-listen: answers ACME challenges, so it needs --acme-domain"},
		{[]string{"--acme-domain", "a.example.com", "--acme-cache-dir", "/tmp/x", "--acme-directory", "http://ca.example/dir"}, "acme.directory: "},
	} {
		_, errOut, code := parleyCmd(t, append([]string{"config", "check", "--dev"}, tc.args...)...)
		if code != 1 || !bytes.Contains([]byte(errOut), []byte(tc.want)) {
			t.Errorf("%q: exit %d, want 1 and %q in:\n%s", tc.args, code, tc.want, errOut)
		}
	}
}
