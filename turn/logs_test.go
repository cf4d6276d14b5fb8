package turn

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/testkit"
)

// TestTLSClientGoneNotLogged: a TURN-over-TLS client that goes away
// (here with a TCP reset, so the server's close_notify cannot be sent) is
// not worth an info line: pion's "Failed to close conn: … closeNotify" goes
// to debug, and nothing reaches info.
func TestTLSClientGoneNotLogged(t *testing.T) {
	cert := testkit.SelfSigned(t)
	logs := &testkit.SyncBuffer{}
	s := startTURN(t, func(c *Config) {
		c.TLSListen = "127.0.0.1:0"
		c.TLS = cert.TLS
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	for range 3 {
		c, err := tls.Dial("tcp", s.Addrs().TLS.String(), &tls.Config{RootCAs: cert.Pool, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatal(err)
		}
		tcp := c.NetConn().(*net.TCPConn)
		_ = tcp.SetLinger(0) // close with RST
		_ = tcp.Close()
	}
	deadline := time.Now().Add(timeout)
	for !strings.Contains(logs.String(), "Failed to close conn") {
		if time.Now().After(deadline) {
			t.Fatalf("pion logged no close failure; logs:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for line := range strings.Lines(logs.String()) {
		if !strings.Contains(line, "level=DEBUG") && bytes.Contains([]byte(line), []byte("pion=")) {
			t.Errorf("logged above debug: %s", line)
		}
	}
}
