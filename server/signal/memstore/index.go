package memstore

import (
	"cmp"
	"slices"

	"github.com/parley-rtc/parley/server/signal"
)

// The indexes: under each (index, key), the ids of the records that have
// it. Most keys hold one id (an identity's sessions, a session's rooms), so
// one id is kept inline in the index's map and only a second one makes a
// map of them: an idle joined session costs two map slots instead of two
// maps (measured: 1.1 KB of its 2.7 KB in the store went to the indexes).

type ixKey struct {
	ix  signal.Index
	key string
}

// members are the ids under one key: one inline, or (many non-nil) all of
// them in many.
type members struct {
	one   string
	oneAt position
	many  map[string]position
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
			st.unindex(ixKey{e.Index, e.Key}, id)
		}
	}
	for _, e := range now {
		if !slices.Contains(old, e) {
			st.added++
			st.indexOne(ixKey{e.Index, e.Key}, id, position{e.Score, st.added})
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

func (st *Store) indexOne(k ixKey, id string, at position) {
	m := st.index[k]
	switch {
	case m.many != nil:
		m.many[id] = at
		return
	case m.one == "" || m.one == id:
		m.one, m.oneAt = id, at
	default:
		m.many = map[string]position{m.one: m.oneAt, id: at}
		m.one, m.oneAt = "", position{}
	}
	st.index[k] = m
}

func (st *Store) unindex(k ixKey, id string) {
	m, ok := st.index[k]
	switch {
	case !ok:
	case m.many != nil:
		delete(m.many, id)
		if len(m.many) == 0 {
			delete(st.index, k)
		}
	case m.one == id:
		delete(st.index, k)
	}
}

// list is the ids under k, by position.
func (st *Store) list(k ixKey) []string {
	m := st.index[k]
	if m.many == nil {
		if m.one == "" {
			return []string{}
		}
		return []string{m.one}
	}
	out := make([]string, 0, len(m.many))
	for id := range m.many {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b string) int { return comparePositions(m.many[a], m.many[b]) })
	return out
}

// count is how many ids are under k.
func (st *Store) count(k ixKey) int {
	m := st.index[k]
	switch {
	case m.many != nil:
		return len(m.many)
	case m.one != "":
		return 1
	}
	return 0
}
