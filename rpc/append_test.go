package rpc

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc/wire"
)

// appenders are the api types that append their own JSON: every object
// and notification of the schema but the params.
var appenders = []any{
	new(api.Empty), new(api.ErrorData), new(api.IceCandidateInit), new(api.IceServer), new(api.IceServersResult),
	new(api.MessageSendResult), new(api.Peer), new(api.RoomCreateResult), new(api.RoomInfo), new(api.RoomJoinResult),
	new(api.RoomListResult), new(api.RoomSummary), new(api.SessionConnectResult), new(api.SessionInfo),
	new(api.SessionListResult), new(api.NodeStatus), new(api.ClusterNode), new(api.TurnAllocation),
	new(api.TurnAllocationList), new(api.CallInviteResult), new(api.Presence), new(api.PresenceListResult),
	new(api.EventData), new(api.Event), new(api.EventList), new(api.DiagCandidateCounts), new(api.DiagIceServer),
	new(api.DiagCandidateError), new(api.DiagCandidate), new(api.DiagSelectedPair), new(api.DiagPairCounts),
	new(api.DiagReport), new(api.DiagVerdict), new(api.TurnEvent), new(api.DiagSide), new(api.DiagPair),
	new(api.DiagExplanation), new(api.RoomPeerJoinedEvent), new(api.RoomPeerLeftEvent), new(api.RoomUpdatedEvent),
	new(api.RoomClosedEvent), new(api.SdpOfferEvent), new(api.SdpAnswerEvent), new(api.IceCandidateEvent),
	new(api.IceRestartRequestedEvent), new(api.IceServersRefreshedEvent), new(api.MessageReceivedEvent),
	new(api.RoomPeerStateEvent), new(api.RoomSnapshotEvent), new(api.SessionReplacedEvent),
	new(api.SessionDrainingEvent), new(api.CallIncomingEvent), new(api.CallRingingEvent), new(api.CallAcceptedEvent),
	new(api.CallEndedEvent), new(api.PresenceChangedEvent), new(api.AdminSignalEvent),
}

// TestAppendFrameAsMarshalled: for random values of every api type,
// encodeFrame writes by AppendJSON the bytes json.MarshalWrite writes, and
// refuses (falling back to json, which words the error) what it refuses.
func TestAppendFrameAsMarshalled(t *testing.T) {
	for seed := range uint64(3000) {
		appendsAsMarshalled(t, seed)
	}
}

// FuzzAppendFrame is TestAppendFrameAsMarshalled over more seeds.
func FuzzAppendFrame(f *testing.F) {
	f.Add(uint64(0))
	f.Fuzz(func(t *testing.T, seed uint64) { appendsAsMarshalled(t, seed) })
}

func appendsAsMarshalled(t *testing.T, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed>>32))
	typ := reflect.TypeOf(appenders[r.IntN(len(appenders))]).Elem()
	v := reflect.New(typ)
	fill(r, v.Elem(), 0)
	head := func(b []byte) []byte { return append(b, `{"jsonrpc":"2.0","method":"m","params":`...) }
	e := frameEncoders.Get().(*frameEncoder)
	defer e.release()
	want, wantErr := e.marshalFrame(nil, head, v.Interface())
	got, ok := e.appendFrame(nil, head, v.Interface().(wire.JSONAppender))
	switch {
	case ok != (wantErr == nil):
		t.Fatalf("seed %d, %s %+v: appended %v, json.MarshalWrite says %v", seed, typ, v.Interface(), ok, wantErr)
	case ok && !bytes.Equal(got, want):
		t.Fatalf("seed %d, %s:\nappended %s\nmarshaled %s", seed, typ, got, want)
	}
}

var valueType = reflect.TypeFor[jsontext.Value]()

