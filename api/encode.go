package api

import (
	"strconv"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/rpc/wire"
)

// appender is what the generated appendJSON methods write with: the JSON
// of a value appended to b as json.Marshal writes it, byte for byte,
// without reflection (a fifth of the time to relay a candidate went to
// json.MarshalWrite). The first error (a string that is not UTF-8, a
// jsontext.Value that is not JSON) is kept in err: the caller then encodes
// with json, which words it.
type appender struct {
	b   []byte
	err error
}

func (e *appender) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

// string writes s quoted as jsontext quotes it by default: '"', '\\' and
// control characters escaped, nothing else (not <, >, &, U+2028).
func (e *appender) string(s string) {
	if plainText(s) {
		e.b = append(append(append(e.b, '"'), s...), '"')
		return
	}
	var err error
	if e.b, err = jsontext.AppendQuote(e.b, s); err != nil {
		e.fail(err)
	}
}

func (e *appender) int(n int64) { e.b = strconv.AppendInt(e.b, n, 10) }

func (e *appender) bool(v bool) { e.b = strconv.AppendBool(e.b, v) }

func (e *appender) null() { e.b = append(e.b, "null"...) }

// rawString writes the literal as the server's frame encoder does: a
// literal of wire.MinSplice bytes or more as it is, a shorter one as
// jsontext writes it (its escapes made canonical).
func (e *appender) rawString(r wire.RawString) {
	lit := r.Literal()
	if len(lit) >= wire.MinSplice || plainText(lit[1:len(lit)-1]) {
		e.b = append(e.b, lit...)
		return
	}
	e.value(jsontext.Value(lit))
}

// plainText reports text of printable ASCII without '"' or '\\', which
// jsontext quotes as it is.
func plainText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == '"' || c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// value writes raw JSON as json.Marshal does: reformatted (compact, its
// strings canonical); nil is null.
func (e *appender) value(v jsontext.Value) {
	if v == nil {
		e.null()
		return
	}
	var err error
	if e.b, err = jsontext.AppendFormat(e.b, v); err != nil {
		e.fail(err)
	}
}
