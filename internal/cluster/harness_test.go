package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/internal/rpctest"
	"github.com/parley-rtc/parley/internal/testkit"
	"github.com/parley-rtc/parley/internal/testkit/parleyproc"
	"github.com/parley-rtc/parley/internal/testkit/redisproc"
)

// binary is the real parley executable, built once for the suite.
var binary string

func TestMain(m *testing.M) {
	parleyproc.Main(m, map[string]*string{"github.com/parley-rtc/parley/cmd/parley": &binary})
}

// full is a full-size run (make test-cluster).
var full = os.Getenv("CLUSTER_FULL") == "1"

// size is ci in an ordinary run, fullSize under make test-cluster.
func size(ci, fullSize int) int {
	if full {
		return fullSize
	}
	return ci
}

// cluster is a redis-server and the parley nodes on it.
type cluster struct {
	t     *testing.T
	redis *redisproc.Server
	// on are the nodes' flags that name Redis (--redis-url, Sentinel's).
	on    []string
	args  []string
	nodes []*node
}

// node is one parley process.
type node struct {
	*parleyproc.Process
	id string
}

var nodeIDs atomic.Int64

// newCluster starts a redis-server (with redisArgs) and n nodes on it,
// each `parley serve --dev` with args.
func newCluster(t *testing.T, n int, redisArgs []string, args ...string) *cluster {
	t.Helper()
	rs := redisproc.Start(t, redisArgs...)
	return newClusterOn(t, n, rs, []string{"--redis-url", rs.URL(0)}, args...)
}

// newClusterOn starts n nodes on rs, named to them by on.
func newClusterOn(t *testing.T, n int, rs *redisproc.Server, on []string, args ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, redis: rs, on: on, args: args}
	for range n {
		c.start()
	}
	return c
}

// start starts one more node.
func (c *cluster) start() *node {
	c.t.Helper()
	id := fmt.Sprintf("n%d", nodeIDs.Add(1))
	args := append([]string{"--dev", "--listen", "127.0.0.1:0", "--no-turn", "--log-level", "warn",
		"--node-id", id, "--api-keys", "test:0123456789abcdef0123456789abcdef",
		"--drain-timeout", "10s", "--rate", "100000", "--rate-burst", "100000"}, c.on...)
	args = append(args, c.args...)
	n := &node{Process: parleyproc.Start(c.t, binary, nil, args...), id: id}
	c.nodes = append(c.nodes, n)
	return n
}

// kill kills a node (SIGKILL: no goodbye, no hand-over).
func (n *node) kill() {
	_ = n.Cmd.Process.Signal(syscall.SIGKILL)
	<-n.Done()
}

func (n *node) signal(sig syscall.Signal) { _ = n.Cmd.Process.Signal(sig) }

// stop sends SIGSTOP and returns once every thread of the node is stopped:
// kill(2) returns before a thread running on another core takes the
// signal, and in that while it still reads and writes.
func (n *node) stop(t testing.TB) {
	t.Helper()
	n.signal(syscall.SIGSTOP)
	tasks := fmt.Sprintf("/proc/%d/task", n.Cmd.Process.Pid)
	testkit.Eventually(t, "every thread of the node to stop", func() bool {
		ids, err := os.ReadDir(tasks)
		if err != nil {
			t.Fatalf("threads of the node: %v", err)
		}
		for _, id := range ids {
			stat, err := os.ReadFile(tasks + "/" + id.Name() + "/stat")
			if err != nil {
				return false // a thread that just ended; look again
			}
			// pid (comm) state ...: comm may hold spaces and parentheses.
			fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
			if len(fields) == 0 || (fields[0] != "T" && fields[0] != "t") {
				return false
			}
		}
		return true
	})
}

// client is one session over raw WebSocket: it checks that seqs count
// 1, 2, 3… across its connections, and resumes from the last it read.
type client struct {
	t         testing.TB
	identity  string
	conn      *rpctest.Client
	sessionID string
	peerID    string
	token     string
	lastSeq   int64
}

func dialRaw(t testing.TB, url string) (*rpctest.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), rpctest.Timeout)
	defer cancel()
	return rpctest.Dial(ctx, url, nil)
}

// connect opens a session for identity on the node at url.
func connect(t testing.TB, url, identity string) *client {
	t.Helper()
	c, err := tryConnect(t, url, identity)
	if err != nil {
		t.Fatalf("%s connects: %v", identity, err)
	}
	return c
}

