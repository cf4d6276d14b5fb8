package gen

import (
	"fmt"
	"strings"
)

// tsProtocol renders clients/ts/src/gen/protocol.ts: the types, the
// method and notification tables, error codes and the document hash.
func tsProtocol(m *Model) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "// %s\n\n", header(m))
	for _, t := range m.Types {
		tsDoc(&b, "", t.Description)
		switch t.Kind {
		case KindObject:
			tsInterface(&b, t.Name, t.Fields)
		case KindEnum:
			quoted := make([]string, len(t.Enum))
			for i, v := range t.Enum {
				quoted[i] = fmt.Sprintf("%q", v)
			}
			fmt.Fprintf(&b, "export type %s = %s;\n\n", t.Name, strings.Join(quoted, " | "))
		case KindFreeObject:
			fmt.Fprintf(&b, "export type %s = Record<string, unknown>;\n\n", t.Name)
		case KindAny:
			fmt.Fprintf(&b, "export type %s = unknown;\n\n", t.Name)
		default:
			fmt.Fprintf(&b, "export type %s = %s;\n\n", t.Name, tsType(t.Primitive))
		}
	}
	for _, meth := range m.Methods {
		tsDoc(&b, "", fmt.Sprintf("Params of %s.", meth.Name))
		tsInterface(&b, ParamsName(meth), meth.Params)
	}
	for _, meth := range m.Notifications {
		tsDoc(&b, "", fmt.Sprintf("Params of the %s notification.", meth.Name))
		tsInterface(&b, EventName(meth), meth.Params)
	}
	b.WriteString("/** Every client→server method: its params and result. */\nexport type Methods = {\n")
	for _, meth := range m.Methods {
		fmt.Fprintf(&b, "  %q: { params: %s; result: %s };\n", meth.Name, ParamsName(meth), meth.Result.Name)
	}
	b.WriteString("};\n\n/** Every server→client notification and its params. */\nexport type Notifications = {\n")
	for _, meth := range m.Notifications {
		fmt.Fprintf(&b, "  %q: %s;\n", meth.Name, EventName(meth))
	}
	b.WriteString("};\n\nexport const METHODS = [\n")
	for _, meth := range m.Methods {
		fmt.Fprintf(&b, "  %q,\n", meth.Name)
	}
	b.WriteString("] as const satisfies readonly (keyof Methods)[];\n\nexport const NOTIFICATIONS = [\n")
	for _, meth := range m.Notifications {
		fmt.Fprintf(&b, "  %q,\n", meth.Name)
	}
	b.WriteString("] as const satisfies readonly (keyof Notifications)[];\n\n/** Application error codes by name. */\nexport const ERROR_CODES = {\n")
	for _, e := range m.Errors {
		fmt.Fprintf(&b, "  %s: %d,\n", e.Name, e.Code)
	}
	fmt.Fprintf(&b, "} as const;\n\n/** SHA-256 of the OpenRPC document these types were generated from. */\nexport const PROTOCOL_HASH = %q;\n", m.SHA256)
	return []byte(b.String())
}

func tsDoc(b *strings.Builder, indent, text string) {
	if text == "" {
		return
	}
	fmt.Fprintf(b, "%s/** %s */\n", indent, strings.ReplaceAll(text, "*/", "* /"))
}

func tsInterface(b *strings.Builder, name string, fields []*Field) {
	fmt.Fprintf(b, "export interface %s {\n", name)
	for _, f := range fields {
		tsDoc(b, "  ", f.Description)
		opt := "?"
		if f.Required {
			opt = ""
		}
		fmt.Fprintf(b, "  %s%s: %s;\n", f.Name, opt, tsType(f.Schema))
	}
	b.WriteString("}\n\n")
}

func tsType(s *Schema) string {
	var t string
	switch {
	case s.Named != nil:
		t = s.Named.Name
	case s.Kind == KindString:
		t = "string"
	case s.Kind == KindInteger:
		t = "number"
	case s.Kind == KindBoolean:
		t = "boolean"
	case s.Kind == KindArray:
		t = tsType(s.Items) + "[]"
	}
	if s.Nullable {
		t += " | null"
	}
	return t
}
