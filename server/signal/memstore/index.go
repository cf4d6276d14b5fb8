package memstore

import (
	"cmp"
	"iter"
	"maps"
	"slices"

	"github.com/parley-rtc/parley/server/signal"
)

// The indexes: under each key of an index, the ids of the records that
// have it. Most keys hold one id (an identity's sessions, a session's
// rooms), so an index keeps those in a map of key to id, and only a
// second id under a key makes a map of them: an idle joined session costs
// two map slots instead of two maps (measured: 1.1 KB of its 2.7 KB in the
// store went to the indexes).
type index struct {
	one  map[string]member
	many map[string]map[string]position
}

// member is the one id under a key, with its score.
type member struct {
	id    string
	score int64
}

// position orders an index: by score, ties in the order added.
type position struct {
	score int64
	added uint64
}

func comparePositions(a, b position) int {
	return cmp.Or(cmp.Compare(a.score, b.score), cmp.Compare(a.added, b.added))
}

// reindex moves record id from the index entries it had (*had) to those
// it has now, and keeps now in *had. It writes only what changed, and
// keeps *had's storage when it can: a record put again unchanged costs
// nothing.
func (st *Store) reindex(id string, had *[]signal.Entry, now []signal.Entry) {
	old := *had
	if slices.Equal(old, now) {
		return
	}
	for _, e := range old {
		if !slices.Contains(now, e) {
			st.unindex(e, id)
		}
	}
	for _, e := range now {
		if !slices.Contains(old, e) {
			st.indexOne(e, id)
		}
	}
	switch {
	case len(now) == 0:
		*had = nil
	case cap(old) >= len(now):
		*had = append(old[:0], now...)
	default:
		*had = slices.Clone(now)
	}
}

// nextAdded numbers the next record made or index entry added: ties
// within an index are ordered by it.
func (st *Store) nextAdded() uint64 {
	st.added++
	return st.added
}

// indexOne puts id under e's key, at e's score.
func (st *Store) indexOne(e signal.Entry, id string) {
	ix := &st.index[e.Index]
	added := st.nextAdded()
	if ids := ix.many[e.Key]; ids != nil {
		ids[id] = position{e.Score, added}
		return
	}
	if one, ok := ix.one[e.Key]; ok && one.id != id {
		// The one there was added before any other: added 0 keeps it so.
		if ix.many == nil {
			ix.many = make(map[string]map[string]position)
		}
		ix.many[e.Key] = map[string]position{one.id: {one.score, 0}, id: {e.Score, added}}
		delete(ix.one, e.Key)
		return
	}
	if ix.one == nil {
		ix.one = make(map[string]member)
	}
	ix.one[e.Key] = member{id, e.Score}
}

// unindex takes id from under e's key; a key left empty goes.
func (st *Store) unindex(e signal.Entry, id string) {
	ix := &st.index[e.Index]
	if ids := ix.many[e.Key]; ids != nil {
		delete(ids, id)
		if len(ids) == 0 {
			delete(ix.many, e.Key)
		}
	} else if ix.one[e.Key].id == id {
		delete(ix.one, e.Key)
	}
}

// The whole-set indexes are not kept: under their one key (every session,
// every room, this node's sessions) they would hold every record, a map
// slot each besides the record's own, and each record would keep its
// entries in them to unindex them (measured: 220 of the 1,615 B an idle
// joined session cost the store). They are read off the records instead,
// in the same order: by creation, ties in the order the records were made.
func wholeSet(i signal.Index) bool {
	return i == signal.SessionsAll || i == signal.SessionsOfNode || i == signal.RoomsAll
}

// wholeSetEntry is wholeSet for an entry (put drops these).
func wholeSetEntry(e signal.Entry) bool { return wholeSet(e.Index) }

// wholeSetMembers yields the records under key of whole-set index i, in
// no order, with their positions.
func (st *Store) wholeSetMembers(i signal.Index, key string) iter.Seq2[string, position] {
	return func(yield func(string, position) bool) {
		switch {
		case i == signal.RoomsAll && key == "":
			for id, r := range st.rooms {
				if !yield(id, position{r.rec.CreatedAt.UnixNano(), r.added}) {
					return
				}
			}
		case i == signal.SessionsAll && key == "", i == signal.SessionsOfNode:
			for id, s := range st.sessions {
				if (i == signal.SessionsAll || s.rec.Node == key) && !yield(id, position{s.rec.CreatedAt.UnixNano(), s.added}) {
					return
				}
			}
		}
	}
}

// list is the ids under key, by position.
func (st *Store) list(i signal.Index, key string) []string {
	if wholeSet(i) {
		return sortedIDs(st.wholeSetMembers(i, key))
	}
	ix := &st.index[i]
	ids := ix.many[key]
	if ids == nil {
		if one, ok := ix.one[key]; ok {
			return []string{one.id}
		}
		return []string{}
	}
	return sortedIDs(maps.All(ids))
}

// sortedIDs is the ids of members by position.
func sortedIDs(members iter.Seq2[string, position]) []string {
	type ranked struct {
		id string
		at position
	}
	var all []ranked
	for id, at := range members {
		all = append(all, ranked{id, at})
	}
	slices.SortFunc(all, func(a, b ranked) int { return comparePositions(a.at, b.at) })
	out := make([]string, len(all))
	for k, r := range all {
		out[k] = r.id
	}
	return out
}

// count is how many ids are under key.
func (st *Store) count(i signal.Index, key string) int {
	switch {
	case i == signal.SessionsAll && key == "":
		return len(st.sessions)
	case i == signal.RoomsAll && key == "":
		return len(st.rooms)
	case wholeSet(i):
		n := 0
		for range st.wholeSetMembers(i, key) {
			n++
		}
		return n
	}
	ix := &st.index[i]
	if ids := ix.many[key]; ids != nil {
		return len(ids)
	}
	if _, ok := ix.one[key]; ok {
		return 1
	}
	return 0
}