func tryConnect(t testing.TB, url, identity string) (*client, error) {
	return tryConnectWith(t, url, identity, map[string]any{"identity": identity})
}

// tryConnectWith opens a session with session.connect params (a token).
func tryConnectWith(t testing.TB, url, identity string, params map[string]any) (*client, error) {
	conn, err := dialRaw(t, url)
	if err != nil {
		return nil, err
	}
	var res struct {
		SessionID   string `json:"sessionId"`
		PeerID      string `json:"peerId"`
		ResumeToken string `json:"resumeToken"`
	}
	if err := conn.CallInto("session.connect", params, &res); err != nil {
		_ = conn.Close()
		return nil, err
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &client{t: t, identity: identity, conn: conn, sessionID: res.SessionID, peerID: res.PeerID, token: res.ResumeToken}, nil
}

// resume resumes the session on the node at url from the last seq read.
func (c *client) resume(url string) error {
	conn, err := dialRaw(c.t, url)
	if err != nil {
		return err
	}
	var res struct {
		PeerID      string `json:"peerId"`
		ResumeToken string `json:"resumeToken"`
		Resumed     bool   `json:"resumed"`
	}
	err = conn.CallInto("session.connect", map[string]any{"resume": map[string]any{"sessionId": c.sessionID, "resumeToken": c.token, "lastSeq": c.lastSeq}}, &res)
	if err != nil {
		_ = conn.Close()
		return err
	}
	if !res.Resumed || res.PeerID != c.peerID {
		c.t.Fatalf("%s resumed as %+v, want peer %s", c.identity, res, c.peerID)
	}
	c.t.Cleanup(func() { _ = conn.Close() })
	old := c.conn
	c.conn, c.token = conn, res.ResumeToken
	_ = old.Close()
	return nil
}

// call makes a request on the client's connection.
func (c *client) call(method string, params any) (jsontext.Value, error) {
	return c.conn.Call(method, params)
}

func (c *client) must(method string, params any) jsontext.Value {
	c.t.Helper()
	res, err := c.call(method, params)
	if err != nil {
		c.t.Fatalf("%s: %s: %v", c.identity, method, err)
	}
	return res
}

// note is a notification as read.
type note struct {
	Method string
	Params map[string]any
}

func (n note) str(key string) string {
	s, _ := n.Params[key].(string)
	return s
}

// next reads the next notification within d, checking its seq.
func (c *client) next(d time.Duration) (note, error) {
	deadline := time.Now().Add(d)
	for {
		f, err := c.conn.Next()
		if err != nil {
			if strings.Contains(err.Error(), "no notification within") && time.Now().Before(deadline) {
				continue
			}
			return note{}, err
		}
		n := note{Method: f.Method}
		if err := json.Unmarshal(f.Params, &n.Params); err != nil {
			return note{}, err
		}
		if seq, ok := n.Params["seq"].(float64); ok {
			if int64(seq) != c.lastSeq+1 {
				return n, fmt.Errorf("%s got %s with seq %v after %d", c.identity, f.Method, seq, c.lastSeq)
			}
			c.lastSeq = int64(seq)
		}
		return n, nil
	}
}

// expect reads notifications, skipping those of methods skip, until one
// of method (within d).
func (c *client) expect(method string, d time.Duration, skip ...string) note {
	c.t.Helper()
	for {
		n, err := c.next(d)
		if err != nil {
			c.t.Fatalf("%s waiting for %s: %v", c.identity, method, err)
		}
		if n.Method == method {
			return n
		}
		if !slices.Contains(skip, n.Method) {
			c.t.Fatalf("%s got %s %v, want %s", c.identity, n.Method, n.Params, method)
		}
	}
}

// roomOfTwo connects first on node 0 and second on node 1 and seats them
// in room r, first before second (whose arrival first has read).
func (c *cluster) roomOfTwo(first, second string) (*client, *client) {
	c.t.Helper()
	a := connect(c.t, c.nodes[0].URL(), first)
	b := connect(c.t, c.nodes[1].URL(), second)
	a.join("r")
	b.join("r")
	a.expect("room.peerJoined", 5*time.Second, "presence.changed")
	return a, b
}

func (c *client) join(room string) {
	c.t.Helper()
	c.must("room.join", map[string]any{"roomId": room, "create": true})
}

// rpcCode is the JSON-RPC error code of err, 0 if it is none.
func rpcCode(err error) int64 {
	var e *rpctest.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}
