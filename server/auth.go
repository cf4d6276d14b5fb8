package server

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-rtc/parley/server/signal"
)

// Grants are what a session may do (see signal.Grants).
type Grants = signal.Grants

// Claims is the JWT payload Parley reads: the standard subject (identity),
// expiry and not-before, plus Parley's grants.
type Claims struct {
	jwt.RegisteredClaims
	Grants
}

// claimNames are the claims Parley reads, spelled as they must be.
var claimNames = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "rooms", "create", "moderator", "admin", "owner"}

// UnmarshalJSON decodes claims case-sensitively. encoding/json, which the
// JWT library uses, matches names case-insensitively (and folds the
// Kelvin sign and the long s), so {"Admin": true} granted admin; here only
// "admin" does, and a name that differs from one of claimNames only by case
// is refused rather than ignored: it is a grant its issuer meant to give or
// a forgery, either way not a token to accept. A name given twice is
// refused too. Other claims (the application's own) are ignored.
func (c *Claims) UnmarshalJSON(data []byte) error {
	var members map[string]jsontext.Value
	if err := json.Unmarshal(data, &members); err != nil {
		return &claimError{fmt.Sprintf("claims are not a JSON object with unique names: %v", err)}
	}
	for name := range members {
		for _, known := range claimNames {
			if name != known && strings.EqualFold(name, known) {
				return &claimError{fmt.Sprintf("claim %q is not %q: claim names are case-sensitive", name, known)}
			}
		}
	}
	type plain Claims // without this method
	if err := json.Unmarshal(data, (*plain)(c), json.RejectUnknownMembers(false)); err != nil {
		return &claimError{fmt.Sprintf("claims: %v", err)}
	}
	return nil
}

// claimError is a claim Parley refuses; Verify passes its text on.
type claimError struct{ msg string }

func (e *claimError) Error() string { return e.msg }

// maxClockSkew is how far in the future a token's iat may lie: the
// issuer's clock may run ahead of ours by that much (Mint backdates nbf by
// the same), no more.
const maxClockSkew = time.Minute

// APIKeys maps a key id (the JWT kid) to its HMAC secret.
type APIKeys map[string][]byte

// ParseAPIKeys reads "kid:secret" pairs. Secrets shorter than 32 bytes are
// refused: HS256 with a short secret is guessable offline.
func ParseAPIKeys(pairs []string) (APIKeys, error) {
	keys := make(APIKeys, len(pairs))
	for _, pair := range pairs {
		kid, secret, ok := strings.Cut(pair, ":")
		if !ok || kid == "" {
			return nil, fmt.Errorf("%q is not kid:secret", redact(pair))
		}
		if len(secret) < 32 {
			return nil, fmt.Errorf("key %q: secret must be at least 32 characters", kid)
		}
		if _, dup := keys[kid]; dup {
			return nil, fmt.Errorf("key %q given twice", kid)
		}
		keys[kid] = []byte(secret)
	}
	return keys, nil
}

// redact keeps a secret out of an error message.
func redact(pair string) string {
	if kid, _, ok := strings.Cut(pair, ":"); ok {
		return kid + ":…"
	}
	return "…"
}

// Mint signs a token for identity with the given key; `parley token` and
// tests use it, app backends do the same in their own language.
func Mint(kid string, secret []byte, identity string, grants Grants, ttl time.Duration, now time.Time) (string, error) {
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   identity,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Grants: grants,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = kid
	signed, err := tok.SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signed, nil
}

// Verify checks a token's signature (HS256 only, key chosen by kid), expiry
// and subject, and returns its claims. Errors are meant for the client: they
// say what is wrong without echoing the token.
func (keys APIKeys) Verify(token string, now time.Time) (*Claims, error) {
	var claims Claims
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	_, err := parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		secret, ok := keys[kid]
		if !ok {
			return nil, fmt.Errorf("unknown key id %q", kid)
		}
		return secret, nil
	})
	var bad *claimError
	switch {
	case errors.As(err, &bad):
		return nil, fmt.Errorf("invalid token: %s", bad.msg)
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, errors.New("token expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, errors.New("token not valid yet")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, errors.New("token signature invalid")
	case err != nil:
		return nil, fmt.Errorf("invalid token: %w", err)
	}
	if claims.Subject == "" {
		return nil, errors.New("token has no subject (identity)")
	}
	if claims.IssuedAt != nil && claims.IssuedAt.After(now.Add(maxClockSkew)) {
		return nil, fmt.Errorf("token issued in the future (iat %s, more than %s ahead of this server's clock)", claims.IssuedAt.UTC().Format(time.RFC3339), maxClockSkew)
	}
	return &claims, nil
}
