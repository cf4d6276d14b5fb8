package server

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Grants are what a session may do. They come from the JWT's claims (or,
// in dev mode, a fixed set for bare identities).
type Grants struct {
	// Rooms lists the rooms the session may join; nil means any, "*" too.
	Rooms []string `json:"rooms,omitempty"`
	// Create allows creating rooms (room.create, room.join with create).
	Create bool `json:"create,omitempty"`
	// Moderator makes the session a moderator (may kick) in rooms it joins.
	Moderator bool `json:"moderator,omitempty"`
	// Admin allows the admin.* methods and acting on any room.
	Admin bool `json:"admin,omitempty"`
	// Owner lists rooms the session owns: it joins them as owner, whoever
	// is seated already (otherwise a room's owner is its first peer). They
	// are granted as if listed in Rooms too.
	Owner []string `json:"owner,omitempty"`
}

// MayJoin reports whether the grants admit roomID.
func (g Grants) MayJoin(roomID string) bool {
	return g.AnyRoom() || slices.Contains(g.Rooms, roomID) || g.Owns(roomID)
}

// AnyRoom reports whether the grants admit every room (rooms absent or "*").
func (g Grants) AnyRoom() bool {
	return g.Rooms == nil || slices.Contains(g.Rooms, "*")
}

// Owns reports whether the grants make the session roomID's owner.
func (g Grants) Owns(roomID string) bool {
	return slices.Contains(g.Owner, roomID)
}

// Claims is the JWT payload Parley reads: the standard subject (identity),
// expiry and not-before, plus Parley's grants.
type Claims struct {
	jwt.RegisteredClaims
	Grants
}

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
	switch {
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
	return &claims, nil
}
