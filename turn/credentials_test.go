package turn

import (
	"strings"
	"testing"
	"time"
)

// The passwords were computed with openssl, independently of this code:
//
//	printf '%s' '1700000000:alice' | openssl dgst -sha1 -hmac 'parley-test-secret-0123' -binary | base64
func TestPasswordVectors(t *testing.T) {
	cases := []struct{ secret, username, password string }{
		{"parley-test-secret-0123", "1700000000:alice", "bi/wv7w85lyv6QFYSM0dc8LDxmI="},
		{"rotated-secret-abcdef", "1700000000:bob:with:colons", "2Pexpzjuuyex1+U61hZf+A2MHls="},
		{"parley-test-secret-0123", "2000000000:alice", "RWn/gKb5REEUBWOYYCPamnnpONA="},
	}
	for _, c := range cases {
		if got := Password([]byte(c.secret), c.username); got != c.password {
			t.Errorf("Password(%q, %q) = %q, want %q", c.secret, c.username, got, c.password)
		}
	}
}

func TestIssueAndVerify(t *testing.T) {
	creds, err := NewCredentials([]string{"parley-test-secret-0123", "rotated-secret-abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1699999000, 500_000_000)
	user, pass, exp := creds.Issue("alice", 1000*time.Second, now)
	if user != "1700000000:alice" || pass != "bi/wv7w85lyv6QFYSM0dc8LDxmI=" || exp.Unix() != 1700000000 {
		t.Fatalf("Issue = %q %q %v", user, pass, exp)
	}
	if i, ok := creds.Verify(user, pass); !ok || i != 0 {
		t.Fatalf("Verify(first secret) = %d %v", i, ok)
	}
	// Signed by the second (older) secret: still verifies.
	if i, ok := creds.Verify("1700000000:bob:with:colons", "2Pexpzjuuyex1+U61hZf+A2MHls="); !ok || i != 1 {
		t.Fatalf("Verify(second secret) = %d %v", i, ok)
	}
	if _, ok := creds.Verify(user, "bi/wv7w85lyv6QFYSM0dc8LDxmA="); ok {
		t.Fatal("a wrong password verified")
	}
	if _, ok := creds.Verify("1700000001:alice", pass); ok {
		t.Fatal("a password verified for another username (changed expiry)")
	}
}

// TestIssueReusesSigners: each secret's keyed HMAC is reused from call to
// call, and every password is still Password's, whichever came before.
func TestIssueReusesSigners(t *testing.T) {
	secrets := []string{"parley-test-secret-0123", "rotated-secret-abcdef"}
	creds, err := NewCredentials(secrets)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1699999000, 0)
	for i := range 50 {
		identity := strings.Repeat("x", i) // usernames of every length up to past a block
		user, pass, _ := creds.Issue(identity, time.Hour, now)
		if want := Password([]byte(secrets[0]), user); pass != want {
			t.Fatalf("Issue(%q): password %q, want %q", identity, pass, want)
		}
		if s, ok := creds.Verify(user, Password([]byte(secrets[1]), user)); !ok || s != 1 {
			t.Fatalf("Verify(%q, second secret's password) = %d %v", user, s, ok)
		}
	}
}

func TestParseUsername(t *testing.T) {
	exp, id, err := ParseUsername("1700000000:bob:with:colons")
	if err != nil || exp.Unix() != 1700000000 || id != "bob:with:colons" {
		t.Fatalf("ParseUsername = %v %q %v", exp, id, err)
	}
	for _, bad := range []string{"alice", "1700000000:", "-5:alice", "x:alice", ":alice", ""} {
		if _, _, err := ParseUsername(bad); err == nil {
			t.Errorf("ParseUsername(%q) accepted", bad)
		}
	}
}

func TestNewCredentialsRefuses(t *testing.T) {
	for _, c := range []struct {
		secrets []string
		want    string
	}{
		{nil, "no secret"},
		{[]string{"short"}, "at least 16"},
		{[]string{"0123456789abcdef", "0123456789abcdef"}, "twice"},
	} {
		if _, err := NewCredentials(c.secrets); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewCredentials(%q) = %v, want %q", c.secrets, err, c.want)
		}
	}
}
