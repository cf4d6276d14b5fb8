package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/internal/rpctest"
	"github.com/parley-rtc/parley/internal/testkit"
	"github.com/parley-rtc/parley/internal/testkit/webhookrecv"
)

// The webhook secrets of these tests: the server signs with both (a
// rotation); the receiver knows the second only.
const (
	hookSecretOld = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	hookSecretNew = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MjQy"
	hookAPIKey    = "main:kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
)

// startHooked runs a dev server that delivers its events to r.
func startHooked(t *testing.T, r *webhookrecv.Receiver) string {
	t.Helper()
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--no-turn", "--api-keys", hookAPIKey,
		"--webhook-url", r.URL, "--webhook-secret", hookSecretOld, "--webhook-secret", hookSecretNew)
	return p.Addr
}

// connectAs opens a session for identity.
func connectAs(t *testing.T, addr, identity string) *rpctest.Client {
	t.Helper()
	c := dialURL(t, "ws://"+addr+"/rpc", websocket.DefaultDialer)
	mustCall(t, c, "session.connect", map[string]any{"identity": identity}, nil)
	return c
}

// goodbye closes normally: the session ends at once.
func goodbye(t *testing.T, c *rpctest.Client) {
	t.Helper()
	if err := c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")); err != nil {
		t.Fatal(err)
	}
	<-c.Closed()
}

