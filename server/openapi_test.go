package server

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/knadh/koanf/parsers/yaml"
)

// TestOpenAPIMatchesRoutes: every route of a dev server with /metrics on
// its main port (its routes(), the most any configuration has) is in
// openapi/parley.openapi.yaml, and every operation there is served: each is
// requested from that server and must not be answered 404 or 405.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := openAPIOperations(t)
	ts := startServer(t)
	routes := ts.srv.routes()
	for _, r := range routes {
		if !slices.ContainsFunc(doc, r.covers) {
			t.Errorf("route %q is not in openapi/parley.openapi.yaml", r.pattern)
		}
	}
	for _, op := range doc {
		if !slices.ContainsFunc(routes, func(r route) bool { return r.covers(op) }) {
			t.Errorf("%s %s is documented but Handler has no route for it", op.method, op.path)
			continue
		}
		req, err := http.NewRequest(op.method, ts.base+op.example, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed {
			t.Errorf("%s %s (documented as %s): %d", op.method, op.example, op.path, res.StatusCode)
		}
	}
}

// operation is one method of one path in the OpenAPI document; example is
// the path with its parameters' examples filled in.
type operation struct{ method, path, example string }

func openAPIOperations(t *testing.T) []operation {
	t.Helper()
	b, err := os.ReadFile("../openapi/parley.openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := yaml.Parser().Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := doc["paths"].(map[string]any)
	var ops []operation
	for path, item := range paths {
		for method, o := range item.(map[string]any) {
			example := path
			params, _ := o.(map[string]any)["parameters"].([]any)
			for _, p := range params {
				p := p.(map[string]any)
				if p["in"] == "path" {
					example = strings.ReplaceAll(example, "{"+p["name"].(string)+"}", p["example"].(string))
				}
			}
			ops = append(ops, operation{strings.ToUpper(method), path, example})
		}
	}
	if len(ops) == 0 {
		t.Fatal("no operations in the OpenAPI document")
	}
	return ops
}

// covers says whether the document's operation is this route: the same
// method and path ("/{$}" is "/"), or, for a subtree pattern ("/client/"),
// the subtree itself or a path under it.
func (r route) covers(op operation) bool {
	method, pattern, _ := strings.Cut(r.pattern, " ")
	if op.method != method {
		return false
	}
	switch {
	case pattern == "/{$}":
		return op.path == "/"
	case strings.HasSuffix(pattern, "/"):
		return op.path == pattern || strings.HasPrefix(op.path, pattern+"{")
	}
	return op.path == pattern
}
