package api

import (
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/rpc/wire"
)

// objectWriter is what the generated MarshalJSONTo methods are made of: it
// writes an object member by member, as reflection would (the same
// encoder, so the same checks and options), without reflecting on the
// struct each time; the first error sticks. Members of other kinds than
// strings, integers, booleans and raw strings (objects, arrays, free-form
// values) are marshalled by json, which calls their own MarshalJSONTo.
type objectWriter struct {
	enc *jsontext.Encoder
	err error
}

func beginObject(enc *jsontext.Encoder) objectWriter {
	w := objectWriter{enc: enc}
	w.token(jsontext.BeginObject)
	return w
}

func (w *objectWriter) token(t jsontext.Token) {
	if w.err == nil {
		w.err = w.enc.WriteToken(t)
	}
}

func (w *objectWriter) str(name, v string) {
	w.token(jsontext.String(name))
	w.token(jsontext.String(v))
}

func (w *objectWriter) int(name string, v int64) {
	w.token(jsontext.String(name))
	w.token(jsontext.Int(v))
}

func (w *objectWriter) bool(name string, v bool) {
	w.token(jsontext.String(name))
	w.token(jsontext.Bool(v))
}

func (w *objectWriter) null(name string) {
	w.token(jsontext.String(name))
	w.token(jsontext.Null)
}

func (w *objectWriter) raw(name string, v wire.RawString) {
	w.token(jsontext.String(name))
	if w.err == nil {
		w.err = v.MarshalJSONTo(w.enc)
	}
}

func (w *objectWriter) value(name string, v any) {
	w.token(jsontext.String(name))
	if w.err == nil {
		w.err = json.MarshalEncode(w.enc, v)
	}
}

func (w *objectWriter) object(name string, v json.MarshalerTo) {
	w.token(jsontext.String(name))
	if w.err == nil {
		w.err = v.MarshalJSONTo(w.enc)
	}
}

func (w *objectWriter) end() error {
	w.token(jsontext.EndObject)
	return w.err
}
