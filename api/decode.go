package api

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api/pattern"
	"github.com/parley-rtc/parley/rpc/wire"
)

// The helpers below are what the generated UnmarshalJSONFrom methods are
// made of. Each reads one value and returns a *wire.FieldError naming what
// is wrong; the caller prefixes the member's path.

// maxSafeInt bounds integers: beyond ±(2^53-1) JavaScript clients lose
// precision, so such numbers are refused rather than rounded.
const maxSafeInt = 1<<53 - 1

func fieldError(reason string) error { return &wire.FieldError{Reason: reason} }

// kindName names a JSON kind for error messages.
func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "invalid JSON"
}

// expect checks the next value's kind without consuming it.
func expect(dec *jsontext.Decoder, want jsontext.Kind, what string) error {
	if k := dec.PeekKind(); k != want {
		if k == 0 { // a syntax error: let the read report it
			_, err := dec.ReadToken()
			return err
		}
		return fieldError(fmt.Sprintf("must be %s, not %s", what, kindName(k)))
	}
	return nil
}

func readObjectStart(dec *jsontext.Decoder) error {
	if err := expect(dec, '{', "an object"); err != nil {
		return err
	}
	_, err := dec.ReadToken()
	return err
}

func readObjectEnd(dec *jsontext.Decoder) error {
	_, err := dec.ReadToken()
	return err
}

// readName reads a member name. It may be a slice of the decoder's buffer,
// valid only until the next read: decoders switch on string(name), which
// does not allocate, where a string per name was most of decoding's garbage.
func readName(dec *jsontext.Decoder) ([]byte, error) {
	v, err := dec.ReadValue()
	if err != nil {
		return nil, err
	}
	name, _ := wire.Unquote(v) // the decoder has checked it is a string
	return name, nil
}

func unknownMember(name string) error {
	return &wire.FieldError{Field: name, Reason: "unknown member"}
}

func missingMember(name string) error {
	return &wire.FieldError{Field: name, Reason: "required"}
}

// missingAnyOf refuses an object none of whose anyOf groups is present
// (rule is Type.AnyOfRule: "sdpMid or sdpMLineIndex is required"); the
// field is the object's own, which the caller's prefix names.
func missingAnyOf(rule string) error {
	return &wire.FieldError{Reason: rule}
}

func decodeString(dec *jsontext.Decoder, maxLen int, pat *pattern.Pattern) (string, error) {
	if err := expect(dec, '"', "a string"); err != nil {
		return "", err
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return "", err
	}
	s := tok.String()
	if maxLen > 0 && len(s) > maxLen && utf8.RuneCountInString(s) > maxLen {
		return "", fieldError(fmt.Sprintf("longer than %d characters", maxLen))
	}
	if pat != nil && !pat.MatchString(s) {
		return "", fieldError("does not match " + pat.String())
	}
	return s, nil
}

// decodeRawString is decodeString for an x-go-raw string: it keeps the
// literal, and unescapes it only to count its characters when the literal
// is longer than maxLen bytes (a literal is never shorter than its text).
func decodeRawString(dec *jsontext.Decoder, maxLen int) (wire.RawString, error) {
	if err := expect(dec, '"', "a string"); err != nil {
		return wire.RawString{}, err
	}
	v, err := dec.ReadValue()
	if err != nil {
		return wire.RawString{}, err
	}
	return rawString(v, maxLen)
}

// rawString is the RawString of lit, a valid JSON string literal, held to
// maxLen characters.
func rawString(lit []byte, maxLen int) (wire.RawString, error) {
	r := wire.RawLiteral(lit)
	if maxLen > 0 && len(lit)-2 > maxLen {
		s, err := r.Text()
		if err != nil {
			return wire.RawString{}, err
		}
		if len(s) > maxLen && utf8.RuneCountInString(s) > maxLen {
			return wire.RawString{}, fieldError(fmt.Sprintf("longer than %d characters", maxLen))
		}
	}
	return r, nil
}

