package gen

import (
	"fmt"
	"slices"
	"strings"
)

// apiImport is the package the Go client's generated code takes its types
// from, so the client never declares a protocol type of its own.
const apiImport = "github.com/parley-rtc/parley/api"

// goClient renders the Go client's methods_gen.go (package parley): a typed
// method per client→server method, a hook registrar per notification, and
// dispatch, which decodes a notification and runs its hooks. The runtime
// (Client, call, hooks' storage) is hand-written beside it.
func goClient(m *Model) ([]byte, error) {
	var b strings.Builder
	for _, meth := range m.Methods {
		name := Camel(meth.Name)
		comment(&b, "", fmt.Sprintf("%s calls %s: %s", name, meth.Name, paragraph(meth.Summary, meth.Description)))
		if len(meth.Params) == 0 {
			fmt.Fprintf(&b, "func (c *Client) %s(ctx context.Context) (*api.%s, error) {\n", name, meth.Result.Name)
			fmt.Fprintf(&b, "\tvar r api.%s\n\tif err := c.call(ctx, api.Method%s, &api.%s{}, &r); err != nil {\n\t\treturn nil, err\n\t}\n\treturn &r, nil\n}\n\n",
				meth.Result.Name, name, ParamsName(meth))
			continue
		}
		fmt.Fprintf(&b, "func (c *Client) %s(ctx context.Context, p *api.%s) (*api.%s, error) {\n", name, ParamsName(meth), meth.Result.Name)
		fmt.Fprintf(&b, "\tif p == nil {\n\t\tp = &api.%s{}\n\t}\n", ParamsName(meth))
		fmt.Fprintf(&b, "\tvar r api.%s\n\tif err := c.call(ctx, api.Method%s, p, &r); err != nil {\n\t\treturn nil, err\n\t}\n\treturn &r, nil\n}\n\n",
			meth.Result.Name, name)
	}

	b.WriteString("// hookLists holds the notification hooks, one list per notification.\ntype hookLists struct {\n")
	for _, n := range m.Notifications {
		fmt.Fprintf(&b, "\t%s []func(*api.%s)\n", hookField(n), EventName(n))
	}
	b.WriteString("}\n\n")
	for _, n := range m.Notifications {
		name := Camel(n.Name)
		comment(&b, "", fmt.Sprintf("On%s adds fn to the hooks of the %s notification: %s Hooks run in registration order on the client's event goroutine and must not keep or change the event.",
			name, n.Name, paragraph(n.Summary, n.Description)))
		fmt.Fprintf(&b, "func (c *Client) On%s(fn func(*api.%s)) {\n\tc.hooksMu.Lock()\n\tdefer c.hooksMu.Unlock()\n\tc.hooks.%s = append(c.hooks.%s, fn)\n}\n\n",
			name, EventName(n), hookField(n), hookField(n))
	}

	b.WriteString("// dispatch decodes a notification's params into its event and runs the\n// hooks; a notification this client does not know is an error.\n")
	b.WriteString("func (c *Client) dispatch(method string, params []byte) error {\n")
	if len(m.Notifications) > 0 {
		b.WriteString("\tc.hooksMu.Lock()\n\th := c.hooks\n\tc.hooksMu.Unlock()\n\tswitch method {\n")
	}
	for _, n := range m.Notifications {
		fmt.Fprintf(&b, "\tcase api.Notify%s:\n\t\tvar ev api.%s\n", Camel(n.Name), EventName(n))
		fmt.Fprintf(&b, "\t\tif err := json.Unmarshal(params, &ev); err != nil {\n\t\t\treturn fmt.Errorf(\"decode %%s: %%w\", method, err)\n\t\t}\n")
		if slices.ContainsFunc(n.Params, func(f *Field) bool { return f.Name == "seq" }) {
			b.WriteString("\t\tc.delivered(ev.Seq)\n")
		}
		fmt.Fprintf(&b, "\t\tfor _, fn := range h.%s {\n\t\t\tfn(&ev)\n\t\t}\n", hookField(n))
		b.WriteString("\t\treturn nil\n")
	}
	if len(m.Notifications) > 0 {
		b.WriteString("\t}\n")
	}
	b.WriteString("\treturn fmt.Errorf(\"unknown notification %q\", method)\n}\n")

	return goFile(m, "parley", []goImport{{"context", "context"}, {"json", "encoding/json"}, {"fmt", "fmt"}, {"", ""}, {"api", apiImport}}, b.String())
}

// hookField is the hookLists member of notification n: room.peerJoined →
// roomPeerJoined.
func hookField(n *Method) string {
	c := Camel(n.Name)
	return strings.ToLower(c[:1]) + c[1:]
}
