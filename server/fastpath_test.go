package server

import "testing"

// A fast path (plainCandidate, plainSDP) stands in for a parser (pion's)
// on the inputs it is sure of, and must accept nothing the parser refuses.
type fastPath struct {
	plain   func(string) bool
	parse   func(string) error
	taken   []string // inputs that take the fast path
	refused []string // inputs left to the parser, which may accept them or not
}

// check: every taken input takes the fast path and the parser accepts it;
// no refused one takes it.
func (fp fastPath) check(t *testing.T) {
	t.Helper()
	for _, in := range fp.taken {
		if !fp.plain(in) {
			t.Errorf("not plain: %q", in)
		}
		if err := fp.parse(in); err != nil {
			t.Errorf("pion refuses %q: %v", in, err)
		}
	}
	for _, in := range fp.refused {
		if fp.plain(in) {
			t.Errorf("plain: %q", in)
		}
	}
}

// fuzz: whatever takes the fast path, the parser accepts.
func (fp fastPath) fuzz(f *testing.F) {
	for _, in := range append(fp.taken, fp.refused...) {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !fp.plain(in) {
			return
		}
		if err := fp.parse(in); err != nil {
			t.Fatalf("plain, but pion refuses %q: %v", in, err)
		}
	})
}
