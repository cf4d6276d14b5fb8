package rpc

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHTTPHandler(t *testing.T) {
	prepare := func(r *http.Request) (context.Context, error) {
		if r.Header.Get("Authorization") == "" {
			return nil, &Error{Code: 401, Message: "API key needed"}
		}
		return r.Context(), nil
	}
	srv := httptest.NewServer(HTTPHandler(specMux(), 256, prepare))
	defer srv.Close()
	tests := []struct {
		name, method, ctype, body string
		noAuth                    bool
		status                    int
		bodyHas                   string
	}{
		{"call", "POST", "application/json", `{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":1}`, false, 200, `"result":3`},
		{"batch", "POST", "application/json; charset=utf-8", `[{"jsonrpc":"2.0","method":"sum","params":[1],"id":1},{"jsonrpc":"2.0","method":"get_data","id":2}]`, false, 200, `"id":2`},
		{"notification only", "POST", "application/json", `{"jsonrpc":"2.0","method":"update"}`, false, 204, ``},
		{"parse error", "POST", "application/json", `{`, false, 200, `-32700`},
		{"wrong method", "PUT", "application/json", `{}`, false, 405, `use POST`},
		{"wrong type", "POST", "text/plain", `{}`, false, 415, `application/json`},
		{"too large", "POST", "application/json", `[` + strings.Repeat(`1,`, 200) + `1]`, false, 413, `larger than 256 bytes`},
		{"unauthenticated", "POST", "application/json", `{"jsonrpc":"2.0","method":"sum","params":[1],"id":1}`, true, 401, `API key needed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ctype)
			if !tt.noAuth {
				req.Header.Set("Authorization", "Basic x")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.bodyHas) {
				t.Fatalf("got %d %s, want %d containing %q", resp.StatusCode, body, tt.status, tt.bodyHas)
			}
		})
	}
}
