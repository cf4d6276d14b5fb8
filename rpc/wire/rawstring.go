package wire

import (
	"errors"

	"github.com/go-json-experiment/json/jsontext"
)

// RawString is a JSON string held as its literal: the quotes and the
// escapes as they were written. A server relaying a large string (an SDP)
// keeps it so and sends it on as it came, instead of unescaping it when it
// reads it and escaping it again when it writes it (two passes over 4 KB
// and a copy). The zero value is the empty string.
type RawString struct {
	lit string // a valid JSON string literal, or "" for the empty string
}

// MinSplice is the length from which the server's frame encoder writes a
// RawString literal as it is, validated when it came in: below it, the
// literal is written as jsontext writes it (checked, its escapes made
// canonical), which costs less than splicing it in.
const MinSplice = 256

// RawLiteral is the RawString of lit, a JSON string literal a decoder has
// read (and so validated). The empty string costs no allocation.
func RawLiteral(lit []byte) RawString {
	if len(lit) == len(`""`) {
		return RawString{}
	}
	return RawString{lit: string(lit)}
}

// Quote returns the RawString of text; text that is not UTF-8 is an
// error (JSON text is UTF-8).
func Quote(text string) (RawString, error) {
	lit, err := jsontext.AppendQuote(nil, text)
	if err != nil {
		return RawString{}, err
	}
	return RawString{lit: string(lit)}, nil
}

// Literal is the JSON string literal, quotes included.
func (r RawString) Literal() string {
	if r.lit == "" {
		return `""`
	}
	return r.lit
}

// Text is the string the literal denotes.
func (r RawString) Text() (string, error) {
	if r.lit == "" {
		return "", nil
	}
	text, err := jsontext.AppendUnquote(nil, r.lit)
	return string(text), err
}

// IsZero reports the empty string (json's omitzero uses it).
func (r RawString) IsZero() bool { return r.lit == "" || r.lit == `""` }

// MarshalJSONTo writes the literal.
func (r RawString) MarshalJSONTo(enc *jsontext.Encoder) error {
	return enc.WriteValue(jsontext.Value(r.Literal()))
}

// UnmarshalJSONFrom keeps the literal of the next value, which must be a
// string.
func (r *RawString) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if k := dec.PeekKind(); k != '"' && k != 0 {
		return errNotString
	}
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	*r = RawLiteral(v)
	return nil
}

// MarshalJSON is MarshalJSONTo for encoding/json (the Go client's).
func (r RawString) MarshalJSON() ([]byte, error) { return []byte(r.Literal()), nil }

// UnmarshalJSON is UnmarshalJSONFrom for encoding/json, which has checked
// that b is valid JSON; null leaves r as it is, by that package's
// convention.
func (r *RawString) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) == 0 || b[0] != '"':
		return errNotString
	}
	*r = RawLiteral(b)
	return nil
}

var errNotString = errors.New("not a JSON string")
