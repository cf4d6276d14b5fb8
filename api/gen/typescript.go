package gen

import (
	"fmt"
	"slices"
	"strings"
)

// tsProtocol renders clients/ts/src/gen/protocol.ts: the types, the
// method and notification tables, error codes and the document hash.
func tsProtocol(m *Model) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "// %s\n\n", header(m))
	for _, t := range m.Types {
		tsDoc(&b, "", typeDoc(t))
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

// tsMethods renders clients/ts/src/gen/methods.ts: bindMethods turns the
// runtime's generic call into one typed function per method, grouped by
// the dotted name (room.join → .room.join), so the client gets its
// namespaces without hand-written wrappers.
func tsMethods(m *Model) ([]byte, error) {
	root := &tsNamespace{}
	imports := []string{"Methods"}
	for _, meth := range m.Methods {
		if err := root.add(strings.Split(meth.Name, "."), meth); err != nil {
			return nil, err
		}
		imports = append(imports, ParamsName(meth))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "// %s\n\n", header(m))
	b.WriteString("import type { CallOptions } from \"../client.js\";\n")
	fmt.Fprintf(&b, "import type { %s } from \"./protocol.js\";\n\n", strings.Join(imports, ", "))
	b.WriteString(`/** Sends one request and resolves with its result: ParleyClient.call. */
export type Call = <M extends keyof Methods>(method: M, params: Methods[M]["params"], opts?: CallOptions) => Promise<Methods[M]["result"]>;

/** Every method as a typed function, grouped by its dotted name: room.join is bindMethods(call).room.join(params, opts). */
export function bindMethods(call: Call) {
  return `)
	root.render(&b, "  ")
	b.WriteString(";\n}\n\n/** The method namespaces bindMethods returns. */\nexport type BoundMethods = ReturnType<typeof bindMethods>;\n")
	return []byte(b.String()), nil
}

// tsNamespace is one level of the dotted method names: a namespace holds
// either methods or deeper namespaces under each key.
type tsNamespace struct {
	keys     []string // in schema order
	methods  map[string]*Method
	children map[string]*tsNamespace
}

func (ns *tsNamespace) add(path []string, meth *Method) error {
	key := path[0]
	if ns.methods == nil {
		ns.methods, ns.children = map[string]*Method{}, map[string]*tsNamespace{}
	}
	child, isNS := ns.children[key]
	_, isMethod := ns.methods[key]
	switch {
	case len(path) == 1 && (isMethod || isNS), len(path) > 1 && isMethod:
		return fmt.Errorf("#/methods: %s is both a method and a namespace of methods", meth.Name)
	case len(path) == 1:
		ns.methods[key] = meth
	default:
		if !isNS {
			child = &tsNamespace{}
			ns.children[key] = child
		}
		if err := child.add(path[1:], meth); err != nil {
			return err
		}
	}
	if !isMethod && !isNS {
		ns.keys = append(ns.keys, key)
	}
	return nil
}

func (ns *tsNamespace) render(b *strings.Builder, indent string) {
	b.WriteString("{\n")
	for _, key := range ns.keys {
		inner := indent + "  "
		if meth := ns.methods[key]; meth != nil {
			tsDoc(b, inner, meth.Summary)
			def := ""
			if !slices.ContainsFunc(meth.Params, func(f *Field) bool { return f.Required }) {
				def = " = {}"
			}
			fmt.Fprintf(b, "%s%s: (params: %s%s, opts?: CallOptions) => call(%q, params, opts),\n", inner, key, ParamsName(meth), def, meth.Name)
			continue
		}
		fmt.Fprintf(b, "%s%s: ", inner, key)
		ns.children[key].render(b, inner)
		b.WriteString(",\n")
	}
	b.WriteString(indent + "}")
}

// tsErrors renders clients/ts/src/gen/errors.ts: a ParleyError subclass per
// application error, and the tables the runtime picks one by: data.reason
// first, else the code when only one error has it (404 is shared, so a 404
// without a known reason stays a plain ParleyError rather than a guess).
func tsErrors(m *Model) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "// %s\n\n", header(m))
	if len(m.Errors) == 0 {
		b.WriteString("import type { ParleyError } from \"../errors.js\";\n\n")
	} else {
		b.WriteString("import { ParleyError } from \"../errors.js\";\n\n")
	}
	perCode := map[int64]int{}
	for _, e := range m.Errors {
		perCode[e.Code]++
		tsDoc(&b, "", fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Description))
		fmt.Fprintf(&b, "export class %sError extends ParleyError {}\n\n", errorIdent(e))
	}
	b.WriteString("/** The error class of each data.reason. */\nexport const ERROR_CLASSES_BY_REASON: Readonly<Record<string, typeof ParleyError>> = {\n")
	for _, e := range m.Errors {
		fmt.Fprintf(&b, "  %s: %sError,\n", e.Reason, errorIdent(e))
	}
	b.WriteString("};\n\n/** The error class of each code that only one error uses. */\nexport const ERROR_CLASSES_BY_CODE: Readonly<Record<number, typeof ParleyError>> = {\n")
	for _, e := range m.Errors {
		if perCode[e.Code] == 1 {
			fmt.Fprintf(&b, "  %d: %sError,\n", e.Code, errorIdent(e))
		}
	}
	b.WriteString("};\n")
	return []byte(b.String())
}
