package gen

import (
	"fmt"
	"strings"
)

// goEncode renders encode_gen.go: for every object and notification,
// AppendJSON (wire.JSONAppender), writing the bytes json.Marshal writes
// for it (api/encode.go) without reflection.
func goEncode(m *Model) ([]byte, error) {
	var b strings.Builder
	for _, t := range m.Types {
		if t.Kind == KindObject {
			goAppender(&b, t.Name, t.Fields)
		}
	}
	for _, meth := range m.Notifications {
		goAppender(&b, EventName(meth), meth.Params)
	}
	return goFile(m, "api", apiImports, b.String())
}

// goAppender writes AppendJSON and appendJSON for the struct name: its
// members in order, those tagged omitzero left out when zero.
func goAppender(b *strings.Builder, name string, fields []*Field) {
	fmt.Fprintf(b, "// AppendJSON appends x as JSON, as json.Marshal writes it (the JSONAppender of rpc/wire).\n")
	fmt.Fprintf(b, "func (x *%s) AppendJSON(dst []byte) ([]byte, error) {\n\te := appender{b: dst}\n\tx.appendJSON(&e)\n\treturn e.b, e.err\n}\n\n", name)
	fmt.Fprintf(b, "func (x *%s) appendJSON(e *appender) {\n", name)
	if len(fields) == 0 {
		b.WriteString("\te.b = append(e.b, \"{}\"...)\n}\n\n")
		return
	}
	// Until a required member is written, whether a member is the first
	// is known only at run time: sep is '{' before the first, ',' after.
	opened, dynamic := false, false
	for _, f := range fields {
		target := "x." + GoName(f.Name)
		switch {
		case opened:
			if !f.Required {
				fmt.Fprintf(b, "if %s {\n", nonZero(target, f.Schema))
			}
			fmt.Fprintf(b, "e.b = append(e.b, `,%q:`...)\n", f.Name)
		case f.Required && !dynamic:
			fmt.Fprintf(b, "e.b = append(e.b, `{%q:`...)\n", f.Name)
		case f.Required:
			fmt.Fprintf(b, "e.b = append(append(e.b, sep), `%q:`...)\n", f.Name)
		default:
			if !dynamic {
				b.WriteString("sep := byte('{')\n")
				dynamic = true
			}
			fmt.Fprintf(b, "if %s {\ne.b = append(append(e.b, sep), `%q:`...)\nsep = ','\n", nonZero(target, f.Schema), f.Name)
		}
		if !f.Required && strings.HasPrefix(goType(f.Schema, false), "*") {
			appendPointee(b, target, f.Schema, 0) // not nil: omitzero said so
		} else {
			appendStmt(b, target, f.Schema, f.Required, 0)
		}
		if !f.Required {
			b.WriteString("}\n")
		}
		opened = opened || f.Required
	}
	if !opened {
		b.WriteString("if sep == '{' {\ne.b = append(e.b, '{')\n}\n")
	}
	b.WriteString("e.b = append(e.b, '}')\n}\n\n")
}

// nonZero is the condition that omitzero keeps the member target of
// schema s: its Go value is not the zero value (wire.RawString: IsZero).
func nonZero(target string, s *Schema) string {
	switch t := goType(s, false); {
	case t == "wire.RawString":
		return "!" + target + ".IsZero()"
	case strings.HasPrefix(t, "*") || strings.HasPrefix(t, "[]") || t == "jsontext.Value":
		return target + " != nil"
	case t == "int64":
		return target + " != 0"
	case t == "bool":
		return target
	}
	return target + ` != ""` // a string or an enum
}

// appendStmt writes the statements appending target, of schema s (its Go
// type goType(s, required)); depth names loop variables apart.
func appendStmt(b *strings.Builder, target string, s *Schema, required bool, depth int) {
	t := goType(s, required)
	if strings.HasPrefix(t, "*") {
		fmt.Fprintf(b, "if %s == nil {\ne.null()\n} else {\n", target)
		appendPointee(b, target, s, depth)
		b.WriteString("}\n")
		return
	}
	switch {
	case t == "jsontext.Value":
		fmt.Fprintf(b, "e.value(%s)\n", target)
	case s.Named != nil && s.Named.Kind == KindObject:
		fmt.Fprintf(b, "%s.appendJSON(e)\n", target)
	case s.Named != nil && s.Named.Kind == KindEnum:
		fmt.Fprintf(b, "e.string(string(%s))\n", target)
	case strings.HasPrefix(t, "[]"):
		i := fmt.Sprintf("i%d", depth)
		if strings.HasPrefix(target, "*") { // a pointer to the slice
			target = "(" + target + ")"
		}
		fmt.Fprintf(b, "e.b = append(e.b, '[')\nfor %s := range %s {\nif %s > 0 {\ne.b = append(e.b, ',')\n}\n", i, target, i)
		appendStmt(b, fmt.Sprintf("%s[%s]", target, i), s.Constraints().Items, true, depth+1)
		b.WriteString("}\ne.b = append(e.b, ']')\n")
	case t == "wire.RawString":
		fmt.Fprintf(b, "e.rawString(%s)\n", target)
	case t == "int64":
		fmt.Fprintf(b, "e.int(%s)\n", target)
	case t == "bool":
		fmt.Fprintf(b, "e.bool(%s)\n", target)
	case t == "string":
		fmt.Fprintf(b, "e.string(%s)\n", target)
	default:
		panic(fmt.Sprintf("gen: no encoder for %s", t))
	}
}

// appendPointee writes the statements appending what the pointer target
// (not nil) of schema s points to.
func appendPointee(b *strings.Builder, target string, s *Schema, depth int) {
	if s.Named != nil && s.Named.Kind == KindObject {
		fmt.Fprintf(b, "%s.appendJSON(e)\n", target)
		return
	}
	inner := *s
	inner.Nullable = false
	appendStmt(b, "*"+target, &inner, true, depth)
}
