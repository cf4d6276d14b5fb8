package server

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/knadh/koanf/parsers/yaml"
)

// TestOpenAPIMatchesRoutes: every route Handler registers is in
// openapi/parley.openapi.yaml, and every operation there is served. The
// routes are read from Handler's source, so a route added without
// documenting it fails here; each documented operation is then requested
// from a running dev server and must not be answered 404 or 405.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := openAPIOperations(t)
	routes := handlerRoutes(t)
	if len(routes) < 8 {
		t.Fatalf("found only %d routes in Handler: %v", len(routes), routes)
	}
	for _, r := range routes {
		if !slices.ContainsFunc(doc, r.covers) {
			t.Errorf("route %q is not in openapi/parley.openapi.yaml", r.method+" "+r.pattern)
		}
	}
	ts := startServer(t)
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

// route is one ServeMux pattern of Handler, split into method and path.
type route struct{ method, pattern string }

// covers says whether the document's operation is this route: the same
// path ("/{$}" is "/"), or, for a subtree pattern ("/client/"), the
// subtree itself or a path under it.
func (r route) covers(op operation) bool {
	if op.method != r.method {
		return false
	}
	switch {
	case r.pattern == "/{$}":
		return op.path == "/"
	case strings.HasSuffix(r.pattern, "/"):
		return op.path == r.pattern || strings.HasPrefix(op.path, r.pattern+"{")
	}
	return op.path == r.pattern
}

var routePattern = regexp.MustCompile(`^([A-Z]+) (/\S*)$`)

// handlerRoutes reads the patterns of every Handle and HandleFunc call in
// (*Server).Handler from server.go.
func handlerRoutes(t *testing.T) []route {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "server.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var routes []route
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "Handler" || fn.Recv == nil {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("a route in Handler has a pattern that is not a string literal; this test cannot check it")
				return true
			}
			s, _ := strconv.Unquote(lit.Value)
			m := routePattern.FindStringSubmatch(s)
			if m == nil {
				t.Errorf("route pattern %q has no method; give one (GET /path)", s)
				return true
			}
			routes = append(routes, route{m[1], m[2]})
			return true
		})
	}
	return routes
}
