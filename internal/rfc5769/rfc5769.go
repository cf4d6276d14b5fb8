// Package rfc5769 holds the STUN test vectors of RFC 5769, typed in from the
// RFC (vectors.txt), for the tests and fuzz seeds of the packages that parse
// STUN. One copy, so a typo is fixed once.
package rfc5769

import (
	_ "embed"
	"encoding/hex"
	"strings"
)

//go:embed vectors.txt
var text string

// Short-term password of sections 2.1-2.3; long-term credentials of 2.4.
const (
	ShortTermPassword = "VOkJxbRl1RmTxUk/WvJxBt"
	Username          = "マトリックス"
	Realm             = "example.org"
	Password          = "TheMatrIX" // SASLprep'd "The\u00adM\u00aatr\u2168"
)

// Vectors returns the messages by section: "2.1" (request), "2.2" (IPv4
// response), "2.3" (IPv6 response), "2.4" (request with long-term auth).
// Each call returns fresh slices.
func Vectors() map[string][]byte {
	vectors := make(map[string][]byte)
	var section string
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			for _, field := range strings.Fields(line) {
				b, err := hex.DecodeString(field)
				if err != nil || len(b) != 1 {
					break // the RFC's annotation
				}
				vectors[section] = append(vectors[section], b[0])
			}
		}
	}
	return vectors
}
