package api

import (
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/rpc/wire"
)

// BenchmarkDecodeICECandidate decodes the params of a relayed candidate:
// two ids checked against their pattern, a candidate string, its mid.
func BenchmarkDecodeICECandidate(b *testing.B) {
	params := jsontext.Value(`{"roomId":"bench-room-0001","to":"p1b2c3d4e5f6a7b8","candidate":{"candidate":"candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 192.168.1.20 rport 46154 generation 0 ufrag EsAw network-id 1 network-cost 10","sdpMid":"0","sdpMLineIndex":0}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wire.DecodeParams[IceCandidateParams](params); err != nil {
			b.Fatal(err)
		}
	}
}
