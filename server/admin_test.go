package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/testkit"
)

// admin connects a session with the admin grant.
func admin(t *testing.T, ts *testServer) *peer {
	t.Helper()
	return ts.connectWith(t, map[string]any{"token": mint(t, "ops", Grants{Admin: true}, time.Hour)})
}

// call decodes a method's result into out.
func call[T any](t *testing.T, p *peer, method string, params any) T {
	t.Helper()
	var out T
	if err := json.Unmarshal(p.must(method, params), &out); err != nil {
		t.Fatalf("%s result: %v", method, err)
	}
	return out
}

type sessionInfo struct {
	SessionID     string   `json:"sessionId"`
	Identity      string   `json:"identity"`
	State         string   `json:"state"`
	Rooms         []string `json:"rooms"`
	LastSeq       int64    `json:"lastSeq"`
	QueueMessages int64    `json:"queueMessages"`
	Remote        string   `json:"remote"`
}

// TestAdminSessionsAndRooms: an admin lists and pages sessions, sees one's
// rooms and seq, kicks a peer and closes a room; others are refused.
func TestAdminSessionsAndRooms(t *testing.T) {
	ts := startServer(t)
	alice, bob, ops := ts.connect(t, "alice"), ts.connect(t, "bob"), admin(t, ts)
	joinRoom(alice, "a")
	joinRoom(bob, "a")
	alice.expect("room.peerJoined")

	_, err := alice.Call("admin.node.status", nil)
	rpcError(t, err, 403, "admin.node.status needs the admin grant")

	rooms := call[struct {
		Rooms []struct {
			RoomID    string `json:"roomId"`
			PeerCount int    `json:"peerCount"`
		} `json:"rooms"`
	}](t, ops, "admin.rooms.list", nil)
	if len(rooms.Rooms) != 1 || rooms.Rooms[0].RoomID != "a" || rooms.Rooms[0].PeerCount != 2 {
		t.Fatalf("admin.rooms.list = %+v", rooms)
	}
	if info := string(ops.must("admin.rooms.get", map[string]any{"roomId": "a"})); !strings.Contains(info, bob.peerID) {
		t.Fatalf("admin.rooms.get = %s", info)
	}

	type page struct {
		Sessions []sessionInfo `json:"sessions"`
		More     bool          `json:"more"`
	}
	first := call[page](t, ops, "admin.sessions.list", map[string]any{"limit": 2})
	rest := call[page](t, ops, "admin.sessions.list", map[string]any{"limit": 2, "after": first.Sessions[len(first.Sessions)-1].SessionID})
	if len(first.Sessions) != 2 || !first.More || len(rest.Sessions) != 1 || rest.More || rest.Sessions[0].SessionID <= first.Sessions[1].SessionID {
		t.Fatalf("pages %+v then %+v", first, rest)
	}
	only := call[page](t, ops, "admin.sessions.list", map[string]any{"identity": "alice"})
	if len(only.Sessions) != 1 || only.Sessions[0].Identity != "alice" {
		t.Fatalf("alice's sessions: %+v", only)
	}
	got := call[sessionInfo](t, ops, "admin.sessions.get", map[string]any{"sessionId": alice.session["sessionId"]})
	if got.State != "connected" || strings.Join(got.Rooms, ",") != "a" || got.LastSeq < 1 || got.Remote != "127.0.0.1" {
		t.Fatalf("admin.sessions.get alice = %+v", got)
	}
	_, err = ops.Call("admin.sessions.get", map[string]any{"sessionId": "nope"})
	rpcError(t, err, 404, "nope")

	ops.must("admin.peers.kick", map[string]any{"roomId": "a", "peerId": bob.peerID})
	if ev := bob.expect("room.peerLeft"); ev["reason"] != "kicked" {
		t.Fatalf("bob's room.peerLeft = %v", ev)
	}
	ops.must("admin.rooms.close", map[string]any{"roomId": "a"})
	alice.expect("room.peerLeft") // bob, kicked
	if ev := alice.expect("room.closed"); ev["reason"] != "closed_by_admin" {
		t.Fatalf("alice's room.closed = %v", ev)
	}
	_, err = ops.Call("admin.rooms.close", map[string]any{"roomId": "a"})
	rpcError(t, err, 404, `"a"`)

	status := call[struct {
		Sessions, Connections, Rooms int
		StartedAt                    int64
		Draining                     bool
	}](t, ops, "admin.node.status", nil)
	if status.Sessions != 3 || status.Connections != 3 || status.Rooms != 0 || status.StartedAt == 0 || status.Draining {
		t.Fatalf("admin.node.status = %+v", status)
	}
	if code, body := post(t, ts, `{"jsonrpc":"2.0","id":1,"method":"admin.node.status"}`, true); code != 200 || !strings.Contains(body, `"sessions":3`) {
		t.Fatalf("POST admin.node.status with an API key: %d %s", code, body)
	}
}

