// Package gen turns the OpenRPC document into Go, TypeScript and Markdown.
// It reads the document into one Model, rejecting anything outside the
// JSON Schema subset documented in api/README.md, and each emitter renders
// that model; so the outputs cannot disagree with each other.
package gen

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// maxSafeInt is the largest integer every JSON implementation (JavaScript's
// included) represents exactly: integers are bounded by ±maxSafeInt.
const maxSafeInt = 1<<53 - 1

// Model is the protocol as the emitters see it.
type Model struct {
	Title, Version, Description string
	// Connections is info's x-doc: Markdown for PROTOCOL.md's section on
	// what holds for every connection (limits, close codes).
	Connections   string
	SHA256        string // of the document bytes
	Methods       []*Method
	Notifications []*Method
	Types         []*Type // components/schemas, in document order
	Errors        []*ErrorDef
}

// Method is a client→server method or a server→client notification
// (Result nil).
type Method struct {
	Name, Summary, Description string
	// Doc is x-doc: Markdown (tables, paragraphs) for PROTOCOL.md only,
	// after the description; code comments leave it out.
	Doc    string
	Params []*Field
	Result *Type
	Errors []*ErrorDef
}

// Field is a param or an object property.
type Field struct {
	Name, Description string
	Required          bool
	Schema            *Schema
}

// Kind is what a schema describes.
type Kind int

// The kinds of schema the generator accepts.
const (
	KindString Kind = iota
	KindInteger
	KindBoolean
	KindArray
	KindObject     // a named object with declared properties
	KindEnum       // a named string enum
	KindFreeObject // a named object with additionalProperties: true
	KindAny        // a named {}: any JSON value
)

// Schema is a use of a type: inline primitive, array or a $ref, possibly
// nullable.
type Schema struct {
	Kind      Kind
	Named     *Type // set for $ref
	Nullable  bool
	MaxLength *int64
	Pattern   string
	// Raw (x-go-raw, strings): the Go field is a wire.RawString, the
	// string's JSON literal as it came, so a server relaying it does not
	// unescape and escape it again.
	Raw      bool
	Minimum  *int64
	Maximum  *int64
	MaxItems *int64
	Items    *Schema
}

// Constraints returns the schema carrying the value constraints: a $ref to a
// named primitive uses the named type's.
func (s *Schema) Constraints() *Schema {
	if s.Named != nil && s.Named.Primitive != nil {
		return s.Named.Primitive
	}
	return s
}

// Type is a named component schema.
type Type struct {
	Name, Description string
	Kind              Kind
	Fields            []*Field // KindObject
	// AnyOf (KindObject) is the object's anyOf of required members: at
	// least one group must be present with every member not null.
	AnyOf     [][]*Field
	Enum      []string // KindEnum
	Primitive *Schema  // named string/integer/boolean: its constraints
}

// AnyOfRule says t's AnyOf in words ("sdpMid or sdpMLineIndex is
// required"), for doc comments and the decoders' error; "" if it has none.
func (t *Type) AnyOfRule() string {
	if len(t.AnyOf) == 0 {
		return ""
	}
	return t.AnyOfGroups(func(name string) string { return name }) + " is required"
}

// AnyOfGroups lists the AnyOf groups with each name as quote writes it:
// "a or (b and c)".
func (t *Type) AnyOfGroups(quote func(string) string) string {
	groups := make([]string, len(t.AnyOf))
	for i, g := range t.AnyOf {
		names := make([]string, len(g))
		for j, f := range g {
			names[j] = quote(f.Name)
		}
		groups[i] = strings.Join(names, " and ")
		if len(g) > 1 {
			groups[i] = "(" + groups[i] + ")"
		}
	}
	return strings.Join(groups, " or ")
}

// ErrorDef is an application error from components/errors.
type ErrorDef struct {
	Name, Message, Description, Reason string
	Code                               int64
}

const (
	schemaRefPrefix = "#/components/schemas/"
	errorRefPrefix  = "#/components/errors/"
)

