package server

import (
	"testing"

	"github.com/pion/ice/v4"
)

// Candidate lines as browsers and this repository's tools send them: all
// must take the fast path.
var plainCandidates = []string{
	sampleCandidate,
	"candidate:842163049 1 udp 1677729535 192.0.2.10 46154 typ srflx raddr 10.0.0.2 rport 46154 generation 0 ufrag abcd network-cost 999",
	"candidate:0 1 UDP 2122252543 192.168.1.5 49203 typ host",
	"candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host generation 0",
	"candidate:3 2 UDP 92216831 203.0.113.9 61000 typ relay raddr 198.51.100.4 rport 61000",
	"candidate:2 1 tcp 1518280447 2001:db8::1 9 typ host generation 0",
	"1 1 udp 1 192.0.2.1 9 typ prflx",
}

// Lines pion accepts that are left to it, and lines it refuses.
var unplainCandidates = []string{
	"candidate:1 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active",
	"candidate:1 1 udp 1 abc.local 9 typ host",
	"candidate:1 1 udp 1 fe80::1%eth0 9 typ host",
	"candidate:1 1 udp 1 192.0.2.1 9 typ host ",
	"candidate:1  1 udp 1 192.0.2.1 9 typ host",
	"candidate:1 1 udp 1 192.0.2.1 9 typ host generation",
	"candidate:1 1 udp 1 192.0.2.1 9 typ bogus",
	"candidate:1 1 udp 1 192.0.2.1 65536 typ host",
	"candidate:1 1 sctp 1 192.0.2.1 9 typ host",
	"candidate:1 1 udp 4294967296 192.0.2.1 9 typ host",
	"candidate:1 1 udp 1 192.0.2.1 9 typ srflx raddr 10.0.0.1 rport",
	"candidate:1 1 udp 1 192.0.2.1 9 type host",
	"candidate:1 1 udp 1 999.0.2.1 9 typ host",
}

// candidateFastPath is plainCandidate, held to ice.UnmarshalCandidate.
var candidateFastPath = fastPath{
	plain:   plainCandidate,
	parse:   func(line string) error { _, err := ice.UnmarshalCandidate(line); return err },
	taken:   plainCandidates,
	refused: unplainCandidates,
}

func TestPlainCandidate(t *testing.T) { candidateFastPath.check(t) }

// FuzzPlainCandidate: whatever takes the fast path, pion accepts.
func FuzzPlainCandidate(f *testing.F) { candidateFastPath.fuzz(f) }

// BenchmarkPlainCandidate checks the candidate lines browsers send.
func BenchmarkPlainCandidate(b *testing.B) {
	for b.Loop() {
		for _, line := range plainCandidates {
			if !plainCandidate(line) {
				b.Fatal(line)
			}
		}
	}
}