// TestAdminTURNAllocations: an admin sees a client's allocation and ends it.
func TestAdminTURNAllocations(t *testing.T) {
	ts := startServer(t)
	alice, ops := ts.connect(t, "alice"), admin(t, ts)
	servers := iceServersOf(t, alice)
	_, relay := turnAllocate(t, "udp", turnAddr(t, servers.URLs, "turn:", "?transport=udp"), servers.Username, servers.Credential)

	type allocations struct {
		Allocations []struct {
			Identity, Transport, Relay string
		} `json:"allocations"`
	}
	var list allocations
	testkit.Eventually(t, "the allocation listed", func() bool {
		list = call[allocations](t, ops, "admin.turn.allocations.list", nil)
		return len(list.Allocations) == 1
	})
	if a := list.Allocations[0]; a.Identity != "alice" || a.Transport != "udp" || a.Relay != relay.LocalAddr().String() {
		t.Fatalf("listed %+v, relay %s", a, relay.LocalAddr())
	}
	ops.must("admin.turn.allocations.close", map[string]any{"relay": list.Allocations[0].Relay})
	testkit.Eventually(t, "the allocation gone", func() bool {
		return len(call[allocations](t, ops, "admin.turn.allocations.list", nil).Allocations) == 0
	})
	_, err := ops.Call("admin.turn.allocations.close", map[string]any{"relay": list.Allocations[0].Relay})
	rpcError(t, err, 404, "no allocation")
	_, err = ops.Call("admin.turn.allocations.close", map[string]any{"relay": "not an address"})
	rpcError(t, err, 400, "ip:port")
}

// TestAdminDrain: admin.node.drain tells every session, flips /readyz and
// refuses new sessions with retryAfterMs. A single node keeps serving its
// sessions (and their resumes); a node of a cluster migrates them: they
// are told to resume elsewhere, their connections close with 4307 (the
// asker's after its answer), and resumes here are refused.
func TestAdminDrain(t *testing.T) {
	ts := startServer(t)
	alice, ops := ts.connect(t, "alice"), admin(t, ts)
	status := call[struct {
		Draining      bool
		DrainDeadline int64
	}](t, ops, "admin.node.drain", map[string]any{"timeoutSec": 60})
	if !status.Draining || status.DrainDeadline < time.Now().Add(50*time.Second).UnixMilli() {
		t.Fatalf("admin.node.drain = %+v", status)
	}
	for _, p := range []*peer{alice, ops} {
		if ev := p.expect("session.draining"); ev["retryAfterMs"] != float64(60000) || (ev["resumeElsewhere"] == true) != onRedis() {
			t.Fatalf("session.draining = %v", ev)
		}
	}
	res, err := http.Get(ts.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while draining: %s", res.Status)
	}
	_, err = ts.dial(t, nil).Call("session.connect", map[string]any{"identity": "late"})
	rpcError(t, err, 503, "draining")
	if onRedis() {
		// Resumes are refused while the asker's session keeps the node up
		// (once none is attached, a draining node exits).
		for i, p := range []*peer{alice, ops} {
			if code, text, err := p.CloseCode(); err != nil || code != 4307 || !strings.Contains(text, "resume on another node") {
				t.Fatalf("a migrated connection closed with %d %q (%v), want 4307", code, text, err)
			}
			if i == 0 {
				rpcError(t, ts.resumeOn(t, alice, 1), 503, "draining")
			}
		}
		return
	}
	alice.must("ice.servers", nil) // the sessions keep working

	// A session that drops while the node drains may still resume.
	_ = alice.Close()
	testkit.Eventually(t, "alice's drop noticed", func() bool { return ts.srv.core.Count(context.Background()).Detached == 1 })
	if err := ts.resumeOn(t, alice, 1); err != nil {
		t.Fatalf("resume while draining: %v", err)
	}
	alice.must("ice.servers", nil)
}
