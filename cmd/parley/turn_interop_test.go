package main

// Interop with software nobody here wrote: Debian's coturn. Its clients
// (turnutils_stunclient, turnutils_uclient) talk to the real parley binary,
// and its server (turnserver) is handed credentials parley issued. A test
// that only checks parley against pion's client, or parley's credentials
// against parley's own verifier, proves self-consistency, not
// interoperability.

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST API fixes HMAC-SHA1
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"

	"github.com/parley-rtc/parley/internal/testkit"
)

const (
	interopSecret = "interop-shared-secret-0123456789" // parley's --turn-secret, coturn's static-auth-secret
	interopRealm  = "interop.test"
	interopKeyID  = "interop"
	interopKey    = "interop-api-key-0123456789abcdefghijkl" // ≥ 32 chars
)

// coturnTool finds a program of Debian's coturn package.
func coturnTool(t *testing.T, name string) string {
	t.Helper()
	return testkit.Tool(t, name, "coturn")
}

// toolResult is how a run of a program ended.
type toolResult struct {
	out  string
	code int   // exit code
	err  error // it did not start, or did not finish in time
}

// startTool runs a short-lived program in the background, bounded by
// timeout: turnutils_stunclient, for one, waits for its answer forever.
func startTool(timeout time.Duration, name string, args ...string) <-chan toolResult {
	done := make(chan toolResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.WaitDelay = time.Second
		out, err := cmd.CombinedOutput()
		r := toolResult{out: string(out), code: cmd.ProcessState.ExitCode()}
		var exit *exec.ExitError
		switch {
		case ctx.Err() != nil:
			r.err = fmt.Errorf("%s %s did not finish within %s", filepath.Base(name), strings.Join(args, " "), timeout)
		case err != nil && !errors.As(err, &exit):
			r.err = err
		}
		done <- r
	}()
	return done
}

// waitTool waits for a run and returns its output and exit code; a program
// that did not run to its end fails the test.
func waitTool(t *testing.T, run <-chan toolResult) (string, int) {
	t.Helper()
	r := <-run
	if r.err != nil {
		t.Fatalf("%v; output:\n%s", r.err, r.out)
	}
	return r.out, r.code
}

func splitHostPort(t *testing.T, addr string) (host, port string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}

var reflexive = regexp.MustCompile(`UDP reflexive addr: ([0-9.]+):([0-9]+)`)

// TestInteropSTUNClient: coturn's turnutils_stunclient gets its own address
// back from parley's STUN server. The client binds an ephemeral port it does
// not print, so the port is checked against the kernel's ephemeral range; a
// server that forgot the XOR of XOR-MAPPED-ADDRESS would hand back
// 94.18.164.67 instead of 127.0.0.1.
func TestInteropSTUNClient(t *testing.T) {
	stunclient := coturnTool(t, "turnutils_stunclient")
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--turn-listen", "127.0.0.1:0")
	host, port := splitHostPort(t, p.WaitTURN(t).UDP)

	out, code := waitTool(t, startTool(5*time.Second, stunclient, "-p", port, host))
	ms := reflexive.FindAllStringSubmatch(out, -1)
	if code != 0 || len(ms) == 0 || strings.Contains(out, "error") {
		t.Fatalf("stunclient exited %d, output:\n%s", code, out)
	}
	lo, hi := ephemeralPorts(t)
	for _, m := range ms { // coturn's logger prints the line more than once
		n, _ := strconv.Atoi(m[2])
		if m[1] != "127.0.0.1" || m[2] != ms[0][2] || n < lo || n > hi || m[2] == port {
			t.Fatalf("reflexive address %s:%s, want 127.0.0.1 and one port in the ephemeral range %d-%d; output:\n%s", m[1], m[2], lo, hi, out)
		}
	}
}

var (
	responseOrigin = regexp.MustCompile(`RFC 5780 response 2\n(?:.*\n)*?.*Response origin: : ([0-9.:]+)`)
	otherAddr      = regexp.MustCompile(`Other addr: : ([0-9.:]+)`)
)

