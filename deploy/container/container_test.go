// Package container holds the container image's build file and its test:
// no container runtime runs here, so the test builds the binary with the
// Containerfile's own go build line and runs it as the image would.
package container

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// containerfile is what the test reads of the Containerfile.
type containerfile struct {
	froms       []string // each stage's base
	build       []string // the RUN line that runs go build, as words
	user        string
	healthcheck []string // HEALTHCHECK's CMD
	entrypoint  []string
	cmd         []string
}

func readContainerfile(t *testing.T) containerfile {
	t.Helper()
	f, err := os.Open("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c containerfile
	execForm := func(s string) []string {
		var words []string
		if err := json.Unmarshal([]byte(s), &words); err != nil {
			t.Fatalf("%q is not the exec form (a JSON list): %v", s, err)
		}
		return words
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		instr, rest, _ := strings.Cut(line, " ")
		switch instr {
		case "FROM":
			c.froms = append(c.froms, strings.Fields(rest)[0])
		case "RUN":
			if strings.Contains(rest, "go build") {
				c.build = strings.Fields(rest)
			}
		case "USER":
			c.user = rest
		case "HEALTHCHECK":
			_, cmd, ok := strings.Cut(rest, " CMD ")
			if !ok {
				t.Fatalf("HEALTHCHECK without CMD: %q", line)
			}
			c.healthcheck = execForm(cmd)
		case "ENTRYPOINT":
			c.entrypoint = execForm(rest)
		case "CMD":
			c.cmd = execForm(rest)
		}
	}
	return c
}

// TestContainerfile: the image is multi-stage with a minimal base and a
// non-root user; the binary its go build line makes (run here from the
// repository root) is static; as that user, with an empty environment,
// ENTRYPOINT and CMD serve, HEALTHCHECK's command passes, and parley
// version reports what the build stamped.
func TestContainerfile(t *testing.T) {
	c := readContainerfile(t)
	if len(c.froms) < 2 || !strings.HasPrefix(c.froms[len(c.froms)-1], "gcr.io/distroless/static") {
		t.Fatalf("stages %q: want a build stage and a distroless static base", c.froms)
	}
	uid, gid := userOf(t, c.user)
	if uid == 0 {
		t.Fatal("the image runs as root")
	}

	// The build line, its output moved to a directory the user can read.
	dir, err := os.MkdirTemp("", "parley-container")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	binary := filepath.Join(dir, "parley")
	var env, args []string
	for i, w := range c.build {
		switch {
		case len(args) == 0 && strings.Contains(w, "="):
			env = append(env, w)
		case i > 0 && c.build[i-1] == "-o":
			args = append(args, binary)
		default:
			args = append(args, w)
		}
	}
	build := exec.Command(args[0], args[1:]...)
	build.Dir = "../.."
	build.Env = append(os.Environ(), env...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(c.build, " "), err, out)
	}
	checkStatic(t, binary)

	// CMD's configuration file, in a place the user can read.
	port := freePort(t)
	config := filepath.Join(dir, "parley.yaml")
	if err := os.WriteFile(config, fmt.Appendf(nil, `listen: "127.0.0.1:%d"
api-keys: ["main:%s"]
turn:
  listen: "127.0.0.1:0"
  secret: ["%s"]
`, port, strings.Repeat("k", 40), strings.Repeat("s", 20)), 0o644); err != nil {
		t.Fatal(err)
	}
	image := func(words []string) []string {
		out := make([]string, len(words))
		for i, w := range words {
			switch w {
			case "/usr/local/bin/parley":
				out[i] = binary
			case "/etc/parley/parley.yaml":
				out[i] = config
			default:
				out[i] = w
			}
		}
		return out
	}
	asUser := func(words []string) *exec.Cmd {
		cmd := exec.Command(words[0], words[1:]...)
		cmd.Env = []string{} // nothing from this test's environment
		if os.Geteuid() == 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		} // else this test already runs unprivileged
		return cmd
	}

	serve := asUser(image(append(c.entrypoint, c.cmd...)))
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	serve.Stderr = &stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = serve.Process.Kill(); _ = serve.Wait() })
	listening := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				listening <- true
			}
		}
		close(listening)
	}()
	select {
	case ok := <-listening:
		if !ok {
			t.Fatalf("serve exited:\n%s", &stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not start:\n%s", &stderr)
	}
	if os.Geteuid() == 0 {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", serve.Process.Pid))
		if err != nil || !strings.Contains(string(status), fmt.Sprintf("\nUid:\t%d\t%d\t", uid, uid)) {
			t.Fatalf("the server does not run as %d: %v\n%s", uid, err, status)
		}
	}

	health := asUser(image(c.healthcheck))
	if out, err := health.CombinedOutput(); err != nil {
		t.Fatalf("HEALTHCHECK %q: %v\n%s\nserver:\n%s", c.healthcheck, err, out, &stderr)
	}

	version, err := asUser([]string{binary, "version"}).Output()
	if err != nil {
		t.Fatal(err)
	}
	stamped, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatal(err)
	}
	if rev, ok := setting(string(stamped), "vcs.revision"); ok && !strings.Contains(string(version), rev) {
		t.Fatalf("built from %s, parley version says:\n%s", rev, version)
	} else if !ok && !strings.Contains(string(version), "built without VCS information") {
		t.Fatalf("built without VCS information (a git worktree), parley version says:\n%s", version)
	}
	t.Logf("parley version, as %d:%d with an empty environment:\n%s", uid, gid, version)
}

// userOf reads USER uid:gid; the image names numbers, so that Kubernetes'
// runAsNonRoot can check them.
func userOf(t *testing.T, user string) (uid, gid int) {
	t.Helper()
	u, g, ok := strings.Cut(user, ":")
	var err1, err2 error
	uid, err1 = strconv.Atoi(u)
	gid, err2 = strconv.Atoi(g)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("USER %q: want numeric uid:gid", user)
	}
	return uid, gid
}

// checkStatic fails unless binary is a static ELF executable: no
// interpreter, no shared libraries.
func checkStatic(t *testing.T, binary string) {
	t.Helper()
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary needs a dynamic loader")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("the binary links %q", libs)
	}
}

// setting is a build setting of go version -m output.
func setting(out, key string) (string, bool) {
	for line := range strings.SplitSeq(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], key+"=") {
			return strings.TrimPrefix(f[1], key+"="), true
		}
	}
	return "", false
}

// freePort is a loopback TCP port free just now, for a configuration file
// that the health check reads too.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
