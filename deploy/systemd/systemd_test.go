// Package systemd holds Parley's systemd unit and its test, which checks it
// with systemd's own tools and against the server's drain.
package systemd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/testkit"
	"github.com/parley-rtc/parley/internal/testkit/parleyproc"
	"github.com/parley-rtc/parley/server"
)

const installed = "/usr/local/bin/parley" // ExecStart's binary

// unit reads parley.service's [Service] settings (a key given twice keeps
// both values).
func unit(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("parley.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	settings := make(map[string][]string)
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, _ := strings.Cut(line, "=")
			settings[k] = append(settings[k], v)
		}
	}
	return settings
}

// TestUnitVerifies: systemd-analyze verify finds nothing to say about the
// unit (with ExecStart's binary where the test built it), and its
// security report rates the sandbox OK.
func TestUnitVerifies(t *testing.T) {
	analyze := testkit.Tool(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	binary := filepath.Join(dir, "parley")
	if err := parleyproc.Build(binary, "github.com/parley-rtc/parley/cmd/parley"); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("parley.service")
	if err != nil {
		t.Fatal(err)
	}
	unitFile := filepath.Join(dir, "parley.service")
	if err := os.WriteFile(unitFile, []byte(strings.ReplaceAll(string(text), installed, binary)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", unitFile).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(analyze, "security", "--offline=yes", "--no-pager", unitFile).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for parley.service: ([0-9.]+) (\S+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	if exposure, _ := strconv.ParseFloat(string(m[1]), 64); exposure > 2 {
		t.Fatalf("exposure level %s (%s), want at most 2:\n%s", m[1], m[2], out)
	}
	t.Logf("systemd-analyze security: exposure %s %s", m[1], m[2])
}

// TestUnitSettings: the unit runs Parley unprivileged but able to bind
// 443, sandboxed, with room for many connections; stop waits for the
// drain and the close; reload sends SIGHUP (the certificate files are
// read again); and ExecStart's flags pass parley config check with the
// sample configuration and the secrets it expects from EnvironmentFile.
func TestUnitSettings(t *testing.T) {
	u := unit(t)
	want := map[string]string{
		"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"AmbientCapabilities": "CAP_NET_BIND_SERVICE", "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
		"KillSignal": "SIGTERM", "ExecReload": "/bin/kill -HUP $MAINPID", "Type": "exec",
	}
	for k, v := range want {
		if got := u[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%q, want %s", k, got, v)
		}
	}
	if n, err := strconv.Atoi(u["LimitNOFILE"][0]); err != nil || n < 65536 {
		t.Errorf("LimitNOFILE=%s: want room for tens of thousands of connections", u["LimitNOFILE"][0])
	}
	d := server.DefaultConfig()
	stop, err := time.ParseDuration(u["TimeoutStopSec"][0] + "s")
	if err != nil || stop <= d.DrainTimeout+d.ShutdownTimeout {
		t.Errorf("TimeoutStopSec=%s: want more than drain-timeout %s + shutdown-timeout %s", u["TimeoutStopSec"][0], d.DrainTimeout, d.ShutdownTimeout)
	}
	if !strings.Contains(u["StateDirectory"][0], "parley") {
		t.Errorf("StateDirectory=%q: the ACME cache needs one", u["StateDirectory"])
	}

	exec0 := strings.Fields(u["ExecStart"][0])
	if exec0[0] != installed || exec0[1] != "serve" {
		t.Fatalf("ExecStart=%q", u["ExecStart"])
	}
	dir := t.TempDir()
	binary := filepath.Join(dir, "parley")
	if err := parleyproc.Build(binary, "github.com/parley-rtc/parley/cmd/parley"); err != nil {
		t.Fatal(err)
	}
	args := []string{"config", "check"}
	for _, a := range exec0[2:] {
		if a == "/etc/parley/parley.yaml" {
			a = "../parley.yaml" // the sample, which the install step copies there
		}
		args = append(args, a)
	}
	check := exec.Command(binary, args...)
	check.Env = []string{"PARLEY_API_KEYS=main:" + strings.Repeat("k", 40), "PARLEY_TURN_SECRET=" + strings.Repeat("s", 20)}
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("parley %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