// Load reads an OpenRPC document into a Model.
func Load(doc []byte) (*Model, error) {
	root, err := parseDocument(doc)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(doc)
	l := &loader{m: &Model{SHA256: hex.EncodeToString(sum[:])}, types: map[string]*Type{}, errors: map[string]*ErrorDef{}}
	if err := l.load(root); err != nil {
		return nil, err
	}
	return l.m, nil
}

type loader struct {
	m      *Model
	types  map[string]*Type
	errors map[string]*ErrorDef
}

func (l *loader) load(root *node) error {
	if err := root.only("openrpc", "info", "servers", "methods", "x-notifications", "components"); err != nil {
		return err
	}
	if v, _ := root.stringAt("openrpc"); !strings.HasPrefix(v, "1.3.") {
		return root.errorf(`"openrpc" must be 1.3.x`)
	}
	if err := l.info(root.get("info")); err != nil {
		return err
	}
	comps := root.get("components")
	if comps == nil {
		return root.errorf("missing components")
	}
	if err := comps.only("schemas", "errors"); err != nil {
		return err
	}
	if err := l.componentErrors(comps.get("errors"), root.get("x-errors")); err != nil {
		return err
	}
	if err := l.componentSchemas(comps.get("schemas")); err != nil {
		return err
	}
	var err error
	if l.m.Methods, err = l.methods(root.get("methods"), true); err != nil {
		return err
	}
	if l.m.Notifications, err = l.methods(root.get("x-notifications"), false); err != nil {
		return err
	}
	return l.checkNames()
}

func (l *loader) info(n *node) error {
	if n == nil {
		return fmt.Errorf("#: missing info")
	}
	var err error
	m := l.m
	for _, f := range []struct {
		key string
		dst *string
	}{{"title", &m.Title}, {"version", &m.Version}, {"description", &m.Description}, {"x-doc", &m.Connections}} {
		if *f.dst, err = n.stringAt(f.key); err != nil {
			return err
		}
	}
	return nil
}

// componentErrors reads the errors. The OpenRPC meta-schema allows no
// extension member in an error object, so their longer descriptions live
// in the document's x-errors, by error name.
func (l *loader) componentErrors(n, docs *node) error {
	if n == nil {
		return nil
	}
	for _, mem := range n.members {
		e, v := &ErrorDef{Name: mem.name}, mem.value
		if err := v.only("code", "message", "data"); err != nil {
			return err
		}
		for _, x := range v.members {
			if strings.HasPrefix(x.name, "x-") {
				return x.value.errorf("the OpenRPC meta-schema allows no %q in an error object; describe the error in the document's x-errors", x.name)
			}
		}
		code, err := v.intAt("code")
		if err != nil || code == nil {
			return v.errorf("code must be an integer")
		}
		e.Code = *code
		if e.Message, err = v.stringAt("message"); err != nil {
			return err
		}
		if docs != nil {
			if e.Description, err = docs.stringAt(mem.name); err != nil {
				return err
			}
		}
		e.Reason = strings.ToLower(mem.name)
		data := v.get("data")
		if data == nil || data.only("reason") != nil {
			return v.errorf(`data must be {"reason": %q}`, e.Reason)
		}
		if r, _ := data.stringAt("reason"); r != e.Reason {
			return data.errorf(`reason must be %q (the lower-cased name)`, e.Reason)
		}
		l.errors[e.Name] = e
		l.m.Errors = append(l.m.Errors, e)
	}
	return nil
}

// componentSchemas declares every name first, so types may refer to each
// other in any order.
func (l *loader) componentSchemas(n *node) error {
	if n == nil {
		return nil
	}
	for _, mem := range n.members {
		if !goIdent.MatchString(mem.name) {
			return mem.value.errorf("a component name must be a Go/TypeScript identifier starting with an upper-case letter")
		}
		t := &Type{Name: mem.name}
		l.types[t.Name] = t
		l.m.Types = append(l.m.Types, t)
	}
	for _, mem := range n.members {
		if err := l.namedType(l.types[mem.name], mem.value); err != nil {
			return err
		}
	}
	return nil
}

