package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/rpc/wire"
)

// withGeneratedMarshalers are the types encode_gen.go gives a MarshalJSONTo
// (TestGeneratedMarshalers checks the list is whole).
var withGeneratedMarshalers = []any{
	&ResumeParams{}, &Empty{}, &ErrorData{}, &IceCandidateInit{}, &IceServer{}, &IceServersResult{}, &MessageSendResult{}, &Peer{}, &RoomCreateResult{}, &RoomInfo{}, &RoomJoinResult{}, &RoomListResult{}, &RoomSummary{}, &SessionConnectResult{}, &SessionInfo{}, &SessionListResult{}, &NodeStatus{}, &ClusterNode{}, &TurnAllocation{}, &TurnAllocationList{}, &CallInviteResult{}, &Presence{}, &PresenceListResult{}, &EventData{}, &Event{}, &EventList{}, &DiagCandidateCounts{}, &DiagIceServer{}, &DiagCandidateError{}, &DiagCandidate{}, &DiagSelectedPair{}, &DiagPairCounts{}, &DiagReport{}, &DiagVerdict{}, &TurnEvent{}, &DiagSide{}, &DiagPair{}, &DiagExplanation{}, &RoomPeerJoinedEvent{}, &RoomPeerLeftEvent{}, &RoomUpdatedEvent{}, &RoomClosedEvent{}, &SdpOfferEvent{}, &SdpAnswerEvent{}, &IceCandidateEvent{}, &IceRestartRequestedEvent{}, &IceServersRefreshedEvent{}, &MessageReceivedEvent{}, &RoomPeerStateEvent{}, &RoomSnapshotEvent{}, &SessionReplacedEvent{}, &SessionDrainingEvent{}, &CallIncomingEvent{}, &CallRingingEvent{}, &CallAcceptedEvent{}, &CallEndedEvent{}, &PresenceChangedEvent{},
}

// TestGeneratedMarshalers: every generated MarshalJSONTo writes what
// reflection writes (a copy of the type without methods), for values with
// members zero, set, nil and not, under no options, the Redis store's
// record options and indentation.
func TestGeneratedMarshalers(t *testing.T) {
	if got, want := generatedMarshalers(t), typeNames(withGeneratedMarshalers); !slices.Equal(got, want) {
		t.Fatalf("encode_gen.go has MarshalJSONTo for %v,\nthe test lists %v", got, want)
	}
	options := []json.Options{
		json.JoinOptions(),
		json.JoinOptions(json.FormatNilSliceAsNull(true), json.FormatNilMapAsNull(true)),
		jsontext.WithIndent("  "),
	}
	rng := rand.New(rand.NewPCG(13, 2))
	for _, v := range withGeneratedMarshalers {
		typ := reflect.TypeOf(v).Elem()
		plain := withoutMethods(typ)
		for i := range 40 {
			val := reflect.New(typ)
			if i > 0 { // the first is the zero value
				fill(val.Elem(), rng, 0)
			}
			// The same memory seen as the copy: their layouts are the same.
			same := reflect.NewAt(plain, val.UnsafePointer())
			for _, opts := range options {
				got, err := json.Marshal(val.Interface(), opts)
				want, werr := json.Marshal(same.Interface(), opts)
				if string(got) != string(want) || (err == nil) != (werr == nil) {
					t.Fatalf("%s:\n got  %s (%v)\n want %s (%v)", typ.Name(), got, err, want, werr)
				}
			}
		}
	}
}

// generatedMarshalers are the receivers of encode_gen.go's MarshalJSONTo.
func generatedMarshalers(t *testing.T) []string {
	f, err := parser.ParseFile(token.NewFileSet(), "encode_gen.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "MarshalJSONTo" && fn.Recv != nil {
			names = append(names, fn.Recv.List[0].Type.(*ast.StarExpr).X.(*ast.Ident).Name)
		}
	}
	slices.Sort(names)
	return names
}

func typeNames(values []any) []string {
	names := make([]string, len(values))
	for i, v := range values {
		names[i] = reflect.TypeOf(v).Elem().Name()
	}
	slices.Sort(names)
	return names
}