// postRPC calls a method over POST /rpc with the API key, as a backend does.
func postRPC(t *testing.T, addr, method string, params, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/rpc", bytes.NewReader(body))
	kid, secret, _ := strings.Cut(hookAPIKey, ":")
	req.SetBasicAuth(kid, secret)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var answer struct {
		Result json.RawMessage `json:"result"`
		Error  any             `json:"error"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil || answer.Error != nil {
		t.Fatalf("%s: %s", method, raw)
	}
	if err := json.Unmarshal(answer.Result, out); err != nil {
		t.Fatalf("%s result: %v", method, err)
	}
}

// TestWebhooksEndToEnd: the binary's events reach a backend in Node that
// verifies each with the standardwebhooks package. The first delivery is
// refused: it comes again with the same webhook-id within 5 s, and the
// session's next event waits for it. Then the backend is down for a while:
// it catches up from its last cursor with admin.events.list, and the
// deliveries that follow once it is back carry the same events.
func TestWebhooksEndToEnd(t *testing.T) {
	r := webhookrecv.Start(t, hookSecretNew)
	r.Set(t, webhookrecv.Mode{Refuse: 1})
	addr := startHooked(t, r)

	goodbye(t, connectAs(t, addr, "alice"))
	got := r.WaitFor(t, "alice's two events accepted", func(d []webhookrecv.Delivery) bool { return len(webhookrecv.Accepted(d)) == 2 })
	for _, d := range got {
		if !d.Verified {
			t.Fatalf("a delivery standardwebhooks did not verify: %+v", d)
		}
	}
	if got[0].Status != 500 || got[1].ID != got[0].ID || got[1].Status != 204 || got[2].Type != "session.ended" {
		t.Fatalf("want session.started refused, the same id accepted, then session.ended: %+v", got)
	}
	if wait := time.Duration(got[1].ReceivedAt-got[0].ReceivedAt) * time.Millisecond; wait > 6*time.Second {
		t.Fatalf("the first retry came %s after the refusal, want within 5 s", wait)
	}
	last := got[2].Cursor

	// The backend goes down; bob comes and goes, carol comes.
	r.Set(t, webhookrecv.Mode{Down: true})
	var missed api.EventList
	var types []string
	list := func() []string {
		postRPC(t, addr, "admin.events.list", map[string]any{"after": last}, &missed)
		types = types[:0]
		for _, e := range missed.Events {
			types = append(types, e.Type+" "+e.Data.Identity)
		}
		return types
	}
	goodbye(t, connectAs(t, addr, "bob"))
	// The server ends bob's session when it reads his close frame, after
	// goodbye returns.
	testkit.Eventually(t, "bob's session.ended", func() bool { return slices.Contains(list(), "session.ended bob") })
	connectAs(t, addr, "carol")
	want := []string{"session.started bob", "session.ended bob", "session.started carol"}
	testkit.Eventually(t, "carol's session.started", func() bool { return len(list()) >= len(want) })
	if !slices.Equal(types, want) || missed.More {
		t.Fatalf("caught up with %q (more %v), want %q", types, missed.More, want)
	}
	r.Set(t, webhookrecv.Mode{})
	after := r.WaitFor(t, "the missed events delivered once back", func(d []webhookrecv.Delivery) bool {
		return len(webhookrecv.Accepted(d)) == 5
	})
	var cursors []int64
	for _, d := range webhookrecv.Accepted(after)[2:] {
		cursors = append(cursors, d.Cursor)
	}
	sort.Slice(cursors, func(i, j int) bool { return cursors[i] < cursors[j] })
	if want := []int64{missed.Events[0].Data.Cursor, missed.Events[1].Data.Cursor, missed.Events[2].Data.Cursor}; !slices.Equal(cursors, want) {
		t.Fatalf("delivered cursors %v, listed %v", cursors, want)
	}
}

// TestSlowWebhookDoesNotSlowSignaling: with a receiver that holds every
// delivery for 3 s, session.connect (which publishes session.started)
// answers as fast as ever.
func TestSlowWebhookDoesNotSlowSignaling(t *testing.T) {
	r := webhookrecv.Start(t, hookSecretNew)
	r.Set(t, webhookrecv.Mode{DelayMs: 3000})
	addr := startHooked(t, r)
	var took []time.Duration
	for range 21 {
		c := dialURL(t, "ws://"+addr+"/rpc", websocket.DefaultDialer)
		start := time.Now()
		mustCall(t, c, "session.connect", map[string]any{"identity": "alice"}, nil)
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	// A connect costs about a millisecond here; one that waited for the
	// receiver would take 3 s. The median's floor is generous for a
	// loaded machine.
	if median := took[len(took)/2]; median > 500*time.Millisecond {
		t.Fatalf("median session.connect %s while the webhook receiver is slow", median)
	}
	t.Logf("session.connect with a receiver holding each delivery 3 s: median %s, max %s", took[len(took)/2], took[len(took)-1])
}

// TestDoctorExplain: both sides of a failed call report; `parley doctor
// --explain ROOM` with an admin token prints the pair's cause and fails.
func TestDoctorExplain(t *testing.T) {
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--no-turn", "--api-keys", hookAPIKey)
	url := "ws://" + p.Addr + "/rpc"
	alice, bob := dialURL(t, url, websocket.DefaultDialer), dialURL(t, url, websocket.DefaultDialer)
	var aliceSess, bobSess api.SessionConnectResult
	mustCall(t, alice, "session.connect", map[string]any{"identity": "alice"}, &aliceSess)
	mustCall(t, bob, "session.connect", map[string]any{"identity": "bob"}, &bobSess)
	mustCall(t, alice, "room.join", map[string]any{"roomId": "demo", "create": true}, nil)
	mustCall(t, bob, "room.join", map[string]any{"roomId": "demo"}, nil)
	failed := func(policy string) map[string]any {
		return map[string]any{
			"trigger": "failed", "connectionState": "failed", "iceConnectionState": "failed", "iceTransportPolicy": policy,
			"local": map[string]any{"host": 1}, "remote": map[string]any{"host": 1}, "remoteCandidates": 1,
			"iceServers":      []any{map[string]any{"url": "turn:turn.example:3478?transport=udp"}},
			"candidateErrors": []any{map[string]any{"url": "turn:turn.example:3478?transport=udp", "errorCode": 701}},
		}
	}
	mustCall(t, alice, "diag.report", map[string]any{"roomId": "demo", "peerId": bobSess.PeerID, "report": failed("relay")}, nil)
	mustCall(t, bob, "diag.report", map[string]any{"roomId": "demo", "peerId": aliceSess.PeerID, "report": failed("all")}, nil)

	token, err := exec.Command(binary, "token", "--key", hookAPIKey, "--identity", "ops", "--admin").Output()
	if err != nil {
		t.Fatalf("parley token: %v", err)
	}
	var out, errOut bytes.Buffer
	code := run([]string{"doctor", "--url", url, "--token", strings.TrimSpace(string(token)), "--explain", "demo"}, nil, &out, &errOut)
	if code != 1 || !strings.Contains(out.String(), "FAILED ") || !strings.Contains(out.String(), "turn_unreachable") ||
		!strings.Contains(out.String(), "alice (peer "+aliceSess.PeerID+") could not reach its TURN server") {
		t.Fatalf("doctor --explain: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"doctor", "--url", url, "--identity", "alice", "--explain", "demo"}, nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "needs the admin grant") {
		t.Fatalf("doctor --explain without the admin grant: exit %d: %s", code, errOut.String())
	}
}
