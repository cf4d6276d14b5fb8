package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// specMux serves the methods used by the examples section of the JSON-RPC
// 2.0 specification (https://www.jsonrpc.org/specification#examples).
func specMux() *Mux {
	m := NewMux()
	m.Handle("subtract", func(_ context.Context, params jsontext.Value) (any, error) {
		if params.Kind() == '[' {
			var p []float64
			if err := json.Unmarshal(params, &p); err != nil || len(p) != 2 {
				return nil, &FieldError{Reason: "want two numbers"}
			}
			return p[0] - p[1], nil
		}
		var p struct {
			Minuend    float64 `json:"minuend"`
			Subtrahend float64 `json:"subtrahend"`
		}
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, &FieldError{Reason: err.Error()}
		}
		return p.Minuend - p.Subtrahend, nil
	})
	m.Handle("sum", func(_ context.Context, params jsontext.Value) (any, error) {
		var p []float64
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, &FieldError{Reason: "want numbers"}
		}
		total := 0.0
		for _, v := range p {
			total += v
		}
		return total, nil
	})
	m.Handle("get_data", func(context.Context, jsontext.Value) (any, error) {
		return []any{"hello", 5}, nil
	})
	noop := func(context.Context, jsontext.Value) (any, error) { return nil, nil }
	m.Handle("update", noop)
	m.Handle("notify_sum", noop)
	m.Handle("notify_hello", noop)
	return m
}

// normalize parses a reply and drops error messages and data, which the
// spec leaves to the implementation; what is compared is codes, ids and
// results.
func normalize(t *testing.T, frame []byte) any {
	t.Helper()
	if frame == nil {
		return nil
	}
	var v any
	if err := json.Unmarshal(frame, &v); err != nil {
		t.Fatalf("reply is not JSON: %v: %s", err, frame)
	}
	strip := func(o any) {
		if m, ok := o.(map[string]any); ok {
			if e, ok := m["error"].(map[string]any); ok {
				delete(e, "message")
				delete(e, "data")
			}
		}
	}
	if arr, ok := v.([]any); ok {
		for _, o := range arr {
			strip(o)
		}
	} else {
		strip(v)
	}
	return v
}

