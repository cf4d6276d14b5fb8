package abuse

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-rtc/parley/internal/rpctest"
	"github.com/parley-rtc/parley/internal/testkit/parleyproc"
)

// The abuse suite's API key, for the servers started without --dev.
const (
	apiKID    = "abuse"
	apiSecret = "abuse-suite-secret-0123456789abcdef"
)

// startProduction runs `parley serve` without --dev (tokens only, no
// loopback pages) on 127.0.0.1:0, without TURN.
func startProduction(t *testing.T, args ...string) *parleyproc.Process {
	t.Helper()
	return parleyproc.Start(t, binary, nil, append([]string{"--listen", "127.0.0.1:0", "--no-turn", "--api-keys", apiKID + ":" + apiSecret}, args...)...)
}

// rebind opens /rpc on addr as a page of host would after a DNS
// rebinding (host resolving to this server's address): Host and Origin
// both name it. It returns the connection, or the refusal's status and body.
func rebind(t *testing.T, addr, host, origin string) (*rpctest.Client, int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rpctest.Timeout)
	defer cancel()
	h := http.Header{"Host": {host}}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+addr+"/rpc", h)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial as %s: %v", host, err)
		}
		body, _ := io.ReadAll(resp.Body)
		return nil, resp.StatusCode, string(body)
	}
	_ = ws.Close()
	c, err := rpctest.Dial(ctx, "ws://"+addr+"/rpc", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, http.StatusSwitchingProtocols, ""
}

// TestDNSRebindingDevServer (issue 16.9): a page on rebind.evil.example,
// whose name the attacker points at 127.0.0.1, talks to a dev server on
// the victim's machine: Origin and Host both name the attacker's domain.
// A dev server answers loopback hosts only, so the page gets no session
// (before: it was admitted as "same origin" and could name any identity)
// and not even the demo page.
func TestDNSRebindingDevServer(t *testing.T) {
	tg := start(t, 256, "--no-turn")
	_, port, _ := strings.Cut(tg.Addr, ":")
	host := "rebind.evil.example:" + port
	c, code, body := rebind(t, tg.Addr, host, "http://"+host)
	if c != nil {
		_, err := c.Call("session.connect", map[string]any{"identity": "victim"})
		t.Fatalf("a rebinding page got a WebSocket (session.connect as the victim: %v)", err)
	}
	if code != http.StatusForbidden || !strings.Contains(body, "not loopback") {
		t.Fatalf("rebinding page: HTTP %d %q, want 403 naming the loopback rule", code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, tg.httpURL()+"/demo/", nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET /demo/ for Host %s: HTTP %d, want 403", host, resp.StatusCode)
	}
	// The same server still serves its own loopback pages.
	if c, code, body := rebind(t, tg.Addr, "localhost:"+port, "http://localhost:"+port); c == nil {
		t.Fatalf("a loopback page: HTTP %d %s", code, body)
	}
}

// TestDNSRebindingProduction (issue 16.9, 17.8): a production server never
// takes an Origin equal to the Host for its own: it admits its
// --public-url's origin and --allowed-origins, and answers anyone else 403
// naming the refused origin and the flag that admits it (before: gorilla's
// "request origin not allowed by Upgrader.CheckOrigin", and the rebinding
// page was admitted).
func TestDNSRebindingProduction(t *testing.T) {
	p := startProduction(t, "--public-url", "https://signal.example.test", "--allowed-origins", "https://app.example.test")
	_, port, _ := strings.Cut(p.Addr, ":")
	for _, tc := range []struct {
		host, origin string
		admitted     bool
	}{
		{"rebind.evil.example:" + port, "http://rebind.evil.example:" + port, false},
		{"127.0.0.1:" + port, "http://127.0.0.1:" + port, false},
		{"signal.example.test", "https://signal.example.test", true}, // the server's own pages, configured
		{"127.0.0.1:" + port, "https://app.example.test", true},
		{"127.0.0.1:" + port, "", true}, // not a browser: tokens decide
	} {
		c, code, body := rebind(t, p.Addr, tc.host, tc.origin)
		if (c != nil) != tc.admitted {
			t.Errorf("Host %s, Origin %q: HTTP %d %s; admitted should be %v", tc.host, tc.origin, code, body, tc.admitted)
			continue
		}
		if !tc.admitted && (code != http.StatusForbidden || !strings.Contains(body, `"`+tc.origin+`"`) || !strings.Contains(body, "--allowed-origins")) {
			t.Errorf("Origin %q: HTTP %d %q; want 403 naming the origin and --allowed-origins", tc.origin, code, body)
		}
	}
}

// TestOriginRefusalFlood: a page (or a script posing as one) hammering the
// server with refused upgrades costs it nothing lasting: each refusal is
// answered at once (403 naming the origin), its log lines are
// rate-limited, a legitimate session's latency holds, and goroutines and
// open files come back to where they were.
func TestOriginRefusalFlood(t *testing.T) {
	tg := start(t, 512, "--no-turn")
	p := tg.probe(t)
	baseline := p.latency(t, 50)
	before := tg.usage(t)
	n := size(2000, 20000)
	const workers = 8
	header := http.Header{"Origin": {"https://evil.example"}}
	url := "ws://" + tg.Addr + "/rpc"
	began := time.Now()
	var wg sync.WaitGroup
	var unexpected atomic.Int64
	for range workers {
		wg.Go(func() {
			for range n / workers {
				ws, resp, err := websocket.DefaultDialer.Dial(url, header)
				if err == nil {
					_ = ws.Close()
				}
				if resp == nil || resp.StatusCode != http.StatusForbidden {
					unexpected.Add(1)
				}
			}
		})
	}
	during := p.latency(t, 50)
	wg.Wait()
	elapsed := time.Since(began)
	if u := unexpected.Load(); u > 0 {
		t.Fatalf("%d of %d upgrades from a refused origin were not answered 403", u, n)
	}
	checkLatency(t, "during the flood", baseline, during)
	checkLatency(t, "after the flood", baseline, p.latency(t, 50))
	var after usage
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		after = tg.usage(t)
		if after.goroutines <= before.goroutines+5 && after.openFDs <= before.openFDs+5 || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("%d refused upgrades in %v (%.0f/s); before: %v; after: %v", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), before, after)
	if after.goroutines > before.goroutines+5 || after.openFDs > before.openFDs+5 {
		t.Errorf("the server holds more after the flood: before %v, after %v", before, after)
	}
}
