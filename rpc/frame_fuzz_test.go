package rpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// FuzzFrames drives a Conn with an arbitrary byte stream from a client,
// written in pieces of chunk bytes (at once if 0), over a real socket
// pair, then ends the stream. The server never panics or hangs: it
// answers, or ends the connection as RFC 6455 wants (1002, 1003, 1007,
// 1009; 1000 or 1001 to the client's close). What it sends is held to
// wantOutcome, which reads the stream on its own terms: the same close
// code, the replies to the messages before the end, and pongs for the
// pings (RFC 6455 §5.5.3 lets it answer only the latest of those not yet
// answered).
func FuzzFrames(f *testing.F) {
	zero := func(fs ...clientFrame) []byte { // masked with a zero key: the fuzzer edits payloads as they are
		var out []byte
		for _, fr := range fs {
			b := fr.bytes()
			n := len(b) - len(fr.payload)
			copy(b[n-4:], make([]byte, 4))
			copy(b[n:], fr.payload)
			out = append(out, b...)
		}
		return out
	}
	hello := echoReq(`"hello"`)
	for _, seed := range [][]byte{
		zero(textFrame(hello)),
		zero(textFrame(hello), control(opPing, "p"), closeFrame(1000, "bye")),
		zero(control(opPing, ""), closeFrame(1000, "")),
		zero(fragment(opText, false, hello[:9]), control(opPing, "between"), fragment(opContinuation, true, hello[9:])),
		zero(fragment(opText, false, `"`), fragment(opContinuation, false, "\xce"), fragment(opContinuation, true, "\xba\"")),
		zero(textFrame(echoReq("\"\xed\xa0\x80\""))),
		zero(clientFrame{fin: true, op: opBinary, payload: []byte{1}}, textFrame(hello)),
		zero(clientFrame{fin: true, op: opText, payload: bytes.Repeat([]byte("x"), 300)}),
		zero(fragment(opText, false, string(bytes.Repeat([]byte("x"), 1000))), fragment(opContinuation, true, "yyyyyyyyyyyyyyyyyyyyyyyyyy")),
		zero(closeFrame(1001, "")), zero(closeFrame(1005, "")), zero(control(opClose, "\x03\xe8\xff")),
		zero(clientFrame{fin: true, rsv: 1, op: opText}), zero(clientFrame{fin: true, op: 3}),
		frames(clientFrame{fin: true, op: opText, payload: []byte(hello), unmasked: true}),
		frames(clientFrame{fin: true, op: opText, length: 1 << 63, lengthOK: true}),
		zero(textFrame(`[{"jsonrpc":"2.0","method":"echo","params":[1],"id":1},{"jsonrpc":"2.0","method":"echo","params":[2]}]`)),
	} {
		f.Add(seed, uint8(0))
		f.Add(seed, uint8(1))
	}
	cfg := ConnConfig{ReadLimit: 1024, Logger: slog.New(slog.DiscardHandler)}
	reasons := make(chan CloseReason, 1)
	cfg.OnClose = func(_ *Conn, r CloseReason) { reasons <- r }
	up := NewUpgrader(nil, cfg)
	mux := echoMux()
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		want := wantOutcome(mux, stream, cfg.ReadLimit)
		client, server := socketPair(t)
		c := newConn(server, rawConnOf(server), up)
		c.Start(context.Background(), mux)
		go func() {
			n := int(chunk)
			if n == 0 {
				n = len(stream)
			}
			for b := stream; len(b) > 0; b = b[min(n, len(b)):] {
				if _, err := client.Write(b[:min(n, len(b))]); err != nil {
					break // the server has closed
				}
			}
			_ = client.CloseWrite()
		}()
		_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
		out, err := io.ReadAll(client)
		if err != nil && !connectionReset(err) {
			t.Fatalf("the server neither answered nor closed: %v", err)
		}
		var reason CloseReason
		select {
		case reason = <-reasons:
		case <-time.After(10 * time.Second):
			t.Fatal("the connection did not end")
		}
		want.check(t, out, reason)
	})
}

// socketPair is a connected pair of Unix sockets: the client's end, and
// the server's as the net.Conn a Conn reads directly.
func socketPair(t *testing.T) (*net.UnixConn, net.Conn) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		conns[i], err = net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { conns[0].Close() })
	return conns[0].(*net.UnixConn), conns[1]
}

// outcome is what a client's stream must get: the close code the server
// ends the connection with (0: none, the stream ended first), the replies
// to its messages, the payloads of its pings.
type outcome struct {
	code    int
	replies [][]byte
	pings   [][]byte
}