func TestSpecExamples(t *testing.T) {
	tests := []struct {
		name, in, want string // want "" means no reply at all
	}{
		{"positional params", `{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}`,
			`{"jsonrpc": "2.0", "result": 19, "id": 1}`},
		{"positional params reversed", `{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}`,
			`{"jsonrpc": "2.0", "result": -19, "id": 2}`},
		{"named params", `{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}`,
			`{"jsonrpc": "2.0", "result": 19, "id": 3}`},
		{"named params reordered", `{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}`,
			`{"jsonrpc": "2.0", "result": 19, "id": 4}`},
		{"notification", `{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}`, ``},
		{"notification of an unknown method", `{"jsonrpc": "2.0", "method": "foobar"}`, ``},
		{"non-existent method", `{"jsonrpc": "2.0", "method": "foobar", "id": "1"}`,
			`{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}`},
		{"invalid JSON", `{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]`,
			`{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}`},
		{"invalid request object", `{"jsonrpc": "2.0", "method": 1, "params": "bar"}`,
			`{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}`},
		{"batch, invalid JSON", `[
  {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
  {"jsonrpc": "2.0", "method"
]`, `{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}`},
		{"empty array", `[]`,
			`{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}`},
		{"invalid batch, not empty", `[1]`,
			`[{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}]`},
		{"invalid batch", `[1,2,3]`, `[
  {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
  {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
  {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}
]`},
		{"batch", `[
  {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
  {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
  {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
  {"foo": "boo"},
  {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
  {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
]`, `[
  {"jsonrpc": "2.0", "result": 7, "id": "1"},
  {"jsonrpc": "2.0", "result": 19, "id": "2"},
  {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
  {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},
  {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}
]`},
		{"batch of notifications", `[
  {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
  {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
]`, ``},
	}
	m := specMux()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := m.Dispatch(context.Background(), []byte(tt.in))
			if tt.want == "" {
				if got != nil {
					t.Fatalf("want no reply, got %s", got)
				}
				return
			}
			if !reflect.DeepEqual(normalize(t, got), normalize(t, []byte(tt.want))) {
				t.Fatalf("reply\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestStrictInput(t *testing.T) {
	tests := []struct {
		name, in string
		code     int64
		msg      string // a substring of the error message
	}{
		{"duplicate member", `{"jsonrpc":"2.0","method":"sum","method":"x","id":1}`, CodeParseError, "duplicate"},
		{"duplicate member in params", `{"jsonrpc":"2.0","method":"sum","params":{"a":1,"a":2},"id":1}`, CodeParseError, "duplicate"},
		{"duplicate via escape", `{"jsonrpc":"2.0","method":"sum","params":{"a":1,"\u0061":2},"id":1}`, CodeParseError, "duplicate"},
		{"invalid UTF-8", "{\"jsonrpc\":\"2.0\",\"method\":\"sum\",\"params\":[\"\xff\"],\"id\":1}", CodeParseError, "UTF-8"},
		{"lone surrogate", `{"jsonrpc":"2.0","method":"sum","params":["\ud800"],"id":1}`, CodeParseError, "surrogate"},
		{"too deep", `{"jsonrpc":"2.0","method":"sum","params":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `,"id":1}`, CodeParseError, "deeper than 32"},
		{"two values", `{"jsonrpc":"2.0","method":"sum","id":1} {}`, CodeParseError, "more than one"},
		{"truncated", `{"jsonrpc":"2.0"`, CodeParseError, "unexpected end"},
		{"empty frame", ``, CodeParseError, "unexpected end"},
		{"not a request", `"hello"`, CodeInvalidRequest, "object"},
		{"wrong version", `{"jsonrpc":"1.0","method":"sum","params":[],"id":1}`, CodeInvalidRequest, `"2.0"`},
		{"version missing", `{"method":"sum","params":[],"id":1}`, CodeInvalidRequest, `missing "jsonrpc"`},
		{"method missing", `{"jsonrpc":"2.0","id":1}`, CodeInvalidRequest, `missing "method"`},
		{"params scalar", `{"jsonrpc":"2.0","method":"sum","params":3,"id":1}`, CodeInvalidRequest, `"params"`},
		{"id object", `{"jsonrpc":"2.0","method":"sum","params":[],"id":{}}`, CodeInvalidRequest, `"id"`},
		{"id bool", `{"jsonrpc":"2.0","method":"sum","params":[],"id":true}`, CodeInvalidRequest, `"id"`},
		{"unknown member", `{"jsonrpc":"2.0","method":"sum","params":[],"id":1,"extra":0}`, CodeInvalidRequest, `unknown member "extra"`},
		{"bad params", `{"jsonrpc":"2.0","method":"sum","params":["x"],"id":1}`, CodeInvalidParams, "want numbers"},
	}
	m := specMux()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp struct {
				Error *Error `json:"error"`
			}
			got := m.Dispatch(context.Background(), []byte(tt.in))
			if err := json.Unmarshal(got, &resp, json.RejectUnknownMembers(false)); err != nil || resp.Error == nil {
				t.Fatalf("want an error reply, got %s (%v)", got, err)
			}
			if resp.Error.Code != tt.code || !strings.Contains(resp.Error.Message, tt.msg) {
				t.Fatalf("got %d %q, want %d containing %q", resp.Error.Code, resp.Error.Message, tt.code, tt.msg)
			}
		})
	}
	// 32 levels are fine.
	ok := `{"jsonrpc":"2.0","method":"sum","params":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `,"id":1}`
	if got := string(m.Dispatch(context.Background(), []byte(ok))); strings.Contains(got, "deeper") {
		t.Fatalf("32 levels refused: %s", got)
	}
}

// TestDeeperThan: brackets inside strings do not count, whatever the
// escapes before a quote.
func TestDeeperThan(t *testing.T) {
	for _, tt := range []struct {
		json  string
		limit int
		want  bool
	}{
		{`[[1]]`, 1, true},
		{`[[1]]`, 2, false},
		{`["[[[[[[",{"a":"{{{{"}]`, 2, false},
		{`["\"[[[",[]]`, 2, false},
		{`["\"[[[",[]]`, 1, true},
		{`["\\",[[]]]`, 2, true},
		{`["\\\\",[[]]]`, 2, true},
		{`["\\\"[[[[",1]`, 1, false},
		{`{"a\"[":"]]]]","b":[{}]}`, 3, false},
		{`{"a\"[":"]]]]","b":[{}]}`, 2, true},
	} {
		if !jsontext.Value(tt.json).IsValid() {
			t.Fatalf("%s is not valid JSON", tt.json)
		}
		if got := deeperThan([]byte(tt.json), tt.limit); got != tt.want {
			t.Errorf("deeperThan(%s, %d) = %v, want %v", tt.json, tt.limit, got, tt.want)
		}
	}
}

// Ids come back byte for byte: a client matches replies by exact id.
func TestIDEchoedVerbatim(t *testing.T) {
	m := specMux()
	for _, id := range []string{`1`, `-5`, `1.50`, `1e3`, `12345678901234567890123`, `"a\u0041"`, `""`, `null`} {
		got := string(m.Dispatch(context.Background(), []byte(`{"jsonrpc":"2.0","method":"get_data","id":`+id+`}`)))
		if want := `{"jsonrpc":"2.0","id":` + id + `,"result":["hello",5]}`; got != want {
			t.Errorf("id %s: got %s", id, got)
		}
	}
}

func TestHandlerErrors(t *testing.T) {
	m := NewMux()
	m.SetLogger(slog.New(slog.DiscardHandler))
	m.Handle("app", func(context.Context, jsontext.Value) (any, error) {
		return nil, &Error{Code: 486, Message: "room is full", Data: map[string]string{"reason": "room_full"}}
	})
	m.Handle("wrapped", func(context.Context, jsontext.Value) (any, error) {
		return nil, errors.Join(errors.New("ctx"), &FieldError{Field: "candidate.sdpMid", Reason: "must be a string"})
	})
	m.Handle("leaky", func(context.Context, jsontext.Value) (any, error) {
		return nil, errors.New("dial tcp 10.0.0.7:6379: connection refused")
	})
	m.Handle("panics", func(context.Context, jsontext.Value) (any, error) { panic("boom") })
	m.Handle("unencodable", func(context.Context, jsontext.Value) (any, error) { return make(chan int), nil })
	tests := []struct{ method, want string }{
		{"app", `{"jsonrpc":"2.0","id":1,"error":{"code":486,"message":"room is full","data":{"reason":"room_full"}}}`},
		{"wrapped", `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"invalid params: candidate.sdpMid: must be a string","data":{"reason":"must be a string","field":"candidate.sdpMid"}}}`},
		{"leaky", `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"internal error"}}`},
		{"panics", `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"internal error"}}`},
		{"unencodable", `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"internal error"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			got := string(m.Dispatch(context.Background(), []byte(`{"jsonrpc":"2.0","method":"`+tt.method+`","id":1}`)))
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestBatchLimit: a batch over the limit is refused whole before any of
// its requests runs (issue 16: 65 room.create were refused, yet 64 rooms
// existed afterwards).
func TestBatchLimit(t *testing.T) {
	ran := 0
	m := NewMux()
	m.Handle("count", func(context.Context, jsontext.Value) (any, error) { ran++; return ran, nil })
	batch := func(n int) []byte {
		reqs := make([]string, n)
		for i := range reqs {
			reqs[i] = fmt.Sprintf(`{"jsonrpc":"2.0","method":"count","id":%d}`, i)
		}
		return []byte("[" + strings.Join(reqs, ",") + "]")
	}
	for _, tc := range []struct {
		name      string
		n, limit  int
		wantRan   int
		wantError string
	}{
		{"at the limit", MaxBatch, MaxBatch, MaxBatch, ""},
		{"one over", MaxBatch + 1, MaxBatch, 0, "at most 64 requests"},
		{"far over", 1000, MaxBatch, 0, "at most 64 requests"},
		{"empty", 0, MaxBatch, 0, "empty batch"},
		{"a connection's lower limit", 5, 4, 0, "at most 4 requests until the connection authenticates"},
		{"within a lower limit", 4, 4, 4, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran = 0
			reply := m.dispatch(context.Background(), nil, batch(tc.n), tc.limit, false)
			if ran != tc.wantRan {
				t.Errorf("%d requests ran, want %d", ran, tc.wantRan)
			}
			if tc.wantError == "" {
				var replies []jsontext.Value
				if err := json.Unmarshal(reply, &replies); err != nil || len(replies) != tc.n {
					t.Fatalf("%d replies (%v), want %d", len(replies), err, tc.n)
				}
				return
			}
			if !strings.HasPrefix(string(reply), `{"jsonrpc":"2.0","id":null,"error":{"code":-32600`) || !strings.Contains(string(reply), tc.wantError) {
				t.Fatalf("reply %s, want one -32600 error saying %q", reply, tc.wantError)
			}
		})
	}
}

// TestMiddlewareSeesEveryRequest: a request counts with the middleware
// (a rate limit, say) whatever its method, and so does every invalid frame
// (issue 16: unknown methods bypassed the rate limiter); each batch element
// counts on its own.
func TestMiddlewareSeesEveryRequest(t *testing.T) {
	var seen []string
	refuseAll := false
	m := NewMux()
	m.Use(func(method string, next MethodFunc) MethodFunc {
		return func(ctx context.Context, p jsontext.Value) (any, error) {
			seen = append(seen, method)
			if refuseAll {
				return nil, &Error{Code: 429, Message: "slow down"}
			}
			return next(ctx, p)
		}
	})
	m.Handle("known", func(context.Context, jsontext.Value) (any, error) { return true, nil })
	for _, tc := range []struct {
		frame string
		seen  []string
		code  string
	}{
		{`{"jsonrpc":"2.0","method":"known","id":1}`, []string{"known"}, ""},
		{`{"jsonrpc":"2.0","method":"nope","id":1}`, []string{UnknownMethod}, "-32601"},
		{`{"jsonrpc":"2.0","method":"nope"}`, []string{UnknownMethod}, ""},
		{`{"jsonrpc":"2.0","method":"known","id":1,"extra":1}`, []string{InvalidRequest}, "-32600"},
		{`{"jsonrpc":"2.0",`, []string{InvalidRequest}, "-32700"},
		{`42`, []string{InvalidRequest}, "-32600"},
		{`[]`, []string{InvalidRequest}, "-32600"},
		{`[{"jsonrpc":"2.0","method":"known","id":1},{"jsonrpc":"2.0","method":"nope","id":2},3]`, []string{"known", UnknownMethod, InvalidRequest}, "-32601"},
	} {
		for _, refuse := range []bool{false, true} {
			seen, refuseAll = nil, refuse
			reply := string(m.Dispatch(context.Background(), []byte(tc.frame)))
			if !reflect.DeepEqual(seen, tc.seen) {
				t.Errorf("%s: middleware saw %v, want %v", tc.frame, seen, tc.seen)
			}
			want := tc.code
			if refuse && want != "" {
				want = "429"
			}
			if want != "" && !strings.Contains(reply, `"code":`+want) {
				t.Errorf("%s (refusing: %v): reply %s, want code %s", tc.frame, refuse, reply, want)
			}
		}
	}
}

// TestUnknownMethodNameClipped: the name an unknown method error quotes is
// bounded, so the answer to a 60 KB name is short.
func TestUnknownMethodNameClipped(t *testing.T) {
	name := strings.Repeat("é", 30_000)
	reply := NewMux().Dispatch(context.Background(), []byte(`{"jsonrpc":"2.0","id":1,"method":"`+name+`"}`))
	if len(reply) > 300 || !strings.Contains(string(reply), "method not found") || !jsontext.Value(reply).IsValid() {
		t.Fatalf("%d-byte reply %.300s", len(reply), reply)
	}
}

func TestMiddlewareOrder(t *testing.T) {
	var order []string
	mw := func(name string) Middleware {
		return func(method string, next MethodFunc) MethodFunc {
			return func(ctx context.Context, p jsontext.Value) (any, error) {
				order = append(order, name+":"+method)
				return next(ctx, p)
			}
		}
	}
	m := NewMux()
	m.Use(mw("outer"))
	m.Use(mw("inner"))
	m.Handle("x", func(context.Context, jsontext.Value) (any, error) { return true, nil })
	m.Dispatch(context.Background(), []byte(`{"jsonrpc":"2.0","method":"x","id":1}`))
	if want := []string{"outer:x", "inner:x"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Use after Handle did not panic")
		}
	}()
	m.Use(mw("late"))
}

func FuzzDispatch(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":1}`,
		`[{"jsonrpc":"2.0","method":"get_data","id":"9"},{"jsonrpc":"2.0","method":"update"}]`,
		`{"jsonrpc":"2.0","method":"subtract","params":{"minuend":1,"subtrahend":2},"id":null}`,
		`[]`, `[1,2]`, `{"a":1,"a":2}`, `"\ud800"`,
	} {
		f.Add([]byte(s))
	}
	m := specMux()
	f.Fuzz(func(t *testing.T, frame []byte) {
		reply := m.Dispatch(context.Background(), frame)
		if reply != nil && !jsontext.Value(reply).IsValid() {
			t.Fatalf("invalid reply %q to %q", reply, frame)
		}
	})
}

// BenchmarkDispatch is the dispatch of a relayed candidate and of a
// 4 KB offer, the two frames signaling sends most, to a handler that
// decodes their params.
func BenchmarkDispatch(b *testing.B) {
	m := NewMux()
	handler := func(_ context.Context, p jsontext.Value) (any, error) {
		var v struct {
			RoomID    string         `json:"roomId"`
			To        string         `json:"to"`
			Candidate jsontext.Value `json:"candidate"`
			SDP       string         `json:"sdp"`
		}
		return struct{}{}, json.Unmarshal(p, &v)
	}
	m.Handle("ice.candidate", handler)
	m.Handle("sdp.offer", handler)
	line := `a=fingerprint:sha-256 75:74:5A:A6:A4:E5:52:F4:A7:67:4C:01:C7:EE:91:3F:21:3D:A2:E3:53:7B:6F:30:86:F2:30:AA:65:FB:04:24\r\n`
	for _, frame := range []struct{ name, frame string }{
		{"ice", `{"jsonrpc":"2.0","method":"ice.candidate","id":42,"params":{"roomId":"demo","to":"p1b2c3d4",` +
			`"candidate":{"candidate":"candidate:842163049 1 udp 1677729535 192.0.2.7 53621 typ srflx raddr 10.0.0.2 rport 53621 generation 0 ufrag Vx2d network-cost 999","sdpMid":"0","sdpMLineIndex":0}}}`},
		{"sdp", `{"jsonrpc":"2.0","method":"sdp.offer","id":42,"params":{"roomId":"demo","to":"p1b2c3d4","sdp":"` + strings.Repeat(line, 35) + `"}}`},
	} {
		b.Run(frame.name, func(b *testing.B) {
			in := []byte(frame.frame)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				m.Dispatch(context.Background(), in)
			}
		})
	}
}

// TestVerbatimResult: a Verbatim result is sent as it is, in a frame like
// any other.
func TestVerbatimResult(t *testing.T) {
	m := NewMux()
	m.Handle("doc", func(context.Context, jsontext.Value) (any, error) { return Verbatim(`{"a": [1, 2]}`), nil })
	got := string(m.Dispatch(context.Background(), []byte(`[{"jsonrpc":"2.0","method":"doc","id":"x"}]`)))
	if want := `[{"jsonrpc":"2.0","id":"x","result":{"a": [1, 2]}}]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
