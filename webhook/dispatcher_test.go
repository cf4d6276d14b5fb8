package webhook

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/parley-rtc/parley/api"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// testConfig delivers to urls with fast retries.
func testConfig(urls ...string) Config {
	c := DefaultConfig()
	c.URLs = urls
	c.Secrets = []string{testSecret}
	c.FirstRetry = 50 * time.Millisecond
	c.MaxBackoff = 200 * time.Millisecond
	return c
}

func start(t *testing.T, c Config) *Dispatcher {
	t.Helper()
	d, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recorder is an in-process receiver: it decodes each body and answers
// what status says.
type recorder struct {
	mu     sync.Mutex
	got    []api.Event
	ids    []string
	status func(n int) int // the answer to the n-th delivery (0-based)
	hold   chan struct{}   // if set, each delivery waits for a receive on it
	came   chan struct{}   // if set, told of each delivery as it comes
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if r.came != nil {
		r.came <- struct{}{}
	}
	if r.hold != nil {
		<-r.hold
	}
	var ev api.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	n := len(r.got)
	r.got = append(r.got, ev)
	r.ids = append(r.ids, req.Header.Get("webhook-id"))
	r.mu.Unlock()
	code := http.StatusNoContent
	if r.status != nil {
		code = r.status(n)
	}
	w.WriteHeader(code)
}

func (r *recorder) events() []api.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]api.Event(nil), r.got...)
}

