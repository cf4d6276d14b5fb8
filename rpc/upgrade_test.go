package rpc

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestUpgradeRefusesAsGorilla holds Upgrader to the refusals of
// gorilla/websocket's Upgrader as Parley configured it before (the same
// origin check and Error hook): for each handshake, the same status, body
// and error. A request that passes every check reaches the hijack, which
// a ResponseRecorder refuses (500) in both.
func TestUpgradeRefusesAsGorilla(t *testing.T) {
	originOK := func(r *http.Request) bool { return r.Header.Get("Origin") != "http://evil.example" }
	gorilla := websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin:      originOK,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			http.Error(w, "websocket upgrade refused: "+reason.Error(), status)
		},
	}
	ours := NewUpgrader(originOK, ConnConfig{})
	good := map[string]string{
		"Connection":            "Upgrade",
		"Upgrade":               "websocket",
		"Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key":     "dGhlIHNhbXBsZSBub25jZQ==",
	}
	for _, tc := range []struct {
		name, method string
		set          map[string]string // "" deletes
	}{
		{"complete", "GET", nil},
		{"no Connection", "GET", map[string]string{"Connection": ""}},
		{"Connection keep-alive", "GET", map[string]string{"Connection": "keep-alive"}},
		{"Connection list", "GET", map[string]string{"Connection": "keep-alive, Upgrade"}},
		{"Connection list, tabs and case", "GET", map[string]string{"Connection": "\tkeep-alive ,\tuPgRaDe "}},
		{"Connection token with parameter", "GET", map[string]string{"Connection": "upgrade;q=1"}},
		{"Connection quoted", "GET", map[string]string{"Connection": `"upgrade"`}},
		{"Connection empty element", "GET", map[string]string{"Connection": ", upgrade"}},
		{"Connection non-ASCII", "GET", map[string]string{"Connection": "upgrad\u00e9, upgrade"}},
		{"no Upgrade", "GET", map[string]string{"Upgrade": ""}},
		{"Upgrade other", "GET", map[string]string{"Upgrade": "h2c"}},
		{"Upgrade list", "GET", map[string]string{"Upgrade": "h2c, WebSocket"}},
		{"Upgrade prefix", "GET", map[string]string{"Upgrade": "websockets"}},
		{"HEAD", "HEAD", nil},
		{"POST", "POST", nil},
		{"POST without Upgrade", "POST", map[string]string{"Upgrade": ""}},
		{"no version", "GET", map[string]string{"Sec-WebSocket-Version": ""}},
		{"version 8", "GET", map[string]string{"Sec-WebSocket-Version": "8"}},
		{"versions 8, 13", "GET", map[string]string{"Sec-WebSocket-Version": "8, 13"}},
		{"version 013", "GET", map[string]string{"Sec-WebSocket-Version": "013"}},
		{"origin refused", "GET", map[string]string{"Origin": "http://evil.example"}},
		{"origin refused and no key", "GET", map[string]string{"Origin": "http://evil.example", "Sec-WebSocket-Key": ""}},
		{"no key", "GET", map[string]string{"Sec-WebSocket-Key": ""}},
		{"key of 15 bytes", "GET", map[string]string{"Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAA"}},
		{"key of 17 bytes", "GET", map[string]string{"Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAAAAA="}},
		{"key unpadded", "GET", map[string]string{"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ"}},
		{"key not base64", "GET", map[string]string{"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ!="}},
		{"key long", "GET", map[string]string{"Sec-WebSocket-Key": strings.Repeat("A", 400)}},
		{"key with space", "GET", map[string]string{"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ== "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := func() *http.Request {
				r := httptest.NewRequest(tc.method, "http://example.com/rpc", nil)
				for k, v := range good {
					r.Header.Set(k, v)
				}
				for k, v := range tc.set {
					if v == "" {
						r.Header.Del(k)
					} else {
						r.Header.Set(k, v)
					}
				}
				return r
			}
			want, got := httptest.NewRecorder(), httptest.NewRecorder()
			_, wantErr := gorilla.Upgrade(want, req(), nil)
			_, gotErr := ours.Upgrade(got, req())
			if wantErr == nil || gotErr == nil || gotErr.Error() != wantErr.Error() {
				t.Errorf("error %v, want %v", gotErr, wantErr)
			}
			if got.Code != want.Code || got.Body.String() != want.Body.String() {
				t.Errorf("answer %d %q, want %d %q", got.Code, got.Body, want.Code, want.Body)
			}
		})
	}
}

// TestUpgradeAnswer checks the 101 over a real socket against RFC 6455
// §1.3's example, and that a client that sends bytes before the answer is
// closed without one, as gorilla did.
func TestUpgradeAnswer(t *testing.T) {
	url, _, _ := wsServer(t, NewMux(), ConnConfig{})
	host := strings.TrimPrefix(url, "ws://")
	handshake := "GET /rpc HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	for _, tc := range []struct {
		name, after string
		want        string
	}{
		{"handshake", "", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"},
		{"a frame before the answer", "\x81\x80\x00\x00\x00\x00", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(nc, handshake+tc.after); err != nil {
				t.Fatal(err)
			}
			var got []byte
			if tc.want == "" {
				got, err = io.ReadAll(nc) // until the server closes
			} else {
				got = make([]byte, len(tc.want))
				_, err = io.ReadFull(bufio.NewReader(nc), got)
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("read %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

// BenchmarkUpgrade is one handshake over loopback, the client's part
// included; the server closes each connection once it has started it.
func BenchmarkUpgrade(b *testing.B) {
	cfg := ConnConfig{Logger: slog.New(slog.DiscardHandler)}
	up, mux := NewUpgrader(func(*http.Request) bool { return true }, cfg), NewMux()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := up.Upgrade(w, r); err == nil {
			c.Start(context.Background(), mux)
			c.Close(CloseNormal, "")
		}
	}))
	b.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	req := "GET /rpc HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	buf := make([]byte, 512)
	b.ReportAllocs()
	for b.Loop() {
		nc, err := net.Dial("tcp", host)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.WriteString(nc, req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadAtLeast(nc, buf, 129); err != nil { // the 101
			b.Fatal(err)
		}
		nc.Close()
	}
}
