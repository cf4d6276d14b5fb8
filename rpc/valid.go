package rpc

import (
	"bytes"
	"encoding/binary"
	"math/bits"

	"github.com/parley-rtc/parley/rpc/wire"
)

// validJSON is a frame jsontext has validated: it is read with a scanner
// that trusts it, without checking anything again.
type validJSON []byte

// space returns the index of the first byte at or after i that is not
// whitespace.
func (v validJSON) space(i int) int { return wire.Space(v, i) }

// next steps from i, just past a value or member of an object or array,
// to the next one, or to the closing bracket.
func (v validJSON) next(i int) int {
	i = v.space(i)
	if v[i] == ',' {
		return v.space(i + 1)
	}
	return i
}

// valueEnd returns the index just past the value that starts at v[i].
func (v validJSON) valueEnd(i int) int { return wire.ValueEnd(v, i) }

// deeperThan reports whether valid JSON nests arrays and objects more than
// limit levels deep. (jsontext's own limit is fixed at 10000.) Strings are
// skipped to their closing quote at once: they are most of a frame (an
// SDP), and looking at each of their bytes cost more than validating them.
func deeperThan(valid []byte, limit int) bool {
	depth := 0
	for i := 0; i < len(valid); i++ {
		switch valid[i] {
		case '"':
			i = wire.StringEnd(valid, i)
		case '[', '{':
			if depth++; depth > limit {
				return true
			}
		case ']', '}':
			depth--
		}
	}
	return false
}

// fastValid reports whether frame is one JSON value that validate accepts
// (RFC 8259 syntax, no duplicate member names, at most MaxDepth deep), for
// the frames signaling sends: ASCII only, member names without escapes, no
// \u escape of a surrogate, at most maxNames names in the open objects.
// It reads the frame once, eight bytes at a time inside strings, where
// jsontext took a fifth of the time to relay a candidate or an offer.
// false means "not sure": validate decides, and words the error.
// FuzzValidJSON holds it to accepting nothing jsontext refuses.
func fastValid(frame []byte) bool {
	v := fastValidator{b: frame}
	v.space()
	if !v.value(0) {
		return false
	}
	v.space()
	return v.i == len(v.b)
}

// maxNames bounds the member names fastValid remembers to find duplicates.
const maxNames = 64

type fastValidator struct {
	b     []byte
	i     int
	n     int // names in use
	names [maxNames][]byte
}

func (v *fastValidator) space() { v.i = wire.Space(v.b, v.i) }

// next returns the byte at v.i, or 0 at the end.
func (v *fastValidator) next() byte {
	if v.i < len(v.b) {
		return v.b[v.i]
	}
	return 0
}

func (v *fastValidator) value(depth int) bool {
	switch v.next() {
	case '"':
		return v.string(false)
	case '{':
		return v.object(depth + 1)
	case '[':
		return v.array(depth + 1)
	case 't':
		return v.literal("true")
	case 'f':
		return v.literal("false")
	case 'n':
		return v.literal("null")
	}
	return v.number()
}

func (v *fastValidator) object(depth int) bool {
	if empty, ok := v.open(depth, '}'); empty || !ok {
		return ok
	}
	base := v.n
	for {
		start := v.i
		if v.next() != '"' || !v.string(true) {
			return false
		}
		name := v.b[start+1 : v.i-1]
		for _, prev := range v.names[base:v.n] {
			if bytes.Equal(prev, name) {
				return false // a duplicate: validate says so
			}
		}
		if v.n == maxNames {
			return false
		}
		v.names[v.n] = name
		v.n++
		v.space()
		if v.next() != ':' {
			return false
		}
		v.i++
		v.space()
		if !v.value(depth) {
			return false
		}
		if done, ok := v.after('}'); done || !ok {
			v.n = base
			return ok
		}
	}
}

// open reads an object's or array's opening bracket, at depth; empty
// reports that the closing one follows at once.
func (v *fastValidator) open(depth int, closing byte) (empty, ok bool) {
	if depth > MaxDepth {
		return false, false
	}
	v.i++
	v.space()
	if v.next() == closing {
		v.i++
		return true, true
	}
	return false, true
}

