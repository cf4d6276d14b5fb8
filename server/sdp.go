package server

import (
	"encoding/binary"
	"math/bits"
	"strings"
)

// plainSDP reports whether text is a session description of the shape
// browsers and WebRTC stacks send, which pion/sdp certainly accepts; such
// an offer or answer needs no more checking. Any other is left to
// pion/sdp, which also words the error. The parse this saves built the
// whole description (105 allocations and 26 µs for a 4 KB offer, half of
// what relaying it cost). FuzzSDP holds it to accepting nothing pion
// refuses.
//
// The shape (RFC 8866 §5, in the order pion/sdp's parser allows), each
// line ending in CRLF or LF, fields parted by single spaces, values of
// printable ASCII:
//
//	v=0
//	o=<username> <sess-id> <sess-version> IN IP4|IP6 <address>
//	s=<text>
//	[c=IN IP4|IP6 <address>]
//	*(b=<bwtype>:<bandwidth>)
//	t=<start> <stop>
//	*(a=<attribute>)
//	*(m=<media> <port>[/<count>] <proto> *(<fmt>)
//	  [c=IN IP4|IP6 <address>]
//	  *(b=<bwtype>:<bandwidth>)
//	  *(a=<attribute>))
//
// Lines pion also takes (i=, u=, e=, p=, r=, z=, k=, blank lines, tabs,
// CR inside a line, other orders it tolerates) go the slow way.
func plainSDP(text string) bool {
	return plainLines(sdpLines{text: text})
}

// plainSDPLiteral is plainSDP of the text a JSON string literal denotes,
// read from the literal (lit, without its quotes, is the body of a valid
// one): lines end in the escapes \r\n or \n, and nothing else in it is
// escaped. A relayed description is so checked without being unescaped;
// one with other escapes goes the slow way.
func plainSDPLiteral(lit string) bool {
	return plainLines(sdpLines{text: lit, escaped: true})
}

func plainLines(s sdpLines) bool {
	if s.next() != 'v' || s.value() != "0" || s.next() != 'o' || !sdpOrigin(s.value()) || s.next() != 's' {
		return false
	}
	typ, ok := s.connectionAndBandwidth(s.next())
	if !ok || typ != 't' || !sdpTiming(s.value()) {
		return false
	}
	typ, ok = s.attributes(s.next())
	for ok && typ == 'm' {
		if !sdpMedia(s.value()) {
			return false
		}
		if typ, ok = s.connectionAndBandwidth(s.next()); ok {
			typ, ok = s.attributes(typ)
		}
	}
	return ok && typ == 0 && !s.bad
}

// sdpLines splits a description into "x=value" lines without allocating.
// Every line it returns is printable ASCII (spaces included), which every
// line of the shape is: it finds a line's end and checks its bytes in one
// pass, eight bytes at a time (finding the end with IndexByte, then
// checking the attribute lines, was most of plainSDP). It keeps offsets
// into text, not strings: next stores no pointer, so it runs without the
// GC's write barrier, which took half of its time while a collection
// was marking (most of the time under a relay's load).
type sdpLines struct {
	text       string
	at         int  // where the next line starts
	start, end int  // the current line's value: text[start:end]
	bad        bool // a line that is not "x=value", printable, ending in CRLF or LF
	escaped    bool // text is a JSON string literal's body (see plainSDPLiteral)
}

// value is the current line's value.
func (s *sdpLines) value() string { return s.text[s.start:s.end] }

// next returns the next line's type (its value in s.value), or 0 at the
// end and after a bad line.
func (s *sdpLines) next() byte {
	if s.at == len(s.text) || s.bad {
		return 0
	}
	end, rest := s.cut()
	if rest < 0 || end-s.at < 2 || s.text[s.at+1] != '=' || s.text[s.at] < 'a' || s.text[s.at] > 'z' {
		s.bad = true
		return 0
	}
	typ := s.text[s.at]
	s.start, s.end, s.at = s.at+2, end, rest
	return typ
}

// cut finds the end of the line at s.at (without its line end) and where
// the next begins; rest is -1 if the line holds a byte that is not
// printable ASCII, or has no end. In a literal, a line's first backslash
// must begin its end (the escape \r\n or \n).
func (s *sdpLines) cut() (end, rest int) {
	end = s.stop(s.at)
	t := s.text[end:]
	if s.escaped { // \r\n or \n
		switch {
		case len(t) >= 4 && t[0] == '\\' && t[1] == 'r' && t[2] == '\\' && t[3] == 'n':
			return end, end + 4
		case len(t) >= 2 && t[0] == '\\' && t[1] == 'n':
			return end, end + 2
		}
		return 0, -1
	}
	switch {
	case len(t) >= 2 && t[0] == '\r' && t[1] == '\n':
		return end, end + 2
	case len(t) >= 1 && t[0] == '\n':
		return end, end + 1
	}
	return 0, -1
}

