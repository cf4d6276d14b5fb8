package pattern

import (
	"regexp"
	"strings"
	"testing"
)

// The schema's patterns, and others that probe the edges of the simple form.
var patterns = []struct {
	source string
	simple bool
}{
	{`^[A-Za-z0-9_-]{1,64}$`, true},
	{`^[A-Za-z0-9_.@+-]{1,128}$`, true},
	{`^[a-z][a-z_]{0,31}$`, true},
	{`^[a-z][a-z0-9_]{0,63}$`, true},
	{`^[a-z0-9_]+$`, true},
	{`^[a-z]+(\.[a-z][A-Za-z]*)+$`, false},
	{`^ab[0-9]{2}x?$`, true},
	{`^[a-z]*$`, true},
	{`^$`, true},
	{`^a{0}$`, true},
	{`^[a-z]+[0-9]$`, false},    // a varying run before another
	{`^[a-z0-9]+[0-9]$`, false}, // which a greedy scan would not match
	{`^[a-z]{3,}$`, true},       // no upper bound
	{`[a-z]{1,3}$`, false},      // unanchored
	{`^[a-z]{1,3}`, false},      // unanchored
	{`(?i)^[a-z]{1,3}$`, false}, // case-folded
	{`^[a-zé]{1,3}$`, false},    // not ASCII
	{`^[^a-z]{1,3}$`, false},    // a negated class reaches past ASCII
	{`(?m)^[a-z]$`, false},      // line anchors
	{`^[a-z]{1,3}?$`, false},    // non-greedy
	{`^.{1,3}$`, false},
	{`^([a-z]{1,3})$`, false},
}

var inputs = []string{
	"", "a", "A", "z", "0", "_", "-", ".", "@", "+", " ", "\n", "a\n", "\na",
	"ab", "ab12", "ab12x", "ab12xx", "ab1", "abc", "aaa", "aaaa", "a.b", "a.bC",
	"abc.dEf.gh", "a..b", "Room-1_x", "room id", "é", "aé", "\xff", "a\xff",
	"\x00", "a\x00", "peer:1", strings.Repeat("a", 31), strings.Repeat("a", 32),
	strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 65),
	strings.Repeat("x", 128), strings.Repeat("x", 129), "a" + strings.Repeat("_", 31),
	"a" + strings.Repeat("_", 32), "ABC", "abc\x7f", "call_ended",
}

// TestAgreesWithRegexp: every pattern matches what its regexp matches, and
// takes the simple form exactly when it should.
func TestAgreesWithRegexp(t *testing.T) {
	for _, tc := range patterns {
		p, re := MustCompile(tc.source), regexp.MustCompile(tc.source)
		if got := p.re == nil; got != tc.simple {
			t.Errorf("%s: simple form %v, want %v", tc.source, got, tc.simple)
		}
		if p.String() != tc.source {
			t.Errorf("%s: String() = %q", tc.source, p.String())
		}
		for _, s := range inputs {
			if got, want := p.MatchString(s), re.MatchString(s); got != want {
				t.Errorf("%s matching %q: %v, regexp says %v", tc.source, s, got, want)
			}
		}
	}
}

func TestMustCompilePanicsOnABadPattern(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	MustCompile("(")
}

// FuzzPattern: for any pattern regexp compiles and any string, the pattern
// and the regexp agree.
func FuzzPattern(f *testing.F) {
	for _, tc := range patterns {
		for _, s := range inputs {
			f.Add(tc.source, s)
		}
	}
	f.Fuzz(func(t *testing.T, source, s string) {
		re, err := regexp.Compile(source)
		if err != nil {
			return
		}
		if got, want := MustCompile(source).MatchString(s), re.MatchString(s); got != want {
			t.Fatalf("%q matching %q: %v, regexp says %v", source, s, got, want)
		}
	})
}

func BenchmarkMatchString(b *testing.B) {
	const source, id = `^[A-Za-z0-9_-]{1,64}$`, "p1b2c3d4e5f6a7b8"
	b.Run("pattern", func(b *testing.B) {
		p := MustCompile(source)
		for b.Loop() {
			if !p.MatchString(id) {
				b.Fatal("no match")
			}
		}
	})
	b.Run("regexp", func(b *testing.B) {
		re := regexp.MustCompile(source)
		for b.Loop() {
			if !re.MatchString(id) {
				b.Fatal("no match")
			}
		}
	})
}
