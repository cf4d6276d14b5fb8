package signal

import "crypto/rand"

// idAlphabet keeps generated ids inside the schema's ^[A-Za-z0-9_-]{1,64}$.
const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewID returns n random characters from idAlphabet (~5.95 bits each), from
// crypto/rand so ids and resume tokens cannot be guessed.
func NewID(n int) string {
	b := make([]byte, n)
	// 62*4 = 248 ≤ 256: bytes ≥ 248 are rejected so every character is
	// equally likely.
	for i := 0; i < n; {
		var buf [32]byte
		_, _ = rand.Read(buf[:]) // never fails on Linux (Go 1.24+ crashes instead)
		for _, c := range buf {
			if c < 248 && i < n {
				b[i] = idAlphabet[c%62]
				i++
			}
		}
	}
	return string(b)
}