var goIdent = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

func (l *loader) namedType(t *Type, n *node) error {
	var err error
	if t.Description, err = n.stringAt("description"); err != nil {
		return err
	}
	// A title names the type for third-party generators (open-rpc-typings
	// makes up hashed names without one); it must be the component's name.
	if title, err := n.stringAt("title"); err != nil {
		return err
	} else if title != "" && title != t.Name {
		return n.get("title").errorf("the title of component %s must be %q", t.Name, t.Name)
	}
	typ, err := n.stringAt("type")
	if err != nil {
		return err
	}
	switch {
	case typ == "" && n.get("$ref") == nil && n.get("oneOf") == nil:
		t.Kind = KindAny
		return n.only("title", "description")
	case typ == "object":
		return l.objectType(t, n)
	case typ == "string" && n.get("enum") != nil:
		return enumType(t, n)
	case typ == "string" || typ == "integer" || typ == "boolean":
		s, err := l.schema(n)
		if err != nil {
			return err
		}
		t.Kind, t.Primitive = s.Kind, s
		return nil
	}
	return n.errorf("a named schema must be an object, a string enum, a string, an integer, a boolean or {}")
}

func (l *loader) objectType(t *Type, n *node) error {
	if err := n.only("title", "type", "properties", "required", "additionalProperties", "anyOf", "description"); err != nil {
		return err
	}
	ap := n.get("additionalProperties")
	switch {
	case ap == nil || (ap.kind != 't' && ap.kind != 'f'):
		return n.errorf("an object must say additionalProperties: false (or true for a free-form object)")
	case ap.boolean:
		if n.get("properties") != nil || n.get("required") != nil {
			return n.errorf("a free-form object (additionalProperties: true) declares no properties")
		}
		t.Kind = KindFreeObject
		return nil
	}
	t.Kind = KindObject
	var required []string
	if req := n.get("required"); req != nil {
		for _, item := range req.items {
			if item.kind != '"' || contains(required, item.str) {
				return item.errorf("required must list distinct property names")
			}
			required = append(required, item.str)
		}
	}
	props := n.get("properties")
	if props == nil || props.kind != '{' {
		return n.errorf("an object needs properties (may be {})")
	}
	for _, mem := range props.members {
		f, err := l.field(mem.name, mem.value, slices.Contains(required, mem.name))
		if err != nil {
			return err
		}
		t.Fields = append(t.Fields, f)
	}
	for _, r := range required {
		if props.get(r) == nil {
			return n.get("required").errorf("required names %q, which is not a property", r)
		}
	}
	if any := n.get("anyOf"); any != nil {
		return anyOfRequired(t, any)
	}
	return nil
}

// anyOfRequired reads an object's anyOf, the one form the generator
// accepts there: branches that each require members, so at least one
// group must be present. A member that may be null is restated in the
// branch's properties with its type alone, so that in JSON Schema too a
// null does not satisfy the branch:
//
//	"anyOf": [
//	  {"required": ["sdpMid"], "properties": {"sdpMid": {"type": "string"}}},
//	  {"required": ["sdpMLineIndex"], "properties": {"sdpMLineIndex": {"type": "integer"}}}
//	]
func anyOfRequired(t *Type, n *node) error {
	if len(n.items) < 2 {
		return n.errorf("anyOf needs at least two branches")
	}
	for _, br := range n.items {
		if err := br.only("title", "description", "required", "properties"); err != nil {
			return err
		}
		req := br.get("required")
		if req == nil || len(req.items) == 0 {
			return br.errorf(`an anyOf branch lists the members it requires: {"required": [...]}`)
		}
		var group []*Field
		for _, item := range req.items {
			i := slices.IndexFunc(t.Fields, func(f *Field) bool { return f.Name == item.str })
			if i < 0 || item.kind != '"' {
				return item.errorf("anyOf requires %q, which is not a property", item.str)
			}
			if t.Fields[i].Required {
				return item.errorf("%q is required anyway: an anyOf branch names optional members", item.str)
			}
			group = append(group, t.Fields[i])
		}
		props := br.get("properties")
		if props != nil && props.kind != '{' {
			return props.errorf("properties must be an object")
		}
		for _, f := range group {
			want := jsonType(f.Schema)
			var p *node
			if props != nil {
				p = props.get(f.Name)
			}
			switch {
			case p == nil && f.Schema.Nullable:
				return br.errorf(`%s may be null: restate it in the branch as "properties": {%q: {"type": %q}}, so that null does not count`, f.Name, f.Name, want)
			case p == nil:
				continue
			}
			if err := p.only("title", "type", "description"); err != nil {
				return err
			}
			if typ, _ := p.stringAt("type"); typ != want || want == "" {
				return p.errorf(`a branch restates %s as {"type": %q}`, f.Name, want)
			}
		}
		if props != nil {
			for _, mem := range props.members {
				if !slices.ContainsFunc(group, func(f *Field) bool { return f.Name == mem.name }) {
					return mem.value.errorf("the branch restates %q but does not require it", mem.name)
				}
			}
		}
		t.AnyOf = append(t.AnyOf, group)
	}
	return nil
}

