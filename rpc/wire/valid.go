package wire

import "bytes"

// The scanner below reads JSON a validator has accepted (the rpc layer's
// frames, and the params cut from them): it trusts the syntax and checks
// nothing again. On invalid JSON it may read past the end and panic.

// Space returns the index of the first byte at or after i that is not
// whitespace (len(b) if none is).
func Space(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// StringEnd returns the index of the quote that closes the string of
// valid JSON opening at valid[open].
func StringEnd(valid []byte, open int) int {
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

// ValueEnd returns the index just past the value of valid JSON that
// starts at valid[i].
func ValueEnd(valid []byte, i int) int {
	switch valid[i] {
	case '"':
		return StringEnd(valid, i) + 1
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch valid[i] {
			case '"':
				i = StringEnd(valid, i)
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(valid) { // a number, true, false or null
		switch valid[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}
