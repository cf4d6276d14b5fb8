// Package cluster is the cluster-mode suite: several real parley nodes on
// one real redis-server, driven by raw WebSocket clients. A node is killed
// (SIGKILL) or stopped (SIGSTOP) mid-stream, Redis is restarted under
// them, two devices on different nodes race to accept one call; every
// test checks what the issue promises: no notification lost or repeated
// for a client that resumes (on any node) within its window, a 410 when
// Redis lost it, never a silent gap, and one winner per race.
//
// Sizes are bounded: small by default, so `go test` (CI) stays quick, and
// full size with CLUSTER_FULL=1 (`make test-cluster`), where each test also
// logs its figures (go test -v shows them).
package cluster
