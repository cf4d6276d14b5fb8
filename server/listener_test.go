package server

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
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
			local := netip.MustParseAddr("127.0.0.1")
			testkit.Eventually(t, "the server to accept the connection", func() bool { return ts.srv.openFrom(local) == 1 })
			_ = c.(*net.TCPConn).SetReadBuffer(4096)
			if _, err := c.Write([]byte(tc.send)); err != nil {
				t.Fatal(err)
			}
			if tc.read {
				// Read the answer; then the connection idles.
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
					t.Fatalf("read the answer: %v", err)
				}
			}
			// Nothing more is read: the server must close the connection
			// itself (reading here would keep the unread answers flowing).
			testkit.Eventually(t, "the server to close the connection", func() bool {
				return ts.srv.openFrom(local) == 0
			})
		})
	}
}

// openFrom is how many TCP connections from ip the listener holds.
func (s *Server) openFrom(ip netip.Addr) int {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	return s.perIP[ip]
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

// TestAdmittedConnReleasesOnce: an admitted connection gives back its
// address's slot when it closes, once however often it is closed.
func TestAdmittedConnReleasesOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("127.0.0.1")
	s := &Server{perIP: map[netip.Addr]int{ip: 2}}
	c := &admittedConn{Conn: server, l: &guardedListener{s: s, files: &fileBudget{}}}
	for range 3 {
		_ = c.Close()
	}
	if got := s.perIP[ip]; got != 1 {
		t.Fatalf("%d connections counted for the address after one closed, want 1", got)
	}
}
