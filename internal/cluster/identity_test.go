package cluster

import (
	"testing"
	"time"
)

// TestPresenceAcrossNodes: presence aggregates over an identity's devices
// on every node, and reaches followers on other nodes.
func TestPresenceAcrossNodes(t *testing.T) {
	c := newCluster(t, 3, nil)
	alice := connect(t, c.nodes[0].URL(), "alice")
	alice.must("presence.subscribe", map[string]any{"identities": []string{"bob"}})
	want := func(status string, devices float64) {
		t.Helper()
		n := alice.expect("presence.changed", 5*time.Second)
		if n.str("identity") != "bob" || n.str("status") != status || n.Params["devices"] != devices {
			t.Fatalf("alice got %v, want bob %s on %v devices", n.Params, status, devices)
		}
	}
	phone := connect(t, c.nodes[1].URL(), "bob")
	want("available", 1)
	laptop := connect(t, c.nodes[2].URL(), "bob")
	want("available", 2)
	phone.must("presence.set", map[string]any{"status": "dnd"})
	// The laptop is still available: the aggregate does not change.
	laptop.must("presence.set", map[string]any{"status": "away", "note": "lunch"})
	n := alice.expect("presence.changed", 5*time.Second)
	if n.str("status") != "away" || n.str("note") != "lunch" {
		t.Fatalf("alice got %v, want bob away (lunch)", n.Params)
	}
	var got struct {
		Presences []struct {
			Status  string  `json:"status"`
			Devices float64 `json:"devices"`
		} `json:"presences"`
	}
	if err := alice.conn.CallInto("presence.get", map[string]any{"identities": []string{"bob"}}, &got); err != nil || len(got.Presences) != 1 || got.Presences[0].Status != "away" || got.Presences[0].Devices != 2 {
		t.Fatalf("presence.get = %+v, %v", got, err)
	}
}

// TestTakeoverAcrossNodes: with --duplicate-identity takeover a second
// session of an identity on another node replaces the first: the first is
// told (session.replaced) and its connection, on its own node, closes with
// 4008.
func TestTakeoverAcrossNodes(t *testing.T) {
	c := newCluster(t, 2, nil, "--duplicate-identity", "takeover")
	first := connect(t, c.nodes[0].URL(), "bob")
	first.join("r")
	connect(t, c.nodes[1].URL(), "bob")
	first.expect("session.replaced", 5*time.Second, "presence.changed")
	if code, _, err := first.conn.CloseCode(); err != nil || code != 4008 {
		t.Fatalf("the replaced session's connection closed with %d (%v), want 4008", code, err)
	}
}

// TestRejectAcrossNodes: with --duplicate-identity reject a second session
// of an identity is refused on any node, and allowed once the first ended.
func TestRejectAcrossNodes(t *testing.T) {
	c := newCluster(t, 2, nil, "--duplicate-identity", "reject")
	first := connect(t, c.nodes[0].URL(), "bob")
	if _, err := tryConnect(t, c.nodes[1].URL(), "bob"); rpcCode(err) != 409 {
		t.Fatalf("a second bob on another node: %v, want 409", err)
	}
	if err := first.conn.Close(); err != nil { // a drop: the session waits for a resume
		t.Fatal(err)
	}
	if _, err := tryConnect(t, c.nodes[1].URL(), "bob"); rpcCode(err) != 409 {
		t.Fatalf("a second bob while the first may resume: %v, want 409", err)
	}
}
