package rpc

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/bits"
	"os"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// FuzzValidJSON: fastValid accepts nothing jsontext refuses (nor anything
// deeper than MaxDepth); on any JSON jsontext finds valid, the trusted
// scanner finds the same values (the members or elements of the outer
// object or array, byte for byte) and the same nesting depth.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":1}`,
		`[{"jsonrpc":"2.0","method":"get_data","id":"9"},{"jsonrpc":"2.0","method":"update"}]`,
		` { "a\"[" : "]]\\" , "b" : [ { } , -1.5e+3 , true , null ] } `,
		`["\\\"[[[[",1,false]`, `"x"`, `12`, `[]`, `{}`, `[[[[[]]]]]`,
		`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `"\ud800"`, `"\ud83d\ude00"`, `"\u00e9\n\t\/"`, "\"caf\u00e9\"",
		`-0.5e-7`, `01`, `1.`, `.5`, `-`, `1e`, `[1,]`, `{"a":}`, `{"a" 1}`, `tru`, `nul`, "\"\x01\"", "\"\xff\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !jsontext.Value(b).IsValid() {
			if fastValid(b) {
				t.Fatalf("fastValid accepts %q, which jsontext refuses", b)
			}
			return
		}
		if fastValid(b) && maxDepth(t, b) > MaxDepth {
			t.Fatalf("fastValid accepts %q, deeper than %d", b, MaxDepth)
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

// TestFastValid: the frames signaling sends take the fast path; what it is
// not sure of is left to jsontext.
func TestFastValid(t *testing.T) {
	for _, frame := range []string{
		`{"jsonrpc":"2.0","method":"sum","params":[1,2,4],"id":"1"}`,
		`[{"jsonrpc":"2.0","method":"notify_hello","params":[7]},{"jsonrpc":"2.0","method":"get_data","id":"9"}]`,
		`{"jsonrpc":"2.0","id":7,"method":"ice.candidate","params":{"roomId":"r","to":"p","candidate":{"candidate":"candidate:1 1 udp 1 192.0.2.1 9 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null}}}`,
		`{"jsonrpc":"2.0","id":8,"method":"sdp.offer","params":{"roomId":"r","to":"p","sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=x:\"q\" \\ \/ \u0041\r\n"}}`,
		` {"a" : [ true , false , null , -1.5e+3 , 0 , {} , [] ] } `,
	} {
		if !fastValid([]byte(frame)) {
			t.Errorf("not on the fast path: %s", frame)
		}
	}
	for _, frame := range []string{
		`{"a":1,"a":2}`, `{"a\u0062":1}`, `"\ud83d\ude00"`, "\"caf\u00e9\"", `{"a":1,}`, `[01]`, `"\x01"`,
		strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
	} {
		if fastValid([]byte(frame)) {
			t.Errorf("on the fast path: %s", frame)
		}
	}
}

// BenchmarkFastValidSDP validates the frame of an sdp.answer carrying the
// 2.9 KB offer in testdata (Chrome's shape; lines of 24 bytes at the
// median, each ending in the escapes \r\n).
func BenchmarkFastValidSDP(b *testing.B) {
	text, err := os.ReadFile("testdata/offer.sdp")
	if err != nil {
		b.Fatal(err)
	}
	lit, err := jsontext.AppendQuote(nil, string(text))
	if err != nil {
		b.Fatal(err)
	}
	frame := []byte(`{"jsonrpc":"2.0","method":"sdp.answer","id":12,"params":{"roomId":"bench","to":"p1b2c3d4e5f6a7b8","sdp":` + string(lit) + `}}`)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if !fastValid(frame) {
			b.Fatal("not sure")
		}
	}
}

// TestSpecialBytes: the lowest byte specialBytes marks is the first byte
// a string's plain run cannot hold, for every byte value at every place,
// with plain bytes below it and a borrowing one (0x00) above.
func TestSpecialBytes(t *testing.T) {
	for at := range 8 {
		for c := range 256 {
			var word [8]byte
			for i := range word {
				switch {
				case i < at:
					word[i] = 'a'
				case i == at:
					word[i] = byte(c)
				}
			}
			plain := c >= 0x20 && c < 0x80 && c != '"' && c != '\\'
			want := at
			if plain {
				want = at + 1 // the 0x00 above, if any
			}
			got := bits.TrailingZeros64(specialBytes(binary.LittleEndian.Uint64(word[:]))) / 8
			if got != want {
				t.Errorf("byte %#02x at %d: first marked %d, want %d", c, at, got, want)
			}
		}
	}
}
