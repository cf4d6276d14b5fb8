package wire

import (
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
