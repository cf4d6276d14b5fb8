package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A Secret is a Standard Webhooks signing key: "whsec_" and the key in
// base64. The specification asks for 24 to 64 random bytes.
type Secret []byte

const secretPrefix = "whsec_"

// ParseSecret decodes "whsec_<base64>".
func ParseSecret(s string) (Secret, error) {
	enc, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		return nil, errors.New(`a secret starts with "whsec_" (whsec_<base64 of 24 to 64 random bytes>)`)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("the part after whsec_ is not base64: %w", err)
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("the key is %d bytes; Standard Webhooks asks for 24 to 64", len(key))
	}
	return key, nil
}

// Sign is the webhook-signature header for a delivery (Standard Webhooks,
// "Signature scheme"): for each secret, "v1," and the base64 HMAC-SHA256 of
// "<webhook-id>.<webhook-timestamp>.<body>", space-separated. A receiver
// accepts the delivery if any signature verifies with a secret it knows.
func Sign(secrets []Secret, id string, timestamp int64, body []byte) string {
	signed := make([]byte, 0, len(id)+len(body)+24)
	signed = append(signed, id...)
	signed = append(signed, '.')
	signed = strconv.AppendInt(signed, timestamp, 10)
	signed = append(signed, '.')
	signed = append(signed, body...)
	sigs := make([]string, len(secrets))
	for i, key := range secrets {
		m := hmac.New(sha256.New, key)
		m.Write(signed)
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	return strings.Join(sigs, " ")
}