// wantOutcome reads a client's byte stream by RFC 6455 and the
// connection's rules, independently of frame.go, up to the event that
// ends the connection.
func wantOutcome(mux *Mux, stream []byte, limit int64) outcome {
	var o outcome
	var msg []byte
	var msgOp byte // of the fragmented message under way, or 0
	fail := func(code int) outcome {
		if o.code == 0 { // a server already closing stays with its reason
			o.code = code
		}
		return o
	}
	for {
		if len(stream) < 2 {
			return o
		}
		fin, rsv, op, masked := stream[0]&0x80 != 0, stream[0]&0x70, stream[0]&0x0F, stream[1]&0x80 != 0
		control := op >= 8
		switch {
		case rsv != 0, op > 2 && op < 8, op > 10, control && !fin, !masked:
			return fail(1002)
		}
		n, header := uint64(stream[1]&0x7F), 2
		switch n {
		case 126:
			header = 4
		case 127:
			header = 10
		}
		if len(stream) < header+4 {
			return o
		}
		switch n {
		case 126:
			n = uint64(binary.BigEndian.Uint16(stream[2:]))
		case 127:
			n = binary.BigEndian.Uint64(stream[2:])
		}
		switch {
		case n >= 1<<63, control && n > 125:
			return fail(1002)
		case !control && uint64(len(msg))+n > uint64(limit):
			return fail(1009)
		case uint64(len(stream)-header-4) < n:
			return o
		}
		key := stream[header : header+4]
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = stream[header+4+i] ^ key[i%4]
		}
		stream = stream[header+4+int(n):]
		message := func(op byte, m []byte) bool { // reports the connection's end
			switch {
			case o.code != 0: // closing: not answered
			case op == opBinary:
				o.code = 1003 // the server closes, and reads on until the client's close
			case !utf8.Valid(m):
				fail(1007)
				return true
			default:
				if reply := mux.Dispatch(context.Background(), m); reply != nil {
					o.replies = append(o.replies, reply)
				}
			}
			return false
		}
		switch op {
		case opPing:
			if o.code == 0 {
				o.pings = append(o.pings, payload)
			}
		case opClose:
			switch code := 1005; {
			case len(payload) == 1:
				return fail(1002)
			case len(payload) >= 2 && !validCloseCodeOracle(int(binary.BigEndian.Uint16(payload))):
				return fail(1002)
			case !utf8.Valid(payload[min(2, len(payload)):]):
				return fail(1007)
			default:
				if len(payload) >= 2 {
					code = int(binary.BigEndian.Uint16(payload))
				}
				if code == 1001 {
					return fail(1001)
				}
				return fail(1000)
			}
		case opText, opBinary:
			if msgOp != 0 {
				return fail(1002)
			}
			if !fin {
				msgOp, msg = op, payload
			} else if message(op, payload) {
				return o
			}
		case opContinuation:
			if msgOp == 0 {
				return fail(1002)
			}
			msg = append(msg, payload...)
			if fin {
				op := msgOp
				msgOp = 0
				if message(op, msg) {
					return o
				}
				msg = nil
			}
		}
	}
}

// validCloseCodeOracle: the codes RFC 6455 §7.4 and the IANA registry let
// a client send (1000-1003, 1007-1014 and 3000-4999).
func validCloseCodeOracle(code int) bool {
	return code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999
}

// check holds what the server sent, and why it says it ended, to o.
// Replies are all there when the server closed with a code, and in order
// before it; when the stream ended first, the server drops what it had
// queued (nobody reads it), so they are a prefix of o's. Pongs answer
// pings in order, and when the server closed with a code, the last ping
// before the end.
func (o outcome) check(t *testing.T, out []byte, reason CloseReason) {
	t.Helper()
	ws := &wsClient{t: t, br: bufioReader(out)}
	var replies, pongs [][]byte
	code := 0
	for {
		f, err := ws.readServerFrame()
		if errors.Is(err, io.EOF) || o.code == 0 && errors.Is(err, io.ErrUnexpectedEOF) {
			break // (a frame cut short: the stream ended while it was being written)
		}
		if err != nil {
			t.Fatalf("server output: %v", err)
		}
		if code != 0 {
			t.Fatalf("a frame after the close frame: %v", f)
		}
		switch f.op {
		case opText:
			replies = append(replies, f.payload)
		case opPong:
			pongs = append(pongs, f.payload)
		case opClose:
			if len(f.payload) < 2 || !utf8.Valid(f.payload[2:]) {
				t.Fatalf("a close frame without a code or with a reason that is not UTF-8: %q", f.payload)
			}
			code = int(binary.BigEndian.Uint16(f.payload))
		default:
			t.Fatalf("server frame %v", f)
		}
	}
	if code != o.code {
		t.Fatalf("closed with %d (reason %v), want %d", code, reason, o.code)
	}
	if o.code == 0 && reason != ClosePeerGone || o.code != 0 && reason.Code() != o.code {
		t.Fatalf("reason %v, with close code %d", reason, code)
	}
	if len(replies) > len(o.replies) || o.code != 0 && len(replies) != len(o.replies) {
		t.Fatalf("%d replies, want %d", len(replies), len(o.replies))
	}
	for i, r := range replies {
		if !bytes.Equal(r, o.replies[i]) {
			t.Fatalf("reply %d: %s, want %s", i, r, o.replies[i])
		}
	}
	next := 0
	for _, p := range pongs {
		for next < len(o.pings) && !bytes.Equal(o.pings[next], p) {
			next++
		}
		if next == len(o.pings) {
			t.Fatalf("pong %q answers no ping in order (pings %q, pongs %q)", p, o.pings, pongs)
		}
		next++
	}
	if o.code != 0 && len(o.pings) > 0 && (len(pongs) == 0 || !bytes.Equal(pongs[len(pongs)-1], o.pings[len(o.pings)-1])) {
		t.Fatalf("pongs %q: the last ping %q went unanswered", pongs, o.pings[len(o.pings)-1])
	}
}
