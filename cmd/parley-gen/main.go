// Command parley-gen generates the Go, TypeScript and Markdown outputs of
// the OpenRPC document (run by make generate from the repository root).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/parley-rtc/parley/api/gen"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "parley-gen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("parley-gen", flag.ContinueOnError)
	in := fs.String("in", "api/parley.openrpc.json", "the OpenRPC document")
	p := gen.DefaultPaths
	fs.StringVar(&p.GoDir, "go", p.GoDir, "directory of the generated Go package")
	fs.StringVar(&p.TSDir, "ts", p.TSDir, "directory of the generated TypeScript")
	fs.StringVar(&p.GoClient, "goclient", p.GoClient, "directory of the Go client package")
	fs.StringVar(&p.GoBind, "gobind", p.GoBind, "directory of the server's binding package")
	fs.StringVar(&p.Markdown, "md", p.Markdown, "the generated protocol reference")
	if err := fs.Parse(args); err != nil {
		return err
	}
	doc, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	files, err := gen.Generate(doc, p)
	if err != nil {
		return fmt.Errorf("%s%w", *in, err)
	}
	for _, f := range files {
		if err := writeIfChanged(f); err != nil {
			return err
		}
	}
	return nil
}

// writeIfChanged leaves unchanged files alone, so their mtimes (and make)
// stay quiet.
func writeIfChanged(f gen.File) error {
	if old, err := os.ReadFile(f.Path); err == nil && bytes.Equal(old, f.Content) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(f.Path, f.Content, 0o644); err != nil {
		return err
	}
	fmt.Println("wrote", f.Path)
	return nil
}
