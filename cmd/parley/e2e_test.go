package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-rtc/parley/internal/rpctest"
	"github.com/parley-rtc/parley/internal/testkit"
	"github.com/parley-rtc/parley/internal/testkit/parleyproc"
)

// binary is the real parley executable, built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parley-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "parley")
	if err := parleyproc.Build(binary, "."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startParley runs the binary built by TestMain and waits for its
// "listening on" line.
func startParley(t *testing.T, env []string, args ...string) *parleyproc.Process {
	t.Helper()
	return parleyproc.Start(t, binary, env, args...)
}

// startDevTURN is a dev server whose STUN/TURN is up.
func startDevTURN(t *testing.T) *parleyproc.Process {
	t.Helper()
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--turn-listen", "127.0.0.1:0")
	p.WaitTURN(t)
	return p
}

func dialURL(t *testing.T, url string, dialer *websocket.Dialer) *rpctest.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rpctest.Timeout)
	defer cancel()
	c, err := rpctest.DialWith(ctx, dialer, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestDevServerRelays is the README's first-run story: make run, two clients
// with bare identities, a room, offer/answer/candidates relayed; then SIGTERM
// (with no drain time) shuts the server down cleanly.
func TestDevServerRelays(t *testing.T) {
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--turn-listen", "127.0.0.1:0", "--drain-timeout", "0s")
	url := "ws://" + p.Addr + "/rpc"
	alice, bob := dialURL(t, url, websocket.DefaultDialer), dialURL(t, url, websocket.DefaultDialer)
	var aliceSess, bobSess struct {
		PeerID string `json:"peerId"`
	}
	mustCall(t, alice, "session.connect", map[string]any{"identity": "alice"}, &aliceSess)
	mustCall(t, bob, "session.connect", map[string]any{"identity": "bob"}, &bobSess)
	mustCall(t, alice, "room.join", map[string]any{"roomId": "demo", "create": true}, nil)
	mustCall(t, bob, "room.join", map[string]any{"roomId": "demo"}, nil)
	if err := alice.Expect("room.peerJoined", nil); err != nil {
		t.Fatal(err)
	}
	sdp := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
	mustCall(t, alice, "sdp.offer", map[string]any{"roomId": "demo", "to": bobSess.PeerID, "sdp": sdp}, nil)
	var offer struct {
		From string `json:"from"`
		SDP  string `json:"sdp"`
	}
	if err := bob.Expect("sdp.offer", &offer); err != nil || offer.From != aliceSess.PeerID || offer.SDP != sdp {
		t.Fatalf("bob got offer %+v, %v", offer, err)
	}
	mustCall(t, bob, "sdp.answer", map[string]any{"roomId": "demo", "to": aliceSess.PeerID, "sdp": sdp}, nil)
	if err := alice.Expect("sdp.answer", nil); err != nil {
		t.Fatal(err)
	}
	cand := map[string]any{"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", "sdpMid": "0"}
	mustCall(t, bob, "ice.candidate", map[string]any{"roomId": "demo", "to": aliceSess.PeerID, "candidate": cand}, nil)
	if err := alice.Expect("ice.candidate", nil); err != nil {
		t.Fatal(err)
	}

	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
		if err := p.Err(); err != nil {
			t.Fatalf("parley exited with %v after SIGTERM", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("parley did not exit after SIGTERM")
	}
	if err := alice.Expect("session.draining", nil); err != nil {
		t.Fatalf("alice was not told the node drains: %v", err)
	}
	if err := alice.Expect("room.closed", nil); err != nil {
		t.Fatalf("alice was not told the room closed: %v", err)
	}
	if code, _, err := alice.CloseCode(); err != nil || code != websocket.CloseGoingAway {
		t.Fatalf("alice's close: %d %v, want 1001", code, err)
	}
}

// TestDrain: SIGTERM drains. /readyz turns 503, connected sessions get
// session.draining and keep relaying (nothing is lost), a new session is
// refused with 503 and retryAfterMs, and the server exits at the deadline
// (room.closed, 1001). A second SIGTERM exits at once.
func TestDrain(t *testing.T) {
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--no-turn", "--drain-timeout", "2s")
	url := "ws://" + p.Addr + "/rpc"
	alice, bob := dialURL(t, url, websocket.DefaultDialer), dialURL(t, url, websocket.DefaultDialer)
	var bobSess struct {
		PeerID string `json:"peerId"`
	}
	mustCall(t, alice, "session.connect", map[string]any{"identity": "alice"}, nil)
	mustCall(t, bob, "session.connect", map[string]any{"identity": "bob"}, &bobSess)
	mustCall(t, alice, "room.join", map[string]any{"roomId": "d", "create": true}, nil)
	mustCall(t, bob, "room.join", map[string]any{"roomId": "d"}, nil)
	if err := alice.Expect("room.peerJoined", nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var notice struct {
		Deadline     int64 `json:"deadline"`
		RetryAfterMs int64 `json:"retryAfterMs"`
	}
	for _, c := range []*rpctest.Client{alice, bob} {
		if err := c.Expect("session.draining", &notice); err != nil || notice.RetryAfterMs != 2000 || notice.Deadline < time.Now().UnixMilli() {
			t.Fatalf("session.draining %+v, %v", notice, err)
		}
	}
	if res, err := http.Get("http://" + p.Addr + "/readyz"); err != nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while draining: %v %v", res, err)
	}
	late := dialURL(t, url, websocket.DefaultDialer)
	_, err := late.Call("session.connect", map[string]any{"identity": "carol"})
	var rerr *rpctest.Error
	if !errors.As(err, &rerr) || rerr.Code != 503 || !strings.Contains(string(rerr.Data), `"retryAfterMs"`) {
		t.Fatalf("session.connect while draining: %v, want 503 with retryAfterMs", err)
	}
	for i := range 20 { // the sessions still work until the deadline
		mustCall(t, alice, "message.send", map[string]any{"roomId": "d", "to": bobSess.PeerID, "data": i}, nil)
	}
	for i := range 20 {
		var msg struct {
			Data int `json:"data"`
		}
		if err := bob.Expect("message.received", &msg); err != nil || msg.Data != i {
			t.Fatalf("message %d while draining: %+v %v", i, msg, err)
		}
	}
	select {
	case <-p.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("parley did not exit at the drain deadline")
	}
	if err := alice.Expect("room.closed", nil); err != nil {
		t.Fatalf("alice was not told the room closed: %v", err)
	}
	if code, _, err := alice.CloseCode(); err != nil || code != websocket.CloseGoingAway {
		t.Fatalf("alice's close: %d %v, want 1001", code, err)
	}

	q := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--no-turn", "--drain-timeout", "1h")
	mustCall(t, dialURL(t, "ws://"+q.Addr+"/rpc", websocket.DefaultDialer), "session.connect", map[string]any{"identity": "dave"}, nil)
	for range 2 {
		if err := q.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // let the first signal start the drain
	}
	select {
	case <-q.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("a second SIGTERM did not stop a draining parley")
	}
}

func mustCall(t *testing.T, c *rpctest.Client, method string, params, out any) {
	t.Helper()
	if err := c.CallInto(method, params, out); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}

// TestTLSAndTokens runs a production-style server: TLS, an API key from the
// environment, no dev mode; a token from `parley token` opens a session and
// a bare identity is refused.
func TestTLSAndTokens(t *testing.T) {
	dir := t.TempDir()
	cert := testkit.SelfSigned(t)
	certFile, keyFile := cert.Files(t, dir)
	pool := cert.Pool
	key := "main:" + strings.Repeat("k", 40)
	p := startParley(t, []string{"PARLEY_API_KEYS=" + key}, "--listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile)

	out, err := exec.Command(binary, "token", "--key", key, "--identity", "alice", "--room", "demo").Output()
	if err != nil {
		t.Fatalf("parley token: %v", err)
	}
	dialer := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	c := dialURL(t, "wss://"+p.Addr+"/rpc", dialer)
	var sess struct {
		Identity string `json:"identity"`
	}
	mustCall(t, c, "session.connect", map[string]any{"token": strings.TrimSpace(string(out))}, &sess)
	if sess.Identity != "alice" {
		t.Fatalf("identity = %q", sess.Identity)
	}
	mustCall(t, c, "room.join", map[string]any{"roomId": "demo", "create": true}, nil)
	if _, err := c.Call("room.join", map[string]any{"roomId": "other", "create": true}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("join outside the token's rooms: %v", err)
	}
	// --owner: bob joins after alice, the room's first peer, as an owner.
	out, err = exec.Command(binary, "token", "--key", key, "--identity", "bob", "--room", "lobby", "--owner", "demo").Output()
	if err != nil {
		t.Fatalf("parley token --owner: %v", err)
	}
	bob := dialURL(t, "wss://"+p.Addr+"/rpc", dialer)
	mustCall(t, bob, "session.connect", map[string]any{"token": strings.TrimSpace(string(out))}, nil)
	var joined struct {
		Self struct {
			Role string `json:"role"`
		} `json:"self"`
	}
	mustCall(t, bob, "room.join", map[string]any{"roomId": "demo"}, &joined)
	if joined.Self.Role != "owner" {
		t.Fatalf("bob, whose token owns demo, joined as %q", joined.Self.Role)
	}
	bare := dialURL(t, "wss://"+p.Addr+"/rpc", dialer)
	if _, err := bare.Call("session.connect", map[string]any{"identity": "mallory"}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bare identity without --dev: %v", err)
	}
}

func TestCommandLine(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"version"}, 0, "parley"},
		{[]string{"version", "--help"}, 0, "Usage: parley version"},
		{[]string{"version", "extra"}, 1, "unexpected argument"},
		{[]string{"help"}, 0, "parley serve"},
		{[]string{"serve", "--help"}, 0, "--max-frame-bytes"},
		{[]string{"bogus"}, 2, "unknown command"},
		{[]string{"serve", "--listen", "0.0.0.0:0", "--dev"}, 1, "--insecure"},
		{[]string{"serve", "--rate", "0", "--dev"}, 1, "rate: must be positive"},
		{[]string{"serve"}, 1, "api-keys"},
		{[]string{"token", "--identity", "a"}, 1, "--key"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(binary, tc.args...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			out, _ := cmd.CombinedOutput()
			if cmd.ProcessState.ExitCode() != tc.code || !strings.Contains(string(out), tc.want) {
				t.Fatalf("exit %d, output:\n%s\nwant exit %d mentioning %q", cmd.ProcessState.ExitCode(), out, tc.code, tc.want)
			}
		})
	}
}