// jsonType is the JSON Schema type of a primitive schema ("" for others).
func jsonType(s *Schema) string {
	switch s.Constraints().Kind {
	case KindString:
		return "string"
	case KindInteger:
		return "integer"
	case KindBoolean:
		return "boolean"
	}
	return ""
}

var memberName = regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)

func (l *loader) field(name string, n *node, required bool) (*Field, error) {
	if !memberName.MatchString(name) {
		return nil, n.errorf("member names are lowerCamelCase identifiers")
	}
	desc, err := n.stringAt("description")
	if err != nil {
		return nil, err
	}
	s, err := l.schema(n)
	if err != nil {
		return nil, err
	}
	return &Field{Name: name, Description: desc, Required: required, Schema: s}, nil
}

func enumType(t *Type, n *node) error {
	if err := n.only("title", "type", "enum", "description"); err != nil {
		return err
	}
	t.Kind = KindEnum
	for _, item := range n.get("enum").items {
		if item.kind != '"' || !memberName.MatchString(item.str) || contains(t.Enum, item.str) {
			return item.errorf("enum values must be distinct lowerCamelCase strings")
		}
		t.Enum = append(t.Enum, item.str)
	}
	if len(t.Enum) == 0 {
		return n.errorf("enum must list at least one value")
	}
	return nil
}

