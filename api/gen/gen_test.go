package gen

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestGolden renders each test schema and compares every output with
// testdata/<schema>/<file>.golden (go test ./api/gen -update rewrites them).
func TestGolden(t *testing.T) {
	schemas, _ := filepath.Glob("testdata/*.openrpc.json")
	if len(schemas) == 0 {
		t.Fatal("no test schemas")
	}
	for _, schema := range schemas {
		name := strings.TrimSuffix(filepath.Base(schema), ".openrpc.json")
		t.Run(name, func(t *testing.T) {
			doc, err := os.ReadFile(schema)
			if err != nil {
				t.Fatal(err)
			}
			files, err := Generate(doc, Paths{GoDir: "go", TSDir: "ts", Markdown: "PROTOCOL.md", GoClient: "goclient", GoBind: "gobind"})
			if err != nil {
				t.Fatal(err)
			}
			again, _ := Generate(doc, Paths{GoDir: "go", TSDir: "ts", Markdown: "PROTOCOL.md", GoClient: "goclient", GoBind: "gobind"})
			for i, f := range files {
				if !bytes.Equal(f.Content, again[i].Content) {
					t.Fatalf("%s differs between two runs", f.Path)
				}
				golden := filepath.Join("testdata", name, strings.ReplaceAll(f.Path, "/", "_")+".golden")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, f.Content, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./api/gen -update)", err)
				}
				if !bytes.Equal(f.Content, want) {
					t.Errorf("%s differs from %s (run go test ./api/gen -update and review the diff)", f.Path, golden)
				}
			}
		})
	}
}

// base is a valid document; reject cases patch one part of it.
const base = `{
  "openrpc": "1.3.2",
  "info": {"title": "T", "version": "1"},
  "methods": [%METHODS%],
  "components": {"schemas": {%SCHEMAS%}}
}`

func doc(methods, schemas string) []byte {
	return []byte(strings.NewReplacer("%METHODS%", methods, "%SCHEMAS%", schemas).Replace(base))
}

const okResult = `"result": {"name": "r", "schema": {"$ref": "#/components/schemas/R"}}`
const okR = `"R": {"type": "object", "additionalProperties": false, "properties": {}}`

func method(params string) string {
	return `{"name": "a.b", "paramStructure": "by-name", "params": [` + params + `], ` + okResult + `}`
}

// anyOfObject is a component O with a nullable a, an optional b and a
// required c, and the given anyOf branches.
func anyOfObject(branches string) string {
	return `"O": {"type": "object", "additionalProperties": false, "required": ["c"], "properties": {` +
		`"a": {"oneOf": [{"type": "string"}, {"type": "null"}]}, "b": {"type": "integer"}, "c": {"type": "string"}}, ` +
		`"anyOf": [` + branches + `]}`
}

