package gen

import (
	"fmt"
	"strings"
)

// markdown renders api/PROTOCOL.md, the human reference.
func markdown(m *Model) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- %s -->\n\n# %s (version %s)\n\n%s\n\n", header(m), m.Title, m.Version, m.Description)
	b.WriteString("Every request is a JSON-RPC 2.0 request with by-name params. Params are decoded strictly: " +
		"an unknown member, a missing required one, a wrong type, a string over its length, a pattern or enum " +
		"mismatch, or an integer outside its range (all integers lie within ±(2^53−1)) is answered with -32602 " +
		"and `data: {field, reason}`, where `field` is the dotted path of the offending value.\n\n")
	b.WriteString("## Contents\n\n")
	toc := func(title string, list []*Method, suffix string) {
		fmt.Fprintf(&b, "- %s:", title)
		for i, meth := range list {
			sep := ","
			if i == 0 {
				sep = ""
			}
			fmt.Fprintf(&b, "%s [`%s`](#%s)", sep, meth.Name, anchor(meth.Name+suffix))
		}
		b.WriteString("\n")
	}
	toc("Methods", m.Methods, "")
	toc("Notifications", m.Notifications, " notification")
	b.WriteString("- [Types](#types), [Errors](#errors)")
	if m.Connections != "" {
		b.WriteString(", [Connections](#connections)")
	}
	b.WriteString("\n\n## Methods\n\n")
	for _, meth := range m.Methods {
		fmt.Fprintf(&b, "### %s\n\n%s\n\n", meth.Name, paragraph(meth.Summary, meth.Description))
		if meth.Doc != "" {
			fmt.Fprintf(&b, "%s\n\n", meth.Doc)
		}
		mdParams(&b, "Params", meth.Params)
		fmt.Fprintf(&b, "Result: %s\n\n", typeLink(meth.Result.Name))
		if len(meth.Errors) > 0 {
			b.WriteString("Errors:")
			for i, e := range meth.Errors {
				sep := ","
				if i == 0 {
					sep = ""
				}
				fmt.Fprintf(&b, "%s %d `%s`", sep, e.Code, e.Reason)
			}
			b.WriteString("\n\n")
		}
	}
	b.WriteString("## Notifications\n\nSent by the server; never answered.\n\n")
	for _, meth := range m.Notifications {
		fmt.Fprintf(&b, "### %s notification\n\n%s\n\n", meth.Name, paragraph(meth.Summary, meth.Description))
		mdParams(&b, "Params", meth.Params)
	}
	b.WriteString("## Types\n\n")
	for _, t := range m.Types {
		fmt.Fprintf(&b, "### %s\n\n", t.Name)
		if t.Description != "" {
			fmt.Fprintf(&b, "%s\n\n", t.Description)
		}
		switch t.Kind {
		case KindObject:
			mdParams(&b, "Members", t.Fields)
			if len(t.AnyOf) > 0 {
				fmt.Fprintf(&b, "At least one of the optional members must be present and not null: %s.\n\n", t.AnyOfGroups(func(name string) string { return "`" + name + "`" }))
			}
		case KindEnum:
			fmt.Fprintf(&b, "One of: `%s`.\n\n", strings.Join(t.Enum, "`, `"))
		case KindFreeObject:
			b.WriteString("Any JSON object.\n\n")
		case KindAny:
			b.WriteString("Any JSON value.\n\n")
		default:
			fmt.Fprintf(&b, "%s\n\n", mdType(t.Primitive))
		}
	}
	b.WriteString("## Errors\n\nApplication errors carry `data.reason`, a stable token.\n\n| code | reason | message | when |\n| --- | --- | --- | --- |\n")
	for _, e := range m.Errors {
		fmt.Fprintf(&b, "| %d | `%s` | %s | %s |\n", e.Code, e.Reason, e.Message, cell(e.Description))
	}
	b.WriteString("\nJSON-RPC errors: -32700 parse error (invalid JSON, duplicate member names, invalid UTF-8, nesting deeper than 32), " +
		"-32600 invalid request, -32601 method not found, -32602 invalid params (`data: {field, reason}`), -32603 internal error.\n")
	if m.Connections != "" {
		fmt.Fprintf(&b, "\n## Connections\n\n%s\n", m.Connections)
	}
	return []byte(b.String())
}

func paragraph(summary, description string) string {
	if description == "" || description == summary {
		return summary
	}
	return summary + " " + description
}

func mdParams(b *strings.Builder, title string, fields []*Field) {
	if len(fields) == 0 {
		fmt.Fprintf(b, "%s: none.\n\n", title)
		return
	}
	fmt.Fprintf(b, "%s:\n\n| name | type | required | description |\n| --- | --- | --- | --- |\n", title)
	for _, f := range fields {
		req := "no"
		if f.Required {
			req = "yes"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", f.Name, mdType(f.Schema), req, cell(f.Description))
	}
	b.WriteString("\n")
}

// mdType describes a schema with its constraints.
func mdType(s *Schema) string {
	var t string
	if s.Named != nil {
		t = typeLink(s.Named.Name)
	} else {
		switch s.Kind {
		case KindString:
			t = "string"
			if s.MaxLength != nil {
				t += fmt.Sprintf(" (≤ %d chars)", *s.MaxLength)
			}
			if s.Pattern != "" {
				t += fmt.Sprintf(" matching `%s`", strings.ReplaceAll(s.Pattern, "|", `\|`))
			}
		case KindInteger:
			t = fmt.Sprintf("integer %d…%d", deref(s.Minimum, -maxSafeInt), deref(s.Maximum, maxSafeInt))
		case KindBoolean:
			t = "boolean"
		case KindArray:
			t = "array of " + mdType(s.Items)
			if s.MaxItems != nil {
				t += fmt.Sprintf(" (≤ %d items)", *s.MaxItems)
			}
		}
	}
	if s.Nullable {
		t += " or null"
	}
	return t
}

func typeLink(name string) string { return fmt.Sprintf("[%s](#%s)", name, anchor(name)) }

// anchor is GitHub's heading anchor: lower case, spaces to dashes, most
// punctuation dropped.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
