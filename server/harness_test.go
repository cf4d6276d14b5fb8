package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/internal/rpctest"
	"github.com/parley-rtc/parley/internal/testkit"
	"github.com/parley-rtc/parley/internal/testkit/redisproc"
)

// testRedis is the redis-server the tests' servers keep their state in
// when PARLEY_TEST_STORE=redis (make test-go runs the package both ways),
// each in a database of its own; nil: the memory store.
var (
	testRedis *redisproc.Server
	testDBs   atomic.Int64
)

func TestMain(m *testing.M) {
	if os.Getenv("PARLEY_TEST_STORE") != "redis" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "parley-redis")
	if err == nil {
		testRedis, err = redisproc.Launch(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "PARLEY_TEST_STORE=redis:", err)
		os.Exit(1)
	}
	code := m.Run()
	testRedis.Kill()
	os.RemoveAll(dir)
	os.Exit(code)
}

// onRedis reports whether the test servers run in cluster mode.
func onRedis() bool { return testRedis != nil }

// testKey is the API key every test server trusts.
const (
	testKID    = "test"
	testSecret = "0123456789abcdef0123456789abcdef"
)

// testServer is a real server on a loopback port.
type testServer struct {
	srv   *Server
	wsURL string
	base  string
	logs  *testkit.SyncBuffer
}

// startServer runs a dev-mode server on 127.0.0.1:0 until the test ends.
func startServer(t testing.TB, mutate ...func(*Config)) *testServer {
	t.Helper()
	return startServerWith(t, nil, mutate...)
}

// startServerWith is startServer with prepare run on the built server
// before it serves (e.g. to replace its clock); prepare may be nil.
func startServerWith(t testing.TB, prepare func(*Server), mutate ...func(*Config)) *testServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Dev = true
	cfg.Listen = "127.0.0.1:0"
	cfg.TURN.Listen = "127.0.0.1:0" // the dev default, 3478, would collide between tests
	cfg.APIKeys = []string{testKID + ":" + testSecret}
	cfg.Limits.RateBurst = 10_000
	cfg.Limits.RatePerSecond = 10_000
	if onRedis() {
		cfg.Redis.URL = testRedis.URL(int(testDBs.Add(1)))
	}
	for _, m := range mutate {
		m(&cfg)
	}
	logs := &testkit.SyncBuffer{}
	srv, err := New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if prepare != nil {
		prepare(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	addr := ln.Addr().String()
	return &testServer{srv: srv, wsURL: "ws://" + addr + "/rpc", base: "http://" + addr, logs: logs}
}

// dial opens a raw connection without a session.
func (ts *testServer) dial(t testing.TB, header http.Header) *rpctest.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rpctest.Timeout)
	defer cancel()
	c, err := rpctest.Dial(ctx, ts.wsURL, header)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// peer is a connected client with its session.
type peer struct {
	*rpctest.Client
	t       testing.TB
	peerID  string
	session map[string]any
}

// connect opens a session with a dev identity.
func (ts *testServer) connect(t testing.TB, identity string) *peer {
	t.Helper()
	return ts.connectWith(t, map[string]any{"identity": identity})
}

func (ts *testServer) connectWith(t testing.TB, params map[string]any) *peer {
	t.Helper()
	c := ts.dial(t, nil)
	var res map[string]any
	if err := c.CallInto("session.connect", params, &res); err != nil {
		t.Fatalf("session.connect: %v", err)
	}
	return &peer{Client: c, t: t, peerID: res["peerId"].(string), session: res}
}

// roomOfTwo connects alice and bob and seats them in room, alice first (so
// bob is the polite side); alice's room.peerJoined about bob is consumed.
func (ts *testServer) roomOfTwo(t testing.TB, room string) (alice, bob *peer) {
	t.Helper()
	alice, bob = ts.connect(t, "alice"), ts.connect(t, "bob")
	joinRoom(alice, room)
	joinRoom(bob, room)
	alice.expect("room.peerJoined")
	return alice, bob
}

// must calls and fails the test on an error.
func (p *peer) must(method string, params any) jsontext.Value {
	p.t.Helper()
	res, err := p.Call(method, params)
	if err != nil {
		p.t.Fatalf("%s: %v", method, err)
	}
	return res
}

// expect waits for a notification of method and returns its params.
func (p *peer) expect(method string) map[string]any {
	p.t.Helper()
	var params map[string]any
	if err := p.Expect(method, &params); err != nil {
		p.t.Fatal(err)
	}
	return params
}

// rpcError asserts err is a JSON-RPC error with code, and that its message
// or data mentions want.
func rpcError(t testing.TB, err error, code int64, want string) {
	t.Helper()
	e, ok := err.(*rpctest.Error)
	if !ok {
		t.Fatalf("got %v, want rpc error %d", err, code)
	}
	if e.Code != code {
		t.Fatalf("got error %d %q %s, want code %d", e.Code, e.Message, e.Data, code)
	}
	if !strings.Contains(e.Message+string(e.Data), want) {
		t.Fatalf("error %d %q %s does not mention %q", e.Code, e.Message, e.Data, want)
	}
}

// goroutinesSettle waits until the goroutine count is back near baseline.
func goroutinesSettle(t testing.TB, baseline int) {
	t.Helper()
	testkit.Eventually(t, "goroutines to return to baseline", func() bool {
		return runtime.NumGoroutine() <= baseline+2
	})
}

// sampleSDP is a minimal valid offer (as pion/webrtc writes one).
const sampleSDP = "v=0\r\no=- 4215775240449105457 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"a=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 " +
	"AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n" +
	"a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n"

const sampleCandidate = "candidate:842163049 1 udp 1677729535 192.0.2.10 46154 typ srflx raddr 10.0.0.2 rport 46154 generation 0 ufrag abcd network-cost 999"

// fakeClock is a settable s.now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
