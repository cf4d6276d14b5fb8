package rpc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The WebSocket framing conformance suite: the RFC 6455 cases of the
// Autobahn testsuite's sections 1-7 and 9 (numbered as there) that apply
// to a server that takes only text messages, and the read limit, run over
// real sockets with a client that sends raw frames. Each case checks what
// the server answers, frame by frame, and how it ends the connection:
// its close code and text, the reason it records, and that it then
// closes the TCP connection. A case that ends open must still answer a
// ping, and nothing else.

// step is what a case sends: data in pieces of chop bytes (at once if 0),
// with pause before each piece.
type step struct {
	data  []byte
	chop  int
	pause time.Duration
}

func send(fs ...clientFrame) step { return step{data: frames(fs...)} }

// slowly sends the frames a piece of chop bytes at a time, 2 ms apart,
// so that the server reads partial headers and payloads.
func slowly(chop int, fs ...clientFrame) step {
	return step{data: frames(fs...), chop: chop, pause: 2 * time.Millisecond}
}

// after sends the frames once d has passed.
func after(d time.Duration, fs ...clientFrame) step {
	return step{data: frames(fs...), pause: d}
}

// answer is a frame the server must send next.
type answer struct {
	op   byte
	text string // a text frame's payload (a part of it if part), a pong's, a close frame's reason (a part)
	part bool
	code int // a close frame's
}

func reply(s string) answer    { return answer{op: opText, text: s} }
func replyHas(s string) answer { return answer{op: opText, text: s, part: true} }
func pong(s string) answer     { return answer{op: opPong, text: s} }
func closes(code int, text string) answer {
	return answer{op: opClose, code: code, text: text, part: true}
}

// echoReq is a request to echo the JSON value arg; echoReply its reply.
func echoReq(arg string) string {
	return `{"jsonrpc":"2.0","method":"echo","params":[` + arg + `],"id":1}`
}
func echoReply(arg string) string { return `{"jsonrpc":"2.0","id":1,"result":[` + arg + `]}` }

// sized is an echo of a string that makes the request n bytes long.
func sized(n int) string {
	return `"` + strings.Repeat("x", n-len(echoReq(`""`))) + `"`
}

const parseErrorCode = `"code":-32700`

type frameCase struct {
	name    string
	limit   int64 // ReadLimit (default: DefaultReadLimit)
	steps   []step
	answers []answer
}

