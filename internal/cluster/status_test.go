package cluster

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestNodeStatus: admin.node.status lists the cluster's nodes, each alive
// while its lease lives, with its sessions; a node that died is listed
// dead until the cluster has reaped it, then no more. admin.sessions.list
// sees every node's sessions.
func TestNodeStatus(t *testing.T) {
	c := newCluster(t, 2, nil)
	connect(t, c.nodes[0].URL(), "alice")
	connect(t, c.nodes[1].URL(), "bob")
	var st struct {
		NodeID string `json:"nodeId"`
		Nodes  []struct {
			NodeID   string `json:"nodeId"`
			Alive    bool   `json:"alive"`
			Sessions int    `json:"sessions"`
		} `json:"nodes"`
	}
	alive := func(id string) (listed, live bool) {
		for _, n := range st.Nodes {
			if n.NodeID == id {
				return true, n.Alive
			}
		}
		return false, false
	}
	admin(t, c.nodes[0], "admin.node.status", &st)
	if st.NodeID != c.nodes[0].id || len(st.Nodes) != 2 || !st.Nodes[0].Alive || !st.Nodes[1].Alive || st.Nodes[0].Sessions != 1 || st.Nodes[1].Sessions != 1 {
		t.Fatalf("admin.node.status = %+v", st)
	}
	var list struct {
		Sessions []struct {
			Identity string `json:"identity"`
		} `json:"sessions"`
	}
	admin(t, c.nodes[0], "admin.sessions.list", &list)
	if len(list.Sessions) != 2 {
		t.Fatalf("admin.sessions.list on one node = %+v, want both nodes' sessions", list)
	}
	c.nodes[1].kill()
	// Listed dead once its lease lapsed (3 s), until reaped (the reaper's
	// 6 s of health after its start, and its tick), then not listed.
	sawDead := false
	for deadline := time.Now().Add(reapWithin); ; time.Sleep(20 * time.Millisecond) {
		admin(t, c.nodes[0], "admin.node.status", &st)
		listed, live := alive(c.nodes[1].id)
		if !listed {
			break
		}
		sawDead = sawDead || !live
		if time.Now().After(deadline) {
			t.Fatalf("the dead node is still listed: %+v", st)
		}
	}
	if !sawDead {
		t.Fatal("the dead node was never listed dead before it was reaped")
	}
}

// admin calls an admin method over POST /rpc with the cluster's API key.
func admin(t *testing.T, n *node, method string, out any) {
	t.Helper()
	adminWith(t, n, method, map[string]any{}, out)
}

// adminWith is admin with params.
func adminWith(t *testing.T, n *node, method string, params, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	req, err := http.NewRequest("POST", "http://"+n.Addr+"/rpc", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("test", "0123456789abcdef0123456789abcdef")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var reply struct {
		Result json.RawMessage `json:"result"`
		Error  any             `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&reply); err != nil || reply.Error != nil {
		t.Fatalf("%s: %v %v", method, err, reply.Error)
	}
	if err := json.Unmarshal(reply.Result, out); err != nil {
		t.Fatal(err)
	}
}
