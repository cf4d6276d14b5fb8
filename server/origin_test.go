package server

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// upgrade tries a WebSocket upgrade with the given Host and Origin headers
// ("" for none) and returns the HTTP status and body of a refusal, or 101.
func upgrade(t *testing.T, ts *testServer, host, origin string) (int, string) {
	t.Helper()
	h := http.Header{}
	if host != "" {
		h.Set("Host", host)
	}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ws, resp, err := websocket.DefaultDialer.Dial(ts.wsURL, h)
	if err == nil {
		_ = ws.Close()
		return http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatalf("upgrade (Host %q, Origin %q): %v", host, origin, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestOriginNeverJudgedByHost: under DNS rebinding a page's Origin and the
// request's Host both name the attacker's domain, so the Host admits
// nothing: a production server admits its --public-url and
// --allowed-origins origins only, and its 403 names the refused origin
// and the flag that admits it.
func TestOriginNeverJudgedByHost(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Dev = false
		c.AllowedOrigins = []string{"https://app.example"}
		c.PublicURL = []string{"https://Signal.Example:443/"}
	})
	port := strings.TrimPrefix(ts.base, "http://127.0.0.1")
	for _, tc := range []struct {
		host, origin string
		want         int
	}{
		{"", "", 101}, // not a browser
		{"", "https://app.example", 101},
		{"signal.example", "https://signal.example", 101}, // the server's own pages, as browsers spell the origin
		{"", "https://signal.example", 101},
		{"rebind.evil.example" + port, "http://rebind.evil.example" + port, 403}, // "same origin", the rebinding way
		{"", "http://127.0.0.1" + port, 403},                                     // same origin by Host: not on its own
		{"", "http://localhost:5173", 403},                                       // loopback pages: dev mode only
		{"", "https://signal.example:8443", 403},
		{"", "null", 403},
	} {
		code, body := upgrade(t, ts, tc.host, tc.origin)
		if code != tc.want {
			t.Errorf("Host %q, Origin %q: HTTP %d %s, want %d", tc.host, tc.origin, code, body, tc.want)
		}
		if code == 403 && (!strings.Contains(body, `"`+tc.origin+`"`) || !strings.Contains(body, "--allowed-origins")) {
			t.Errorf("Origin %q: the 403 says %q; want the origin and --allowed-origins", tc.origin, body)
		}
	}
}

// TestDevServerAnswersLoopbackHostsOnly: a dev server (bare identities,
// loopback pages) answers no request addressed to another host, so a
// DNS-rebinding page cannot use it; a --public-url host is answered.
func TestDevServerAnswersLoopbackHostsOnly(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.PublicURL = []string{"http://devbox.lan:7880"} })
	port := strings.TrimPrefix(ts.base, "http://127.0.0.1")
	for _, tc := range []struct {
		host, origin string
		want         int
	}{
		{"", "", 101},
		{"localhost" + port, "http://localhost" + port, 101},
		{"[::1]" + port, "http://localhost:5173", 101},
		{"app.localhost" + port, "http://app.localhost:3000", 101},
		{"devbox.lan" + port, "http://devbox.lan:7880", 101},
		{"rebind.evil.example" + port, "http://rebind.evil.example" + port, 403},
		{"rebind.evil.example" + port, "", 403},
		{"127.0.0.1.evil.example" + port, "", 403},
		{"", "https://evil.example", 403},
	} {
		if code, body := upgrade(t, ts, tc.host, tc.origin); code != tc.want {
			t.Errorf("Host %q, Origin %q: HTTP %d %s, want %d", tc.host, tc.origin, code, body, tc.want)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, ts.base+"/demo/", nil)
	req.Host = "rebind.evil.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "--public-url") {
		t.Fatalf("GET /demo/ for Host rebind.evil.example: HTTP %d %s", resp.StatusCode, body)
	}
}

// TestOriginRefusalsLoggedRateLimited: every refused origin is logged at
// info with the origin, at most about ten in a burst; the next line logged
// counts those left out.
func TestOriginRefusalsLoggedRateLimited(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Dev = false })
	for i := range 40 {
		if code, _ := upgrade(t, ts, "", "https://evil"+strings.Repeat("x", i)+".example"); code != 403 {
			t.Fatalf("refusal %d: HTTP %d", i, code)
		}
	}
	logged := strings.Count(ts.logs.String(), "origin not allowed")
	if logged < 1 || logged > 15 {
		t.Fatalf("%d of 40 refusals logged, want the burst (10) or about", logged)
	}
	if !strings.Contains(ts.logs.String(), `level=INFO msg="websocket refused: origin not allowed" origin=https://evil.example`) {
		t.Fatalf("no info line naming the origin:\n%s", ts.logs.String())
	}
	ts.srv.refusals.limit.SetLimit(rate.Inf) // room again: the next line counts what was left out
	upgrade(t, ts, "", "https://late.example")
	if !strings.Contains(ts.logs.String(), "not_logged_since=") {
		t.Fatalf("the next logged refusal does not count the skipped ones:\n%s", ts.logs.String())
	}
}
