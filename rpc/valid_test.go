package rpc

import (
	"bytes"
	"io"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// FuzzValidJSON: on any JSON jsontext finds valid, the trusted scanner
// finds the same values (the members or elements of the outer object or
// array, byte for byte) and the same nesting depth.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":1}`,
		`[{"jsonrpc":"2.0","method":"get_data","id":"9"},{"jsonrpc":"2.0","method":"update"}]`,
		` { "a\"[" : "]]\\" , "b" : [ { } , -1.5e+3 , true , null ] } `,
		`["\\\"[[[[",1,false]`, `"x"`, `12`, `[]`, `{}`, `[[[[[]]]]]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !jsontext.Value(b).IsValid() {
			return
		}
		v := validJSON(b)
		i := v.space(0)
		if end := v.space(v.valueEnd(i)); end != len(b) {
			t.Fatalf("%q: the value ends at %d, want %d", b, end, len(b))
		}
		for limit := range 4 {
			if got, want := deeperThan(b, limit), maxDepth(t, b) > limit; got != want {
				t.Fatalf("%q: deeperThan(%d) = %v, want %v", b, limit, got, want)
			}
		}
		if b[i] != '{' && b[i] != '[' {
			return
		}
		dec := jsontext.NewDecoder(bytes.NewReader(b))
		_, _ = dec.ReadToken()
		for j := v.space(i + 1); v[j] != '}' && v[j] != ']'; j = v.next(j) {
			if b[i] == '{' { // the member's name, then its value
				end := v.valueEnd(j)
				checkValue(t, b, dec, v[j:end])
				j = v.space(v.space(end) + 1)
			}
			end := v.valueEnd(j)
			checkValue(t, b, dec, v[j:end])
			j = end
		}
		if k := dec.PeekKind(); k != '}' && k != ']' {
			t.Fatalf("%q: the scanner found fewer values than jsontext", b)
		}
	})
}

func checkValue(t *testing.T, b []byte, dec *jsontext.Decoder, got []byte) {
	t.Helper()
	want, err := dec.ReadValue()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%q: scanned %q, jsontext read %q (%v)", b, got, want, err)
	}
}

// maxDepth is the deepest nesting jsontext sees in b.
func maxDepth(t *testing.T, b []byte) int {
	dec := jsontext.NewDecoder(bytes.NewReader(b))
	depth := 0
	for {
		if _, err := dec.ReadToken(); err == io.EOF {
			return depth
		} else if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		depth = max(depth, dec.StackDepth())
	}
}