// after reads what follows a member or element: a comma and the next
// one's start (done false), or the closing bracket (done true).
func (v *fastValidator) after(closing byte) (done, ok bool) {
	v.space()
	switch v.next() {
	case ',':
		v.i++
		v.space()
		return false, true
	case closing:
		v.i++
		return true, true
	}
	return false, false
}

func (v *fastValidator) array(depth int) bool {
	if empty, ok := v.open(depth, ']'); empty || !ok {
		return ok
	}
	for {
		if !v.value(depth) {
			return false
		}
		if done, ok := v.after(']'); done || !ok {
			return ok
		}
	}
}

// string reads the string at v.i; a member name (name) may hold no escape.
// It keeps its place in a local, not in v.i, through the string's bytes.
func (v *fastValidator) string(name bool) bool {
	b, i := v.b, v.i+1 // past '"'
	for {
		for i+8 <= len(b) { // skip plain bytes 8 at a time
			if special := specialBytes(binary.LittleEndian.Uint64(b[i:])); special != 0 {
				i += bits.TrailingZeros64(special) / 8
				break
			}
			i += 8
		}
		if i >= len(b) {
			return false
		}
		switch c := b[i]; {
		case c == '"':
			v.i = i + 1
			return true
		case c == '\\':
			if name {
				return false
			}
			if i+1 < len(b) && shortEscape[b[i+1]] {
				i += 2
				for i+1 < len(b) && b[i] == '\\' && shortEscape[b[i+1]] { // \r\n ends each SDP line
					i += 2
				}
				continue
			}
			v.i = i
			if !v.escape() {
				return false
			}
			i = v.i
		case c < 0x20 || c >= 0x80:
			return false // a control character (invalid), or not ASCII (not sure)
		default:
			i++
		}
	}
}

// specialBytes marks the high bit of each byte of w (eight bytes of a
// string, little-endian) that the string's plain run cannot hold: a
// control character, '"', '\\' or a byte over 0x7F. Only the lowest mark is
// sure to be exact: a borrow out of a marked byte may mark the next ones.
func specialBytes(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := w^(ones*'"'), w^(ones*'\\')
	// A byte under 0x20 (or a zero byte of quote or backslash) borrows,
	// which sets its high bit; so does a byte over 0x7F, in w.
	return ((w - ones*0x20) | (quote - ones) | (backslash - ones) | w) & highs
}

// shortEscape marks the bytes that follow a backslash in a two-byte escape.
var shortEscape = [256]bool{'"': true, '\\': true, '/': true, 'b': true, 'f': true, 'n': true, 'r': true, 't': true}

// escape reads the escape sequence at v.i, but for a \u escape of a
// surrogate (not sure: a lone one is refused).
func (v *fastValidator) escape() bool {
	if v.i+1 >= len(v.b) {
		return false
	}
	switch v.b[v.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		v.i += 2
		return true
	case 'u':
		if v.i+6 > len(v.b) {
			return false
		}
		r := 0
		for _, c := range v.b[v.i+2 : v.i+6] {
			switch {
			case '0' <= c && c <= '9':
				r = r<<4 | int(c-'0')
			case 'a' <= c && c <= 'f':
				r = r<<4 | int(c-'a'+10)
			case 'A' <= c && c <= 'F':
				r = r<<4 | int(c-'A'+10)
			default:
				return false
			}
		}
		v.i += 6
		return r < 0xD800 || r > 0xDFFF
	}
	return false
}

func (v *fastValidator) literal(s string) bool {
	if !bytes.HasPrefix(v.b[v.i:], []byte(s)) {
		return false
	}
	v.i += len(s)
	return true
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (v *fastValidator) number() bool {
	if v.next() == '-' {
		v.i++
	}
	switch c := v.next(); {
	case c == '0':
		v.i++
	case '1' <= c && c <= '9':
		v.digits()
	default:
		return false
	}
	if v.next() == '.' {
		v.i++
		if !v.digits() {
			return false
		}
	}
	if c := v.next(); c == 'e' || c == 'E' {
		v.i++
		if c := v.next(); c == '+' || c == '-' {
			v.i++
		}
		if !v.digits() {
			return false
		}
	}
	return true
}

// digits reads one or more digits.
func (v *fastValidator) digits() bool {
	start := v.i
	for v.i < len(v.b) && '0' <= v.b[v.i] && v.b[v.i] <= '9' {
		v.i++
	}
	return v.i > start
}