// schema reads a schema used inline: a primitive with constraints, an
// array, a $ref, or oneOf [X, {"type": "null"}].
func (l *loader) schema(n *node) (*Schema, error) {
	if n.kind != '{' {
		return nil, n.errorf("a schema must be an object")
	}
	if ref := n.get("$ref"); ref != nil {
		if err := n.only("$ref", "description"); err != nil {
			return nil, err
		}
		t, ok := l.types[strings.TrimPrefix(ref.str, schemaRefPrefix)]
		if !ok || !strings.HasPrefix(ref.str, schemaRefPrefix) {
			return nil, ref.errorf("unknown schema %q", ref.str)
		}
		return &Schema{Kind: t.Kind, Named: t}, nil
	}
	if one := n.get("oneOf"); one != nil {
		return l.nullable(n, one)
	}
	typ, err := n.stringAt("type")
	if err != nil {
		return nil, err
	}
	s := &Schema{}
	switch typ {
	case "string":
		s.Kind = KindString
		if err := n.only("title", "type", "maxLength", "pattern", "description"); err != nil {
			return nil, err
		}
		if s.MaxLength, err = n.intAt("maxLength"); err != nil {
			return nil, err
		}
		if s.Pattern, err = n.stringAt("pattern"); err != nil {
			return nil, err
		}
		if _, err := regexp.Compile(s.Pattern); err != nil {
			return nil, n.get("pattern").errorf("bad pattern: %v", err)
		}
		if s.Raw, err = n.boolAt("x-go-raw"); err != nil {
			return nil, err
		}
		if s.Raw && s.Pattern != "" {
			return nil, n.errorf("x-go-raw: a raw string is not matched against a pattern")
		}
	case "integer":
		s.Kind = KindInteger
		if err := n.only("title", "type", "minimum", "maximum", "description"); err != nil {
			return nil, err
		}
		if s.Minimum, err = n.intAt("minimum"); err != nil {
			return nil, err
		}
		if s.Maximum, err = n.intAt("maximum"); err != nil {
			return nil, err
		}
		for _, b := range []*int64{s.Minimum, s.Maximum} {
			if b != nil && (*b > maxSafeInt || *b < -maxSafeInt) {
				return nil, n.errorf("integer bounds must lie within ±(2^53-1)")
			}
		}
	case "boolean":
		s.Kind = KindBoolean
		if err := n.only("title", "type", "description"); err != nil {
			return nil, err
		}
	case "array":
		s.Kind = KindArray
		if err := n.only("title", "type", "items", "maxItems", "description"); err != nil {
			return nil, err
		}
		if s.MaxItems, err = n.intAt("maxItems"); err != nil {
			return nil, err
		}
		items := n.get("items")
		if items == nil {
			return nil, n.errorf("an array needs items")
		}
		if s.Items, err = l.schema(items); err != nil {
			return nil, err
		}
		if s.Items.Nullable {
			return nil, items.errorf("array items may not be nullable")
		}
	case "object":
		return nil, n.errorf("inline object schema: name it in components/schemas and use $ref")
	case "":
		if n.get("enum") != nil {
			return nil, n.errorf("inline enum: name it in components/schemas and use $ref")
		}
		if err := n.only("description"); err != nil {
			return nil, err
		}
		return nil, n.errorf("a schema needs a type or a $ref")
	default:
		return nil, n.get("type").errorf("unsupported type %q", typ)
	}
	return s, nil
}

// nullable accepts the one union form: oneOf [X, {"type": "null"}].
func (l *loader) nullable(n, one *node) (*Schema, error) {
	if err := n.only("title", "oneOf", "description"); err != nil {
		return nil, err
	}
	if len(one.items) != 2 || !isNull(one.items[1]) {
		return nil, one.errorf(`the only union is oneOf [X, {"type": "null"}]`)
	}
	s, err := l.schema(one.items[0])
	if err != nil {
		return nil, err
	}
	if s.Nullable || s.Named != nil && s.Named.Kind == KindAny {
		return nil, one.errorf("nullable of a nullable or of any value")
	}
	s.Nullable = true
	return s, nil
}

func isNull(n *node) bool {
	t := n.get("type")
	return t != nil && t.str == "null" && n.only("title", "type", "description") == nil
}

func (l *loader) methods(n *node, withResult bool) ([]*Method, error) {
	if n == nil {
		return nil, nil
	}
	var out []*Method
	seen := map[string]bool{}
	for _, mn := range n.items {
		m, err := l.method(mn, withResult)
		if err != nil {
			return nil, err
		}
		if seen[m.Name] {
			return nil, mn.errorf("duplicate name %q", m.Name)
		}
		seen[m.Name] = true
		out = append(out, m)
	}
	return out, nil
}

var methodName = regexp.MustCompile(`^[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)+$`)

