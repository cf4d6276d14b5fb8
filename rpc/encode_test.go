package rpc

import (
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/rpc/wire"
)

type rawEvent struct {
	Seq    int64            `json:"seq"`
	SDP    wire.RawString   `json:"sdp"`
	Short  wire.RawString   `json:"short"`
	Nested *rawEvent        `json:"nested,omitempty"`
	List   []wire.RawString `json:"list,omitempty"`
	Any    any              `json:"any,omitempty"`
}

// TestEncodeSplicesRawStrings: a frame with long raw strings spliced in
// is the frame jsontext writes, wherever the strings sit.
func TestEncodeSplicesRawStrings(t *testing.T) {
	long := func(tag string) wire.RawString {
		r, err := wire.Quote(strings.Repeat("a=candidate \"x\" \\ é "+tag+"\r\n", 40))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	short, _ := wire.Quote("v=0\r\n")
	tests := []struct {
		name string
		v    any
	}{
		{"none", &rawEvent{Seq: 1}},
		{"short", &rawEvent{Seq: 1, Short: short}},
		{"one", &rawEvent{Seq: 1, SDP: long("1"), Short: short}},
		{"everywhere", &rawEvent{Seq: 2, SDP: long("1"), Short: short,
			Nested: &rawEvent{SDP: long("2"), List: []wire.RawString{long("3"), short, long("4")}},
			Any:    long("5")}},
		{"no raw string type", map[string]int{"a": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frame, err := EncodeNotification("sdp.offer", tc.v)
			if err != nil {
				t.Fatal(err)
			}
			params, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			want := `{"jsonrpc":"2.0","method":"sdp.offer","params":` + string(params) + `}`
			if string(frame) != want {
				t.Fatalf("got  %s\nwant %s", frame, want)
			}
			if v := jsontext.Value(frame); !v.IsValid() {
				t.Fatal("not valid JSON")
			}
		})
	}
}
