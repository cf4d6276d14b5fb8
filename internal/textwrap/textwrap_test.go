package textwrap

import (
	"slices"
	"testing"
)

func TestLines(t *testing.T) {
	for _, tc := range []struct {
		text  string
		width int
		want  []string
	}{
		{"", 10, []string{""}},
		{"one two three", 7, []string{"one two", "three"}},
		{"  spaced   out  ", 20, []string{"spaced out"}},
		{"a verylongword b", 4, []string{"a", "verylongword", "b"}},
	} {
		if got := Lines(tc.text, tc.width); !slices.Equal(got, tc.want) {
			t.Errorf("Lines(%q, %d) = %q, want %q", tc.text, tc.width, got, tc.want)
		}
	}
}
