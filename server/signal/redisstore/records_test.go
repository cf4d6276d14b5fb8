package redisstore

import (
	"reflect"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/server/signal"
)

// TestRecordsRoundTrip: every record comes back from Redis as it went:
// nil and empty slices apart (a nil Grants.Rooms admits every room, an
// empty one none; nil metadata is none), held candidates with seq 0 and
// the end-of-candidates null.
func TestRecordsRoundTrip(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC)
	mid, idx := "0", int64(0)
	tests := []struct {
		name string
		rec  any
	}{
		{"session, any room", &signal.Session{ID: "s", PeerID: "p", Identity: "ann", Node: "n1", Gen: 3, State: signal.Attached,
			TokenHash: []byte{1, 2}, Grants: signal.Grants{Create: true}, GrantsExpire: at, Epoch: "e", CreatedAt: at,
			Follows: []string{"bob"}, Presence: signal.DevicePresence{Status: api.PresenceSetStatusAway, Note: "x", At: 4}}},
		{"session, no room", &signal.Session{ID: "s", Grants: signal.Grants{Rooms: []string{}, Owner: []string{"r"}}, DetachedAt: at, State: signal.Detached}},
		{"room", &signal.Room{ID: "r", MaxPeers: 4, Locked: true, Metadata: []byte(`{"a":1}`), Duplicate: api.DuplicatePolicyTakeover,
			CreatedBy: "s", CreatorIdentity: "ann", CreatedAt: at, Call: "c",
			Seats: []signal.Seat{{Session: "s", Peer: api.Peer{PeerID: "p", Identity: "ann", Role: api.RoleOwner, Metadata: jsontext.Value(`{"a":[1]}`), State: api.PeerStateReconnecting}}}}},
		{"room without metadata or seats", &signal.Room{ID: "r", MaxPeers: 2}},
		{"call", &signal.Call{ID: "c", Caller: "s", CallerIdentity: "ann", Callee: "bob", Metadata: []byte(`"m"`), State: api.CallStateRinging,
			Forks: []string{"d1", "d2"}, InvitedAt: at, ExpiresAt: at.Add(time.Minute)}},
		{"pair", &signal.Pair{Key: signal.PairKey{Lo: "a", Hi: "b"}, Offered: true, Offerer: 1, Pending: [2]time.Time{at, {}},
			Held: [2][]signal.HeldCandidate{{{Event: api.IceCandidateEvent{RoomID: "r", From: "a", Candidate: &api.IceCandidateInit{Candidate: "candidate:1 1 udp 1 192.0.2.1 1 typ host", SDPMid: &mid, SDPMLineIndex: &idx}}, At: at}},
				{{Event: api.IceCandidateEvent{RoomID: "r", From: "b"}, At: at}}},
			HeldDue: at, Restarts: []time.Time{at}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := json.Marshal(tt.rec, recordOptions)
			if err != nil {
				t.Fatal(err)
			}
			got := reflect.New(reflect.TypeOf(tt.rec).Elem()).Interface()
			if err := json.Unmarshal(raw, got, recordOptions); err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			if !reflect.DeepEqual(got, tt.rec) {
				t.Fatalf("round trip of %s:\n got %+v\nwant %+v", raw, got, tt.rec)
			}
		})
	}
}