func decodeInt(dec *jsontext.Decoder, minimum, maximum int64) (int64, error) {
	if err := expect(dec, '0', "an integer"); err != nil {
		return 0, err
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return 0, err
	}
	f, err := tok.Float() // 1.0 and 1e3 are the integers they denote
	if err != nil && !math.IsInf(f, 0) {
		return 0, err
	}
	if f != math.Trunc(f) {
		return 0, fieldError("must be an integer")
	}
	if f > maxSafeInt || f < -maxSafeInt {
		return 0, fieldError("outside ±(2^53-1)")
	}
	n := int64(f)
	if n < minimum || n > maximum {
		return 0, fieldError(fmt.Sprintf("must be between %d and %d", minimum, maximum))
	}
	return n, nil
}

func decodeBool(dec *jsontext.Decoder) (bool, error) {
	if k := dec.PeekKind(); k != 't' && k != 'f' {
		return false, expect(dec, 't', "a boolean")
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return false, err
	}
	return tok.Bool(), nil
}

func decodeEnum[T ~string](dec *jsontext.Decoder, values []T) (T, error) {
	s, err := decodeString(dec, 0, nil)
	if err != nil {
		return "", err
	}
	for _, v := range values {
		if string(v) == s {
			return v, nil
		}
	}
	names := make([]string, len(values))
	for i, v := range values {
		names[i] = string(v)
	}
	return "", fieldError("must be one of " + strings.Join(names, ", "))
}

func decodeObject[T any, P wire.Params[T]](dec *jsontext.Decoder) (T, error) {
	var v T
	err := P(&v).UnmarshalJSONFrom(dec)
	return v, err
}

// decodeRawObject keeps a free-form object as raw JSON (a copy: the
// decoder's buffer is reused).
func decodeRawObject(dec *jsontext.Decoder) (jsontext.Value, error) {
	if err := expect(dec, '{', "an object"); err != nil {
		return nil, err
	}
	return decodeRaw(dec)
}

func decodeRaw(dec *jsontext.Decoder) (jsontext.Value, error) {
	v, err := dec.ReadValue()
	return v.Clone(), err
}

func decodeNullable[T any](dec *jsontext.Decoder, elem func(*jsontext.Decoder) (T, error)) (*T, error) {
	if null, err := readNull(dec); null || err != nil {
		return nil, err
	}
	v, err := elem(dec)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// decodeNullableObject is decodeNullable for an object, decoded straight
// into the value returned: through decodeObject it was allocated twice, as
// the generic call makes decodeObject's value escape.
func decodeNullableObject[T any, P wire.Params[T]](dec *jsontext.Decoder) (*T, error) {
	if null, err := readNull(dec); null || err != nil {
		return nil, err
	}
	v := new(T)
	if err := P(v).UnmarshalJSONFrom(dec); err != nil {
		return nil, err
	}
	return v, nil
}

// readNull consumes a null; for any other value it reads nothing.
func readNull(dec *jsontext.Decoder) (bool, error) {
	if dec.PeekKind() != 'n' {
		return false, nil
	}
	_, err := dec.ReadToken()
	return true, err
}

func decodeArray[T any](dec *jsontext.Decoder, maxItems int, elem func(*jsontext.Decoder) (T, error)) ([]T, error) {
	if err := expect(dec, '[', "an array"); err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	out := []T{}
	for i := 0; dec.PeekKind() != ']'; i++ {
		if maxItems > 0 && i == maxItems {
			return nil, fieldError(fmt.Sprintf("more than %d items", maxItems))
		}
		v, err := elem(dec)
		if err != nil {
			return nil, wire.Prefixed(strconv.Itoa(i), err)
		}
		out = append(out, v)
	}
	_, err := dec.ReadToken()
	return out, err
}

// notImplemented is UnimplementedHandler's answer.
func notImplemented(method string) *wire.Error {
	return &wire.Error{Code: wire.CodeMethodNotFound, Message: "method not implemented: " + method}
}
