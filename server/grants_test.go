package server

import (
	"testing"
	"time"
)

// TestGrantsExpireWithTheirToken: a session outlives its token, its
// grants do not. Past the token's exp the session keeps its seat and can
// still message its room, but admin, joins and kicks are refused (401,
// naming the expiry); a resume without a token is refused, and one with a
// fresh token restores exactly the fresh token's grants.
func TestGrantsExpireWithTheirToken(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	ts := startServerWith(t, func(s *Server) { s.now = clock.Now }, func(c *Config) { c.NoTURN = true })
	admin := ts.connectWith(t, map[string]any{"token": mint(t, "root", Grants{Admin: true, Moderator: true, Create: true}, 10*time.Second)})
	admin.must("admin.rooms.list", nil)
	owner, guest := ts.connect(t, "owner"), ts.connect(t, "guest")
	joinRoom(owner, "ops")
	joinRoom(admin, "ops") // a moderator, by its grant
	joinRoom(guest, "ops")
	admin.expect("room.peerJoined")

	clock.advance(11 * time.Second)
	for _, call := range []struct {
		method string
		params map[string]any
	}{
		{"admin.rooms.list", nil},
		{"room.join", map[string]any{"roomId": "other", "create": true}},
		{"room.create", map[string]any{"roomId": "another"}},
		{"room.kick", map[string]any{"roomId": "ops", "peerId": guest.peerID}},
	} {
		_, err := admin.Call(call.method, call.params)
		rpcError(t, err, 401, "token expired")
	}
	admin.must("message.send", map[string]any{"roomId": "ops", "to": guest.peerID, "data": "still seated"})
	guest.expect("message.received")

	_ = admin.Close()
	c := ts.dial(t, nil)
	_, err := c.Call("session.connect", resumeParams(admin, 0))
	rpcError(t, err, 401, "resume with a fresh token")
	params := resumeParams(admin, 0)
	params["token"] = mint(t, "someone-else", Grants{Admin: true}, time.Hour)
	_, err = c.Call("session.connect", params)
	rpcError(t, err, 403, "another identity")

	// A fresh token without admin: the session is back, with its grants.
	clock.set(time.Now()) // the server reads its clock on other goroutines (timers)
	params["token"] = mint(t, "root", Grants{Create: true}, time.Hour)
	if err := c.CallInto("session.connect", params, nil); err != nil {
		t.Fatalf("resume with a fresh token: %v", err)
	}
	_, err = c.Call("admin.rooms.list", nil)
	rpcError(t, err, 403, "admin grant")
	if _, err := c.Call("room.join", map[string]any{"roomId": "fresh", "create": true}); err != nil {
		t.Fatalf("room.join with the fresh token's create grant: %v", err)
	}
}