func TestRejects(t *testing.T) {
	tests := []struct {
		name string
		doc  []byte
		want string
	}{
		{"unknown keyword", doc("", okR+`, "P": {"type": "object", "additionalProperties": false, "properties": {"x": {"allOf": []}}}`),
			`#/components/schemas/P/properties/x/allOf: unsupported keyword "allOf"`},
		{"format", doc("", `"S": {"type": "string", "format": "email"}`),
			`#/components/schemas/S/format: unsupported keyword "format"`},
		{"inline object", doc(method(`{"name": "p", "schema": {"type": "object"}}`), okR),
			`#/methods/0/params/0/schema: inline object schema`},
		{"inline enum", doc(method(`{"name": "p", "schema": {"enum": ["a"]}}`), okR),
			`#/methods/0/params/0/schema: inline enum`},
		{"object without additionalProperties", doc("", `"O": {"type": "object", "properties": {}}`),
			`#/components/schemas/O: an object must say additionalProperties`},
		{"other union", doc("", okR+`, "O": {"type": "object", "additionalProperties": false, "properties": {"x": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}}`),
			`#/components/schemas/O/properties/x/oneOf: the only union`},
		{"anyOf", doc(method(`{"name": "p", "schema": {"anyOf": [{"type": "string"}]}}`), okR),
			`#/methods/0/params/0/schema/anyOf: unsupported keyword "anyOf"`},
		{"unknown ref", doc(method(`{"name": "p", "schema": {"$ref": "#/components/schemas/Nope"}}`), okR),
			`#/methods/0/params/0/schema/$ref: unknown schema`},
		{"by-position", doc(`{"name": "a.b", "paramStructure": "by-position", "params": [], `+okResult+`}`, okR),
			`#/methods/0: paramStructure must be "by-name"`},
		{"result not an object", doc(`{"name": "a.b", "paramStructure": "by-name", "params": [], "result": {"name": "r", "schema": {"type": "string"}}}`, okR),
			`#/methods/0/result/schema: a result must be a $ref to a named object`},
		{"required names no property", doc("", `"O": {"type": "object", "additionalProperties": false, "required": ["x"], "properties": {}}`),
			`#/components/schemas/O/required: required names "x"`},
		{"integer bound too big", doc("", `"N": {"type": "integer", "maximum": 9007199254740992}`),
			`#/components/schemas/N: integer bounds must lie within`},
		{"bad pattern", doc("", `"S": {"type": "string", "pattern": "("}`),
			`#/components/schemas/S/pattern: bad pattern`},
		{"raw string with a pattern", doc("", `"S": {"type": "string", "pattern": "^a$", "x-go-raw": true}`),
			`#/components/schemas/S: x-go-raw: a raw string is not matched against a pattern`},
		{"raw string not a boolean", doc("", `"S": {"type": "string", "x-go-raw": 1}`),
			`#/components/schemas/S/x-go-raw: must be a boolean`},
		{"duplicate member", []byte(`{"openrpc": "1.3.2", "openrpc": "1.3.2"}`), `duplicate`},
		{"extension in an error", []byte(`{"openrpc": "1.3.2", "info": {"title": "T", "version": "1"}, "methods": [], "components": {"errors": {"E": {"code": 1, "message": "e", "data": {"reason": "e"}, "x-description": "d"}}}}`),
			`#/components/errors/E/x-description: the OpenRPC meta-schema allows no "x-description" in an error object`},
		{"name collision", doc(method(""), okR+`, "ABParams": {"type": "object", "additionalProperties": false, "properties": {}}`),
			`schema ABParams and method a.b both generate ABParams`},
		{"minLength", doc("", `"S": {"type": "string", "minLength": 1}`),
			`#/components/schemas/S/minLength: unsupported keyword "minLength"`},
		{"non-string enum", doc("", `"E": {"type": "string", "enum": ["a", 1]}`),
			`#/components/schemas/E/enum/1: enum values must be distinct`},
		{"maxLength not an integer", doc("", `"S": {"type": "string", "maxLength": 1.5}`),
			`#/components/schemas/S/maxLength: must be an integer`},
		{"number type", doc("", `"N": {"type": "number"}`),
			`#/components/schemas/N: a named schema must be`},
		{"nullable items", doc(method(`{"name": "p", "schema": {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "null"}]}}}`), okR),
			`#/methods/0/params/0/schema/items: array items may not be nullable`},
		{"free-form with properties", doc("", `"M": {"type": "object", "additionalProperties": true, "properties": {}}`),
			`#/components/schemas/M: a free-form object`},
		{"additionalProperties schema", doc("", `"M": {"type": "object", "additionalProperties": {"type": "string"}}`),
			`#/components/schemas/M: an object must say additionalProperties`},
		{"component title", doc("", `"S": {"title": "T", "type": "string"}`),
			`#/components/schemas/S/title: the title of component S must be "S"`},
		{"anyOf of a nullable member", doc("", anyOfObject(`{"required": ["a"]}, {"required": ["b"]}`)),
			`#/components/schemas/O/anyOf/0: a may be null: restate it in the branch as "properties": {"a": {"type": "string"}}`},
		{"anyOf restating another type", doc("", anyOfObject(`{"required": ["a"], "properties": {"a": {"type": "integer"}}}, {"required": ["b"]}`)),
			`#/components/schemas/O/anyOf/0/properties/a: a branch restates a as {"type": "string"}`},
		{"anyOf of a required member", doc("", anyOfObject(`{"required": ["c"]}, {"required": ["b"]}`)),
			`#/components/schemas/O/anyOf/0/required/0: "c" is required anyway`},
		{"anyOf of no property", doc("", anyOfObject(`{"required": ["z"]}, {"required": ["b"]}`)),
			`#/components/schemas/O/anyOf/0/required/0: anyOf requires "z", which is not a property`},
		{"anyOf restating a member it does not require", doc("", anyOfObject(`{"required": ["b"], "properties": {"c": {"type": "string"}}}, {"required": ["b"]}`)),
			`#/components/schemas/O/anyOf/0/properties/c: the branch restates "c" but does not require it`},
		{"anyOf of one branch", doc("", anyOfObject(`{"required": ["b"]}`)),
			`#/components/schemas/O/anyOf: anyOf needs at least two branches`},
		{"anyOf with other keywords", doc("", anyOfObject(`{"required": ["b"], "minProperties": 1}, {"required": ["b"]}`)),
			`#/components/schemas/O/anyOf/0/minProperties: unsupported keyword "minProperties"`},
		{"bad method name", doc(`{"name": "Join", "paramStructure": "by-name", "params": [], `+okResult+`}`, okR),
			`#/methods/0: method names look like room.join`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.doc)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"roomId": "RoomID", "sdpMid": "SDPMid", "sdpMLineIndex": "SDPMLineIndex", "iceServers": "ICEServers",
		"urls": "URLs", "retryAfterMs": "RetryAfterMs", "identity": "Identity", "peerCount": "PeerCount",
		"usernameFragment": "UsernameFragment", "RoomId": "RoomID",
	} {
		if got := GoName(in); got != want {
			t.Errorf("GoName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"room.peerJoined": "RoomPeerJoined", "sdp.offer": "SdpOffer", "a.b.c": "ABC"} {
		if got := Camel(in); got != want {
			t.Errorf("Camel(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTSMethodsNamespaceClash: a method name that is also another's prefix
// would be both a function and a namespace in the TypeScript client.
func TestTSMethodsNamespaceClash(t *testing.T) {
	for _, names := range [][2]string{{"a.b", "a.b.c"}, {"a.b.c", "a.b"}} {
		methods := `{"name": "` + names[0] + `", "paramStructure": "by-name", "params": [], ` + okResult + `}, ` +
			`{"name": "` + names[1] + `", "paramStructure": "by-name", "params": [], ` + okResult + `}`
		_, err := Generate(doc(methods, okR), DefaultPaths)
		if want := "is both a method and a namespace"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: Generate error = %v, want it to contain %q", names, err, want)
		}
	}
}
