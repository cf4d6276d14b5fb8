package rpc

import "bytes"

// validJSON is a frame jsontext has validated: it is read with a scanner
// that trusts it, without checking anything again.
type validJSON []byte

// space returns the index of the first byte at or after i that is not
// whitespace.
func (v validJSON) space(i int) int {
	for i < len(v) {
		switch v[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// next steps from i, just past a value or member of an object or array,
// to the next one, or to the closing bracket.
func (v validJSON) next(i int) int {
	i = v.space(i)
	if v[i] == ',' {
		return v.space(i + 1)
	}
	return i
}

// valueEnd returns the index just past the value that starts at v[i].
func (v validJSON) valueEnd(i int) int {
	switch v[i] {
	case '"':
		return stringEnd(v, i) + 1
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch v[i] {
			case '"':
				i = stringEnd(v, i)
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(v) { // a number, true, false or null
		switch v[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// deeperThan reports whether valid JSON nests arrays and objects more than
// limit levels deep. (jsontext's own limit is fixed at 10000.) Strings are
// skipped to their closing quote at once: they are most of a frame (an
// SDP), and looking at each of their bytes cost more than validating them.
func deeperThan(valid []byte, limit int) bool {
	depth := 0
	for i := 0; i < len(valid); i++ {
		switch valid[i] {
		case '"':
			i = stringEnd(valid, i)
		case '[', '{':
			if depth++; depth > limit {
				return true
			}
		case ']', '}':
			depth--
		}
	}
	return false
}

// stringEnd returns the index of the quote that closes the string of
// valid JSON opening at valid[open].
func stringEnd(valid []byte, open int) int {
	i := open
	for {
		i += 1 + bytes.IndexByte(valid[i+1:], '"')
		backslashes := 0
		for valid[i-1-backslashes] == '\\' {
			backslashes++
		}
		if backslashes%2 == 0 { // not an escaped quote
			return i
		}
	}
}