// TestMetricsListen: --metrics-listen moves /metrics to its own address and
// off the public one.
func TestMetricsListen(t *testing.T) {
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--no-turn", "--metrics-listen", "127.0.0.1:0")
	var metricsURL string
	deadline := time.After(5 * time.Second)
	for metricsURL == "" {
		select {
		case line := <-p.Out:
			metricsURL, _ = strings.CutPrefix(line, "metrics on ")
		case <-deadline:
			t.Fatal("parley did not print its metrics address")
		}
	}
	for url, want := range map[string]int{metricsURL: http.StatusOK, "http://" + p.Addr + "/metrics": http.StatusNotFound} {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want || want == http.StatusOK && !strings.Contains(string(body), "parley_sessions_active") {
			t.Errorf("GET %s: %s, want %d", url, res.Status, want)
		}
	}
}

// TestServePrintsPages: a dev server ('make run') prints where its demo,
// inspector and metrics are, and each of those URLs answers.
func TestServePrintsPages(t *testing.T) {
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--no-turn")
	want := map[string]string{"demo": "/demo/", "inspector": "/inspector/", "metrics": "/metrics"}
	deadline := time.After(5 * time.Second)
	for len(want) > 0 {
		select {
		case line := <-p.Out:
			fields := strings.Fields(line)
			if len(fields) < 2 || want[fields[0]] == "" {
				continue
			}
			if url := "http://" + p.Addr + want[fields[0]]; fields[1] != url {
				t.Fatalf("%q, want %s", line, url)
			}
			res, err := http.Get(fields[1])
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s", fields[1], res.Status)
			}
			delete(want, fields[0])
		case <-deadline:
			t.Fatalf("parley did not print %v", want)
		}
	}
}
