package rpc

import (
	"bytes"
	"reflect"
	"slices"
	"sync"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/rpc/wire"
)

// minSplice is the shortest literal worth splicing: below it, scanning the
// literal costs less than the splice's bookkeeping.
const minSplice = wire.MinSplice

// placeholder stands for a spliced literal. It is not empty: omitempty
// drops a member whose value is "", which would leave its splice behind.
const placeholder = `"*"`

// frameEncoder assembles one outbound frame. It writes a long
// wire.RawString (an SDP) as its literal, which was validated when it came
// in: the encoder writes a placeholder in its place, and the literal is
// spliced in after. jsontext's WriteValue scanned the 4 KB again, and
// converting the literal to a jsontext.Value copied it.
type frameEncoder struct {
	out    []byte // appendFrame's buffer
	buf    bytes.Buffer
	head   int // the bytes before the encoder's output
	splice []rawSplice
	opts   []json.Options // one, the marshaler of wire.RawString
}

// rawSplice is a literal that goes where the encoder wrote the placeholder.
type rawSplice struct {
	at  int
	lit string
}

var frameEncoders = sync.Pool{New: func() any {
	e := new(frameEncoder)
	e.opts = []json.Options{json.WithMarshalers(json.MarshalToFunc(e.rawString))}
	return e
}}

func (e *frameEncoder) rawString(enc *jsontext.Encoder, r wire.RawString) error {
	lit := r.Literal()
	if len(lit) < minSplice {
		return enc.WriteValue(jsontext.Value(lit))
	}
	if err := enc.WriteValue(jsontext.Value(placeholder)); err != nil {
		return err
	}
	e.splice = append(e.splice, rawSplice{at: e.head + int(enc.OutputOffset()) - len(placeholder), lit: lit})
	return nil
}

// encodeFrame appends to dst what head appends, then v as JSON, then the
// closing '}': the shape of every frame the server sends. A value that
// appends its own JSON (the generated api types) does, without
// reflection; json encodes anything else, and words the errors. A nil
// dst gets a frame of its own, sized exactly.
func encodeFrame(dst []byte, head func([]byte) []byte, v any) ([]byte, error) {
	e := frameEncoders.Get().(*frameEncoder)
	defer e.release()
	if a, ok := v.(wire.JSONAppender); ok {
		if frame, ok := e.appendFrame(dst, head, a); ok {
			return frame, nil
		}
	}
	return e.marshalFrame(dst, head, v)
}

// appendFrame is encodeFrame by v's AppendJSON: the bytes marshalFrame
// writes (TestAppendFrameAsMarshalled), where json.MarshalWrite's
// reflection took a fifth of the time to relay a candidate. false: v
// cannot be encoded, and marshalFrame says why.
func (e *frameEncoder) appendFrame(dst []byte, head func([]byte) []byte, v wire.JSONAppender) ([]byte, bool) {
	if dst != nil {
		b, err := v.AppendJSON(head(dst))
		if err != nil {
			return nil, false
		}
		return append(b, '}'), true
	}
	b, err := v.AppendJSON(head(e.out[:0]))
	if cap(b) <= maxPooledBuffer {
		e.out = b[:0]
	}
	if err != nil {
		return nil, false
	}
	// make then copy: the compiler allocates the frame without zeroing
	// what the copy overwrites (make([]byte, 0, n) cleared all 4 KB of
	// an SDP's frame first).
	frame := make([]byte, len(b)+1)
	copy(frame, b)
	frame[len(b)] = '}'
	return frame, true
}

// marshalFrame is encodeFrame by json.MarshalWrite.
func (e *frameEncoder) marshalFrame(dst []byte, head func([]byte) []byte, v any) ([]byte, error) {
	e.buf.Write(head(e.buf.AvailableBuffer()))
	e.head = e.buf.Len()
	var opts []json.Options
	if holdsRaw(reflect.TypeOf(v)) { // the option costs a lookup per value
		opts = e.opts
	}
	if err := json.MarshalWrite(&e.buf, v, opts...); err != nil {
		return nil, err
	}
	return e.appendSpliced(dst), nil
}

// appendSpliced appends the frame to dst with the literals in place of
// their placeholders.
func (e *frameEncoder) appendSpliced(dst []byte) []byte {
	b := e.buf.Bytes()
	n := len(b) + 1
	for _, s := range e.splice {
		n += len(s.lit) - len(placeholder)
	}
	frame, prev := slices.Grow(dst, n), 0
	for _, s := range e.splice {
		frame = append(append(frame, b[prev:s.at]...), s.lit...)
		prev = s.at + len(placeholder)
	}
	return append(append(frame, b[prev:]...), '}')
}

func (e *frameEncoder) release() {
	if e.buf.Cap() > maxPooledBuffer {
		return
	}
	e.buf.Reset()
	clear(e.splice) // drop the literals
	e.splice = e.splice[:0]
	frameEncoders.Put(e)
}

var rawStringType = reflect.TypeFor[wire.RawString]()

// rawTypes caches holdsRaw's verdict per type.
var rawTypes sync.Map // reflect.Type → bool

// holdsRaw reports whether a value of type t can hold a wire.RawString.
func holdsRaw(t reflect.Type) bool {
	if t == nil {
		return false
	}
	if v, ok := rawTypes.Load(t); ok {
		return v.(bool)
	}
	holds := typeHoldsRaw(t, map[reflect.Type]bool{})
	rawTypes.Store(t, holds)
	return holds
}

func typeHoldsRaw(t reflect.Type, seen map[reflect.Type]bool) bool {
	if t == rawStringType {
		return true
	}
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return typeHoldsRaw(t.Elem(), seen)
	case reflect.Interface:
		return true // whatever it holds is known only at run time
	case reflect.Struct:
		for i := range t.NumField() {
			if typeHoldsRaw(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}