// TestInteropSTUNClientRFC5780: turnutils_stunclient -f runs RFC 5780
// behaviour discovery against a parley with --turn-alt-address: the first
// answer names the other address, the second (CHANGE-REQUEST with
// RESPONSE-PORT, which sends the answer to another of the client's ports)
// comes from it. PADDING, which the client tries last, is optional for
// servers and refused with 420, which the client reports and accepts.
func TestInteropSTUNClientRFC5780(t *testing.T) {
	stunclient := coturnTool(t, "turnutils_stunclient")
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--turn-listen", "127.0.0.1:0", "--turn-alt-address", "127.0.0.2:0")
	host, port := splitHostPort(t, p.WaitTURN(t).UDP)

	out, code := waitTool(t, startTool(5*time.Second, stunclient, "-f", "-p", port, host))
	other, origin := otherAddr.FindStringSubmatch(out), responseOrigin.FindStringSubmatch(out)
	if code != 0 || other == nil || origin == nil {
		t.Fatalf("stunclient -f exited %d without two RFC 5780 answers; output:\n%s", code, out)
	}
	if !strings.HasPrefix(other[1], "127.0.0.2:") || origin[1] != other[1] {
		t.Fatalf("OTHER-ADDRESS %s and the changed answer's origin %s, want both the alternate address 127.0.0.2:*; output:\n%s", other[1], origin[1], out)
	}
}

// ephemeralPorts is the kernel's range for unbound sockets' ports.
func ephemeralPorts(t *testing.T) (lo, hi int) {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 1024, 65535 // not Linux: any unprivileged port
	}
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil {
		t.Fatalf("ip_local_port_range %q: %v", b, err)
	}
	return lo, hi
}

var (
	uclientTotals = regexp.MustCompile(`(?m)start_mclient: tot_send_msgs=([0-9]+), tot_recv_msgs=([0-9]+)$`)
	uclientLost   = regexp.MustCompile(`Total lost packets ([0-9]+) .*total send dropped ([0-9]+) `)
)

// TestInteropUClient: coturn's load client allocates on parley with TURN
// REST credentials it derives itself from the shared secret (-W), over UDP,
// TCP and TLS, and every message of two clients relayed to each other (-y:
// relay to relay, which parley allows between its own live relays) comes
// back. Each client also makes uclient's RTCP allocation, redeeming the
// RESERVATION-TOKEN of an EVEN-PORT pair (which must reach the socket that
// made it, see turn/binding's steering). A wrong secret must fail to allocate.
func TestInteropUClient(t *testing.T) {
	uclient := coturnTool(t, "turnutils_uclient")
	cert, key := testkit.SelfSigned(t).Files(t, t.TempDir())
	p := startParley(t, nil, "--listen", "127.0.0.1:0", "--api-keys", interopKeyID+":"+interopKey,
		"--tls-cert", cert, "--tls-key", key,
		"--turn-listen", "127.0.0.1:0", "--turn-tls-listen", "127.0.0.1:0",
		"--turn-secret", interopSecret, "--turn-realm", interopRealm)
	a := p.WaitTURN(t)
	if a.TLS == "" {
		t.Fatal("parley with --tls-cert printed no TURN TLS address")
	}
	const messages, clients = 20, 2
	start := func(t *testing.T, identity, addr, secret string, flags ...string) <-chan toolResult {
		host, port := splitHostPort(t, addr)
		args := slices.Concat(flags, []string{"-p", port, "-W", secret, "-u", identity, "-y",
			"-n", strconv.Itoa(messages), "-m", strconv.Itoa(clients), "-l", "120", "-z", "5", host})
		return startTool(30*time.Second, uclient, args...)
	}

	cases := []struct {
		name  string
		addr  string
		flags []string
	}{
		{"udp", a.UDP, nil},
		{"tcp", a.TCP, []string{"-t"}},
		// -S alone would be DTLS, which parley does not serve. uclient
		// does not verify the certificate, even when given one with -E.
		{"tls", a.TLS, []string{"-t", "-S"}},
	}
	// uclient starts each client's traffic 1-6 s after allocating (a random
	// delay of its own), so the transports run at once (not as parallel
	// subtests: -parallel defaults to the CPU count, and these mostly sleep).
	runs := make([]<-chan toolResult, len(cases))
	for i, tc := range cases {
		runs[i] = start(t, "uclient-"+tc.name, tc.addr, interopSecret, tc.flags...)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := waitTool(t, runs[i])
			tot, lost := uclientTotals.FindStringSubmatch(out), uclientLost.FindStringSubmatch(out)
			want := strconv.Itoa(messages * clients * 2) // an RTP and an RTCP stream each
			if code != 0 || tot == nil || tot[1] != want || tot[2] != want || lost == nil || lost[1] != "0" || lost[2] != "0" {
				t.Fatalf("uclient exited %d, want 0 with %s messages sent and received, none lost; output:\n%s", code, want, out)
			}
			if slices.Contains(tc.flags, "-S") && !strings.Contains(out, "tls_connect: client session connected") {
				t.Fatalf("uclient -S did not report a TLS session; output:\n%s", out)
			}
		})
	}
	// The wrong secret runs last: its 32 refused Allocates use up parley's
	// per-IP allowance of 401s, which every client's first Allocate needs.
	t.Run("wrong secret", func(t *testing.T) {
		out, code := waitTool(t, start(t, "uclient-wrong", a.UDP, "not-the-interop-secret-0123456789"))
		// uclient prints no error code: after at most 32 refused Allocates
		// it gives up with this line and exit(-1).
		if code != 255 || !strings.Contains(out, "ERROR: Cannot complete Allocation") || strings.Contains(out, "tot_send_msgs") {
			t.Fatalf("uclient with a wrong secret exited %d, want 255 and no traffic; output:\n%s", code, out)
		}
	})
}

