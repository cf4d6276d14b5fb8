package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "Prints the module version, the VCS revision the binary was built from, and the Go version (from the binary's build information).", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("version: unexpected argument %q", fs.Arg(0))
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprint(stdout, versionText(info))
	return nil
}

// buildVersion is the one-word version parley prints when it starts and
// admin.node.status reports: the module version, which a build from a git
// checkout derives from the revision (v0.0.0-20261207032507-952a887c940b,
// +dirty with uncommitted changes), else (devel).
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	return info.Main.Version
}

// versionText is parley version's output for the build information info.
func versionText(info *debug.BuildInfo) string {
	if info == nil {
		return "parley (no build information)\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "parley %s\n", info.Main.Version)
	settings := make(map[string]string)
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, "  revision  %s", rev)
		if settings["vcs.modified"] == "true" {
			b.WriteString(" (with uncommitted changes)")
		}
		b.WriteString("\n")
		if t := settings["vcs.time"]; t != "" {
			fmt.Fprintf(&b, "  committed %s\n", t)
		}
	} else {
		b.WriteString("  revision  unknown: built without VCS information (build from a git clone: make build)\n")
	}
	fmt.Fprintf(&b, "  go        %s %s/%s", info.GoVersion, settings["GOOS"], settings["GOARCH"])
	if settings["CGO_ENABLED"] == "0" {
		b.WriteString(", static")
	}
	b.WriteString("\n")
	return b.String()
}
