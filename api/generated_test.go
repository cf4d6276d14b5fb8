package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/api/gen"
)

// TestGenerated regenerates every output in memory and compares it with
// the committed file, so a schema change without make generate fails.
func TestGenerated(t *testing.T) {
	files, err := gen.Generate(api.Document, gen.DefaultPaths)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		committed, err := os.ReadFile(filepath.Join("..", f.Path))
		if err != nil {
			t.Errorf("%v: run make generate", err)
			continue
		}
		if !bytes.Equal(committed, f.Content) {
			t.Errorf("%s is stale: run make generate", f.Path)
		}
	}
	sum := sha256.Sum256(api.Document)
	if got := hex.EncodeToString(sum[:]); got != api.DocumentSHA256 {
		t.Errorf("DocumentSHA256 = %s, the document hashes to %s: run make generate", api.DocumentSHA256, got)
	}
}
