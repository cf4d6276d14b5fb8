// Package pattern matches the schema's string patterns. Most are ids, a
// run or two of ASCII character classes ("^[A-Za-z0-9_-]{1,64}$"), checked
// on every relayed message: those are matched by a loop over a bitmap of
// bytes, a few nanoseconds where a regexp took hundreds. Any other pattern
// is left to regexp.
package pattern

import (
	"regexp"
	"regexp/syntax"
)

// Pattern matches strings against one schema pattern.
type Pattern struct {
	source string
	runs   []run          // the simple form, when the pattern has one
	re     *regexp.Regexp // otherwise
}

// run is one character class repeated min to max times (max < 0: no bound).
type run struct {
	set      byteSet
	min, max int
}

// byteSet is a set of ASCII bytes, one bit each.
type byteSet [2]uint64

func (s *byteSet) has(c byte) bool {
	return c < 128 && s[c/64]&(1<<(c%64)) != 0
}

// MustCompile compiles source as regexp.MustCompile does (panicking on a
// bad pattern), in its simple form when it has one.
func MustCompile(source string) *Pattern {
	re := regexp.MustCompile(source)
	if runs, ok := simple(source); ok {
		return &Pattern{source: source, runs: runs}
	}
	return &Pattern{source: source, re: re}
}

// String returns the pattern's source, as error messages quote it.
func (p *Pattern) String() string { return p.source }

// MatchString reports whether s matches the pattern.
func (p *Pattern) MatchString(s string) bool {
	if p.re != nil {
		return p.re.MatchString(s)
	}
	i := 0
	for _, r := range p.runs {
		n := 0
		for i < len(s) && n != r.max && r.set.has(s[i]) {
			i++
			n++
		}
		if n < r.min {
			return false
		}
	}
	return i == len(s)
}

// simple reports the runs of a pattern that is ^, runs of ASCII classes or
// literals, then $, where every run but the last has a fixed count: then a
// greedy scan decides a match with no backtracking. Bytes of a string that
// are not ASCII are in no class, so counting bytes counts its characters
// wherever it can match.
func simple(source string) ([]run, bool) {
	re, err := syntax.Parse(source, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return nil, false
	}
	subs := re.Sub
	if subs[0].Op != syntax.OpBeginText || subs[len(subs)-1].Op != syntax.OpEndText {
		return nil, false
	}
	var runs []run
	for _, sub := range subs[1 : len(subs)-1] {
		if n := len(runs); n > 0 && runs[n-1].min != runs[n-1].max {
			return nil, false // only the last run may vary
		}
		switch sub.Op {
		case syntax.OpLiteral:
			for _, r := range sub.Rune {
				set, ok := classSet([]rune{r, r}, sub.Flags)
				if !ok {
					return nil, false
				}
				runs = append(runs, run{set, 1, 1})
			}
			continue
		case syntax.OpCharClass:
			set, ok := classSet(sub.Rune, sub.Flags)
			if !ok {
				return nil, false
			}
			runs = append(runs, run{set, 1, 1})
			continue
		}
		min, max := 0, -1
		switch sub.Op {
		case syntax.OpStar:
		case syntax.OpPlus:
			min = 1
		case syntax.OpQuest:
			max = 1
		case syntax.OpRepeat:
			min, max = sub.Min, sub.Max
		default:
			return nil, false
		}
		if len(sub.Sub) != 1 || sub.Flags&syntax.NonGreedy != 0 {
			return nil, false
		}
		var set byteSet
		ok := false
		switch in := sub.Sub[0]; in.Op {
		case syntax.OpCharClass:
			set, ok = classSet(in.Rune, in.Flags)
		case syntax.OpLiteral:
			if len(in.Rune) == 1 {
				set, ok = classSet([]rune{in.Rune[0], in.Rune[0]}, in.Flags)
			}
		}
		if !ok {
			return nil, false
		}
		runs = append(runs, run{set, min, max})
	}
	return runs, true
}

// classSet turns a class's rune ranges (lo, hi pairs) into a byteSet, if
// they are all ASCII and not case-folded.
func classSet(ranges []rune, flags syntax.Flags) (byteSet, bool) {
	var set byteSet
	if flags&syntax.FoldCase != 0 {
		return set, false
	}
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i] < 0 || ranges[i+1] >= 128 {
			return set, false
		}
		for c := ranges[i]; c <= ranges[i+1]; c++ {
			set[c/64] |= 1 << (c % 64)
		}
	}
	return set, true
}
