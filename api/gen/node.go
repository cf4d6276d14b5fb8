package gen

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// node is a parsed JSON value that keeps member order (so generated code
// follows the document) and its JSON pointer (so errors say where).
type node struct {
	ptr     string
	kind    jsontext.Kind
	members []member // objects
	items   []*node  // arrays
	str     string   // strings
	num     string   // numbers, as written
	boolean bool
}

type member struct {
	name  string
	value *node
}

// parseDocument parses strictly: duplicate names and invalid UTF-8 are
// errors, as they are for requests on the wire.
func parseDocument(doc []byte) (*node, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(doc))
	n, err := parseNode(dec, "#")
	if err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	return n, nil
}

func parseNode(dec *jsontext.Decoder, ptr string) (*node, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	n := &node{ptr: ptr, kind: tok.Kind()}
	switch tok.Kind() {
	case '{':
		for dec.PeekKind() != '}' {
			name, err := dec.ReadToken()
			if err != nil {
				return nil, err
			}
			key := name.String()
			child, err := parseNode(dec, ptr+"/"+escapePointer(key))
			if err != nil {
				return nil, err
			}
			n.members = append(n.members, member{key, child})
		}
		_, err = dec.ReadToken()
	case '[':
		for i := 0; dec.PeekKind() != ']'; i++ {
			child, err := parseNode(dec, ptr+"/"+strconv.Itoa(i))
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, child)
		}
		_, err = dec.ReadToken()
	case '"':
		n.str = tok.String()
	case '0':
		n.num = tok.String()
	case 't', 'f':
		n.boolean = tok.Bool()
	}
	return n, err
}

func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// get returns the member named name, or nil.
func (n *node) get(name string) *node {
	for _, m := range n.members {
		if m.name == name {
			return m.value
		}
	}
	return nil
}

// errorf reports a problem at n's location.
func (n *node) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", n.ptr, fmt.Sprintf(format, args...))
}

// only rejects members other than allowed, so a keyword the generator does
// not understand is never silently ignored.
func (n *node) only(allowed ...string) error {
	for _, m := range n.members {
		if !contains(allowed, m.name) && !strings.HasPrefix(m.name, "x-") {
			return m.value.errorf("unsupported keyword %q", m.name)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// stringAt returns the string member name ("" if absent) or an error if it
// is not a string.
func (n *node) stringAt(name string) (string, error) {
	v := n.get(name)
	if v == nil {
		return "", nil
	}
	if v.kind != '"' {
		return "", v.errorf("must be a string")
	}
	return v.str, nil
}

// boolAt returns the boolean member name (false if absent) or an error if
// it is not a boolean.
func (n *node) boolAt(name string) (bool, error) {
	v := n.get(name)
	if v == nil {
		return false, nil
	}
	if v.kind != 't' && v.kind != 'f' {
		return false, v.errorf("must be a boolean")
	}
	return v.boolean, nil
}

// intAt returns the integer member name, or nil if absent.
func (n *node) intAt(name string) (*int64, error) {
	v := n.get(name)
	if v == nil {
		return nil, nil
	}
	i, err := strconv.ParseInt(v.num, 10, 64)
	if v.kind != '0' || err != nil {
		return nil, v.errorf("must be an integer")
	}
	return &i, nil
}
