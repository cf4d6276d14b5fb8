package abuse

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/rpctest"
	"github.com/parley-rtc/parley/internal/testkit"
)

// token signs claims (a JSON object, spelled as the test likes, with
// fmt verbs for args) with the suite's API key.
func token(format string, args ...any) string {
	return testkit.SignHS256(apiKID, apiSecret, fmt.Sprintf(format, args...))
}

// dialToken opens a session on addr with tok; err is session.connect's.
func dialToken(t *testing.T, addr, tok string) (*rpctest.Client, map[string]any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rpctest.Timeout)
	defer cancel()
	c, err := rpctest.Dial(ctx, "ws://"+addr+"/rpc", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	var res map[string]any
	return c, res, c.CallInto("session.connect", map[string]any{"token": tok}, &res)
}

// rpcCode is a JSON-RPC error's code, 0 for success.
func rpcCode(err error) int64 {
	if e, ok := err.(*rpctest.Error); ok {
		return e.Code
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestClaimSpellings (issue 16.10): Go's encoding/json folds case, so
// {"Admin": true}, {"ADMIN": true} or a second "EXP" granted admin or
// stretched the expiry. Claims are read case-sensitively now, and a token
// with such a spelling is refused; so is an iat an hour ahead.
func TestClaimSpellings(t *testing.T) {
	p := startProduction(t)
	exp := time.Now().Add(time.Hour).Unix()
	for _, tc := range []struct{ name, claims string }{
		{"Admin", fmt.Sprintf(`{"sub":"mallory","exp":%d,"Admin":true}`, exp)},
		{"ADMIN", fmt.Sprintf(`{"sub":"mallory","exp":%d,"ADMIN":true}`, exp)},
		{"EXP", fmt.Sprintf(`{"sub":"mallory","exp":%d,"EXP":99999999999}`, time.Now().Add(-time.Minute).Unix())},
		{"iat an hour ahead", fmt.Sprintf(`{"sub":"mallory","exp":%d,"iat":%d}`, exp, time.Now().Add(time.Hour).Unix())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := dialToken(t, p.Addr, testkit.SignHS256(apiKID, apiSecret, tc.claims))
			if err == nil {
				_, adminErr := c.Call("admin.rooms.list", nil)
				t.Fatalf("token %s opened a session (admin.rooms.list: %v)", tc.claims, adminErr)
			}
			if rpcCode(err) != 401 {
				t.Fatalf("session.connect: %v, want 401", err)
			}
			t.Logf("refused: %v", err)
		})
	}
	// The exact spelling still works.
	c, _, err := dialToken(t, p.Addr, token(`{"sub":"ops","exp":%d,"admin":true}`, exp))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call("admin.rooms.list", nil); err != nil {
		t.Fatalf("admin.rooms.list with a well-spelled admin token: %v", err)
	}
}

// TestSessionOutlivesToken (issue 16.10): a 2 s admin token (exp counts
// whole seconds) was enough for an admin session that a resume without
// any token kept alive after the expiry. Now the grants lapse with the
// token, and a resume after it needs a fresh token.
func TestSessionOutlivesToken(t *testing.T) {
	p := startProduction(t)
	expires := time.Now().Add(2 * time.Second)
	c, sess, err := dialToken(t, p.Addr, token(`{"sub":"temp","exp":%d,"admin":true}`, expires.Unix()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call("admin.rooms.list", nil); err != nil {
		t.Fatalf("admin.rooms.list within the token's life: %v", err)
	}
	time.Sleep(time.Until(time.Unix(expires.Unix(), 0)) + 100*time.Millisecond)
	_, err = c.Call("admin.rooms.list", nil)
	t.Logf("attached, after exp: admin.rooms.list: %v", err)
	if rpcCode(err) != 401 {
		t.Errorf("admin.rooms.list after the token expired: %v, want 401", err)
	}
	_ = c.Close() // dropped, not closed: resumable
	ctx, cancel := context.WithTimeout(context.Background(), rpctest.Timeout)
	defer cancel()
	r, err := rpctest.Dial(ctx, p.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	resume := map[string]any{"sessionId": sess["sessionId"], "resumeToken": sess["resumeToken"], "lastSeq": 0}
	_, err = r.Call("session.connect", map[string]any{"resume": resume})
	t.Logf("resume after exp without a token: %v", err)
	if err == nil {
		_, adminErr := r.Call("admin.rooms.list", nil)
		t.Fatalf("resumed after the token expired, without a fresh one (admin.rooms.list: %v)", adminErr)
	}
	if rpcCode(err) != 401 {
		t.Fatalf("resume after exp without a token: %v, want 401", err)
	}
	fresh := token(`{"sub":"temp","exp":%d}`, time.Now().Add(time.Hour).Unix())
	if _, err := r.Call("session.connect", map[string]any{"resume": resume, "token": fresh}); err != nil {
		t.Fatalf("resume with a fresh token: %v", err)
	}
	if _, err := r.Call("admin.rooms.list", nil); rpcCode(err) != 403 {
		t.Fatalf("admin.rooms.list under a fresh token without admin: %v, want 403", err)
	}
}
