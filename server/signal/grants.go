package signal

import (
	"fmt"
	"slices"
	"time"

	"github.com/parley-rtc/parley/api"
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

// noGrants is what a session holds once the token that carried its grants
// has expired: no room (an empty list; nil would mean any), nothing else.
var noGrants = Grants{Rooms: []string{}}

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

// expired reports whether the session's grants lapsed by now; grants
// without a token never do.
func (s *Session) expired(now time.Time) bool {
	return !s.GrantsExpire.IsZero() && !now.Before(s.GrantsExpire)
}

// grants is what the session may do now: its token's grants until that
// token expires, then none. A session outlives its token (its seats and
// relays go on), its rights do not: a resume with a fresh token renews
// them.
func (s *Session) grants(now time.Time) Grants {
	if s.expired(now) {
		return noGrants
	}
	return s.Grants
}

// forbidden refuses what the session's grants do not allow: 403 with msg,
// or 401 when the grants lapsed with their token (a fresh one is the fix).
func (s *Session) forbidden(now time.Time, msg string) error {
	if s.expired(now) {
		return api.ErrUnauthenticated(fmt.Sprintf("%s: your token expired at %s; resume or reconnect with a fresh token", msg, s.GrantsExpire.UTC().Format(time.RFC3339)))
	}
	return api.ErrForbidden(msg)
}
