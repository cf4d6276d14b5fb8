package rpc

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Upgrader upgrades GET /rpc to a WebSocket connection: it answers the
// handshake (RFC 6455 §4.2.2) itself, with the checks and refusals of
// gorilla/websocket's Upgrader as Parley configured it (no subprotocols,
// no compression), and hands the socket to a Conn. gorilla's Upgrade
// built a websocket.Conn that was dropped at once, and an accept key, the
// header lookups and three deadline changes cost allocations on every
// connect. The connections of one Upgrader share its configuration,
// outbox and poller.
type Upgrader struct {
	checkOrigin func(*http.Request) bool
	cfg         ConnConfig
	box         outbox
	poll        poller
}

// NewUpgrader returns the WebSocket upgrader for /rpc, whose connections
// cfg bounds.
func NewUpgrader(checkOrigin func(*http.Request) bool, cfg ConnConfig) *Upgrader {
	cfg.setDefaults()
	return &Upgrader{cfg: cfg, checkOrigin: checkOrigin}
}

// handshakeTimeout bounds the write of the handshake's answer when the
// socket cannot be written without waiting (TLS).
const handshakeTimeout = 10 * time.Second

// badHandshake starts the refusals of requests that are not WebSocket
// handshakes (gorilla's wording, which clients have seen).
const badHandshake = "websocket: the client is not using the websocket protocol: "

// Upgrade answers the handshake and returns the connection, ready for
// Start. On failure the client has been answered (400, 403, 405 or 500
// with the reason), or the connection closed if it sent frames before
// the answer.
func (u *Upgrader) Upgrade(w http.ResponseWriter, r *http.Request) (*Conn, error) {
	// RFC 6455 §4.2.1: the client's handshake, checked in gorilla's order.
	switch {
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return nil, refuse(w, http.StatusBadRequest, badHandshake+"'upgrade' token not found in 'Connection' header")
	case !headerHasToken(r.Header, "Upgrade", "websocket"):
		return nil, refuse(w, http.StatusBadRequest, badHandshake+"'websocket' token not found in 'Upgrade' header")
	case r.Method != http.MethodGet:
		return nil, refuse(w, http.StatusMethodNotAllowed, badHandshake+"request method is not GET")
	case !headerHasToken(r.Header, "Sec-Websocket-Version", "13"):
		return nil, refuse(w, http.StatusBadRequest, "websocket: unsupported version: 13 not found in 'Sec-Websocket-Version' header")
	case !u.checkOrigin(r):
		return nil, refuse(w, http.StatusForbidden, "websocket: request origin not allowed by Upgrader.CheckOrigin")
	}
	key := r.Header.Get("Sec-Websocket-Key")
	if !validChallengeKey(key) {
		return nil, refuse(w, http.StatusBadRequest, "websocket: not a websocket handshake: 'Sec-WebSocket-Key' header must be Base64 encoded value of 16-byte in length")
	}
	h, ok := w.(http.Hijacker)
	if !ok {
		return nil, refuse(w, http.StatusInternalServerError, "websocket: response does not implement http.Hijacker")
	}
	nc, brw, err := h.Hijack()
	if err != nil {
		return nil, refuse(w, http.StatusInternalServerError, err.Error())
	}
	// Nothing may be read past the handshake: the socket is then all
	// there is for Conn.
	if brw.Reader.Buffered() > 0 {
		nc.Close()
		return nil, errors.New("websocket: client sent data before handshake is complete")
	}
	// §4.2.2 step 5. Hijack cleared the HTTP server's deadlines.
	var buf [len(switching) + 28 + 4]byte
	p := append(buf[:0], switching...)
	p = appendAcceptKey(p, key)
	p = append(p, "\r\n\r\n"...)
	raw := rawConnOf(nc)
	if err := writeHandshake(nc, raw, p); err != nil {
		nc.Close()
		return nil, err
	}
	return newConn(nc, raw, u), nil
}

// switching starts the answer; the accept key and the blank line end it.
const switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "

// writeHandshake writes the handshake's answer. A fresh socket has room
// for it, so one raw write without waiting does it; a socket without raw
// access (TLS, or off Linux), or one that took only part of it, gets a
// write bounded by handshakeTimeout, as gorilla's.
func writeHandshake(nc net.Conn, raw syscall.RawConn, p []byte) error {
	if raw != nil {
		n, err := writeRaw(raw, p)
		if err != nil {
			return err
		}
		if p = p[n:]; len(p) == 0 {
			return nil
		}
	}
	return writeWithin(nc, p, handshakeTimeout)
}

// writeWithin writes p with a write deadline d from now, then clears it.
func writeWithin(nc net.Conn, p []byte, d time.Duration) error {
	if err := nc.SetWriteDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	if _, err := nc.Write(p); err != nil {
		return err
	}
	return nc.SetWriteDeadline(time.Time{})
}

// refuse answers a handshake that cannot be upgraded, and returns its
// reason.
func refuse(w http.ResponseWriter, status int, reason string) error {
	http.Error(w, "websocket upgrade refused: "+reason, status)
	return errors.New(reason)
}

// acceptGUID is RFC 6455's key suffix (§1.3).
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// appendAcceptKey appends Sec-WebSocket-Accept's value for the client's
// key: base64(SHA-1(key + GUID)), §4.2.2 step 5.4.
func appendAcceptKey(p []byte, key string) []byte {
	in := append(append(make([]byte, 0, 64), key...), acceptGUID...)
	sum := sha1.Sum(in)
	return base64.StdEncoding.AppendEncode(p, sum[:])
}

// validChallengeKey reports whether Sec-WebSocket-Key is base64 of 16
// bytes (§4.2.1 item 5).
func validChallengeKey(s string) bool {
	if s == "" {
		return false
	}
	var b [18]byte
	if base64.StdEncoding.DecodedLen(len(s)) > len(b) {
		d, err := base64.StdEncoding.DecodeString(s) // too long, unless padded with CR or LF, which Decode skips
		return err == nil && len(d) == 16
	}
	n, err := base64.StdEncoding.Decode(b[:], []byte(s))
	return err == nil && n == 16
}

// headerHasToken reports whether a comma-separated token list in header
// name holds value, compared with ASCII case folding. A value that is not
// such a list does not count (RFC 7230 §7, as gorilla reads it).
func headerHasToken(h http.Header, name, value string) bool {
values:
	for _, s := range h[name] {
		for {
			var t string
			t, s = nextToken(skipSpace(s))
			if t == "" {
				continue values
			}
			s = skipSpace(s)
			if s != "" && s[0] != ',' {
				continue values
			}
			if strings.EqualFold(t, value) {
				return true
			}
			if s == "" {
				continue values
			}
			s = s[1:]
		}
	}
	return false
}

// skipSpace drops leading spaces and tabs.
func skipSpace(s string) string {
	return strings.TrimLeft(s, " \t")
}

// nextToken splits off s's leading token (RFC 7230 §3.2.6 tchar run).
func nextToken(s string) (token, rest string) {
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// isTokenChar reports whether b is a tchar: a visible ASCII character
// other than the delimiters "(),/:;<=>?@[\]{}.
func isTokenChar(b byte) bool {
	return b > ' ' && b < 0x7f && !strings.ContainsRune("\"(),/:;<=>?@[\\]{}", rune(b))
}
