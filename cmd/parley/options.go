package main

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// option is one configuration key and its flag, read from the struct tags
// of server.Config, which are the configuration's one table:
//
//   - koanf is the key's last part; a struct field is a section ("turn"),
//     or with ",squash" its fields join the enclosing section;
//   - flag is the flag name where it is not the key's last part, and on a
//     section the prefix of its fields' flags ("turn-");
//   - usage is the flag's help; a field without one is not (yet) an option
//     derived here.
type option struct {
	key   string        // the full key, "turn.listen"
	flag  string        // "turn-listen"
	usage string        // the help text
	value reflect.Value // the field in the defaults, which gives the type and default
}

// tableOptions lists the options of the struct cfg points to, in field order.
func tableOptions(cfg any) []option {
	var out []option
	var walk func(v reflect.Value, keyPrefix, flagPrefix string)
	walk = func(v reflect.Value, keyPrefix, flagPrefix string) {
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, squash := strings.CutSuffix(f.Tag.Get("koanf"), ",squash")
			if name == "-" || !f.IsExported() {
				continue
			}
			flag, hasFlag := f.Tag.Lookup("flag")
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				prefix := keyPrefix
				if !squash {
					prefix += name + "."
				}
				walk(v.Field(i), prefix, flagPrefix+flag)
				continue
			}
			usage := f.Tag.Get("usage")
			if usage == "" {
				continue
			}
			if !hasFlag {
				flag = name
			}
			out = append(out, option{key: keyPrefix + name, flag: flagPrefix + flag, usage: usage, value: v.Field(i)})
		}
	}
	walk(reflect.ValueOf(cfg).Elem(), "", "")
	return out
}

// define adds o's flag to fs with its default.
func (o option) define(fs *pflag.FlagSet) {
	switch d := o.value.Interface().(type) {
	case string:
		fs.String(o.flag, d, o.usage)
	case bool:
		fs.Bool(o.flag, d, o.usage)
	case int:
		fs.Int(o.flag, d, o.usage)
	case int64:
		fs.Int64(o.flag, d, o.usage)
	case float64:
		fs.Float64(o.flag, d, o.usage)
	case time.Duration:
		fs.Duration(o.flag, d, o.usage)
	case []string:
		fs.StringSlice(o.flag, d, o.usage)
	default:
		// A programming error caught by TestTableOptions, not by users.
		panic(fmt.Sprintf("option %s: no flag type for %T", o.key, d))
	}
}