// stop returns the index of the first byte of text, from i on, that a
// line cannot hold (not printable ASCII; in a literal, a backslash too),
// or len(text).
func (s *sdpLines) stop(i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	var backslashes uint64 // whether a backslash stops
	if s.escaped {
		backslashes = highs
	}
	t := s.text
	for ; i+8 <= len(t); i += 8 {
		w := binary.LittleEndian.Uint64([]byte(t[i : i+8]))
		// A byte under ' ' borrows, which sets its high bit; one over
		// '~' has it after adding 1 (0x7F to 0x9F) or subtracting ' '
		// (0xA0 on); a backslash becomes a zero byte that borrows. A
		// borrow or carry only marks bytes above the first one marked,
		// which is exact.
		stops := (w - ones*' ') | (w + ones*(0x7F-'~')) | ((w^(ones*'\\'))-ones)&backslashes
		if stops &= highs; stops != 0 {
			return i + bits.TrailingZeros64(stops)/8
		}
	}
	for ; i < len(t); i++ {
		if c := t[i]; c < ' ' || c > '~' || c == '\\' && s.escaped {
			return i
		}
	}
	return i
}

// connectionAndBandwidth reads the lines [c=] *(b=) from the one of type
// typ on, and returns the type of the line after them.
func (s *sdpLines) connectionAndBandwidth(typ byte) (byte, bool) {
	if typ == 'c' {
		if !sdpConnection(s.value()) {
			return 0, false
		}
		typ = s.next()
	}
	for typ == 'b' {
		if !sdpBandwidth(s.value()) {
			return 0, false
		}
		typ = s.next()
	}
	return typ, true
}

// attributes reads the lines *(a=) from the one of type typ on, and
// returns the type of the line after them.
func (s *sdpLines) attributes(typ byte) (byte, bool) {
	for typ == 'a' {
		if s.value() == "" {
			return 0, false
		}
		typ = s.next()
	}
	return typ, true
}

// sdpOrigin: <username> <sess-id> <sess-version> IN IP4|IP6 <address>.
func sdpOrigin(v string) bool {
	f := candidateTokens{rest: v}
	user, id, version := f.next(), f.next(), f.next()
	return printable(user) && sdpNumber(id) && sdpNumber(version) && sdpAddress(&f) && f.rest == "" && !f.bad
}

// sdpConnection: IN IP4|IP6 <address>.
func sdpConnection(v string) bool {
	f := candidateTokens{rest: v}
	return sdpAddress(&f) && f.rest == "" && !f.bad
}

// sdpAddress reads "IN IP4|IP6 <address>" from f.
func sdpAddress(f *candidateTokens) bool {
	if f.next() != "IN" {
		return false
	}
	if t := f.next(); t != "IP4" && t != "IP6" {
		return false
	}
	return printable(f.next())
}

// sdpTiming: <start> <stop>.
func sdpTiming(v string) bool {
	f := candidateTokens{rest: v}
	start, stop := f.next(), f.next()
	return sdpNumber(start) && sdpNumber(stop) && f.rest == "" && !f.bad
}

// sdpNumber: 1 to 20 digits (pion reads them into a uint64, wrapping).
func sdpNumber(s string) bool {
	return digits(s, 20, ^uint64(0))
}

// sdpBandwidth: CT|AS|TIAS|RS|RR, or X-<name>, then ':' and 1 to 19
// digits (so that it fits a uint64).
func sdpBandwidth(v string) bool {
	typ, n, ok := strings.Cut(v, ":")
	if !ok || strings.Contains(n, ":") || !digits(n, 19, ^uint64(0)) {
		return false
	}
	switch typ {
	case "CT", "AS", "TIAS", "RS", "RR":
		return true
	}
	return len(typ) > 2 && strings.HasPrefix(typ, "X-") && printable(typ)
}

// sdpMedia: <media> <port>[/<count>] <proto> *(<fmt>). v is printable
// ASCII (sdpLines sees to it), so the formats are tokens when no space
// leads, trails or doubles: taken a token at a time, they were a third of
// checking an offer of many media sections.
func sdpMedia(v string) bool {
	f := candidateTokens{rest: v}
	switch f.next() {
	case "audio", "video", "text", "application", "message":
	default:
		return false
	}
	port, count, hasCount := strings.Cut(f.next(), "/")
	if !digits(port, 5, 65535) || hasCount && !digits(count, 9, 999_999_999) {
		return false
	}
	if !sdpProto(f.next()) || f.bad {
		return false
	}
	fmts := f.rest
	return fmts == "" || fmts[0] != ' ' && fmts[len(fmts)-1] != ' ' && !strings.Contains(fmts, "  ")
}

// sdpProto: known transport protocols parted by '/', as pion knows them.
func sdpProto(proto string) bool {
	for {
		p, rest, more := strings.Cut(proto, "/")
		switch p {
		case "UDP", "RTP", "AVP", "SAVP", "SAVPF", "TLS", "DTLS", "SCTP", "AVPF", "TCP", "MSRP", "BFCP", "UDT", "IX", "MRCPv2", "FEC":
		default:
			return false
		}
		if !more {
			return true
		}
		proto = rest
	}
}
