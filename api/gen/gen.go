package gen

import "fmt"

// File is one generated output, its path relative to the repository root.
type File struct {
	Path    string
	Content []byte
}

// Paths says where each output goes, relative to the repository root.
type Paths struct {
	GoDir    string // package api
	TSDir    string // the TypeScript client's gen folder
	Markdown string // the protocol reference
	GoClient string // package parley: the Go client's typed methods
	GoBind   string // package apirpc: the server's Register
}

// DefaultPaths are the repository's layout.
var DefaultPaths = Paths{GoDir: "api", TSDir: "clients/ts/src/gen", Markdown: "api/PROTOCOL.md", GoClient: "clients/go/parley", GoBind: "api/apirpc"}

// Generate renders every output of doc, in a fixed order.
func Generate(doc []byte, p Paths) ([]File, error) {
	m, err := Load(doc)
	if err != nil {
		return nil, err
	}
	var files []File
	for _, g := range []struct {
		name string
		fn   func(*Model) ([]byte, error)
	}{
		{"types_gen.go", goTypes},
		{"decode_gen.go", goDecode},
		{"encode_gen.go", goEncode},
		{"handler_gen.go", goHandler},
		{"errors_gen.go", goErrors},
	} {
		src, err := g.fn(m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g.name, err)
		}
		files = append(files, File{p.GoDir + "/" + g.name, src})
	}
	binding, err := goBinding(m)
	if err != nil {
		return nil, fmt.Errorf("register_gen.go: %w", err)
	}
	client, err := goClient(m)
	if err != nil {
		return nil, fmt.Errorf("methods_gen.go: %w", err)
	}
	methods, err := tsMethods(m)
	if err != nil {
		return nil, fmt.Errorf("methods.ts: %w", err)
	}
	return append(files,
		File{p.GoBind + "/register_gen.go", binding},
		File{p.GoClient + "/methods_gen.go", client},
		File{p.TSDir + "/protocol.ts", tsProtocol(m)},
		File{p.TSDir + "/methods.ts", methods},
		File{p.TSDir + "/errors.ts", tsErrors(m)},
		File{p.Markdown, markdown(m)},
	), nil
}
