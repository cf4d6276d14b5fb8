package wire

import (
	jsonv1 "encoding/json"
	"testing"

	"github.com/go-json-experiment/json"
)

// TestRawString: quoted, marshalled and unmarshalled, a RawString denotes
// the text it was made of; its zero value is the empty string; what is not
// a string or not UTF-8 is refused.
func TestRawString(t *testing.T) {
	for _, text := range []string{"", "v=0\r\n", `a "quoted" \ line`, "é\u2028"} {
		r, err := Quote(text)
		if err != nil {
			t.Fatal(err)
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back RawString
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		got, err := back.Text()
		if err != nil || got != text || back.Literal() != string(out) || back.IsZero() != (text == "") {
			t.Errorf("%q: marshalled %s, back %q (%v)", text, out, got, err)
		}
	}
	var zero RawString
	if text, err := zero.Text(); text != "" || err != nil || zero.Literal() != `""` || !zero.IsZero() {
		t.Errorf("zero value: %q %v %s", text, err, zero.Literal())
	}
	if _, err := Quote("\xff"); err == nil {
		t.Error("Quote took invalid UTF-8")
	}
	var r RawString
	if err := json.Unmarshal([]byte(`7`), &r); err == nil {
		t.Error("a number unmarshalled into a RawString")
	}
}

// TestRawStringV1: encoding/json (the Go client's) marshals and
// unmarshals a RawString as the string it denotes too.
func TestRawStringV1(t *testing.T) {
	type params struct {
		SDP RawString `json:"sdp"`
	}
	in, err := Quote("v=0\r\n\"é\"")
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonv1.Marshal(params{SDP: in})
	if err != nil || string(out) != `{"sdp":"v=0\r\n\"é\""}` {
		t.Fatalf("marshalled %s (%v)", out, err)
	}
	var back params
	if err := jsonv1.Unmarshal(out, &back); err != nil || back.SDP != in {
		t.Fatalf("unmarshalled %#v (%v)", back, err)
	}
	if err := jsonv1.Unmarshal([]byte(`{"sdp":null}`), &back); err != nil || back.SDP != in {
		t.Fatalf("null: %#v (%v)", back, err)
	}
	if err := jsonv1.Unmarshal([]byte(`{"sdp":{}}`), &back); err == nil {
		t.Fatal("an object unmarshalled into a RawString")
	}
}
