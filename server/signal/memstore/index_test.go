package memstore

import (
	"slices"
	"testing"
	"time"

	"github.com/parley-rtc/parley/server/signal"
)

// TestIndexMembers moves records in and out of one key of an index: one
// id inline, more in a map, in score order (ties as added), and the key
// gone with its last id.
func TestIndexMembers(t *testing.T) {
	const ix, key = signal.SessionsOfIdentity, "alice"
	at := func(score int64) []signal.Entry { return []signal.Entry{{Index: ix, Key: key, Score: score}} }
	steps := []struct {
		id    string
		now   []signal.Entry // nil: out of the index
		want  []string
		inMap bool
	}{
		{"s1", at(5), []string{"s1"}, false},
		{"s1", at(5), []string{"s1"}, false}, // unchanged
		{"s2", at(3), []string{"s2", "s1"}, true},
		{"s3", at(5), []string{"s2", "s1", "s3"}, true}, // a tie: after s1
		{"s2", at(9), []string{"s1", "s3", "s2"}, true}, // moved
		{"s1", nil, []string{"s3", "s2"}, true},
		{"s3", nil, []string{"s2"}, true},
		{"s2", nil, []string{}, false},
		{"s4", at(1), []string{"s4"}, false},
	}
	st := New(signal.StoreConfig{})
	had := map[string]*[]signal.Entry{"s1": new([]signal.Entry), "s2": new([]signal.Entry), "s3": new([]signal.Entry), "s4": new([]signal.Entry)}
	for i, s := range steps {
		st.reindex(s.id, had[s.id], s.now)
		if got := st.list(ix, key); !slices.Equal(got, s.want) {
			t.Fatalf("step %d (%s): list %v, want %v", i, s.id, got, s.want)
		}
		if got := st.count(ix, key); got != len(s.want) {
			t.Fatalf("step %d (%s): count %d, want %d", i, s.id, got, len(s.want))
		}
		_, one := st.index[ix].one[key]
		many := st.index[ix].many[key] != nil
		if one == many && len(s.want) > 0 || many != s.inMap {
			t.Fatalf("step %d (%s): key held alone %v, in a map %v; want %d ids, a map %v", i, s.id, one, many, len(s.want), s.inMap)
		}
		if !slices.Equal(*had[s.id], s.now) {
			t.Fatalf("step %d (%s): kept entries %v, want %v", i, s.id, *had[s.id], s.now)
		}
	}
}

// TestWholeSetIndexes reads the indexes that are not kept (every session,
// a node's sessions, every room) off the records: by creation, ties in
// the order the records were made, a node's sessions by their node now,
// and no record keeping an entry in them.
func TestWholeSetIndexes(t *testing.T) {
	st := New(signal.StoreConfig{})
	tx := st.Begin(t.Context())
	defer tx.Commit()
	at := func(sec int64) time.Time { return time.Unix(sec, 0) }
	sessions := []*signal.Session{
		{ID: "s1", Identity: "a", Node: "n1", CreatedAt: at(20)},
		{ID: "s2", Identity: "b", Node: "n2", CreatedAt: at(10)},
		{ID: "s3", Identity: "c", Node: "n1", CreatedAt: at(20)}, // a tie: after s1
		{ID: "s4", Identity: "d", Node: "n1", CreatedAt: at(5)},
	}
	for _, s := range sessions {
		tx.PutSession(s)
	}
	tx.PutRoom(&signal.Room{ID: "r2", CreatedAt: at(7)})
	tx.PutRoom(&signal.Room{ID: "r1", CreatedAt: at(7)})
	sessions[3].Node = "n2" // it moved: put again
	tx.PutSession(sessions[3])
	tx.DeleteSession("s2")
	for _, c := range []struct {
		ix   signal.Index
		key  string
		want []string
	}{
		{signal.SessionsAll, "", []string{"s4", "s1", "s3"}},
		{signal.SessionsAll, "n1", []string{}},
		{signal.SessionsOfNode, "n1", []string{"s1", "s3"}},
		{signal.SessionsOfNode, "n2", []string{"s4"}},
		{signal.SessionsOfNode, "n3", []string{}},
		{signal.RoomsAll, "", []string{"r2", "r1"}},
	} {
		if got := tx.Index(c.ix, c.key); !slices.Equal(got, c.want) {
			t.Errorf("Index(%v, %q) = %v, want %v", c.ix, c.key, got, c.want)
		}
		if got := tx.Len(c.ix, c.key); got != len(c.want) {
			t.Errorf("Len(%v, %q) = %d, want %d", c.ix, c.key, got, len(c.want))
		}
	}
	for id, s := range st.sessions {
		if slices.ContainsFunc(s.entries, wholeSetEntry) {
			t.Errorf("session %s keeps whole-set entries: %v", id, s.entries)
		}
	}
	if got := tx.Index(signal.SessionsOfIdentity, "d"); !slices.Equal(got, []string{"s4"}) {
		t.Errorf("the kept indexes still hold the sessions: SessionsOfIdentity d = %v", got)
	}
}
