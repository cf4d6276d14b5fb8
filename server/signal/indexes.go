package signal

import (
	"slices"

	"github.com/parley-rtc/parley/api"
)

// Index names an index the store keeps over its records: under a key, the
// ids of the records that have it, each with a score that orders them. The
// indexes are derived from the records alone (SessionEntries, RoomEntries,
// CallEntries), so every store derives them the same way.
type Index uint8

const (
	// SessionsAll: "" → every session, by creation.
	SessionsAll Index = iota + 1
	// SessionsOfNode: a node → the sessions attached to it, or detached
	// from it.
	SessionsOfNode
	// SessionsOfIdentity: an identity → its sessions (devices), by
	// creation.
	SessionsOfIdentity
	// DetachedOfAddress and DetachedOfIdentity: an address or identity →
	// its detached sessions, oldest drop first.
	DetachedOfAddress
	DetachedOfIdentity
	// Followers: an identity → the sessions following it.
	Followers
	// RoomsAll: "" → every room.
	RoomsAll
	// RoomsOfSession: a session → the rooms it has a seat in.
	RoomsOfSession
	// EmptyRoomsOfSession and EmptyRoomsOfIdentity: a session or identity
	// → the rooms it made with room.create that nobody has joined yet.
	EmptyRoomsOfSession
	EmptyRoomsOfIdentity
	// CallsOfSession: a session → the calls it is caller, ringing device
	// or answerer of.
	CallsOfSession
	// InvitesOfCaller: a caller identity → its unanswered calls;
	// InvitesOfPair: InvitePair(caller, callee) → theirs.
	InvitesOfCaller
	InvitesOfPair
	// Indexes is one more than the last index: an array indexed by Index
	// holds one of each.
	Indexes
)

var indexNames = [...]string{
	SessionsAll: "sessions", SessionsOfNode: "node-sessions", SessionsOfIdentity: "identity-sessions",
	DetachedOfAddress: "detached-address", DetachedOfIdentity: "detached-identity", Followers: "followers",
	RoomsAll: "rooms", RoomsOfSession: "session-rooms", EmptyRoomsOfSession: "empty-session",
	EmptyRoomsOfIdentity: "empty-identity", CallsOfSession: "session-calls",
	InvitesOfCaller: "invites-caller", InvitesOfPair: "invites-pair",
}

func (ix Index) String() string { return nameOf(indexNames[:], int(ix), "index") }

// Entry is one place a record holds in an index.
type Entry struct {
	Index Index
	Key   string
	Score int64
}

// InvitePair is the InvitesOfPair key of a caller and a callee identity
// (identities have no spaces).
func InvitePair(caller, callee string) string { return caller + " " + callee }

// SessionEntries appends the index entries of a session to dst.
func SessionEntries(dst []Entry, s *Session) []Entry {
	created := s.CreatedAt.UnixNano()
	dst = append(dst,
		Entry{SessionsAll, "", created},
		Entry{SessionsOfNode, s.Node, created},
		Entry{SessionsOfIdentity, s.Identity, created})
	if s.State == Detached {
		at := s.DetachedAt.UnixNano()
		dst = append(dst, Entry{DetachedOfAddress, s.Remote, at}, Entry{DetachedOfIdentity, s.Identity, at})
	}
	for _, id := range s.Follows {
		dst = append(dst, Entry{Followers, id, 0})
	}
	return dst
}

// RoomEntries appends the index entries of a room to dst.
func RoomEntries(dst []Entry, r *Room) []Entry {
	created := r.CreatedAt.UnixNano()
	dst = append(dst, Entry{RoomsAll, "", created})
	for _, seat := range r.Seats {
		dst = append(dst, Entry{RoomsOfSession, seat.Session, created})
	}
	if r.CreatedBy != "" {
		dst = append(dst, Entry{EmptyRoomsOfSession, r.CreatedBy, created}, Entry{EmptyRoomsOfIdentity, r.CreatorIdentity, created})
	}
	return dst
}

// CallEntries appends the index entries of a call to dst.
func CallEntries(dst []Entry, c *Call) []Entry {
	invited := c.InvitedAt.UnixNano()
	n := len(dst)
	dst = append(dst, Entry{CallsOfSession, c.Caller, invited})
	for _, d := range c.Forks {
		dst = append(dst, Entry{CallsOfSession, d, invited})
	}
	if c.Answerer != "" {
		dst = append(dst, Entry{CallsOfSession, c.Answerer, invited})
	}
	if c.State != api.CallStateActive {
		dst = append(dst, Entry{InvitesOfCaller, c.CallerIdentity, invited}, Entry{InvitesOfPair, InvitePair(c.CallerIdentity, c.Callee), invited})
	}
	return dst[:n+len(dedupeEntries(dst[n:]))]
}

// dedupeEntries drops repeated (index, key) pairs, in place: a record is
// in an index under a key once.
func dedupeEntries(es []Entry) []Entry {
	out := es[:0]
	for _, e := range es {
		if !slices.ContainsFunc(out, func(o Entry) bool { return o.Index == e.Index && o.Key == e.Key }) {
			out = append(out, e)
		}
	}
	return out
}
