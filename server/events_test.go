package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-rtc/parley/api"
)

// eventList is admin.events.list's result.
type eventList struct {
	Events []api.Event `json:"events"`
	Oldest int64       `json:"oldest"`
	More   bool        `json:"more"`
}

// waitEvents polls admin.events.list until n events are retained.
func waitEvents(t *testing.T, ops *peer, n int) []api.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l := call[eventList](t, ops, "admin.events.list", map[string]any{"limit": 1000})
		if len(l.Events) >= n {
			return l.Events
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events retained, want %d: %+v", len(l.Events), n, l.Events)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sessionEventsOf lists "type:reason" of a session's events.
func sessionEventsOf(evs []api.Event, sessionID string) string {
	var out []string
	for _, e := range evs {
		if e.Data.SessionID == sessionID {
			out = append(out, e.Type+":"+e.Data.Reason)
		}
	}
	return strings.Join(out, " ")
}

// TestSessionEvents: session.started at connect; session.ended once, when
// the connection closes normally, or when a dropped session's resume
// window passes; a resume is no new session.
func TestSessionEvents(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Limits.ResumeWindow = 200 * time.Millisecond })
	ops := admin(t, ts)
	alice, bob, carol := ts.connect(t, "alice"), ts.connect(t, "bob"), ts.connect(t, "carol")
	// alice says goodbye; bob's network drops and he never comes back;
	// carol's drops and she resumes.
	if err := alice.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")); err != nil {
		t.Fatal(err)
	}
	_ = bob.Close()
	_ = carol.Close()
	resumed := ts.dial(t, nil)
	if _, err := resumed.Call("session.connect", map[string]any{"resume": map[string]any{
		"sessionId": carol.session["sessionId"], "resumeToken": carol.session["resumeToken"], "lastSeq": 0,
	}}); err != nil {
		t.Fatalf("resume: %v", err)
	}
	evs := waitEvents(t, ops, 6) // ops', alice's and bob's two each, carol's start
	for _, tc := range []struct {
		p    *peer
		want string
	}{
		{alice, "session.started: session.ended:normal"},
		{bob, "session.started: session.ended:timeout"},
		{carol, "session.started:"},
	} {
		if got := sessionEventsOf(evs, tc.p.session["sessionId"].(string)); got != tc.want {
			t.Errorf("%s's events %q, want %q", tc.p.session["identity"], got, tc.want)
		}
	}
	for _, e := range evs {
		if e.Type == "session.ended" && (e.Data.DurationMs < 0 || e.Data.Identity == "" || e.Data.PeerID == "") {
			t.Errorf("session.ended without its facts: %+v", e.Data)
		}
	}
}

// TestAdminEventsList pages by cursor and is for admins only.
func TestAdminEventsList(t *testing.T) {
	ts := startServer(t)
	ops := admin(t, ts)
	for i := range 5 {
		ts.connect(t, fmt.Sprintf("user%d", i))
	}
	all := waitEvents(t, ops, 6)
	page := call[eventList](t, ops, "admin.events.list", map[string]any{"after": all[1].Data.Cursor, "limit": 2})
	if len(page.Events) != 2 || !page.More || page.Events[0].Data.Cursor != all[2].Data.Cursor || page.Oldest != all[0].Data.Cursor {
		t.Fatalf("page after the second: %+v", page)
	}
	_, err := ts.connect(t, "mallory").Call("admin.events.list", nil)
	rpcError(t, err, 403, "admin.events.list needs the admin grant")
}

// TestWebhookDeliveredAndCounted: the configured URL gets the events,
// signed; /metrics counts deliveries and the refused attempt's retry.
func TestWebhookDeliveredAndCounted(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	refused := false
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if !refused {
			refused = true
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if !strings.HasPrefix(r.Header.Get("webhook-signature"), "v1,") || r.Header.Get("webhook-id") == "" {
			t.Errorf("unsigned delivery: %v", r.Header)
		}
		bodies = append(bodies, string(body))
	}))
	t.Cleanup(hook.Close)
	ts := startServer(t, func(c *Config) {
		c.Webhook.URLs = []string{hook.URL}
		c.Webhook.Secrets = []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
		c.Webhook.FirstRetry = 50 * time.Millisecond
	})
	ts.connect(t, "alice")
	deadline := time.Now().Add(10 * time.Second)
	for m := scrape(t, ts); m["parley_webhook_delivered_total"] < 1; m = scrape(t, ts) {
		if time.Now().After(deadline) {
			t.Fatalf("no delivery counted: %v", m["parley_webhook_delivered_total"])
		}
		time.Sleep(10 * time.Millisecond)
	}
	m := scrape(t, ts)
	if m["parley_webhook_retries_total"] != 1 || m["parley_webhook_queue_depth"] != 0 || m["parley_webhook_delivery_seconds_count"] != 1 {
		t.Fatalf("webhook metrics: retries %v, depth %v, latency count %v", m["parley_webhook_retries_total"], m["parley_webhook_queue_depth"], m["parley_webhook_delivery_seconds_count"])
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 || !strings.Contains(bodies[0], `"type":"session.started"`) || !strings.Contains(bodies[0], `"identity":"alice"`) {
		t.Fatalf("delivered %q", bodies)
	}
}

// TestWebhookConfigChecked: bad webhook settings stop the server before
// it starts, naming their keys.
func TestWebhookConfigChecked(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dev = true
	cfg.Webhook.URLs = []string{"https://backend.example/hooks"}
	cfg.Webhook.QueueSize = 0
	err := cfg.Validate()
	for _, want := range []string{"webhook.secret: webhooks need a signing secret", "webhook.queue: must be at least 1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want %q", err, want)
		}
	}
}
