package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunWritesOnlyChanges(t *testing.T) {
	dir := t.TempDir()
	args := []string{
		"-in", "../../api/gen/testdata/chat.openrpc.json",
		"-go", filepath.Join(dir, "go"),
		"-ts", filepath.Join(dir, "ts"),
		"-goclient", filepath.Join(dir, "goclient"),
		"-gobind", filepath.Join(dir, "gobind"),
		"-md", filepath.Join(dir, "PROTOCOL.md"),
	}
	if err := run(args); err != nil {
		t.Fatal(err)
	}
	md := filepath.Join(dir, "PROTOCOL.md")
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(md, old, old); err != nil {
		t.Fatal(err)
	}
	if err := run(args); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(md)
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime().Equal(old) {
		t.Error("an unchanged output was rewritten")
	}
	for _, f := range []string{"go/types_gen.go", "go/decode_gen.go", "go/handler_gen.go", "go/errors_gen.go", "ts/protocol.ts", "goclient/methods_gen.go", "gobind/register_gen.go"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestRunRejectsWithLocation(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "bad.json")
	doc := `{"openrpc": "1.3.2", "info": {"title": "T", "version": "1"}, "components": {"schemas": {"S": {"type": "string", "format": "uri"}}}}`
	if err := os.WriteFile(in, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run([]string{"-in", in, "-go", filepath.Join(dir, "go"), "-ts", filepath.Join(dir, "ts"), "-goclient", filepath.Join(dir, "goclient"), "-gobind", filepath.Join(dir, "gobind"), "-md", filepath.Join(dir, "P.md")})
	if err == nil || !strings.Contains(err.Error(), `bad.json#/components/schemas/S/format: unsupported keyword "format"`) {
		t.Fatalf("got %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("a rejected document wrote %d files", len(entries)-1)
	}
}