func frameCases() []frameCase {
	hello := echoReq(`"hello"`)
	helloReply := reply(echoReply(`"hello"`))
	const (
		code1002 = 1002
		code1007 = 1007
		code1009 = 1009
	)
	binaryPayload := "\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
	cases := []frameCase{
		// 1: text messages of every length encoding (binary is refused).
		{name: "1.1.1 empty text message", steps: []step{send(textFrame(""))}, answers: []answer{replyHas(parseErrorCode)}},
		{name: "1.2.1 binary message", steps: []step{send(clientFrame{fin: true, op: opBinary, payload: []byte{1, 2, 3}})},
			answers: []answer{closes(1003, "binary frames are not supported")}},
		{name: "1.2.8 empty binary message", steps: []step{send(clientFrame{fin: true, op: opBinary})},
			answers: []answer{closes(1003, "binary frames")}},
		{name: "1.1.8 65536 bytes in pieces of 997", steps: []step{{data: frames(textFrame(echoReq(sized(65536)))), chop: 997}},
			answers: []answer{reply(echoReply(sized(65536)))}},

		// 2: pings and pongs.
		{name: "2.1 ping without payload", steps: []step{send(control(opPing, ""))}, answers: []answer{pong("")}},
		{name: "2.2 ping with a text payload", steps: []step{send(control(opPing, "Hello, world!"))}, answers: []answer{pong("Hello, world!")}},
		{name: "2.3 ping with a binary payload", steps: []step{send(control(opPing, binaryPayload))}, answers: []answer{pong(binaryPayload)}},
		{name: "2.4 ping of 125 bytes", steps: []step{send(control(opPing, strings.Repeat("\xfe", 125)))}, answers: []answer{pong(strings.Repeat("\xfe", 125))}},
		{name: "2.5 ping of 126 bytes", steps: []step{send(control(opPing, strings.Repeat("\xfe", 126)))}, answers: []answer{closes(code1002, "control frame of 126 bytes, over 125")}},
		{name: "2.6 ping of 125 bytes, byte by byte", steps: []step{slowly(1, control(opPing, strings.Repeat("\xfe", 125)))}, answers: []answer{pong(strings.Repeat("\xfe", 125))}},
		{name: "2.7 unsolicited pong without payload", steps: []step{send(control(opPong, ""))}},
		{name: "2.8 unsolicited pong with payload", steps: []step{send(control(opPong, "unsolicited pong payload"))}},
		{name: "2.9 unsolicited pong, then ping", steps: []step{send(control(opPong, "unsolicited"), control(opPing, "ping payload"))}, answers: []answer{pong("ping payload")}},

		// 3: reserved bits, with no extension negotiated.
		{name: "3.1 RSV1 on a text frame", steps: []step{send(clientFrame{fin: true, rsv: 4, op: opText, payload: []byte(hello)})},
			answers: []answer{closes(code1002, "reserved bits set, but no extension was negotiated")}},
		{name: "3.2 RSV2 on a text frame after a valid one", steps: []step{send(textFrame(hello), clientFrame{fin: true, rsv: 2, op: opText, payload: []byte(hello)}, control(opPing, ""))},
			answers: []answer{helloReply, closes(code1002, "reserved bits")}},
		{name: "3.3 RSV3 on a text frame after a valid one, byte by byte", steps: []step{slowly(1, textFrame(hello), clientFrame{fin: true, rsv: 3, op: opText, payload: []byte(hello)}, control(opPing, ""))},
			answers: []answer{helloReply, closes(code1002, "reserved bits")}},
		{name: "3.4 RSV4 on a ping", steps: []step{send(clientFrame{fin: true, rsv: 4, op: opPing, payload: []byte("x")})}, answers: []answer{closes(code1002, "reserved bits")}},
		{name: "3.5 RSV5 on a binary frame", steps: []step{send(clientFrame{fin: true, rsv: 5, op: opBinary, payload: []byte{1}})}, answers: []answer{closes(code1002, "reserved bits")}},
		{name: "3.6 RSV6 on a ping", steps: []step{send(clientFrame{fin: true, rsv: 6, op: opPing})}, answers: []answer{closes(code1002, "reserved bits")}},
		{name: "3.7 RSV7 on a close frame", steps: []step{send(clientFrame{fin: true, rsv: 7, op: opClose, payload: closePayload(1000, "")})}, answers: []answer{closes(code1002, "reserved bits")}},

		// 5: fragmentation.
		{name: "5.1 fragmented ping", steps: []step{send(fragment(opPing, false, "frag1"), fragment(opContinuation, true, "frag2"))}, answers: []answer{closes(code1002, "fragmented control frame")}},
		{name: "5.2 fragmented pong", steps: []step{send(fragment(opPong, false, "frag1"), fragment(opContinuation, true, "frag2"))}, answers: []answer{closes(code1002, "fragmented control frame")}},
		{name: "5.3 text message in 2 fragments", steps: []step{send(fragment(opText, false, hello[:20]), fragment(opContinuation, true, hello[20:]))}, answers: []answer{helloReply}},
		{name: "5.4 text message in 2 fragments, byte by byte", steps: []step{slowly(1, fragment(opText, false, hello[:20]), fragment(opContinuation, true, hello[20:]))}, answers: []answer{helloReply}},
		{name: "5.5 text message in 2 fragments, one at a time", steps: []step{send(fragment(opText, false, hello[:20])), after(20*time.Millisecond, fragment(opContinuation, true, hello[20:]))}, answers: []answer{helloReply}},
		{name: "5.6 a ping between 2 fragments", steps: []step{send(fragment(opText, false, hello[:20]), control(opPing, "between"), fragment(opContinuation, true, hello[20:]))},
			answers: []answer{pong("between"), helloReply}},
		{name: "5.7 a ping between 2 fragments, byte by byte", steps: []step{slowly(1, fragment(opText, false, hello[:20]), control(opPing, "between"), fragment(opContinuation, true, hello[20:]))},
			answers: []answer{pong("between"), helloReply}},
		{name: "5.8 a ping between 2 fragments, one frame at a time", steps: []step{send(fragment(opText, false, hello[:20])), after(20*time.Millisecond, control(opPing, "between")), after(20*time.Millisecond, fragment(opContinuation, true, hello[20:]))},
			answers: []answer{pong("between"), helloReply}},
		{name: "5.9 a final continuation with nothing to continue", steps: []step{send(fragment(opContinuation, true, "x"), textFrame(hello))},
			answers: []answer{closes(code1002, "a continuation frame outside a fragmented message")}},
		{name: "5.10 a final continuation with nothing to continue, byte by byte", steps: []step{slowly(1, fragment(opContinuation, true, "x"), textFrame(hello))},
			answers: []answer{closes(code1002, "continuation frame outside")}},
		{name: "5.12 a continuation with nothing to continue", steps: []step{send(fragment(opContinuation, false, "x"), textFrame(hello))},
			answers: []answer{closes(code1002, "continuation frame outside")}},
		{name: "5.15 a message, then a continuation of nothing", steps: []step{send(fragment(opText, false, hello[:20]), fragment(opContinuation, true, hello[20:]), fragment(opContinuation, false, "x"), textFrame(hello))},
			answers: []answer{helloReply, closes(code1002, "continuation frame outside")}},
		{name: "5.18 a text frame before the last one's final fragment", steps: []step{send(fragment(opText, false, hello[:20]), textFrame(hello))},
			answers: []answer{closes(code1002, "a new message began before the last one's final frame")}},
		{name: "a binary frame before a text message's final fragment", steps: []step{send(fragment(opText, false, hello[:20]), clientFrame{fin: true, op: opBinary, payload: []byte{1}})},
			answers: []answer{closes(code1002, "a new message began")}},
		{name: "5.19 a text message in 5 fragments with pings, paced", steps: []step{
			send(fragment(opText, false, hello[:10]), fragment(opContinuation, false, hello[10:20])),
			after(20*time.Millisecond, control(opPing, "pongme 1!")),
			after(20*time.Millisecond, fragment(opContinuation, false, hello[20:30]), fragment(opContinuation, false, hello[30:40])),
			after(20*time.Millisecond, control(opPing, "pongme 2!")),
			after(20*time.Millisecond, fragment(opContinuation, true, hello[40:])),
		}, answers: []answer{pong("pongme 1!"), pong("pongme 2!"), helloReply}},
		{name: "5.20 a text message in 5 fragments with pings, byte by byte", steps: []step{slowly(1,
			fragment(opText, false, hello[:10]), fragment(opContinuation, false, hello[10:20]), control(opPing, "pongme 1!"),
			fragment(opContinuation, false, hello[20:30]), fragment(opContinuation, false, hello[30:40]), control(opPing, "pongme 2!"),
			fragment(opContinuation, true, hello[40:]))}, answers: []answer{pong("pongme 1!"), pong("pongme 2!"), helloReply}},

		// 6: UTF-8 (the sequences of 6.5-6.23 are in utf8Cases).
		{name: "6.1.2 a text message of 3 empty fragments", steps: []step{send(fragment(opText, false, ""), fragment(opContinuation, false, ""), fragment(opContinuation, true, ""))},
			answers: []answer{replyHas(parseErrorCode)}},
		{name: "6.1.3 a text message with empty first and last fragments", steps: []step{send(fragment(opText, false, ""), fragment(opContinuation, false, hello), fragment(opContinuation, true, ""))},
			answers: []answer{helloReply}},
		{name: "6.2.4 valid UTF-8, a fragment per byte", steps: []step{send(perByte(echoReq(`"κόσμε"`))...)}, answers: []answer{reply(echoReply(`"κόσμε"`))}},
		{name: "6.2.3 valid UTF-8, byte by byte", steps: []step{slowly(1, textFrame(echoReq(`"κόσμε"`)))}, answers: []answer{reply(echoReply(`"κόσμε"`))}},
		{name: "6.3.2 invalid UTF-8, a fragment per byte", steps: []step{send(perByte(echoReq("\"κόσμε\xed\xa0\x80edited\""))...)},
			answers: []answer{closes(code1007, "a text message that is not UTF-8")}},
		{name: "6.4.1 invalid UTF-8 in the first of 3 fragments", steps: []step{send(fragment(opText, false, "\"\xf4\x90\x80\x80"), fragment(opContinuation, false, "x"), fragment(opContinuation, true, "\""))},
			answers: []answer{closes(code1007, "not UTF-8")}},
		{name: "6.4.4 invalid UTF-8 in the last fragment", steps: []step{send(fragment(opText, false, "[\"x"), fragment(opContinuation, true, "\x80\"]"))},
			answers: []answer{closes(code1007, "not UTF-8")}},
		{name: "invalid UTF-8 outside any JSON string", steps: []step{send(textFrame("\xff"))}, answers: []answer{closes(code1007, "not UTF-8")}},
		{name: "invalid UTF-8 after a valid message", steps: []step{send(textFrame(hello), textFrame(echoReq("\"\xc0\xaf\"")), textFrame(hello))},
			answers: []answer{helloReply, closes(code1007, "not UTF-8")}},

		// 7: the close handshake.
		{name: "7.1.1 a message, then close", steps: []step{send(textFrame(hello), closeFrame(1000, ""))}, answers: []answer{helloReply, closes(1000, "normal")}},
		{name: "7.1.2 close twice", steps: []step{send(closeFrame(1000, ""), closeFrame(1000, ""))}, answers: []answer{closes(1000, "normal")}},
		{name: "7.1.3 a ping after close", steps: []step{send(closeFrame(1000, ""), control(opPing, "after close"))}, answers: []answer{closes(1000, "normal")}},
		{name: "7.1.4 a message after close", steps: []step{send(closeFrame(1000, ""), textFrame(hello))}, answers: []answer{closes(1000, "normal")}},
		{name: "7.1.5 close between a message's fragments", steps: []step{send(fragment(opText, false, hello[:20]), closeFrame(1000, ""), fragment(opContinuation, true, hello[20:]))},
			answers: []answer{closes(1000, "normal")}},
		{name: "7.3.1 close without payload", steps: []step{send(control(opClose, ""))}, answers: []answer{closes(1000, "normal")}},
		{name: "7.3.2 close with a 1-byte payload", steps: []step{send(control(opClose, "\x03"))}, answers: []answer{closes(code1002, "close frame with a 1-byte payload")}},
		{name: "7.3.4 close with a reason", steps: []step{send(closeFrame(1000, "Hello World!"))}, answers: []answer{closes(1000, "normal")}},
		{name: "7.3.5 close with a reason of 123 bytes", steps: []step{send(closeFrame(1000, strings.Repeat("*", 123)))}, answers: []answer{closes(1000, "normal")}},
		{name: "7.3.6 close with a reason of 124 bytes", steps: []step{send(closeFrame(1000, strings.Repeat("*", 124)))}, answers: []answer{closes(code1002, "control frame of 126 bytes")}},
		{name: "7.5.1 close with a reason that is not UTF-8", steps: []step{send(closeFrame(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"))},
			answers: []answer{closes(code1007, "the close reason is not UTF-8")}},
		{name: "close 1001 (going away) is answered 1001", steps: []step{send(closeFrame(1001, "tab closed"))}, answers: []answer{closes(1001, "going_away")}},
		{name: "a server that is closing drains what follows", steps: []step{send(clientFrame{fin: true, op: opBinary}, textFrame(hello), control(opPing, "x"))},
			answers: []answer{closes(1003, "binary frames")}},

		// 9 and the read limit (64 KiB by default).
		{name: "9.1 a message at the read limit in 64-byte fragments", steps: []step{send(fragments(echoReq(sized(DefaultReadLimit)), 64)...)},
			answers: []answer{reply(echoReply(sized(DefaultReadLimit)))}},
		{name: "a message one byte over the read limit", steps: []step{send(textFrame(echoReq(sized(DefaultReadLimit + 1))))},
			answers: []answer{closes(code1009, "too_large")}},
		{name: "a header over the read limit, its payload never sent", limit: 1024, steps: []step{{data: frames(clientFrame{fin: true, op: opText, length: 1025, lengthOK: true})}},
			answers: []answer{closes(code1009, "too_large")}},
		{name: "fragments over the read limit: closed at the header of the one that crosses it", limit: 1024, steps: []step{
			send(fragment(opText, false, `"`+strings.Repeat("x", 600))),
			{data: frames(clientFrame{op: opContinuation, length: 425, lengthOK: true})},
		}, answers: []answer{closes(code1009, "too_large")}},
		{name: "fragments at the read limit", limit: 1024, steps: []step{send(fragments(echoReq(sized(1024)), 100)...)},
			answers: []answer{reply(echoReply(sized(1024)))}},
		{name: "a header over the read limit, byte by byte", limit: 1024, steps: []step{slowly(1, clientFrame{fin: true, op: opText, length: 70000, lengthOK: true})},
			answers: []answer{closes(code1009, "too_large")}},
		{name: "a 63-bit length", steps: []step{{data: frames(clientFrame{fin: true, op: opText, length: 1<<63 - 1, lengthOK: true})}},
			answers: []answer{closes(code1009, "too_large")}},
		{name: "a 64-bit length with its top bit set", steps: []step{{data: frames(clientFrame{fin: true, op: opText, length: 1 << 63, lengthOK: true})}},
			answers: []answer{closes(code1002, "payload length with its top bit set")}},
		{name: "a control frame's payload counts against no message", limit: 130, steps: []step{send(fragment(opText, false, `"`+strings.Repeat("x", 100)), control(opPing, strings.Repeat("p", 125)), fragment(opContinuation, true, `"`))},
			answers: []answer{pong(strings.Repeat("p", 125)), replyHas(`"code":-32`)}},

		// Masking (RFC 6455 §5.1: "a server MUST close the connection upon
		// receiving a frame that is not masked").
		{name: "an unmasked text frame", steps: []step{send(clientFrame{fin: true, op: opText, payload: []byte(hello), unmasked: true})}, answers: []answer{closes(code1002, "unmasked client frame")}},
		{name: "an unmasked ping", steps: []step{send(clientFrame{fin: true, op: opPing, unmasked: true})}, answers: []answer{closes(code1002, "unmasked client frame")}},
		{name: "an unmasked close", steps: []step{send(clientFrame{fin: true, op: opClose, payload: closePayload(1000, ""), unmasked: true})}, answers: []answer{closes(code1002, "unmasked client frame")}},
		{name: "an unmasked continuation after a masked fragment", steps: []step{send(fragment(opText, false, hello[:20]), clientFrame{fin: true, op: opContinuation, payload: []byte(hello[20:]), unmasked: true})},
			answers: []answer{closes(code1002, "unmasked client frame")}},

		// Arrival: several frames in one read, one frame over many, and a
		// frame cut short while the reader parks (after readerIdle).
		{name: "two requests in one write", steps: []step{send(textFrame(echoReq("1")), textFrame(echoReq("2")))}, answers: []answer{reply(echoReply("1")), reply(echoReply("2"))}},
		{name: "a request byte by byte", steps: []step{slowly(1, textFrame(hello))}, answers: []answer{helloReply}},
		{name: "a 16-bit length byte by byte", steps: []step{slowly(1, textFrame(echoReq(sized(300))))}, answers: []answer{reply(echoReply(sized(300)))}},
		{name: "a 64-bit length in pieces of 3", limit: 1 << 20, steps: []step{
			{data: frames(textFrame(echoReq(sized(70000))))[:14], chop: 3, pause: 2 * time.Millisecond},
			{data: frames(textFrame(echoReq(sized(70000))))[14:]},
		}, answers: []answer{reply(echoReply(sized(70000)))}},
		{name: "a header cut short while the reader parks", steps: []step{
			{data: frames(textFrame(echoReq(sized(300))))[:3]},
			{data: frames(textFrame(echoReq(sized(300))))[3:], pause: 2 * readerIdle},
		}, answers: []answer{reply(echoReply(sized(300)))}},
		{name: "a payload cut short while the reader parks", steps: []step{
			{data: frames(textFrame(hello))[:20]},
			{data: frames(textFrame(hello))[20:], pause: 2 * readerIdle},
		}, answers: []answer{helloReply}},
		{name: "a message's fragments apart while the reader parks", steps: []step{
			send(fragment(opText, false, hello[:20])),
			after(2*readerIdle, fragment(opContinuation, true, hello[20:])),
		}, answers: []answer{helloReply}},
	}
	// 1.1.2-1.1.6: the lengths around the encodings' bounds.
	for _, n := range []int{125, 126, 127, 128, 65535, 65536} {
		cases = append(cases, frameCase{name: fmt.Sprintf("1.1 a text message of %d bytes", n),
			steps: []step{send(textFrame(echoReq(sized(n))))}, answers: []answer{reply(echoReply(sized(n)))}})
	}
	// 4: reserved opcodes, alone and after a valid message.
	for _, op := range []byte{3, 4, 5, 6, 7, 11, 12, 13, 14, 15} {
		text := fmt.Sprintf("unknown opcode %d", op)
		cases = append(cases,
			frameCase{name: fmt.Sprintf("4 reserved opcode %d", op), steps: []step{send(clientFrame{fin: true, op: op, payload: []byte("reserved")})}, answers: []answer{closes(code1002, text)}},
			frameCase{name: fmt.Sprintf("4 reserved opcode %d after a message", op), steps: []step{send(textFrame(hello), clientFrame{fin: true, op: op}, control(opPing, ""))},
				answers: []answer{helloReply, closes(code1002, text)}})
	}
	// 7.7 and 7.9: close codes a client may send, and those it may not.
	for _, code := range []int{1000, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		cases = append(cases, frameCase{name: fmt.Sprintf("7.7 close code %d", code), steps: []step{send(closeFrame(code, ""))}, answers: []answer{closes(1000, "normal")}})
	}
	for _, code := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, frameCase{name: fmt.Sprintf("7.9 close code %d", code), steps: []step{send(closeFrame(code, "x"))},
			answers: []answer{closes(code1002, fmt.Sprintf("close code %d may not be sent", code))}})
	}
	// 6.5-6.23: sequences of Markus Kuhn's UTF-8 decoder test, in a JSON
	// string: a valid one is answered, an invalid one fails the connection.
	for _, u := range utf8Cases {
		arg := `"` + u.seq + `"`
		c := frameCase{name: fmt.Sprintf("6 UTF-8 %s % x", u.name, u.seq), steps: []step{send(textFrame(echoReq(arg)))}}
		if u.valid {
			c.answers = []answer{reply(echoReply(arg))}
		} else {
			c.answers = []answer{closes(code1007, "not UTF-8")}
		}
		cases = append(cases, c)
	}
	return cases
}

var utf8Cases = []struct {
	name  string
	seq   string
	valid bool
}{
	{"kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true},
	{"first 2-byte", "\xc2\x80", true},
	{"first 3-byte", "\xe0\xa0\x80", true},
	{"first 4-byte", "\xf0\x90\x80\x80", true},
	{"last 2-byte", "\xdf\xbf", true},
	{"U+D7FF", "\xed\x9f\xbf", true},
	{"U+E000", "\xee\x80\x80", true},
	{"U+FFFD", "\xef\xbf\xbd", true},
	{"U+FFFE, a noncharacter", "\xef\xbf\xbe", true},
	{"U+10FFFF", "\xf4\x8f\xbf\xbf", true},
	{"U+110000", "\xf4\x90\x80\x80", false},
	{"5-byte", "\xf8\x88\x80\x80\x80", false},
	{"6-byte", "\xfc\x84\x80\x80\x80\x80", false},
	{"lone continuation", "\x80", false},
	{"lone continuations", "\x80\xbf\x80\xbf", false},
	{"lone start", "\xc0 ", false},
	{"truncated 3-byte", "\xe0\x80", false},
	{"kosme truncated", "\xce\xba\xe1\xbd", false},
	{"fe", "\xfe", false},
	{"ff", "\xff", false},
	{"overlong /", "\xc0\xaf", false},
	{"overlong / in 3", "\xe0\x80\xaf", false},
	{"overlong / in 4", "\xf0\x80\x80\xaf", false},
	{"overlong max 2-byte", "\xc1\xbf", false},
	{"U+D800", "\xed\xa0\x80", false},
	{"U+DFFF", "\xed\xbf\xbf", false},
	{"surrogate pair", "\xed\xa0\x80\xed\xb0\x80", false},
}

// perByte is a text message sent as a fragment per byte.
func perByte(msg string) []clientFrame { return fragments(msg, 1) }

// fragments is a text message sent in fragments of n bytes.
func fragments(msg string, n int) []clientFrame {
	var fs []clientFrame
	for i := 0; i < len(msg); i += n {
		op := byte(opContinuation)
		if i == 0 {
			op = opText
		}
		fs = append(fs, fragment(op, i+n >= len(msg), msg[i:min(i+n, len(msg))]))
	}
	return fs
}

// TestFrameConformance runs the cases over TCP, where a Conn reads and
// writes the socket itself and parks when idle, and over TLS, where it
// keeps a reader blocked in Read and a writer goroutine.
func TestFrameConformance(t *testing.T) {
	for _, transport := range []string{"tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			for _, tc := range frameCases() {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, transport == "tls")
				})
			}
		})
	}
}