// fill sets v to a random value: strings that need escaping or are not
// UTF-8, nil and empty slices, raw strings and JSON values that are not
// in jsontext's canonical form, zero members that omitzero drops.
func fill(r *rand.Rand, v reflect.Value, depth int) {
	switch v.Type() {
	case rawStringType:
		v.Set(reflect.ValueOf(randRawString(r)))
		return
	case valueType:
		v.Set(reflect.ValueOf(randValue(r)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(randString(r))
	case reflect.Int64:
		v.SetInt([]int64{0, 1, -1, 1<<53 - 1, -(1<<53 - 1), 1 << 62, r.Int64()}[r.IntN(7)])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Pointer:
		if depth < 4 && r.IntN(3) > 0 {
			p := reflect.New(v.Type().Elem())
			fill(r, p.Elem(), depth+1)
			v.Set(p)
		}
	case reflect.Slice:
		switch n := r.IntN(4); {
		case n == 0: // nil
		case depth >= 4:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			s := reflect.MakeSlice(v.Type(), n-1, n-1)
			for i := range n - 1 {
				fill(r, s.Index(i), depth+1)
			}
			v.Set(s)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if r.IntN(4) > 0 {
				fill(r, v.Field(i), depth+1)
			}
		}
	default:
		panic(fmt.Sprintf("fill: %s", v.Type()))
	}
}

func randString(r *rand.Rand) string {
	parts := []string{"", "a", "p1b2c3", `"`, `\`, "\x00", "\x1f\n\t\r\b\f", "é", "😀", "\u2028\u2029", "<>&", "\x7f", "\xff", "\xed\xa0\x80", "/",
		"candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 192.168.1.20 rport 46154"}
	var b strings.Builder
	for range r.IntN(4) {
		b.WriteString(parts[r.IntN(len(parts))])
	}
	return b.String()
}

// randRawString is a valid literal, short or long (wire.MinSplice), its
// escapes canonical or not.
func randRawString(r *rand.Rand) wire.RawString {
	lits := []string{`""`, `"v=0\r\n"`, `"\u0041\/\u00e9"`, `"plain"`, `"é\"\\"`, `"<&>"`}
	lit := lits[r.IntN(len(lits))]
	if r.IntN(3) == 0 {
		lit = `"` + strings.Repeat(strings.Trim(lit, `"`)+"a=x", 300/len(lit)+1) + `"`
	}
	if r.IntN(2) == 0 {
		return wire.RawLiteral([]byte(lit))
	}
	q, _ := wire.Quote(randString(r))
	return q
}

func randValue(r *rand.Rand) jsontext.Value {
	values := []string{"", `{}`, ` { "a" : [1, 2.50, "\u0041"] , "b":null} `, `null`, `"x"`, `[]`, `1e3`, `{`, `[1,]`, `{"a":1,"a":2}`, "\"\xff\""}
	if s := values[r.IntN(len(values))]; s != "" {
		return jsontext.Value(s)
	}
	return nil
}

// BenchmarkEncodeNotification encodes a relayed candidate's and a 4 KB
// offer's notification: by AppendJSON (append), as encodeFrame does, and
// by json.MarshalWrite (marshal).
func BenchmarkEncodeNotification(b *testing.B) {
	mid, index := "0", int64(0)
	sdp, _ := wire.Quote("v=0\r\n" + strings.Repeat("a=candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 192.168.1.20 rport 46154 generation 0\r\n", 36))
	events := []struct {
		name string
		v    any
	}{
		{"candidate", &api.IceCandidateEvent{Seq: 12345, RoomID: "bench-room-0001", From: "p1b2c3d4e5f6a7b8", Candidate: &api.IceCandidateInit{
			Candidate: "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 192.168.1.20 rport 46154 generation 0 ufrag EsAw network-id 1 network-cost 10",
			SDPMid:    &mid, SDPMLineIndex: &index}}},
		{"offer", &api.SdpOfferEvent{Seq: 12345, RoomID: "bench-room-0001", From: "p1b2c3d4e5f6a7b8", SDP: sdp}},
	}
	head := func(b []byte) []byte { return append(b, `{"jsonrpc":"2.0","method":"ice.candidate","params":`...) }
	for _, ev := range events {
		b.Run(ev.name+"/append", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := encodeFrame(nil, head, ev.v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(ev.name+"/marshal", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e := frameEncoders.Get().(*frameEncoder)
				if _, err := e.marshalFrame(nil, head, ev.v); err != nil {
					b.Fatal(err)
				}
				e.release()
			}
		})
	}
}
