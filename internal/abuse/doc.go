// Package abuse is the abuse suite: each attack of issue 16 (resource
// exhaustion by outsiders, grant and ownership abuse, the TURN relay loop)
// repeated against the real parley binary, started under a low descriptor
// limit. A test checks the defence itself (the attack fails), the server's
// memory and goroutines from /metrics, and the latency a legitimate session
// sees during and after the attack.
//
// Sizes are bounded: small by default, so `go test` (CI) stays quick, and
// full size with ABUSE_FULL=1 (`make abuse`), where each test also logs its
// figures (go test -v shows them).
package abuse