func serve(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// roomSeqs lists the room's events' roomSeq in arrival order.
func roomSeqs(evs []api.Event, room string) []int64 {
	var out []int64
	for _, e := range evs {
		if e.Data.RoomID == room {
			out = append(out, e.Data.RoomSeq)
		}
	}
	return out
}

// TestListRetainsTheLatest: the log keeps the last Retain events; List
// pages through them by cursor.
func TestListRetainsTheLatest(t *testing.T) {
	c := testConfig()
	c.Retain = 5
	d := start(t, c)
	for i := range 12 {
		publish(d, PeerJoined, api.EventData{RoomID: "r", PeerID: fmt.Sprint(i)})
	}
	all, more, oldest := d.List(0, 100)
	if len(all) != 5 || more || all[0].Data.PeerID != "7" || all[4].Data.PeerID != "11" || oldest != all[0].Data.Cursor {
		t.Fatalf("List(0) = %d events from peer %s, more %v, oldest %d", len(all), all[0].Data.PeerID, more, oldest)
	}
	page, more, _ := d.List(all[0].Data.Cursor, 2)
	if len(page) != 2 || !more || page[0].Data.PeerID != "8" || page[1].Data.PeerID != "9" {
		t.Fatalf("List(after the oldest, 2) = %v, more %v", page, more)
	}
	page, more, _ = d.List(all[4].Data.Cursor, 2)
	if len(page) != 0 || more {
		t.Fatalf("List(after the last) = %v, more %v", page, more)
	}
}

// TestRetriedInOrder: a refused delivery is retried with the same
// webhook-id, and the room's next event waits for it; another room's does
// not.
func TestRetriedInOrder(t *testing.T) {
	r := &recorder{status: func(n int) int {
		if n < 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}}
	d := start(t, testConfig(serve(t, r)))
	publish(d, PeerJoined, api.EventData{RoomID: "a"})
	publish(d, PeerJoined, api.EventData{RoomID: "a"})
	waitFor(t, "two deliveries", func() bool { return d.Stats().Delivered == 2 })
	evs := r.events()
	if len(evs) != 4 || r.ids[0] != r.ids[1] || r.ids[1] != r.ids[2] || r.ids[3] == r.ids[0] {
		t.Fatalf("ids %v: want the first event three times (two refusals), then the second", r.ids)
	}
	if got := roomSeqs(evs, "a"); fmt.Sprint(got) != "[1 1 1 2]" {
		t.Fatalf("room a's deliveries %v", got)
	}
	if st := d.Stats(); st.Retried != 2 || st.Queued != 0 || st.Latency.Count != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestGivenUp: an event still refused GiveUpAfter after it happened is
// given up (counted failed), and its room goes on.
func TestGivenUp(t *testing.T) {
	var refuse sync.Mutex
	refusing := true
	r := &recorder{status: func(int) int {
		refuse.Lock()
		defer refuse.Unlock()
		if refusing {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}}
	c := testConfig(serve(t, r))
	c.GiveUpAfter = 300 * time.Millisecond
	d := start(t, c)
	publish(d, PeerJoined, api.EventData{RoomID: "a"})
	waitFor(t, "a give-up", func() bool { return d.Stats().Failed == 1 })
	refuse.Lock()
	refusing = false
	refuse.Unlock()
	publish(d, PeerLeft, api.EventData{RoomID: "a"})
	waitFor(t, "the next event", func() bool { return d.Stats().Delivered == 1 })
	if st := d.Stats(); st.Retried == 0 || st.Queued != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestFullQueueDropsTheOldest: beyond QueueSize the oldest waiting event is
// dropped and counted, even the one in flight, and the room goes on with
// the rest in order.
func TestFullQueueDropsTheOldest(t *testing.T) {
	r := &recorder{hold: make(chan struct{}), came: make(chan struct{}, 10)}
	c := testConfig(serve(t, r))
	c.QueueSize = 3
	c.Concurrency = 1
	d := start(t, c)
	publish(d, PeerJoined, api.EventData{RoomID: "a"})
	<-r.came // event 1 is in flight
	for range 4 {
		publish(d, PeerJoined, api.EventData{RoomID: "a"})
	}
	if st := d.Stats(); st.Dropped != 2 || st.Queued != 3 {
		t.Fatalf("after 5 events for a queue of 3: %+v", st)
	}
	close(r.hold)
	waitFor(t, "the queue emptied", func() bool { return d.Stats().Queued == 0 })
	// Event 1 was in flight when dropped: the receiver got it, but the
	// queue had moved on. Event 2 never went.
	if got := roomSeqs(r.events(), "a"); fmt.Sprint(got) != "[1 3 4 5]" {
		t.Fatalf("delivered %v", got)
	}
	if st := d.Stats(); st.Delivered != 3 || st.Dropped != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBackoff(t *testing.T) {
	c := DefaultConfig()
	for _, tc := range []struct {
		n        int
		min, max time.Duration
	}{
		{1, 2500 * time.Millisecond, 5 * time.Second},
		{2, 5 * time.Second, 10 * time.Second},
		{5, 40 * time.Second, 80 * time.Second},
		{20, 30 * time.Minute, time.Hour},
		{1000, 30 * time.Minute, time.Hour},
	} {
		for range 100 {
			if d := backoff(c, tc.n); d < tc.min || d > tc.max {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", tc.n, d, tc.min, tc.max)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		change func(*Config)
		err    string
	}{
		{func(c *Config) {}, ""},
		{func(c *Config) { c.URLs = []string{"ftp://x"} }, `url: "ftp://x" is not an http(s) URL`},
		{func(c *Config) { c.Secrets = []string{"nope"} }, "secret: secret 1:"},
		{func(c *Config) { c.URLs = []string{"https://x"} }, "secret: webhooks need a signing secret"},
		{func(c *Config) { c.GiveUpAfter = 0 }, "give-up-after: must be positive"},
		{func(c *Config) { c.QueueSize = 0 }, "queue: must be at least 1"},
		{func(c *Config) { c.Retain = 0 }, "retain: must be at least 1"},
		{func(c *Config) { c.Concurrency = 0 }, "concurrency: must be between 1 and 1000"},
	} {
		c := DefaultConfig()
		tc.change(&c)
		err := c.Validate()
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Validate = %v, want %q", err, tc.err)
		}
	}
}
