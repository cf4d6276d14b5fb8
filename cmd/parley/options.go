package main

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// option is one configuration key, read from the struct tags of
// server.Config, which are the configuration's one table (see its doc):
//
//   - koanf is the key's last part; a struct field is a section ("turn"),
//     or with ",squash" its fields join the enclosing section;
//   - the flag is the key with dashes for dots, and the environment
//     variable the flag in upper case with underscores, behind PARLEY_;
//   - usage is the help, which every option has;
//   - was is the key's earlier name (on a section: the section's), which
//     a file may still use.
type option struct {
	key   string        // the full key, "turn.listen"
	old   string        // its earlier full key, or ""
	usage string        // the help text
	value reflect.Value // the field in the defaults, which gives the type and default
}

// flag is the option's command-line flag: "turn-listen" for turn.listen.
func (o option) flag() string { return strings.ReplaceAll(o.key, ".", "-") }

// env is the option's environment variable: PARLEY_TURN_LISTEN.
func (o option) env() string { return envName(o.flag()) }

// envName is the environment variable of a flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// tableOptions lists the options of the struct cfg points to, in field order.
func tableOptions(cfg any) []option {
	var out []option
	var walk func(v reflect.Value, prefix, oldPrefix string)
	walk = func(v reflect.Value, prefix, oldPrefix string) {
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, squash := strings.CutSuffix(f.Tag.Get("koanf"), ",squash")
			if name == "-" || !f.IsExported() {
				continue
			}
			was, renamed := f.Tag.Lookup("was")
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				p, old := prefix, oldPrefix
				if !squash {
					p, old = prefix+name+".", oldPrefix+name+"."
				}
				if renamed {
					old = was + "."
				}
				walk(v.Field(i), p, old)
				continue
			}
			o := option{key: prefix + name, usage: f.Tag.Get("usage"), value: v.Field(i)}
			if renamed {
				o.old = oldPrefix + was
			} else if oldPrefix != prefix {
				o.old = oldPrefix + name
			}
			out = append(out, o)
		}
	}
	walk(reflect.ValueOf(cfg).Elem(), "", "")
	return out
}

// define adds o's flag to fs with its default.
func (o option) define(fs *pflag.FlagSet) {
	switch d := o.value.Interface().(type) {
	case string:
		fs.String(o.flag(), d, o.usage)
	case bool:
		fs.Bool(o.flag(), d, o.usage)
	case int:
		fs.Int(o.flag(), d, o.usage)
	case int64:
		fs.Int64(o.flag(), d, o.usage)
	case float64:
		fs.Float64(o.flag(), d, o.usage)
	case time.Duration:
		fs.Duration(o.flag(), d, o.usage)
	case []string:
		fs.StringSlice(o.flag(), d, o.usage)
	default:
		// A programming error caught by TestTableOptions, not by users.
		panic(fmt.Sprintf("option %s: no flag type for %T", o.key, d))
	}
}

// nearest returns the candidate closest to name: the one whose last
// dotted part is nearest to name's (so limits.max-peers finds max-peers),
// then the one nearest as a whole.
func nearest(name string, candidates []string) string {
	last := func(s string) string { return s[strings.LastIndexByte(s, '.')+1:] }
	best, bestLast, bestAll := "", -1, -1
	for _, c := range candidates {
		dl, da := editDistance(last(name), last(c)), editDistance(name, c)
		if bestLast < 0 || dl < bestLast || dl == bestLast && da < bestAll {
			best, bestLast, bestAll = c, dl, da
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