// coturn is a running Debian turnserver.
type coturn struct {
	addr             string
	minPort, maxPort int // its relay ports
}

// startCoturn runs Debian's turnserver on free loopback ports with the TURN
// REST secret, no TLS, DTLS, CLI or system files, and loopback peers
// allowed (the relay round trip goes to a socket on 127.0.0.1).
func startCoturn(t *testing.T, bin, secret, realm string) coturn {
	t.Helper()
	dir := t.TempDir()
	listen := freePort(t)
	lo := freePortRange(t, 16)
	c := coturn{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(listen)), minPort: lo, maxPort: lo + 15}
	cmd := exec.Command(bin, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
		"--listening-port="+strconv.Itoa(listen), "--min-port="+strconv.Itoa(c.minPort), "--max-port="+strconv.Itoa(c.maxPort),
		"--use-auth-secret", "--static-auth-secret="+secret, "--realm="+realm, "--allow-loopback-peers",
		"--no-tls", "--no-dtls", "--no-cli", "--log-file=stdout", "--simple-log",
		"--pidfile="+filepath.Join(dir, "turnserver.pid"), "--userdb="+filepath.Join(dir, "turndb"))
	log := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.WaitDelay = time.Second // bounds the wait for its output after the kill
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("turnserver output:\n%s", log)
		}
	})
	if err := waitBinding(c.addr, exited); err != nil {
		t.Fatalf("turnserver: %v; output:\n%s", err, log)
	}
	return c
}

// waitBinding polls addr with STUN Binding requests until it answers.
func waitBinding(addr string, exited <-chan struct{}) error {
	conn, err := net.Dial("udp4", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	buf := make([]byte, 1500)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			return errors.New("exited before answering STUN")
		default:
		}
		_, _ = conn.Write(req.Raw)
		_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, err := conn.Read(buf); err == nil && stun.IsMessage(buf[:n]) {
			return nil
		}
	}
	return fmt.Errorf("no STUN answer on %s within 10s", addr)
}

// freePort returns a loopback port free for both UDP and TCP just now.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		u, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		_ = u.Close()
		if err == nil {
			_ = l.Close()
			return port
		}
	}
	t.Fatal("no port free for both UDP and TCP in 20 tries")
	return 0
}

// freePortRange returns the first of n consecutive UDP ports free just now,
// below the kernel's ephemeral range so no client socket takes one meanwhile.
func freePortRange(t *testing.T, n int) int {
	t.Helper()
	for range 20 {
		lo := 20000 + rand.IntN(10000-n)
		var held []net.PacketConn
		for p := lo; p < lo+n; p++ {
			c, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			_ = c.Close()
		}
		if len(held) == n {
			return lo
		}
	}
	t.Fatalf("no %d consecutive free UDP ports found in 20 tries", n)
	return 0
}

