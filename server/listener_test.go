package server

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/testkit"
)

// TestHTTPTimeouts: a connection that holds a request open, leaves its
// answers unread or idles is closed by the server (issue 16: 3,000 slow
// POSTs, 1,000 unread downloads and 500 idle keep-alives were held for
// more than a minute).
func TestHTTPTimeouts(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ts := startServer(t, func(c *Config) {
		c.Limits.HTTPReadTimeout, c.Limits.HTTPWriteTimeout, c.Limits.HTTPIdleTimeout = timeout, timeout, timeout
	})
	for _, tc := range []struct {
		name, send string
		read       bool // the client reads what comes
	}{
		{"body never finished", "POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 65536\r\n\r\n{", false},
		{"headers never finished", "GET /healthz HTTP/1.1\r\nHost: x\r\n", false},
		{"answers never read", strings.Repeat("GET /openrpc.json HTTP/1.1\r\nHost: x\r\n\r\n", 500), false},
		{"idle keep-alive", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", strings.TrimPrefix(ts.base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.(*net.TCPConn).SetReadBuffer(4096)
			if _, err := c.Write([]byte(tc.send)); err != nil {
				t.Fatal(err)
			}
			if !tc.read {
				time.Sleep(timeout + 500*time.Millisecond) // nothing read meanwhile
			}
			// Whatever was answered, the server closes the connection.
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			// (A reset, when it closed with our bytes unread, is a close too.)
			if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("the connection was not closed: %v", err)
			}
		})
	}
}

// TestFileBudget: connections are admitted while the open descriptors stay
// under the budget, refused (logged once) near it, and admitted again as
// they close.
func TestFileBudget(t *testing.T) {
	if openFiles() == 0 {
		t.Skip("no /proc/self/fd to count descriptors in")
	}
	logs := &testkit.SyncBuffer{}
	b := &fileBudget{log: slog.New(slog.NewTextHandler(logs, nil)), limit: openFiles() + 4}
	admitted := 0
	for range 10 {
		if b.admit() {
			admitted++
		}
	}
	if admitted == 0 || admitted > 4 {
		t.Fatalf("%d of 10 admitted with room for about 3", admitted)
	}
	if n := strings.Count(logs.String(), "open-file limit"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, logs)
	}
	for range admitted {
		b.closed()
	}
	if !b.admit() {
		t.Fatal("not admitted again after the connections closed")
	}
	// openFiles counts real descriptors.
	before := openFiles()
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if after := openFiles(); after != before+1 {
		t.Fatalf("open files %d, then %d after opening one", before, after)
	}
}