func (tc frameCase) run(t *testing.T, overTLS bool) {
	url, _, reasons, roots := wsServerOn(t, echoMux(), ConnConfig{ReadLimit: tc.limit}, overTLS)
	ws := dialRaw(t, url, roots)
	go func() {
		for _, s := range tc.steps {
			ws.write(s.data, s.chop, s.pause)
		}
	}()
	for i, want := range tc.answers {
		got, err := ws.readFrame(10 * time.Second)
		if err != nil {
			t.Fatalf("answer %d: %v, want %v", i, err, want)
		}
		if err := want.check(got); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
	last := answer{}
	if len(tc.answers) > 0 {
		last = tc.answers[len(tc.answers)-1]
	}
	if last.op != opClose { // still open: a ping is answered, and nothing else came
		ws.write(frames(control(opPing, "alive?")), 0, 0)
		if got, err := ws.readFrame(10 * time.Second); err != nil || pong("alive?").check(got) != nil {
			t.Fatalf("after the answers: %v %v, want the pong of a ping", got, err)
		}
		ws.write(frames(closeFrame(1000, "")), 0, 0)
		last = closes(1000, "normal")
		if got, err := ws.readFrame(10 * time.Second); err != nil || last.check(got) != nil {
			t.Fatalf("closing: %v %v", got, err)
		}
	} else {
		ws.write(frames(closeFrame(1000, "")), 0, 0) // the client's half of the handshake
	}
	if got, err := ws.readFrame(10 * time.Second); !connectionReset(err) {
		t.Fatalf("after the close frame: %v %v, want the TCP connection closed", got, err)
	}
	if got := waitReason(t, reasons); got.Code() != last.code {
		t.Fatalf("reason %v (%d), want one with code %d", got, got.Code(), last.code)
	}
}

func (a answer) check(got serverFrame) error {
	if got.op != a.op {
		return fmt.Errorf("got %v, want op %d %q", got, a.op, a.text)
	}
	payload := got.payload
	if a.op == opClose {
		if len(payload) < 2 || int(binary.BigEndian.Uint16(payload)) != a.code {
			return fmt.Errorf("got %v, want close %d", got, a.code)
		}
		payload = payload[2:]
	}
	if a.part && !bytes.Contains(payload, []byte(a.text)) || !a.part && string(payload) != a.text {
		return fmt.Errorf("got %v, want %q", got, a.text)
	}
	return nil
}

// TestFramePings: pings sent back to back are answered, the last one
// always: RFC 6455 §5.5.3 lets a server answer only the latest of the
// pings it has not yet answered (Autobahn 2.10 and 2.11).
func TestFramePings(t *testing.T) {
	for _, chop := range []int{0, 1} {
		t.Run(fmt.Sprintf("chop %d", chop), func(t *testing.T) {
			url, _, _ := wsServer(t, echoMux(), ConnConfig{})
			ws := dialRaw(t, url, nil)
			var pings []clientFrame
			for i := range 10 {
				pings = append(pings, control(opPing, fmt.Sprintf("payload-%d", i)))
			}
			go ws.write(frames(pings...), chop, time.Duration(chop)*time.Millisecond)
			next := 0
			for next < 10 {
				got, err := ws.readFrame(10 * time.Second)
				if err != nil || got.op != opPong {
					t.Fatalf("after %d pings answered: %v %v", next, got, err)
				}
				var i int
				if _, err := fmt.Sscanf(string(got.payload), "payload-%d", &i); err != nil || i < next {
					t.Fatalf("pong %q after the pong of ping %d", got.payload, next-1)
				}
				next = i + 1
			}
		})
	}
}

// TestFrameParksMidFrame: a client that stops halfway through a frame
// header, past readerIdle, has its connection parked with the part it
// sent, and the frame is read whole when the rest arrives.
func TestFrameParksMidFrame(t *testing.T) {
	url, conns, _ := wsServer(t, echoMux(), ConnConfig{})
	ws := dialRaw(t, url, nil)
	c := <-conns
	b := frames(textFrame(echoReq(sized(300))))
	ws.write(b[:3], 0, 0)
	for deadline := time.Now().Add(10 * time.Second); !c.isParked(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the connection did not park")
		}
	}
	ws.write(b[3:], 0, 0)
	got, err := ws.readFrame(10 * time.Second)
	if err != nil || reply(echoReply(sized(300))).check(got) != nil {
		t.Fatalf("%v %v", got, err)
	}
}

func (c *Conn) isParked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parked
}

// TestUnmask: unmask XORs each payload byte with the key's byte at its
// place mod 4 (RFC 6455 §5.3), for payloads of every length up to 70 and
// so every path through its word and tail loops.
func TestUnmask(t *testing.T) {
	const key = 0xA1B2C3D4
	var mask = [4]byte{0xA1, 0xB2, 0xC3, 0xD4}
	for n := range 71 {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i*37 + 11)
		}
		unmask(p, key)
		for i, c := range p {
			if want := byte(i*37+11) ^ mask[i%4]; c != want {
				t.Fatalf("length %d, byte %d: %#x, want %#x", n, i, c, want)
			}
		}
	}
}

// BenchmarkUnmask unmasks the payload of a 4 KB sdp.offer frame.
func BenchmarkUnmask(b *testing.B) {
	p := make([]byte, 4096+133)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		unmask(p, 0xA1B2C3D4)
	}
}