// restCredential mints a TURN REST credential by hand, the way coturn's
// use-auth-secret expects it: username "<unix expiry>:<identity>", password
// base64(HMAC-SHA1(secret, username)). It is written here, independently of
// package turn, so a test using it checks parley against the convention,
// not against itself.
func restCredential(secret, identity string, expires time.Time) (username, password string) {
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + identity
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TestCoturnSharesParleyCredentials: a coturn with the same
// static-auth-secret accepts the credentials parley hands out (from GET
// /v1/turn-credentials and from session.connect), and parley accepts
// credentials made by coturn's formula; both refuse another secret's
// signature and an expiry in the past. Every accepted allocation relays a
// datagram to a local socket and its answer back.
func TestCoturnSharesParleyCredentials(t *testing.T) {
	turnserver := coturnTool(t, "turnserver")
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--api-keys", interopKeyID+":"+interopKey,
		"--turn-listen", "127.0.0.1:0", "--turn-secret", interopSecret, "--turn-realm", interopRealm,
		"--turn-relay-port-min", "49152", "--turn-relay-port-max", "65535",
		"--turn-allow-peer", "127.0.0.1/32") // for the round trip to a local socket
	parleyTURN := p.WaitTURN(t).UDP
	ct := startCoturn(t, turnserver, interopSecret, interopRealm)

	type server struct {
		name             string
		addr             string
		minPort, maxPort int
	}
	onParley := server{"parley", parleyTURN, 49152, 65535}
	onCoturn := server{"coturn", ct.addr, ct.minPort, ct.maxPort}
	restUser, restPass := credentialsFromREST(t, p.Addr, "alice", parleyTURN)
	sessUser, sessPass := credentialsFromSession(t, p.Addr, "bob", parleyTURN)
	handUser, handPass := restCredential(interopSecret, "carol", time.Now().Add(time.Hour))
	otherUser, otherPass := restCredential("another-secret-0123456789abcdef", "mallory", time.Now().Add(time.Hour))
	oldUser, oldPass := restCredential(interopSecret, "dave", time.Now().Add(-time.Minute))

	cases := []struct {
		name       string
		on         server
		user, pass string
		want       stun.ErrorCode // 0: allocates and relays; else the Allocate's error
	}{
		{"GET /v1/turn-credentials", onCoturn, restUser, restPass, 0},
		{"session.connect iceServers", onCoturn, sessUser, sessPass, 0},
		{"coturn formula", onCoturn, handUser, handPass, 0},
		{"coturn formula", onParley, handUser, handPass, 0},
		{"other secret", onCoturn, otherUser, otherPass, stun.CodeUnauthorized},
		{"other secret", onParley, otherUser, otherPass, stun.CodeUnauthorized},
		{"expired", onCoturn, oldUser, oldPass, stun.CodeUnauthorized},
		{"expired", onParley, oldUser, oldPass, stun.CodeUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name+" on "+tc.on.name, func(t *testing.T) {
			relay, err := allocate(t, tc.on.addr, tc.user, tc.pass)
			var te *stun.TurnError
			switch {
			case tc.want != 0 && errors.As(err, &te) && te.ErrorCodeAttr.Code == tc.want:
				return
			case tc.want != 0:
				t.Fatalf("Allocate as %s: %v, want error %d", tc.user, err, tc.want)
			case err != nil:
				t.Fatalf("Allocate as %s: %v", tc.user, err)
			}
			ra := relay.LocalAddr().(*net.UDPAddr)
			if !ra.IP.Equal(net.IPv4(127, 0, 0, 1)) || ra.Port < tc.on.minPort || ra.Port > tc.on.maxPort {
				t.Fatalf("relayed address %s, want 127.0.0.1 with a port in %s's relay range %d-%d", ra, tc.on.name, tc.on.minPort, tc.on.maxPort)
			}
			relayRoundTrip(t, relay)
		})
	}
}

