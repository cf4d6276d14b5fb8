package server

import (
	"math"
	"net/netip"
	"strings"
)

// plainCandidate reports whether line is an ICE candidate of the shape
// browsers send (every field present, single spaces, an IP address, a known
// type, printable extensions) that ice.UnmarshalCandidate certainly accepts.
// Such a line needs no more checking; any other is left to
// ice.UnmarshalCandidate, which also words the error. The parse this saves
// builds a whole candidate with a random id: eleven allocations, a third of
// what relaying an ice.candidate cost. FuzzPlainCandidate holds it to
// accepting nothing that pion refuses.
func plainCandidate(line string) bool {
	t := candidateTokens{rest: strings.TrimPrefix(line, "candidate:")}
	if !iceChars(t.next(), 32) ||
		!digits(t.next(), 5, math.MaxUint16) || // component
		!transport(t.next()) ||
		!digits(t.next(), 10, math.MaxUint32) || // priority
		!ipAddress(t.next()) ||
		!digits(t.next(), 5, math.MaxUint16) || // port
		t.next() != "typ" ||
		!candidateType(t.next()) {
		return false
	}
	name := t.next()
	if name == "raddr" {
		if t.next() == "" || t.next() != "rport" || !digits(t.next(), 5, math.MaxUint16) {
			return false
		}
		name = t.next()
	}
	for name != "" { // extensions: name value pairs
		// tcptype must name a known type: left to pion.
		if name == "tcptype" || !printable(name) || !printable(t.next()) {
			return false
		}
		name = t.next()
	}
	return !t.bad
}

// candidateTokens splits a candidate line at single spaces without
// allocating.
type candidateTokens struct {
	rest string
	bad  bool // an empty token: a leading, trailing or doubled space
}

// next returns the next token, or "" at the end (and after a bad token).
// Tokens are short: a loop finds their end in a fraction of what
// strings.Cut's call to IndexByte took (two thirds of plainCandidate).
func (t *candidateTokens) next() string {
	s := t.rest
	i := 0
	for i < len(s) && s[i] != ' ' {
		i++
	}
	switch {
	case i == len(s): // the last token, or none
		t.rest = ""
	case i == 0 || i == len(s)-1: // a space leads, or trails
		t.rest, t.bad = "", true
		return ""
	default:
		t.rest = s[i+1:]
	}
	return s[:i]
}

// iceChars: 1 to max of ALPHA / DIGIT / "+" / "/" (RFC 8445's foundation).
func iceChars(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// digits: 1 to maxLen decimal digits worth at most max.
func digits(s string, maxLen int, max uint64) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	var n uint64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + uint64(c-'0')
	}
	return n <= max
}

func transport(s string) bool {
	return strings.EqualFold(s, "udp") || strings.EqualFold(s, "tcp")
}

// ipAddress: an IP literal without a zone (pion strips zones; left to it).
func ipAddress(s string) bool {
	if strings.Contains(s, "%") {
		return false
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

func candidateType(s string) bool {
	switch s {
	case "host", "srflx", "prflx", "relay":
		return true
	}
	return false
}

// printable: one or more printable ASCII characters other than space.
func printable(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}
