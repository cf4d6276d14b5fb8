package demux

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"github.com/parley-rtc/parley/internal/testkit"
)

// port is a demultiplexed listener on 127.0.0.1:0 with an HTTP server
// behind it that answers "https" or "http" (whether the connection it got
// reports TLS state), and the STUN connections it handed over.
type port struct {
	addr string
	ln   net.Listener
	cert testkit.Cert
	stun chan net.Conn
}

type secureKey struct{}

func listen(t *testing.T, withSTUN bool, timeout time.Duration) *port {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &port{addr: ln.Addr().String(), cert: testkit.SelfSigned(t), stun: make(chan net.Conn, 4)}
	p.cert.TLS.NextProtos = []string{ALPNHTTP, ALPNTURN, ALPNACME}
	cfg := Config{TLS: p.cert.TLS, Timeout: timeout}
	if withSTUN {
		cfg.STUN = func(c net.Conn) { p.stun <- c }
	}
	p.ln = Listen(ln, cfg)
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Context().Value(secureKey{}) == true {
				_, _ = io.WriteString(w, "https")
				return
			}
			_, _ = io.WriteString(w, "http")
		}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			_, secure := c.(interface{ ConnectionState() tls.ConnectionState })
			return context.WithValue(ctx, secureKey{}, secure)
		},
	}
	go func() { _ = hs.Serve(p.ln) }()
	t.Cleanup(func() {
		_ = hs.Close()
		for len(p.stun) > 0 {
			_ = (<-p.stun).Close()
		}
	})
	return p
}

func (p *port) client() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.cert.Pool}}, Timeout: 10 * time.Second}
}

func (p *port) dialTLS(t *testing.T, protos ...string) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", p.addr, &tls.Config{RootCAs: p.cert.Pool, NextProtos: protos})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (p *port) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// handedOver is the next STUN connection the port handed over.
func (p *port) handedOver(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-p.stun:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no STUN connection handed over")
		return nil
	}
}

func bindingRequest(t *testing.T) []byte {
	t.Helper()
	m, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	return m.Raw
}

// receives checks that c, handed over, reads msg first, as it was sent.
func receives(t *testing.T, c net.Conn, msg []byte) {
	t.Helper()
	got := make([]byte, len(msg))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("read %x, %v; want %x", got, err, msg)
	}
}

// closedWithin checks that the server closes c within d, after it was
// answered with want (if any).
func closedWithin(t *testing.T, c net.Conn, d time.Duration, want string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	got, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("still open after %s (read %q)", d, got)
	}
	if !strings.Contains(string(got), want) {
		t.Fatalf("answered %q, want %q", got, want)
	}
}

func TestHTTPSGoesToHTTP(t *testing.T) {
	p := listen(t, true, time.Second)
	res, err := p.client().Get("https://" + p.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "https" {
		t.Fatalf("body %q, want https (a TLS connection that reports its state)", body)
	}
}

func TestPlainSTUNGoesToTURN(t *testing.T) {
	p := listen(t, true, time.Second)
	c := p.dial(t)
	msg := bindingRequest(t)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := p.handedOver(t)
	receives(t, got, msg)
	if _, secure := got.(interface{ ConnectionState() tls.ConnectionState }); secure {
		t.Fatal("a plain TCP connection claims TLS")
	}
}

func TestSTUNOverTLSGoesToTURN(t *testing.T) {
	p := listen(t, true, time.Second)
	c := p.dialTLS(t) // no ALPN, as browsers' TURN clients
	msg := bindingRequest(t)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := p.handedOver(t)
	receives(t, got, msg)
	if _, secure := got.(interface{ ConnectionState() tls.ConnectionState }); !secure {
		t.Fatal("a TLS connection handed over without its state")
	}
}

// TestALPNTURN: a client that negotiated stun.turn is TURN before it
// sends a byte.
func TestALPNTURN(t *testing.T) {
	p := listen(t, true, time.Second)
	c := p.dialTLS(t, ALPNTURN)
	if c.ConnectionState().NegotiatedProtocol != ALPNTURN {
		t.Fatalf("negotiated %q", c.ConnectionState().NegotiatedProtocol)
	}
	p.handedOver(t)
}

// TestACMEChallengeIsClosed: an ACME CA reading its tls-alpn-01 challenge
// certificate gets the handshake, then the connection is closed.
func TestACMEChallengeIsClosed(t *testing.T) {
	p := listen(t, true, time.Second)
	c := p.dialTLS(t, ALPNACME)
	if c.ConnectionState().NegotiatedProtocol != ALPNACME {
		t.Fatalf("negotiated %q", c.ConnectionState().NegotiatedProtocol)
	}
	closedWithin(t, c, 5*time.Second, "")
}

func TestPlainHTTPIsTold(t *testing.T) {
	p := listen(t, true, time.Second)
	c := p.dial(t)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	closedWithin(t, c, 5*time.Second, "400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.")
}

// TestSilentClientsAreDropped: a connection that sends nothing, or stops
// in the middle of its handshake, is closed at the deadline, and meanwhile
// everyone else is served.
func TestSilentClientsAreDropped(t *testing.T) {
	p := listen(t, true, 300*time.Millisecond)
	silent := p.dial(t)
	halfHello := p.dial(t)
	if _, err := halfHello.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}); err != nil {
		t.Fatal(err)
	}
	halfSTUN := p.dial(t)
	if _, err := halfSTUN.Write(bindingRequest(t)[:5]); err != nil {
		t.Fatal(err)
	}
	if _, err := p.client().Get("https://" + p.addr + "/"); err != nil {
		t.Fatalf("while three clients say nothing: %v", err)
	}
	for _, c := range []net.Conn{silent, halfHello, halfSTUN} {
		closedWithin(t, c, 5*time.Second, "")
	}
}

func TestGarbageIsDropped(t *testing.T) {
	p := listen(t, true, time.Second)
	c := p.dial(t)
	if _, err := c.Write([]byte{0xff, 0xfe, 0x00, 0x01}); err != nil {
		t.Fatal(err)
	}
	closedWithin(t, c, 5*time.Second, "")
}

// TestSTUNWithoutTURN: with no TURN behind the port, STUN is closed.
func TestSTUNWithoutTURN(t *testing.T) {
	p := listen(t, false, time.Second)
	c := p.dial(t)
	if _, err := c.Write(bindingRequest(t)); err != nil {
		t.Fatal(err)
	}
	closedWithin(t, c, 5*time.Second, "")
}

// TestCloseEndsSorting: closing the listener closes the connections still
// being sorted out, without waiting for their deadline.
func TestCloseEndsSorting(t *testing.T) {
	p := listen(t, true, time.Hour)
	c := p.dial(t)
	l := p.ln.(*listener)
	testkit.Eventually(t, "the connection waiting for its first byte", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.sorting) == 1
	})
	if err := p.ln.Close(); err != nil {
		t.Fatal(err)
	}
	closedWithin(t, c, 5*time.Second, "")
	if _, err := p.ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}