// credentialsFromREST asks parley's TURN REST endpoint for credentials, as
// an application backend would, and checks their shape: the username's
// timestamp is the expiry, ttl seconds away, which is what coturn reads it as.
func credentialsFromREST(t *testing.T, httpAddr, identity, turnUDP string) (username, password string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+"/v1/turn-credentials?service=turn&username="+identity, nil)
	req.SetBasicAuth(interopKeyID, interopKey)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Username string   `json:"username"`
		Password string   `json:"password"`
		TTL      int64    `json:"ttl"`
		URIs     []string `json:"uris"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/turn-credentials: HTTP %d, %v", resp.StatusCode, err)
	}
	expires := time.Now().Add(time.Duration(body.TTL) * time.Second)
	checkIssued(t, body.Username, body.Password, identity, expires, body.URIs, turnUDP)
	return body.Username, body.Password
}

// credentialsFromSession takes the credentials session.connect hands a
// browser in iceServers.
func credentialsFromSession(t *testing.T, httpAddr, identity, turnUDP string) (username, password string) {
	t.Helper()
	c := dialURL(t, "ws://"+httpAddr+"/rpc", websocket.DefaultDialer)
	var sess struct {
		ICEServers []struct {
			URLs       []string `json:"urls"`
			Username   string   `json:"username"`
			Credential string   `json:"credential"`
		} `json:"iceServers"`
		ExpiresAt int64 `json:"iceServersExpiresAt"`
	}
	mustCall(t, c, "session.connect", map[string]any{"identity": identity}, &sess)
	if len(sess.ICEServers) == 0 {
		t.Fatal("session.connect returned no iceServers")
	}
	s := sess.ICEServers[0]
	checkIssued(t, s.Username, s.Credential, identity, time.Unix(sess.ExpiresAt, 0), s.URLs, turnUDP)
	return s.Username, s.Credential
}

// checkIssued checks a credential parley issued: "<expiry>:<identity>" with
// the expiry within a few seconds of expires, a 28-character base64
// HMAC-SHA1, and URLs naming parley's own TURN server.
func checkIssued(t *testing.T, username, password, identity string, expires time.Time, urls []string, turnUDP string) {
	t.Helper()
	ts, id, _ := strings.Cut(username, ":")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || id != identity || time.Unix(sec, 0).Sub(expires).Abs() > 5*time.Second {
		t.Fatalf("username %q, want <unix expiry ≈ %d>:%s", username, expires.Unix(), identity)
	}
	if mac, err := base64.StdEncoding.DecodeString(password); err != nil || len(mac) != sha1.Size {
		t.Fatalf("password %q is not a base64 HMAC-SHA1", password)
	}
	if want := "turn:" + turnUDP + "?transport=udp"; !slices.Contains(urls, want) {
		t.Fatalf("urls %q lack %s", urls, want)
	}
}

// allocate asks server for a UDP relay with pion's client (which takes the
// realm from the server's 401).
func allocate(t *testing.T, server, username, password string) (net.PacketConn, error) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: server, TURNServerAddr: server, Username: username, Password: password, Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	relay, err := c.AllocateWithContext(ctx)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = relay.Close() })
	return relay, nil
}

// relayRoundTrip sends a datagram from the relay to a local socket, checks
// it arrives from the relayed address, and answers it back through the relay.
func relayRoundTrip(t *testing.T, relay net.PacketConn) {
	t.Helper()
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	buf := make([]byte, 1500)
	recv := func(c net.PacketConn, what string) (string, net.Addr) {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return string(buf[:n]), from
	}
	ping, pong := "ping via "+relay.LocalAddr().String(), "pong to "+relay.LocalAddr().String()
	if _, err := relay.WriteTo([]byte(ping), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if got, from := recv(peer, "peer reading the relayed datagram"); got != ping || from.String() != relay.LocalAddr().String() {
		t.Fatalf("peer got %q from %s, want %q from %s", got, from, ping, relay.LocalAddr())
	}
	if _, err := peer.WriteTo([]byte(pong), relay.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if got, from := recv(relay, "client reading the answer"); got != pong || from.String() != peer.LocalAddr().String() {
		t.Fatalf("client got %q from %s, want %q from %s", got, from, pong, peer.LocalAddr())
	}
}
