package memstore

import (
	"slices"
	"testing"

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
