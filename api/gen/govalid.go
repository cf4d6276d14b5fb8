package gen

import (
	"fmt"
	"strings"
)

// goValidDecoders writes, after the checked decoders, the decoders of
// params the caller has validated (api/decode_valid.go): DecodeValid for
// every method's params, decodeValid for them and the objects they hold.
func goValidDecoders(b *strings.Builder, m *Model, pats *patterns) {
	for _, t := range paramsObjects(m) {
		goValidDecoder(b, t, pats)
	}
	for _, meth := range m.Methods {
		name := ParamsName(meth)
		goValidDecoder(b, &Type{Name: name, Fields: meth.Params}, pats)
		fmt.Fprintf(b, "// DecodeValid decodes params the caller has validated; false means it\n// is not sure, and UnmarshalJSONFrom decides (wire.ValidParams).\n")
		fmt.Fprintf(b, "func (x *%s) DecodeValid(params []byte) bool {\n\td := validParams(params)\n\treturn x.decodeValid(&d) && d.end()\n}\n\n", name)
	}
}

// paramsObjects lists the named objects methods' params hold, at any
// depth, in the model's order.
func paramsObjects(m *Model) []*Type {
	used := map[*Type]bool{}
	var walk func(s *Schema)
	walk = func(s *Schema) {
		if s == nil {
			return
		}
		if t := s.Named; t != nil && t.Kind == KindObject && !used[t] {
			used[t] = true
			for _, f := range t.Fields {
				walk(f.Schema)
			}
		}
		walk(s.Items)
	}
	for _, meth := range m.Methods {
		for _, f := range meth.Params {
			walk(f.Schema)
		}
	}
	var out []*Type
	for _, t := range m.Types {
		if used[t] {
			out = append(out, t)
		}
	}
	return out
}

// goValidDecoder writes decodeValid for the object t: what its
// UnmarshalJSONFrom accepts, it decodes to the same value; for anything
// else it returns false. Nested values are decoded inline: a call through
// a func value or a type parameter made the decoder escape to the heap.
func goValidDecoder(b *strings.Builder, t *Type, pats *patterns) {
	fmt.Fprintf(b, "// decodeValid is UnmarshalJSONFrom for valid JSON (validDecoder).\nfunc (x *%s) decodeValid(d *validDecoder) bool {\n", t.Name)
	if len(t.Fields) == 0 {
		b.WriteString("\treturn d.objectStart() && !d.more()\n}\n\n")
		return
	}
	b.WriteString("\tvar seen uint64\n\tif !d.objectStart() {\n\t\treturn false\n\t}\n")
	b.WriteString("\tfor d.more() {\n\t\tswitch string(d.name()) {\n")
	var required []string
	for i, f := range t.Fields {
		fmt.Fprintf(b, "\t\tcase %q:\n\t\t\tseen |= 1 << %d\n", f.Name, i)
		target := "x." + GoName(f.Name)
		if !f.Required && f.Schema.Kind == KindObject && !f.Schema.Nullable { // a *T
			fmt.Fprintf(b, "%s = new(%s)\n", target, goBaseType(f.Schema))
		}
		validStmt(b, target, f.Schema, pats, 0)
		if f.Required {
			required = append(required, fmt.Sprintf("1<<%d", i))
		}
	}
	b.WriteString("\t\tdefault:\n\t\t\treturn false\n\t\t}\n\t}\n")
	var conds []string
	if len(required) > 0 {
		mask := strings.Join(required, "|")
		conds = append(conds, fmt.Sprintf("seen&(%s) == %s", mask, mask))
	}
	if len(t.AnyOf) > 0 {
		groups := make([]string, len(t.AnyOf))
		for i, g := range t.AnyOf {
			all := make([]string, len(g))
			for j, f := range g {
				all[j] = present(t.Fields, f)
			}
			groups[i] = strings.Join(all, " && ")
		}
		conds = append(conds, "("+strings.Join(groups, " || ")+")")
	}
	if len(conds) == 0 {
		conds = []string{"true"}
	}
	fmt.Fprintf(b, "\treturn %s\n}\n\n", strings.Join(conds, " && "))
}

// validStmt writes statements that decode s from d into target, of s's Go
// type, or return false; depth names their variables apart.
func validStmt(b *strings.Builder, target string, s *Schema, pats *patterns, depth int) {
	v := fmt.Sprintf("v%d", depth)
	switch {
	case s.Nullable && s.Named != nil && s.Named.Kind == KindObject:
		fmt.Fprintf(b, "if !d.null() {\n%s = new(%s)\nif !%s.decodeValid(d) {\nreturn false\n}\n}\n", target, s.Named.Name, target)
	case s.Nullable:
		inner := *s
		inner.Nullable = false
		b.WriteString("if !d.null() {\n")
		if validScalar(&inner) {
			fmt.Fprintf(b, "%s, ok := %s\nif !ok {\nreturn false\n}\n", v, validCall(&inner, pats))
		} else {
			fmt.Fprintf(b, "var %s %s\n", v, goBaseType(&inner))
			validStmt(b, v, &inner, pats, depth+1)
		}
		fmt.Fprintf(b, "%s = &%s\n}\n", target, v)
	case s.Named != nil && s.Named.Kind == KindObject:
		fmt.Fprintf(b, "if !%s.decodeValid(d) {\nreturn false\n}\n", target)
	case isArray(s): // element by element
		c := s.Constraints()
		fmt.Fprintf(b, "if !d.arrayStart() {\nreturn false\n}\n%s = %s{}\n", target, goBaseType(s))
		i := fmt.Sprintf("i%d", depth)
		fmt.Fprintf(b, "for %s := 0; d.moreItems(); %s++ {\n", i, i)
		if max := deref(c.MaxItems, 0); max > 0 {
			fmt.Fprintf(b, "if %s == %d {\nreturn false\n}\n", i, max)
		}
		if validScalar(c.Items) {
			fmt.Fprintf(b, "%s, ok := %s\nif !ok {\nreturn false\n}\n", v, validCall(c.Items, pats))
		} else {
			fmt.Fprintf(b, "var %s %s\n", v, goType(c.Items, true))
			validStmt(b, v, c.Items, pats, depth+1)
		}
		fmt.Fprintf(b, "%s = append(%s, %s)\n}\n", target, target, v)
	default:
		fmt.Fprintf(b, "%s, ok := %s\nif !ok {\nreturn false\n}\n%s = %s\n", v, validCall(s, pats), target, v)
	}
}

// validScalar reports a value validCall decodes: not null, an object or
// an array.
func validScalar(s *Schema) bool {
	return !s.Nullable && !(s.Named != nil && s.Named.Kind == KindObject) && !isArray(s)
}

// validScalars are the valid decoder's (d, api/decode_valid.go).
var validScalars = scalarDecoders{
	enum: "validEnum(d, values%s)", freeObject: "d.rawObject()", any: "d.raw()",
	rawString: "d.rawString(%d)", str: "d.string(%d, %s)", integer: "d.int(%d, %d)", boolean: "d.bool()",
}

// validCall is an expression of type (T, bool) decoding the scalar s from
// d, as decodeCall's decodes it from dec.
func validCall(s *Schema, pats *patterns) string { return scalarCall(s, pats, &validScalars) }
