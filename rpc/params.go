package rpc

import (
	"bytes"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/rpc/wire"
)

// decodeParams decodes params of a frame the dispatcher has validated into
// a new P: by P's DecodeValid (wire.ValidParams) when it is sure, or else
// strictly, with jsontext, which words the error. There, the string
// literals of P's x-go-raw members (wire.RawParams: an SDP) are taken as
// they are: the rest is decoded with each of them replaced by "", then they
// are set. jsontext scanned an offer's 4 KB again.
func decodeParams[P any, PP wire.Params[P]](params jsontext.Value) (*P, error) {
	if _, ok := any(PP(nil)).(wire.ValidParams); ok {
		if p := new(P); any(p).(wire.ValidParams).DecodeValid(params) {
			return p, nil
		}
	}
	raw, ok := any(PP(nil)).(wire.RawParams)
	if !ok || params.Kind() != '{' {
		return wire.DecodeParams[P, PP](params)
	}
	slab := getSlab(len(params))
	defer putSlab(slab)
	var found [2]rawMember
	cut, members := cutRawMembers((*slab)[:0], validJSON(params), raw.IsRawMember, found[:0])
	*slab = cut
	p, err := wire.DecodeParams[P, PP](cut)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if err := any(p).(wire.RawParams).SetRawMember(m.name, m.lit); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// rawMember is a member of params cut out by cutRawMembers.
type rawMember struct{ name, lit []byte }

// cutRawMembers appends to dst the object v with the string value of each
// member isRaw names replaced by "", and appends those members to found.
// A name with escapes is left alone: the decoder reads it, and the value.
func cutRawMembers(dst []byte, v validJSON, isRaw func([]byte) bool, found []rawMember) ([]byte, []rawMember) {
	prev := 0
	for i := v.space(v.space(0) + 1); v[i] != '}'; i = v.next(i) {
		end := wire.StringEnd(v, i)
		name := v[i+1 : end]
		val := v.space(v.space(end+1) + 1) // past the ':'
		i = v.valueEnd(val)
		if v[val] != '"' || bytes.IndexByte(name, '\\') >= 0 || !isRaw(name) {
			continue
		}
		dst = append(append(dst, v[prev:val]...), `""`...)
		found = append(found, rawMember{name: name, lit: v[val:i]})
		prev = i
	}
	return append(dst, v[prev:]...), found
}
