package rpc

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc/wire"
)

// paramsCases are params of sdp.offer, valid JSON each.
func paramsCases() []string {
	sdp := `"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=\"\\\"\r\nt=0 0\r\n"`
	long := `"` + strings.Repeat("é", 65537) + `"`
	return []string{
		`{"roomId":"r1","to":"p1","sdp":` + sdp + `}`,
		` { "sdp" : ` + sdp + ` , "roomId" : "r1" , "to" : "p1" } `,
		`{"roomId":"r1","sdp":` + sdp + `,"to":"p1"}`,
		`{"roomId":"r1","to":"p1","sdp":""}`,
		`{"roomId":"r1","to":"p1","\u0073dp":` + sdp + `}`,
		`{"roomId":"r1","to":"p1","sdp":5}`,
		`{"roomId":"r1","to":"p1","sdp":null}`,
		`{"roomId":"r1","to":"p1"}`,
		`{"roomId":"r1","to":"p1","sdp":` + sdp + `,"x":"sdp"}`,
		`{"roomId":"r 1","to":"p1","sdp":` + sdp + `}`,
		`{"roomId":"r1","to":"p1","sdp":` + long + `}`,
		`{"roomId":"r1","to":"p1","sdp":"` + strings.Repeat("é", 65536) + `"}`,
		`{}`,
		`[]`,
		``,
	}
}

// TestDecodeParamsCutsRawMembers: params decoded with their raw members cut
// out decode as jsontext decodes them, errors included.
func TestDecodeParamsCutsRawMembers(t *testing.T) {
	for i, params := range paramsCases() {
		t.Run(fmt.Sprint(i), func(t *testing.T) { sameAsJSONText[api.SdpOfferParams](t, params) })
	}
}

// FuzzDecodeParams: for any valid JSON, decodeParams (DecodeValid, or the
// raw members cut out, or jsontext) decodes as jsontext, errors included,
// for the params of the relayed methods and of some with every kind of
// member.
func FuzzDecodeParams(f *testing.F) {
	for _, params := range paramsCases() {
		f.Add(params)
	}
	f.Add(`{"roomId":"r1","to":"p1","candidate":{"candidate":"candidate:1 1 udp 1 192.0.2.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}`)
	f.Add(`{"roomId":"r1","create":true,"displayName":"Ann","metadata":{"a":[1,{"b":null}]}}`)
	f.Add(`{"roomId":"r1","locked":null,"maxPeers":10,"duplicateIdentity":"reject"}`)
	f.Add(`{"identities":["alice","bob"]}`)
	f.Fuzz(func(t *testing.T, params string) {
		if params == "" || validate([]byte(params)) != nil {
			return // the dispatcher refuses it before any handler
		}
		sameAsJSONText[api.SdpOfferParams](t, params)
		sameAsJSONText[api.IceCandidateParams](t, params)
		sameAsJSONText[api.MessageSendParams](t, params)
		sameAsJSONText[api.RoomJoinParams](t, params)
		sameAsJSONText[api.RoomUpdateParams](t, params)
		sameAsJSONText[api.PresenceSubscribeParams](t, params)
	})
}

func sameAsJSONText[P any, PP wire.Params[P]](t *testing.T, params string) {
	t.Helper()
	got, gotErr := decodeParams[P, PP](jsontext.Value(params))
	want, wantErr := wire.DecodeParams[P, PP](jsontext.Value(params))
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("%s: error %v, jsontext says %v", params, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: decoded %+v, jsontext says %+v", params, got, want)
	}
}

// BenchmarkDecodeSDPParams decodes the params of a 4 KB sdp.offer: with the
// SDP cut out (decodeParams), and by jsontext (wire.DecodeParams).
func BenchmarkDecodeSDPParams(b *testing.B) {
	line := `a=candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 192.168.1.20 rport 46154 generation 0\r\n`
	params := jsontext.Value(`{"roomId":"bench-room-0001","to":"p1b2c3d4e5f6a7b8","sdp":"v=0\r\n` + strings.Repeat(line, 4096/len(line)) + `"}`)
	b.SetBytes(int64(len(params)))
	for _, bc := range []struct {
		name   string
		decode func(jsontext.Value) (*api.SdpOfferParams, error)
	}{
		{"cut", decodeParams[api.SdpOfferParams]},
		{"jsontext", wire.DecodeParams[api.SdpOfferParams]},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.decode(params); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
