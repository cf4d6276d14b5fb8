package main

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/parley-rtc/parley/server"
)

// TestHealth: parley health finds the server from the configuration serve
// reads (here its flags) and exits 0 while it answers, 1 once it is gone.
func TestHealth(t *testing.T) {
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--no-turn")
	out, errOut, code := parleyCmd(t, "health", "--listen", p.Addr)
	if code != 0 || out != "ok: http://"+p.Addr+"/healthz\n" {
		t.Fatalf("health: exit %d\n%s%s", code, out, errOut)
	}
	p.Kill()
	if _, errOut, code := parleyCmd(t, "health", "--listen", p.Addr); code != 1 || !strings.Contains(errOut, "health: ") {
		t.Fatalf("health of a stopped server: exit %d\n%s", code, errOut)
	}
}

func TestHealthURL(t *testing.T) {
	for _, tc := range []struct {
		mutate func(*server.Config)
		want   string
	}{
		{func(c *server.Config) {}, "http://127.0.0.1:7880/healthz"},
		{func(c *server.Config) { c.Listen, c.TLSCert = ":8443", "c.pem" }, "https://127.0.0.1:8443/healthz"},
		{func(c *server.Config) { c.Listen = "[::]:443"; c.ACME.Domains = []string{"a.example"} }, "https://[::1]:443/healthz"},
		{func(c *server.Config) { c.Listen = "192.0.2.1:80" }, "http://192.0.2.1:80/healthz"},
	} {
		c := server.DefaultConfig()
		tc.mutate(&c)
		if got, err := healthURL(c); err != nil || got != tc.want {
			t.Errorf("listen %q: %q, %v; want %q", c.Listen, got, err, tc.want)
		}
	}
}

// TestVersionText: parley version prints what the build information says:
// the module version, the VCS revision and whether the tree was modified,
// and says so when a build had no VCS information.
func TestVersionText(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261207032507-952a887c940b+dirty"}, Settings: []debug.BuildSetting{
		{Key: "CGO_ENABLED", Value: "0"}, {Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"},
		{Key: "vcs.revision", Value: "952a887c940be936609608e08e38b53a0282dbb3"}, {Key: "vcs.time", Value: "2026-12-07T03:25:07Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	want := `parley v0.0.0-20261207032507-952a887c940b+dirty
  revision  952a887c940be936609608e08e38b53a0282dbb3 (with uncommitted changes)
  committed 2026-12-07T03:25:07Z
  go        go1.26.8 linux/amd64, static
`
	if got := versionText(stamped); got != want {
		t.Errorf("stamped build:\n%s\nwant:\n%s", got, want)
	}
	bare := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	if got := versionText(bare); !strings.Contains(got, "parley (devel)\n  revision  unknown: built without VCS information") {
		t.Errorf("build without VCS:\n%s", got)
	}
}
