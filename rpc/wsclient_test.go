package rpc

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A raw WebSocket client for the framing tests: it sends whatever bytes a
// test gives it, frames that break RFC 6455 among them, in pieces and at
// the pace the test asks for, and reads the server's frames as they are.

// clientFrame is one frame a client sends; unless unmasked, masked with
// testMask (RFC 6455 §5.3).
type clientFrame struct {
	fin      bool
	rsv      byte // the three reserved bits, 0-7
	op       byte
	payload  []byte
	unmasked bool
	length   uint64 // with lengthSet: the length the header claims
	lengthOK bool   // length overrides len(payload)
}

var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// bytes encodes the frame.
func (f clientFrame) bytes() []byte {
	b0 := f.op | f.rsv<<4
	if f.fin {
		b0 |= 0x80
	}
	n := uint64(len(f.payload))
	if f.lengthOK {
		n = f.length
	}
	var b1 byte
	if !f.unmasked {
		b1 = 0x80
	}
	out := []byte{b0}
	switch {
	case n <= 125:
		out = append(out, b1|byte(n))
	case n <= 0xFFFF:
		out = binary.BigEndian.AppendUint16(append(out, b1|126), uint16(n))
	default:
		out = binary.BigEndian.AppendUint64(append(out, b1|127), n)
	}
	if f.unmasked {
		return append(out, f.payload...)
	}
	out = append(out, testMask[:]...)
	for i, c := range f.payload {
		out = append(out, c^testMask[i%4])
	}
	return out
}

// Frame constructors: final unless named a fragment.
func textFrame(s string) clientFrame { return clientFrame{fin: true, op: opText, payload: []byte(s)} }
func fragment(op byte, fin bool, s string) clientFrame {
	return clientFrame{fin: fin, op: op, payload: []byte(s)}
}
func control(op byte, payload string) clientFrame {
	return clientFrame{fin: true, op: op, payload: []byte(payload)}
}
func closeFrame(code int, reason string) clientFrame {
	return control(opClose, string(closePayload(code, reason)))
}

// frames encodes frames back to back.
func frames(fs ...clientFrame) []byte {
	var out []byte
	for _, f := range fs {
		out = append(out, f.bytes()...)
	}
	return out
}

// wsClient is a client connection past its handshake.
type wsClient struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

// dialRaw opens a WebSocket to url (ws://host/path, or wss:// with a
// server certificate roots trust) with a handshake of its own.
func dialRaw(t testing.TB, url string, roots *x509.CertPool) *wsClient {
	t.Helper()
	scheme, rest, _ := strings.Cut(url, "://")
	host, path, _ := strings.Cut(rest, "/")
	var nc net.Conn
	var err error
	if scheme == "wss" {
		nc, err = tls.Dial("tcp", host, &tls.Config{RootCAs: roots})
	} else {
		nc, err = net.Dial("tcp", host)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(nc, "GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, host)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 6455 §1.3's own example key and answer.
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("handshake: %s %v", resp.Status, resp.Header)
	}
	_ = nc.SetDeadline(time.Time{})
	return &wsClient{t: t, nc: nc, br: br}
}

// write sends b in pieces of chop bytes (all at once if chop is 0),
// pausing before each piece; it stops quietly if the server has closed.
func (c *wsClient) write(b []byte, chop int, pause time.Duration) {
	if chop <= 0 {
		chop = len(b)
	}
	for len(b) > 0 {
		time.Sleep(pause)
		n := min(chop, len(b))
		if _, err := c.nc.Write(b[:n]); err != nil {
			return
		}
		b = b[n:]
	}
}

// serverFrame is a frame the server sent.
type serverFrame struct {
	op      byte
	payload []byte
}

func (f serverFrame) String() string {
	if f.op == opClose && len(f.payload) >= 2 {
		return fmt.Sprintf("close %d %q", binary.BigEndian.Uint16(f.payload), f.payload[2:])
	}
	return fmt.Sprintf("op %d %.80q", f.op, f.payload)
}

// readFrame reads the server's next frame, which must be final, unmasked
// and without reserved bits (the server negotiates no extension and never
// fragments); io.EOF when the server closed the TCP connection.
func (c *wsClient) readFrame(timeout time.Duration) (serverFrame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	return c.readServerFrame()
}

// readServerFrame is readFrame without a deadline.
func (c *wsClient) readServerFrame() (serverFrame, error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return serverFrame{}, err
	}
	if h[0]&0xF0 != 0x80 || h[1]&0x80 != 0 {
		return serverFrame{}, fmt.Errorf("server frame header % x: not final, reserved bits or masked", h)
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126, 127:
		ext := make([]byte, 2+6*(n-126))
		if _, err := io.ReadFull(c.br, ext); err != nil {
			return serverFrame{}, err
		}
		if n == 126 {
			n = uint64(binary.BigEndian.Uint16(ext))
		} else {
			n = binary.BigEndian.Uint64(ext)
		}
	}
	if n > 1<<24 {
		return serverFrame{}, fmt.Errorf("server frame of %d bytes", n)
	}
	f := serverFrame{op: h[0] & 0x0F, payload: make([]byte, n)}
	if _, err := io.ReadFull(c.br, f.payload); err != nil {
		return serverFrame{}, err
	}
	return f, nil
}

// bufioReader reads what a server sent, all of it in b.
func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// connectionReset reports the end of a connection the server closed with
// bytes of ours unread (it need not wait for our close reply).
func connectionReset(err error) bool {
	var ne *net.OpError
	return errors.Is(err, io.EOF) || errors.As(err, &ne) && strings.Contains(ne.Err.Error(), "reset")
}