func (l *loader) method(n *node, withResult bool) (*Method, error) {
	allowed := []string{"name", "summary", "description", "paramStructure", "params", "tags", "errors"}
	if withResult {
		allowed = append(allowed, "result")
	}
	if err := n.only(allowed...); err != nil {
		return nil, err
	}
	m := &Method{}
	var err error
	if m.Name, err = n.stringAt("name"); err != nil {
		return nil, err
	}
	if !methodName.MatchString(m.Name) {
		return nil, n.errorf("method names look like room.join (dotted lowerCamelCase)")
	}
	if m.Summary, err = n.stringAt("summary"); err != nil {
		return nil, err
	}
	if m.Description, err = n.stringAt("description"); err != nil {
		return nil, err
	}
	if m.Doc, err = n.stringAt("x-doc"); err != nil {
		return nil, err
	}
	if ps, _ := n.stringAt("paramStructure"); ps != "by-name" {
		return nil, n.errorf(`paramStructure must be "by-name"`)
	}
	if params := n.get("params"); params != nil {
		for _, pn := range params.items {
			if err := pn.only("name", "schema", "required", "description"); err != nil {
				return nil, err
			}
			name, _ := pn.stringAt("name")
			req := pn.get("required")
			sn := pn.get("schema")
			if sn == nil {
				return nil, pn.errorf("a param needs a schema")
			}
			f, err := l.field(name, sn, req != nil && req.boolean)
			if err != nil {
				return nil, err
			}
			f.Description, _ = pn.stringAt("description")
			m.Params = append(m.Params, f)
		}
	}
	if withResult {
		if m.Result, err = l.result(n); err != nil {
			return nil, err
		}
	}
	if errs := n.get("errors"); errs != nil {
		for _, en := range errs.items {
			ref, _ := en.stringAt("$ref")
			e, ok := l.errors[strings.TrimPrefix(ref, errorRefPrefix)]
			if !ok || !strings.HasPrefix(ref, errorRefPrefix) || en.only("$ref") != nil {
				return nil, en.errorf("errors must be $refs to components/errors")
			}
			m.Errors = append(m.Errors, e)
		}
	}
	return m, nil
}

func (l *loader) result(n *node) (*Type, error) {
	r := n.get("result")
	if r == nil {
		return nil, n.errorf("a method needs a result")
	}
	if err := r.only("name", "schema", "description"); err != nil {
		return nil, err
	}
	sn := r.get("schema")
	if sn == nil {
		return nil, r.errorf("a result needs a schema")
	}
	s, err := l.schema(sn)
	if err != nil {
		return nil, err
	}
	if s.Kind != KindObject || s.Nullable {
		return nil, sn.errorf("a result must be a $ref to a named object")
	}
	return s.Named, nil
}

// checkNames rejects documents whose generated identifiers would collide.
func (l *loader) checkNames() error {
	seen := map[string]string{}
	claim := func(ident, what string) error {
		if prev, dup := seen[ident]; dup {
			return fmt.Errorf("#: %s and %s both generate %s", prev, what, ident)
		}
		seen[ident] = what
		return nil
	}
	for _, t := range l.m.Types {
		if err := claim(t.Name, "schema "+t.Name); err != nil {
			return err
		}
	}
	for _, m := range l.m.Methods {
		if err := claim(ParamsName(m), "method "+m.Name); err != nil {
			return err
		}
	}
	for _, m := range l.m.Notifications {
		if err := claim(EventName(m), "notification "+m.Name); err != nil {
			return err
		}
	}
	return nil
}

// Camel turns a method name into an identifier: room.peerJoined → RoomPeerJoined.
func Camel(method string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(method, ".") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// ParamsName is the Go/TS type of a method's params.
func ParamsName(m *Method) string { return Camel(m.Name) + "Params" }

// EventName is the Go/TS type of a notification's params.
func EventName(m *Method) string { return Camel(m.Name) + "Event" }

// initialisms are written in capitals in Go names (roomId → RoomID).
var initialisms = map[string]string{"id": "ID", "sdp": "SDP", "ice": "ICE", "url": "URL", "urls": "URLs", "ttl": "TTL", "ip": "IP", "jwt": "JWT"}

// GoName turns a member name into a Go identifier: sdpMLineIndex →
// SDPMLineIndex, iceServers → ICEServers, roomId → RoomID.
func GoName(name string) string {
	var b strings.Builder
	start := 0
	for i := 1; i <= len(name); i++ {
		if i < len(name) && !(name[i] >= 'A' && name[i] <= 'Z') {
			continue
		}
		word := name[start:i]
		if up, ok := initialisms[strings.ToLower(word)]; ok {
			b.WriteString(up)
		} else {
			b.WriteString(strings.ToUpper(word[:1]) + word[1:])
		}
		start = i
	}
	return b.String()
}
