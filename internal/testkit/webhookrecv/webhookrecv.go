// Package webhookrecv runs the tests' webhook receiver: a Node program
// (receiver.mjs) that verifies every delivery with the standardwebhooks
// npm package, the third-party verifier an app backend would use.
package webhookrecv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/testkit"
	"github.com/parley-rtc/parley/internal/testkit/parleyproc"
)

// Delivery is one POST the receiver got.
type Delivery struct {
	ID         string `json:"id"`
	ReceivedAt int64  `json:"receivedAt"` // Unix milliseconds
	Verified   bool   `json:"verified"`
	Error      string `json:"error"`
	Status     int    `json:"status"` // what the receiver answered
	Type       string `json:"type"`
	Timestamp  string `json:"timestamp"`
	Cursor     int64  `json:"cursor"`
	RoomID     string `json:"roomId"`
	RoomSeq    int64  `json:"roomSeq"`
	SessionID  string `json:"sessionId"`
}

// Mode steers the receiver (see receiver.mjs).
type Mode struct {
	Refuse  int  `json:"refuse"`  // answer the next n deliveries 500
	Down    bool `json:"down"`    // answer everything 503
	DelayMs int  `json:"delayMs"` // hold each delivery this long
}

// Receiver is a running receiver.
type Receiver struct {
	URL  string // where deliveries go
	base string
}

// Start runs the receiver verifying with secret (whsec_…) until the test
// ends. It needs node and `npm ci` in this directory (make installs it);
// without them the test is skipped, or fails under REQUIRE_TEST_TOOLS.
func Start(t testing.TB, secret string) *Receiver {
	t.Helper()
	node := testkit.Tool(t, "node", "nodejs")
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "standardwebhooks")); err != nil {
		msg := "the webhook receiver's npm packages are missing: make test-go installs them (npm ci in " + dir + ")"
		if os.Getenv("REQUIRE_TEST_TOOLS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cmd := exec.Command(node, filepath.Join(dir, "receiver.mjs"))
	cmd.Env = append(os.Environ(), "WEBHOOK_SECRET="+secret)
	cmd.Stderr = &parleyproc.LogWriter{T: t, Prefix: "receiver"}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	port := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				port <- p
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case p := <-port:
		base := "http://127.0.0.1:" + p
		return &Receiver{URL: base + "/hook", base: base}
	case <-done:
		t.Fatal("the webhook receiver exited before listening")
	case <-time.After(10 * time.Second):
		t.Fatal("the webhook receiver did not print its port")
	}
	return nil
}

// Set changes the receiver's mode.
func (r *Receiver) Set(t testing.TB, m Mode) {
	t.Helper()
	body, _ := json.Marshal(m)
	resp, err := http.Post(r.base+"/control", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
}

// Deliveries returns every delivery so far, in arrival order.
func (r *Receiver) Deliveries(t testing.TB) []Delivery {
	t.Helper()
	resp, err := http.Get(r.base + "/deliveries")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []Delivery
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// WaitFor polls the deliveries until ok accepts them (within 30 s).
func (r *Receiver) WaitFor(t testing.TB, what string, ok func([]Delivery) bool) []Delivery {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := r.Deliveries(t)
		if ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen within 30 s; deliveries: %s", what, fmt.Sprint(d))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Accepted are the deliveries the receiver verified and answered 2xx.
func Accepted(all []Delivery) []Delivery {
	var out []Delivery
	for _, d := range all {
		if d.Verified && d.Status/100 == 2 {
			out = append(out, d)
		}
	}
	return out
}

// InOrder checks what a backend relies on in the deliveries it accepted:
// every one verified, and each room's (else session's) events arrived in
// roomSeq order, 1, 2, 3, … (a room made again after room.finished, or a
// call's after an unanswered call.ended, starts over at 1). The same
// webhook-id accepted again right after itself is an at-least-once
// duplicate, which receivers drop by id: InOrder counts those.
func InOrder(t testing.TB, all []Delivery) (duplicates int) {
	t.Helper()
	last := map[string]Delivery{}
	for _, d := range all {
		if !d.Verified {
			t.Errorf("delivery %s not verified: %s", d.ID, d.Error)
			continue
		}
		if d.Status/100 != 2 {
			continue
		}
		key := "session/" + d.SessionID
		if d.RoomID != "" {
			key = "room/" + d.RoomID
		}
		prev, seen := last[key]
		last[key] = d
		switch {
		case d.RoomID == "":
		case seen && d.ID == prev.ID:
			duplicates++
		case d.RoomSeq == 1 && (!seen || prev.Type == "room.finished" || prev.Type == "call.ended"):
		case seen && d.RoomSeq == prev.RoomSeq+1:
		default:
			t.Errorf("%s: %s (roomSeq %d, %s) accepted after %s (roomSeq %d)", key, d.Type, d.RoomSeq, d.ID, prev.Type, prev.RoomSeq)
		}
	}
	return duplicates
}