var rawStringType = reflect.TypeFor[wire.RawString]()

// withoutMethods is typ with every struct in it (but RawString, whose own
// marshaler is meant) rebuilt by reflect.StructOf: the same fields, tags
// and layout, no methods.
func withoutMethods(typ reflect.Type) reflect.Type {
	switch {
	case typ == rawStringType:
		return typ
	case typ.Kind() == reflect.Pointer:
		return reflect.PointerTo(withoutMethods(typ.Elem()))
	case typ.Kind() == reflect.Slice && typ.Elem().Kind() != reflect.Uint8:
		return reflect.SliceOf(withoutMethods(typ.Elem()))
	case typ.Kind() == reflect.Struct:
		fields := make([]reflect.StructField, typ.NumField())
		for i := range fields {
			f := typ.Field(i)
			fields[i] = reflect.StructField{Name: f.Name, Type: withoutMethods(f.Type), Tag: f.Tag}
		}
		return reflect.StructOf(fields)
	}
	return typ
}

// Values fill picks from: strings an encoder escapes, numbers, JSON values
// with whitespace.
var (
	someStrings = []string{"", "a", "quote \" and \\", "é\u2028", "<&>", "\x7f\n"}
	someInts    = []int64{0, 1, -7, 1 << 40}
	someValues  = []string{"", `{"a": [1, 2]}`, `"x"`, `null`}
)

// fill sets v's members at random: zero or not, nil or not.
func fill(v reflect.Value, rng *rand.Rand, depth int) {
	if depth > 4 || rng.IntN(5) == 0 {
		return // left zero
	}
	switch {
	case v.Type() == rawStringType:
		v.Set(reflect.ValueOf(mustQuote(someStrings[rng.IntN(len(someStrings))])))
		return
	case v.Type() == reflect.TypeFor[jsontext.Value]():
		if s := someValues[rng.IntN(len(someValues))]; s != "" {
			v.SetBytes([]byte(s))
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(someStrings[rng.IntN(len(someStrings))])
	case reflect.Int64:
		v.SetInt(someInts[rng.IntN(len(someInts))])
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), rng, depth+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), rng.IntN(3), 2))
		for i := range v.Len() {
			fill(v.Index(i), rng, depth+1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), rng, depth+1)
		}
	}
}

func mustQuote(s string) wire.RawString {
	r, err := wire.Quote(s)
	if err != nil {
		panic(err)
	}
	return r
}

// BenchmarkEncodeEvent encodes an ice.candidate event and a 4 KB
// sdp.answer event by the generated MarshalJSONTo and by reflection.
func BenchmarkEncodeEvent(b *testing.B) {
	mid, idx := "0", int64(0)
	sdp := mustQuote("v=0\r\n" + strings.Repeat("a=ssrc:2231627014 msid:8a5c2f8b-4b8e-4f2b-9c49-5f3bd0f2d9f1 0f4b3c1e-7d6a-4e59-8f0e-2b1c5d7a9e3f\r\n", 40))
	for _, ev := range []any{
		&IceCandidateEvent{Seq: 12, RoomID: "bench-room-0001", From: "p1b2c3d4e5f6a7b8", Candidate: &IceCandidateInit{
			Candidate: "candidate:842163049 1 udp 1677729535 192.0.2.10 46154 typ srflx raddr 10.0.0.2 rport 46154 generation 0", SDPMid: &mid, SDPMLineIndex: &idx}},
		&SdpAnswerEvent{Seq: 12, RoomID: "bench-room-0001", From: "p1b2c3d4e5f6a7b8", SDP: sdp},
	} {
		val := reflect.ValueOf(ev)
		plain := reflect.NewAt(withoutMethods(val.Type().Elem()), val.UnsafePointer()).Interface()
		for _, by := range []struct {
			name string
			v    any
		}{{"generated", ev}, {"reflection", plain}} {
			b.Run(val.Type().Elem().Name()+"/"+by.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := json.Marshal(by.v); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
