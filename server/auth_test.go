package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/testkit"
)

func mint(t *testing.T, identity string, g Grants, ttl time.Duration) string {
	t.Helper()
	tok, err := Mint(testKID, []byte(testSecret), identity, g, ttl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerify(t *testing.T) {
	keys, err := ParseAPIKeys([]string{testKID + ":" + testSecret})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	good, _ := Mint(testKID, []byte(testSecret), "alice", Grants{Rooms: []string{"a"}, Create: true}, time.Hour, now)
	otherKey, _ := Mint("other", []byte(testSecret), "alice", Grants{}, time.Hour, now)
	wrongSecret, _ := Mint(testKID, []byte(strings.Repeat("x", 32)), "alice", Grants{}, time.Hour, now)
	noSubject, _ := Mint(testKID, []byte(testSecret), "", Grants{}, time.Hour, now)
	cases := []struct {
		name  string
		token string
		at    time.Time
		want  string // error substring, "" for success
	}{
		{"valid", good, now, ""},
		{"expired", good, now.Add(2 * time.Hour), "expired"},
		{"not yet valid", good, now.Add(-time.Hour), "not valid yet"},
		{"unknown kid", otherKey, now, "unknown key id"},
		{"wrong secret", wrongSecret, now, "signature invalid"},
		{"no subject", noSubject, now, "no subject"},
		{"garbage", "not.a.jwt", now, "invalid token"},
		// alg "none" must never be accepted.
		{"alg none", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.", now, "signature invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := keys.Verify(tc.token, tc.at)
			if tc.want == "" {
				if err != nil || c.Subject != "alice" || !c.Create || !c.MayJoin("a") || c.MayJoin("b") {
					t.Fatalf("Verify = %+v, %v", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify error = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestVerifyClaimsCaseSensitively: only the exact claim names count; a
// name that differs from one only by case (or by Unicode folding) is
// refused, so {"Admin": true} grants nothing; a name given twice is
// refused; the application's own claims are ignored; an iat more than a
// minute ahead is refused.
func TestVerifyClaimsCaseSensitively(t *testing.T) {
	keys, err := ParseAPIKeys([]string{testKID + ":" + testSecret})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	claims := func(extra string) string {
		return testkit.SignHS256(testKID, testSecret, fmt.Sprintf(`{"sub":"alice","exp":%d%s}`, now.Add(time.Hour).Unix(), extra))
	}
	for _, tc := range []struct {
		name, token string
		want        string // error substring; "" for success
		admin       bool
	}{
		{"admin", claims(`,"admin":true`), "", true},
		{"Admin", claims(`,"Admin":true`), `claim "Admin" is not "admin"`, false},
		{"ADMIN", claims(`,"ADMIN":true`), `claim "ADMIN" is not "admin"`, false},
		{"Rooms", claims(`,"Rooms":["*"]`), `claim "Rooms" is not "rooms"`, false},
		{"sub with a long s", claims(`,"ſub":"mallory"`), `claim "ſub" is not "sub"`, false},
		{"EXP", claims(`,"EXP":9999999999`), `claim "EXP" is not "exp"`, false},
		{"twice", claims(`,"admin":false,"admin":true`), "unique names", false},
		{"an application's own claim", claims(`,"tenant":"acme","Tenant":"x"`), "", false},
		{"iat a little ahead", claims(fmt.Sprintf(`,"iat":%d`, now.Add(30*time.Second).Unix())), "", false},
		{"iat in the future", claims(fmt.Sprintf(`,"iat":%d`, now.Add(2*time.Minute).Unix())), "issued in the future", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := keys.Verify(tc.token, now)
			if tc.want == "" {
				if err != nil || c.Subject != "alice" || c.Admin != tc.admin {
					t.Fatalf("Verify = %+v, %v; want alice, admin %v", c, err, tc.admin)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify = %+v, %v; want an error with %q", c, err, tc.want)
			}
		})
	}
}

func TestParseAPIKeys(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{[]string{"k:" + testSecret}, ""},
		{[]string{"nocolon"}, "not kid:secret"},
		{[]string{":" + testSecret}, "not kid:secret"},
		{[]string{"k:short"}, "at least 32"},
		{[]string{"k:" + testSecret, "k:" + testSecret}, "twice"},
	}
	for _, tc := range cases {
		_, err := ParseAPIKeys(tc.in)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("ParseAPIKeys(%q) = %v, want %q", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "short") {
			t.Errorf("error leaks the secret: %v", err)
		}
	}
}

func TestAuthRequired(t *testing.T) {
	ts := startServer(t)
	c := ts.dial(t, nil)
	for _, method := range []string{"room.join", "room.create", "sdp.offer", "message.send", "ice.servers"} {
		_, err := c.Call(method, map[string]any{"roomId": "r", "to": "x", "sdp": sampleSDP, "data": 1})
		rpcError(t, err, 401, "session.connect")
	}
	if _, err := c.Call("rpc.discover", nil); err != nil {
		t.Fatalf("rpc.discover before session.connect: %v", err)
	}
	_, err := c.Call("session.connect", map[string]any{})
	rpcError(t, err, 401, "token")
	_, err = c.Call("session.connect", map[string]any{"token": "x", "identity": "a"})
	rpcError(t, err, 400, "not both")
}

func TestTokens(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Dev = false })
	c := ts.dial(t, nil)
	_, err := c.Call("session.connect", map[string]any{"identity": "alice"})
	rpcError(t, err, 401, "dev mode")
	_, err = c.Call("session.connect", map[string]any{"token": mint(t, "alice", Grants{}, -time.Minute)})
	rpcError(t, err, 401, "expired")
	_, err = c.Call("session.connect", map[string]any{"token": "garbage"})
	rpcError(t, err, 401, "invalid token")
	_, err = c.Call("session.connect", map[string]any{"token": mint(t, "has:colon", Grants{}, time.Hour)})
	rpcError(t, err, 401, "not a valid identity")

	limited := ts.connectWith(t, map[string]any{"token": mint(t, "alice", Grants{Rooms: []string{"a"}}, time.Hour)})
	if limited.session["identity"] != "alice" {
		t.Fatalf("identity = %v", limited.session["identity"])
	}
	_, err = limited.Call("room.join", map[string]any{"roomId": "b", "create": true})
	rpcError(t, err, 403, `room "b"`)
	_, err = limited.Call("room.join", map[string]any{"roomId": "a", "create": true})
	rpcError(t, err, 403, "creating rooms")
	_, err = limited.Call("admin.rooms.list", nil)
	rpcError(t, err, 403, "admin")

	creator := ts.connectWith(t, map[string]any{"token": mint(t, "bob", Grants{Create: true}, time.Hour)})
	joinRoom(creator, "a")
	limited.must("room.join", map[string]any{"roomId": "a"})
	admin := ts.connectWith(t, map[string]any{"token": mint(t, "ops", Grants{Admin: true}, time.Hour)})
	if res := string(admin.must("admin.rooms.list", nil)); !strings.Contains(res, `"roomId":"a"`) || !strings.Contains(res, `"peerCount":2`) {
		t.Fatalf("admin.rooms.list = %s", res)
	}
	_, err = admin.Call("session.connect", map[string]any{"token": mint(t, "ops", Grants{}, time.Hour)})
	rpcError(t, err, 409, "already has a session")
}

func TestAuthTimeoutClosesConnection(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Limits.AuthTimeout = 100 * time.Millisecond })
	c := ts.dial(t, nil)
	code, text, err := c.CloseCode()
	if err != nil || code != 4002 || !strings.Contains(text, "session.connect") {
		t.Fatalf("close = %d %q %v, want 4002 naming session.connect", code, text, err)
	}
}
