package abuse

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/testkit"
)

// httpTimeouts are the server's HTTP timeouts in a test: short in CI, so
// that waiting for them is affordable, and the defaults at full size.
func httpTimeouts() (args []string, read, write, idle time.Duration) {
	if full {
		return nil, 10 * time.Second, 15 * time.Second, 30 * time.Second
	}
	return []string{"--http-read-timeout", "1s", "--http-write-timeout", "1s", "--http-idle-timeout", "1s"},
		time.Second, time.Second, time.Second
}

// holdHTTP opens n connections from the address from and writes prefix on
// each (an incomplete request, say), and never reads. The server closes
// those over its caps at once.
func (tg *target) holdHTTP(t *testing.T, from string, n int, prefix string) []*net.TCPConn {
	t.Helper()
	conns := make([]*net.TCPConn, 0, n)
	for i := range n {
		c, err := tg.dialTCP(t, from, 4096)
		if err != nil {
			t.Fatalf("connection %d from %s: %v", i, from, err)
		}
		_, _ = c.Write([]byte(prefix)) // fails on a refused connection
		conns = append(conns, c)
	}
	return conns
}

// heldFiles is how many more files the target has open than before the
// attack: the attack's connections it holds.
func (s *siege) heldFiles(t *testing.T) int {
	return s.tg.usage(t).openFDs - s.before.openFDs
}

// slowPOST declares a 64 KiB body and sends 10 bytes of it.
const slowPOST = "POST /rpc HTTP/1.1\r\nHost: parley\r\nContent-Type: application/json\r\nContent-Length: 65536\r\n\r\n{\"jsonrpc\""

// pipelinedGETs asks for the schema 200 times on one connection.
var pipelinedGETs = strings.Repeat("GET /openrpc.json HTTP/1.1\r\nHost: parley\r\n\r\n", 200)

// TestHTTPHeldConnections repeats issue 16's second attack on the HTTP
// surface, from one address: POST /rpc bodies that never finish (3,000 still
// open at 74 s), schema downloads pipelined and never read (1,000 held for
// more than 80 s) and idle keep-alive connections (500 held for more than
// 40 s). Each connection now counts against the per-address cap (100), and
// the read, write and idle timeouts end the ones admitted.
func TestHTTPHeldConnections(t *testing.T) {
	args, read, write, idle := httpTimeouts()
	for _, attack := range []struct {
		name    string
		n       int
		prefix  string
		timeout time.Duration
	}{
		{"slow POST body", size(150, 3000), slowPOST, read},
		{"pipelined GETs never read", size(150, 1000), pipelinedGETs, write},
		{"idle keep-alive", size(150, 500), "GET /healthz HTTP/1.1\r\nHost: parley\r\n\r\n", idle},
	} {
		t.Run(strings.ReplaceAll(attack.name, " ", "_"), func(t *testing.T) {
			tg := start(t, 8192, append([]string{"--no-turn", "--log-level", "warn"}, args...)...)
			s := tg.siege(t)
			tg.holdHTTP(t, source(0), attack.n, attack.prefix)
			// Once every connection is accepted, those over the cap are
			// closed and counted; then what remains open is what it holds.
			refused := float64(attack.n - 100)
			testkit.EventuallyWithin(t, 10*time.Second, "the server to refuse the connections over its cap", func() bool {
				return tg.metrics(t)[`parley_http_connections_refused_total{reason="per_ip"}`] >= refused
			})
			held := s.heldFiles(t)
			t.Logf("%s: %d connections opened, %d held by the server", attack.name, attack.n, held)
			if held > 100 {
				t.Errorf("the server holds %d connections from one address, over its cap of 100", held)
			}
			if status, err := tg.get("127.0.0.1", "/healthz"); err != nil || status != 200 {
				t.Errorf("GET /healthz from another address during the attack: %d %v", status, err)
			}
			s.bounded(t, s.during(t), 32, 20+2*held)
			begin := time.Now()
			testkit.EventuallyWithin(t, attack.timeout+10*time.Second, "the server to close the held connections", func() bool {
				return s.heldFiles(t) <= 2
			})
			t.Logf("%s: all closed %v after the attack (timeout %v)", attack.name, time.Since(begin).Round(10*time.Millisecond), attack.timeout)
			s.after(t)
		})
	}
}

// TestHTTPDescriptorLimit: slow POSTs from many addresses take more
// descriptors than the process may open (issue 16: 1,100 under a limit of
// 1,024 made WebSocket handshakes and /healthz time out, with accept4
// failing). Near its limit the server refuses new connections at once,
// logs it once and counts them; the admitted POSTs end at the read
// timeout, and then new connections are served again.
func TestHTTPDescriptorLimit(t *testing.T) {
	args, read, _, _ := httpTimeouts()
	nofile := size(256, 1024)
	addrs := nofile/100 + 1 // 100 from each: the per-address cap
	tg := start(t, nofile, append([]string{"--no-turn", "--metrics-listen", "127.0.0.1:0"}, args...)...)
	s := tg.siege(t)
	for a := range addrs {
		tg.holdHTTP(t, source(a), 100, slowPOST)
	}
	time.Sleep(200 * time.Millisecond)
	u := s.during(t)
	t.Logf("%d slow POSTs from %d addresses under a limit of %d open files: %d files open", addrs*100, addrs, nofile, u.openFDs)
	if u.openFDs >= nofile {
		t.Errorf("%d files open, at the limit of %d", u.openFDs, nofile)
	}
	refused := tg.metrics(t)[`parley_http_connections_refused_total{reason="open_files"}`]
	t.Logf("refused near the open-file limit: %.0f", refused)
	if refused == 0 {
		t.Error("no connection was refused near the open-file limit")
	}
	testkit.EventuallyWithin(t, read+10*time.Second, "the slow POSTs to be closed", func() bool { return s.heldFiles(t) <= 2 })
	testkit.EventuallyWithin(t, 5*time.Second, "GET /healthz to be served again", func() bool {
		status, err := tg.get("127.0.0.1", "/healthz")
		return err == nil && status == 200
	})
	if _, err := tg.dialWS("127.0.0.1", 0); err != nil {
		t.Errorf("WebSocket handshake after the attack: %v", err)
	}
	log := tg.log.String()
	if n := strings.Count(log, "open-file limit"); n != 1 {
		t.Errorf("the server logged the open-file limit %d times, want once", n)
	}
	if strings.Contains(log, "Accept error") {
		t.Errorf("accept failed: %s", grepLines(log, "Accept error", 3))
	}
	s.after(t)
}

// grepLines returns up to n lines of text that contain sub.
func grepLines(text, sub string, n int) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) && len(out) < n {
			out = append(out, l)
		}
	}
	return fmt.Sprint(out)
}
