package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/textwrap"
)

const configUsage = `Usage:
  parley config example            print every key with its default, commented, as YAML
  parley config check [FILE] [flags]  check a configuration as serve would read it

check reads FILE (or --config, or PARLEY_CONFIG), the PARLEY_* environment
and serve's flags, in serve's order, and reports every bad key and value;
it opens no file or socket (certificates are read when serve starts).
`

func runConfig(args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, configUsage)
		return fmt.Errorf("config: say example or check")
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "example":
		if len(rest) > 0 {
			return fmt.Errorf("config example takes no arguments, got %q", rest)
		}
		writeExample(stdout, configOptions())
		return nil
	case "check":
		return checkConfig(rest, environ, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, configUsage)
		return nil
	default:
		fmt.Fprint(stderr, configUsage)
		return fmt.Errorf("config: unknown subcommand %q", sub)
	}
}

// checkConfig loads and validates a configuration the way serve does.
func checkConfig(args, environ []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config check", "Checks FILE, the PARLEY_* environment and these flags as serve would read them.", stderr)
	configFile := fs.String("config", "", "YAML configuration file (or the first argument, or PARLEY_CONFIG)")
	opts := configFlags(fs)
	if err := fs.Parse(args); err != nil {
		return unknownFlag(err, fs)
	}
	path := *configFile
	switch {
	case fs.NArg() > 1:
		return fmt.Errorf("config check takes one file, got %q", fs.Args())
	case fs.NArg() == 1 && path != "":
		return fmt.Errorf("config check: give the file as an argument or as --config, not both")
	case fs.NArg() == 1:
		path = fs.Arg(0)
	}
	path = configPath(path)
	cfg, err := loadConfig(fs, opts, path, environ, stderr)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	what := path
	if what == "" {
		what = "the configuration (no file)"
	}
	fmt.Fprintf(stdout, "%s: ok\n", what)
	return nil
}

// writeExample writes opts as a YAML file: each key with its help as a
// comment and its default as the value, sections as YAML maps. Loading it
// gives the defaults back (TestConfigExample).
func writeExample(w io.Writer, opts []option) {
	fmt.Fprint(w, `# Parley's configuration: every key with its default (parley config example).
# Use it with parley serve --config FILE; check a file with parley config check FILE.
# Each key is also a flag, the key with dashes for dots (turn.public-ip is
# --turn-public-ip), and an environment variable (PARLEY_TURN_PUBLIC_IP);
# flags win over the environment, which wins over this file.
`)
	section := ""
	for _, o := range opts {
		sec, name, nested := strings.Cut(o.key, ".")
		if !nested {
			sec, name = "", o.key
		}
		indent := ""
		if sec != "" {
			indent = "  "
		}
		if sec != section {
			if sec != "" {
				fmt.Fprintf(w, "\n%s:\n", sec)
			}
			section = sec
		}
		fmt.Fprintln(w)
		for _, line := range textwrap.Lines(o.usage, 76-len(indent)) {
			fmt.Fprintf(w, "%s# %s\n", indent, line)
		}
		fmt.Fprintf(w, "%s%s: %s\n", indent, name, yamlValue(o.value.Interface()))
	}
}

// yamlValue writes a default as YAML: strings quoted, durations as Go
// durations ("30s"), lists in flow style.
func yamlValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case time.Duration:
		return strconv.Quote(shortDuration(v))
	case []string:
		quoted := make([]string, len(v))
		for i, s := range v {
			quoted[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(quoted, ", ") + "]"
	default:
		return fmt.Sprint(v)
	}
}

// shortDuration is d without Go's trailing zero units: 12h, not 12h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
