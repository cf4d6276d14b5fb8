// Package clusterproc runs a small Parley cluster for tests: a real
// redis-server and real parley nodes in cluster mode on it (dev mode, on
// 127.0.0.1:0, no TURN), each killed when the test ends.
package clusterproc

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/parley-rtc/parley/internal/testkit/parleyproc"
	"github.com/parley-rtc/parley/internal/testkit/redisproc"
)

// Cluster is a redis-server and the nodes started on it.
type Cluster struct {
	t      testing.TB
	binary string
	args   []string
	Redis  *redisproc.Server
	Nodes  []*parleyproc.Process
}

var nodeIDs atomic.Int64

// Start starts a redis-server and n nodes on it, each `binary serve --dev`
// with args.
func Start(t testing.TB, binary string, n int, args ...string) *Cluster {
	t.Helper()
	c := &Cluster{t: t, binary: binary, args: args, Redis: redisproc.Start(t)}
	for range n {
		c.StartNode()
	}
	return c
}

// StartNode starts one more node and returns it.
func (c *Cluster) StartNode() *parleyproc.Process {
	c.t.Helper()
	args := append([]string{"--dev", "--listen", "127.0.0.1:0", "--no-turn", "--log-level", "warn",
		"--node-id", fmt.Sprintf("node%d", nodeIDs.Add(1)), "--redis-url", c.Redis.URL(0),
		"--rate", "100000", "--rate-burst", "100000"}, c.args...)
	p := parleyproc.Start(c.t, c.binary, nil, args...)
	c.Nodes = append(c.Nodes, p)
	return p
}

// URLs are the nodes' ws:// URLs, in the order they started.
func (c *Cluster) URLs() []string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = n.URL()
	}
	return urls
}

// Kill SIGKILLs node i (no goodbye, no hand-over) and waits for it to exit.
func (c *Cluster) Kill(i int) { c.Nodes[i].Kill() }

// Drain sends node i SIGTERM: a node of a cluster drains by migrating its
// sessions to the other nodes (4307), then exits.
func (c *Cluster) Drain(i int) { _ = c.Nodes[i].Cmd.Process.Signal(syscall.SIGTERM) }
