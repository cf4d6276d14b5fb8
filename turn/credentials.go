package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST API (and coturn's use-auth-secret) fixes HMAC-SHA1
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// minSecretLen refuses secrets short enough to brute-force offline from one
// captured username/password pair.
const minSecretLen = 16

// Credentials issues and checks TURN REST API credentials the way coturn's
// use-auth-secret does (draft-uberti-behave-turn-rest-00): the username is
// "<unix-expiry>:<identity>" and the password base64(HMAC-SHA1(secret,
// username)). A coturn configured with the same static-auth-secret accepts
// what Parley issues, and the reverse.
//
// Several secrets allow rotation: the first signs, every one verifies, so a
// new secret can be put first while credentials signed with the old one are
// still out there.
type Credentials struct {
	secrets [][]byte
	signers []sync.Pool // of *signer, one pool per secret
}

// signer computes the passwords of one secret: its HMAC is keyed once
// (Reset brings it back to the keyed state), where hmac.New hashed the
// key's pads and made half a dozen allocations for every password.
type signer struct {
	mac hash.Hash
	in  []byte // the username, as bytes
	sum [sha1.Size]byte
}

// NewCredentials checks the secrets (at least one, none shorter than 16
// bytes, no duplicates).
func NewCredentials(secrets []string) (*Credentials, error) {
	if len(secrets) == 0 {
		return nil, errors.New("turn: no secret: TURN REST credentials need at least one shared secret")
	}
	if err := checkSecrets(secrets); err != nil {
		return nil, fmt.Errorf("turn: %w", err)
	}
	c := &Credentials{signers: make([]sync.Pool, len(secrets))}
	for _, s := range secrets {
		c.secrets = append(c.secrets, []byte(s))
	}
	return c, nil
}

// checkSecrets refuses a secret shorter than minSecretLen or given twice.
func checkSecrets(secrets []string) error {
	seen := make(map[string]bool, len(secrets))
	for i, s := range secrets {
		if len(s) < minSecretLen {
			return fmt.Errorf("secret %d is %d bytes; at least %d are needed", i+1, len(s), minSecretLen)
		}
		if seen[s] {
			return fmt.Errorf("secret %d is given twice", i+1)
		}
		seen[s] = true
	}
	return nil
}

// Issue returns a username and password for identity that expire ttl after
// now (rounded down to the second, as the username carries Unix seconds).
func (c *Credentials) Issue(identity string, ttl time.Duration, now time.Time) (username, password string, expires time.Time) {
	expires = now.Add(ttl).Truncate(time.Second)
	username = Username(expires, identity)
	return username, c.password(0, username), expires
}

// Verify reports whether password was signed for username by one of the
// secrets, and by which (0 is the signing secret). It does not look at the
// expiry: the server checks that on Allocate only.
func (c *Credentials) Verify(username, password string) (secret int, ok bool) {
	for i := range c.secrets {
		if subtle.ConstantTimeCompare([]byte(c.password(i, username)), []byte(password)) == 1 {
			return i, true
		}
	}
	return 0, false
}

// password returns the password the i-th secret gives username: Password,
// with a signer of the secret's pool.
func (c *Credentials) password(i int, username string) string {
	pool := &c.signers[i]
	s, _ := pool.Get().(*signer)
	if s == nil {
		s = &signer{mac: hmac.New(sha1.New, c.secrets[i])}
	}
	s.mac.Reset()
	s.in = append(s.in[:0], username...)
	s.mac.Write(s.in)
	password := base64.StdEncoding.EncodeToString(s.mac.Sum(s.sum[:0]))
	pool.Put(s)
	return password
}

// Username is "<unix-expiry>:<identity>".
func Username(expires time.Time, identity string) string {
	var unix [20]byte
	var b strings.Builder
	b.Grow(len(unix) + 1 + len(identity))
	b.Write(strconv.AppendInt(unix[:0], expires.Unix(), 10))
	b.WriteByte(':')
	b.WriteString(identity)
	return b.String()
}

// Password is base64(HMAC-SHA1(secret, username)), standard encoding with
// padding, exactly as coturn computes it.
func Password(secret []byte, username string) string {
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// ParseUsername splits "<unix-expiry>:<identity>". The identity may itself
// contain colons; the expiry is everything before the first one. An empty
// identity is refused because quotas are counted per identity.
func ParseUsername(username string) (expires time.Time, identity string, err error) {
	ts, identity, ok := strings.Cut(username, ":")
	if !ok {
		return time.Time{}, "", fmt.Errorf("turn: username %q is not <unix-expiry>:<identity>", username)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, "", fmt.Errorf("turn: username %q does not start with a Unix time", username)
	}
	if identity == "" {
		return time.Time{}, "", fmt.Errorf("turn: username %q has no identity", username)
	}
	return time.Unix(sec, 0), identity, nil
}
