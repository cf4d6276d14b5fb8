package api

import (
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/rpc/wire"
)

// BenchmarkDecodeICECandidate decodes the params of a relayed candidate:
// two ids checked against their pattern, a candidate string, its mid. The
// rpc layer decodes them with DecodeValid (valid), and with the checked
// decoder only when that is not sure (checked).
func BenchmarkDecodeICECandidate(b *testing.B) {
	params := jsontext.Value(`{"roomId":"bench-room-0001","to":"p1b2c3d4e5f6a7b8","candidate":{"candidate":"candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 192.168.1.20 rport 46154 generation 0 ufrag EsAw network-id 1 network-cost 10","sdpMid":"0","sdpMLineIndex":0}}`)
	b.Run("valid", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !new(IceCandidateParams).DecodeValid(params) {
				b.Fatal("not sure")
			}
		}
	})
	b.Run("checked", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := wire.DecodeParams[IceCandidateParams](params); err != nil {
				b.Fatal(err)
			}
		}
	})
}
