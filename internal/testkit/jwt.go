package testkit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// SignHS256 signs claims, a JSON object written by hand (in any spelling,
// with duplicate names if the test wants them), as an HS256 JWT whose kid
// header is kid: the tokens no well-behaved library would mint.
func SignHS256(kid, secret, claims string) string {
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"`+kid+`"}`)) + "." + enc.EncodeToString([]byte(claims))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(m.Sum(nil))
}
