package api

import (
	"bytes"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api/pattern"
	"github.com/parley-rtc/parley/rpc/wire"
)

// The helpers below are what the generated decodeValid methods are made
// of: the decoders of params the rpc layer has validated (wire.ValidParams).
// They walk the bytes with a scanner that trusts their syntax, where
// jsontext checked each token again (a quarter of a relayed candidate's
// time). Each returns ok false when it is not sure: a value the schema
// refuses, a kind it does not expect, a string with escapes, a number that
// is not a plain integer. The caller then decodes a new value with
// UnmarshalJSONFrom, which words the error. Strings are copies: the bytes
// read are the connection's pooled buffer.

// validDecoder reads valid JSON.
type validDecoder struct {
	b []byte
	i int
}

// validParams is the decoder of params; absent params are {}.
func validParams(params []byte) validDecoder {
	if len(params) == 0 {
		params = emptyObject
	}
	return validDecoder{b: params}
}

var emptyObject = []byte("{}")

func (d *validDecoder) space() { d.i = wire.Space(d.b, d.i) }

// peek returns the next byte that is not whitespace, 0 at the end.
func (d *validDecoder) peek() byte {
	d.space()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// end reports whether nothing but whitespace follows.
func (d *validDecoder) end() bool {
	d.space()
	return d.i == len(d.b)
}

// objectStart reads the '{' of an object.
func (d *validDecoder) objectStart() bool {
	if d.peek() != '{' {
		return false
	}
	d.i++
	return true
}

// arrayStart reads the '[' of an array.
func (d *validDecoder) arrayStart() bool {
	if d.peek() != '[' {
		return false
	}
	d.i++
	return true
}

// moreItems reports whether an element follows, reading the comma before
// it, or else reads the array's closing ']'.
func (d *validDecoder) moreItems() bool {
	switch d.peek() {
	case ',':
		d.i++
	case ']':
		d.i++
		return false
	}
	return true
}

// more reports whether a member follows, reading the comma before it, or
// else reads the object's closing '}'.
func (d *validDecoder) more() bool {
	switch d.peek() {
	case ',':
		d.i++
		d.space()
	case '}':
		d.i++
		return false
	}
	return true
}

// name reads a member name and the colon after it. A name with escapes
// reads as nil, which names no member: the checked decoder reads it.
func (d *validDecoder) name() []byte {
	start := d.i + 1
	end := start + bytes.IndexByte(d.b[start:], '"')
	if bytes.IndexByte(d.b[start:end], '\\') >= 0 {
		return nil
	}
	d.i = end + 1
	d.space()
	d.i++ // ':'
	return d.b[start:end]
}

// plain reads a string without escapes and returns its contents (a slice
// of the input).
func (d *validDecoder) plain() ([]byte, bool) {
	if d.peek() != '"' {
		return nil, false
	}
	start := d.i + 1
	end := start + bytes.IndexByte(d.b[start:], '"')
	if bytes.IndexByte(d.b[start:end], '\\') >= 0 {
		return nil, false
	}
	d.i = end + 1
	return d.b[start:end], true
}

func (d *validDecoder) string(maxLen int, pat *pattern.Pattern) (string, bool) {
	b, ok := d.plain()
	if !ok || maxLen > 0 && len(b) > maxLen && utf8.RuneCount(b) > maxLen {
		return "", false
	}
	s := string(b)
	if pat != nil && !pat.MatchString(s) {
		return "", false
	}
	return s, true
}

// rawString is decodeRawString's: the literal as it is, unless it is
// long enough that its characters must be counted.
func (d *validDecoder) rawString(maxLen int) (wire.RawString, bool) {
	if d.peek() != '"' {
		return wire.RawString{}, false
	}
	start := d.i
	d.i = wire.StringEnd(d.b, start) + 1
	lit := d.b[start:d.i]
	if maxLen > 0 && len(lit)-2 > maxLen {
		return wire.RawString{}, false
	}
	return wire.RawLiteral(lit), true
}

// maxPlainDigits is the most digits int reads: 15 keep a number within
// ±(2^53-1).
const maxPlainDigits = 15

// int reads an integer written without fraction or exponent.
func (d *validDecoder) int(minimum, maximum int64) (int64, bool) {
	d.space()
	neg := d.i < len(d.b) && d.b[d.i] == '-'
	if neg {
		d.i++
	}
	start := d.i
	var n int64
	for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
		n = n*10 + int64(d.b[d.i]-'0')
		d.i++
	}
	if digits := d.i - start; digits == 0 || digits > maxPlainDigits {
		return 0, false
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	return n, minimum <= n && n <= maximum
}

func (d *validDecoder) bool() (bool, bool) {
	switch d.peek() {
	case 't':
		d.i += len("true")
		return true, true
	case 'f':
		d.i += len("false")
		return false, true
	}
	return false, false
}

// null reads a null, if one is next.
func (d *validDecoder) null() bool {
	if d.peek() != 'n' {
		return false
	}
	d.i += len("null")
	return true
}

// raw reads any value, copied.
func (d *validDecoder) raw() (jsontext.Value, bool) {
	d.space()
	start := d.i
	d.i = wire.ValueEnd(d.b, start)
	return jsontext.Value(bytes.Clone(d.b[start:d.i])), true
}

// rawObject reads an object, copied.
func (d *validDecoder) rawObject() (jsontext.Value, bool) {
	if d.peek() != '{' {
		return nil, false
	}
	return d.raw()
}

func validEnum[T ~string](d *validDecoder, values []T) (T, bool) {
	b, ok := d.plain()
	if !ok {
		return "", false
	}
	for _, v := range values {
		if string(v) == string(b) {
			return v, true
		}
	}
	return "", false
}
