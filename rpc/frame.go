package rpc

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// WebSocket framing after the handshake (RFC 6455 §5), read and written
// here rather than by gorilla/websocket: its Conn needs a goroutine parked
// in its reader and a read buffer for every connection, idle or not, and
// writes a frame per syscall. Conn reads frames out of a pooled buffer it
// holds only while bytes are there, and writes the frames queued at once
// in one syscall.

// Opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// maxControlPayload: "All control frames MUST have a payload length of 125
// bytes or less and MUST NOT be fragmented." (RFC 6455 §5.5)
const maxControlPayload = 125

// maxClientHeader is the longest header a client frame has: 2 bytes, 8 of
// extended length, 4 of masking key.
const maxClientHeader = 14

// frameHeader is a client frame's header.
type frameHeader struct {
	fin    bool
	op     byte
	length int    // payload bytes
	mask   uint32 // masking key, as the bytes' big-endian value
	size   int    // header bytes
}

// protocolError is a client frame that breaks RFC 6455; the connection is
// closed with 1002 and the text.
type protocolError string

func (e protocolError) Error() string { return "websocket protocol error: " + string(e) }

// badUTF8 is text that is not UTF-8 where RFC 6455 wants it (a text
// message, a close frame's reason): "the endpoint MUST _Fail the WebSocket
// Connection_" (§8.1), with 1007 (§7.4.1).
type badUTF8 string

func (e badUTF8) Error() string { return "websocket: " + string(e) }

// tooLarge is a message over the read limit; the connection is closed
// with 1009.
type tooLarge struct{ size, limit int64 }

func (e tooLarge) Error() string {
	return fmt.Sprintf("websocket message of %d bytes or more, over the limit of %d", e.size, e.limit)
}

// parseHeader reads the header of the client frame that b starts with.
// ok is false while b holds only part of it.
func parseHeader(b []byte) (h frameHeader, ok bool, err error) {
	if len(b) < 2 {
		return h, false, nil
	}
	b0, b1 := b[0], b[1]
	h.fin = b0&0x80 != 0
	h.op = b0 & 0x0F
	// "MUST be 0 unless an extension is negotiated" (§5.2); none is.
	if b0&0x70 != 0 {
		return h, false, protocolError("reserved bits set, but no extension was negotiated")
	}
	switch h.op {
	case opContinuation, opText, opBinary:
	case opClose, opPing, opPong:
		if !h.fin {
			return h, false, protocolError("fragmented control frame")
		}
	default:
		return h, false, protocolError(fmt.Sprintf("unknown opcode %d", h.op))
	}
	// "All frames sent from client to server have this bit set to 1." (§5.2)
	if b1&0x80 == 0 {
		return h, false, protocolError("unmasked client frame")
	}
	h.size = 2
	n := uint64(b1 & 0x7F)
	switch n {
	case 126:
		h.size += 2
	case 127:
		h.size += 8
	}
	if len(b) < h.size+4 {
		return h, false, nil
	}
	switch n {
	case 126:
		n = uint64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		n = binary.BigEndian.Uint64(b[2:])
		if n>>63 != 0 { // "the most significant bit MUST be 0"
			return h, false, protocolError("payload length with its top bit set")
		}
	}
	if h.op >= opClose && n > maxControlPayload {
		return h, false, protocolError(fmt.Sprintf("control frame of %d bytes, over 125", n))
	}
	if n > 1<<40 { // fits an int anywhere; far over any read limit
		n = 1 << 40
	}
	h.length = int(n)
	h.mask = binary.BigEndian.Uint32(b[h.size:])
	h.size += 4
	return h, true, nil
}

// unmask applies a masking key (RFC 6455 §5.3) to a whole payload: 32
// bytes a step, each word XORed in the order the machine loads it (a
// big-endian load and store cost two byte swaps a word).
func unmask(p []byte, key uint32) {
	k := uint64(bits.ReverseBytes32(key)) // the key's bytes as a little-endian load places them
	k |= k << 32
	for ; len(p) >= 32; p = p[32:] {
		binary.LittleEndian.PutUint64(p, binary.LittleEndian.Uint64(p)^k)
		binary.LittleEndian.PutUint64(p[8:], binary.LittleEndian.Uint64(p[8:])^k)
		binary.LittleEndian.PutUint64(p[16:], binary.LittleEndian.Uint64(p[16:])^k)
		binary.LittleEndian.PutUint64(p[24:], binary.LittleEndian.Uint64(p[24:])^k)
	}
	for ; len(p) >= 8; p = p[8:] {
		binary.LittleEndian.PutUint64(p, binary.LittleEndian.Uint64(p)^k)
	}
	for i := range p {
		p[i] ^= byte(key >> (24 - 8*(i%4)))
	}
}

// appendFrame appends a server frame (final, unmasked) of op with payload.
func appendFrame(dst []byte, op byte, payload []byte) []byte {
	n := len(payload)
	switch {
	case n <= 125:
		dst = append(dst, 0x80|op, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|op, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|op, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// frameSize is how many bytes appendFrame adds for a payload of n bytes.
func frameSize(n int) int {
	switch {
	case n <= 125:
		return 2 + n
	case n <= 0xFFFF:
		return 4 + n
	default:
		return 10 + n
	}
}

// closePayload is a close frame's payload: the code, then the text.
func closePayload(code int, text string) []byte {
	return append([]byte{byte(code >> 8), byte(code)}, text...)
}

// Close codes a client's close frame may carry (RFC 6455 §7.4, IANA
// registry); 1005, 1006 and 1015 "MUST NOT be set as a status code in a
// Close control frame by an endpoint".
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// parseClose reads the close code of a client's close frame: 1005 (no
// status) when it has none (§7.1.5).
func parseClose(p []byte) (int, error) {
	switch {
	case len(p) == 0:
		return 1005, nil
	case len(p) == 1:
		return 0, protocolError("close frame with a 1-byte payload")
	}
	code := int(binary.BigEndian.Uint16(p))
	if !validCloseCode(code) {
		return 0, protocolError(fmt.Sprintf("close code %d may not be sent", code))
	}
	if !utf8.Valid(p[2:]) {
		return 0, badUTF8("the close reason is not UTF-8")
	}
	return code, nil
}
