package parley

import (
	"slices"
	"testing"
	"time"
)

// TestURLRing: the ring starts at Dial's URL, rotates over the others
// without repeats, passes over the URLs it avoids until their time is up,
// and takes one anyway when it avoids them all.
func TestURLRing(t *testing.T) {
	now := time.Unix(1000, 0)
	tests := []struct {
		name  string
		first string
		more  []string
		shun  []string
		at    time.Time // when next is asked
		want  []string  // current, then successive nexts
	}{
		{"one URL", "a", nil, nil, now, []string{"a", "a", "a"}},
		{"first among the others", "b", []string{"a", "b", "c"}, nil, now, []string{"b", "a", "c", "b"}},
		{"no first", "", []string{"a", "b"}, nil, now, []string{"a", "b", "a"}},
		{"avoided passed over", "a", []string{"b", "c"}, []string{"b"}, now, []string{"a", "c", "a", "c"}},
		{"avoidance ends", "a", []string{"b", "c"}, []string{"b"}, now.Add(avoidFor), []string{"a", "b", "c"}},
		{"all avoided: the next anyway", "a", []string{"b"}, []string{"a", "b"}, now, []string{"a", "b", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newURLRing(tt.first, tt.more)
			for _, u := range tt.shun {
				r.shun(u, now)
			}
			got := []string{r.current()}
			for len(got) < len(tt.want) {
				got = append(got, r.next(tt.at))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if avoided := r.avoided(tt.at); tt.at.Equal(now) && !slices.Equal(avoided, slices.Sorted(slices.Values(tt.shun))) {
				t.Fatalf("avoided %v, want %v", avoided, tt.shun)
			}
		})
	}
}
