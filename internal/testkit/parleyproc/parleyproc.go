// Package parleyproc runs the real parley binary (and other main packages
// of this module) for end-to-end tests: build once in TestMain, start per
// test, wait for the lines the binary prints when it is ready.
package parleyproc

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Build compiles the main package pkg (an import path, or a directory
// relative to the test's working directory) into the executable bin.
func Build(bin, pkg string) error {
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return nil
}

// Main is a TestMain: it builds each main package of bins (import path →
// where to store the executable's path) into a temporary directory, runs
// the tests and exits.
func Main(m *testing.M, bins map[string]*string) {
	dir, err := os.MkdirTemp("", "parleyproc")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for pkg, bin := range bins {
		*bin = filepath.Join(dir, path.Base(pkg))
		if err := Build(*bin, pkg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Process is a running `parley serve`.
type Process struct {
	Cmd  *exec.Cmd
	Addr string      // host:port of the WebSocket/HTTP listener
	Out  chan string // stdout lines after the "listening on" line
	done chan struct{}
	err  error // Wait's result, set before done closes
}

// Done is closed when the process has exited; Err then says how.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the process's exit error (nil for status 0); valid after Done.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// URL is the process's ws:// JSON-RPC endpoint.
func (p *Process) URL() string { return "ws://" + p.Addr + "/rpc" }

var listening = regexp.MustCompile(`listening on wss?://([0-9.:]+)/rpc`)

// Start runs `binary serve args…` with env added to the environment and
// waits for its "listening on" line. Its stderr goes to the test log; the
// process is killed (and reaped) when the test ends.
func Start(t testing.TB, binary string, env []string, args ...string) *Process {
	t.Helper()
	return StartCommand(t, exec.Command(binary, append([]string{"serve"}, args...)...), env)
}

// StartCommand is Start for a command line of the caller's making: `parley
// serve …` run under a wrapper such as prlimit, say. A cmd.Stderr the
// caller set gets a copy of the process's stderr.
func StartCommand(t testing.TB, cmd *exec.Cmd, env []string) *Process {
	t.Helper()
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr io.Writer = &LogWriter{T: t, Prefix: "parley"}
	if cmd.Stderr != nil { // the caller keeps a copy
		stderr = io.MultiWriter(cmd.Stderr, stderr)
	}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The buffer is generous: a reader that falls behind must not block
	// the child's stdout writes.
	p := &Process{Cmd: cmd, Out: make(chan string, 1000), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.Out <- sc.Text()
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	// Reaped before the test ends: the stderr copy must not log after it.
	t.Cleanup(p.Kill)
	deadline := time.After(10 * time.Second)
	for p.Addr == "" {
		select {
		case line := <-p.Out:
			if m := listening.FindStringSubmatch(line); m != nil {
				p.Addr = m[1]
			}
		case <-p.done:
			t.Fatalf("parley exited before listening: %v", p.err)
		case <-deadline:
			t.Fatal("parley did not print its listen address")
		}
	}
	return p
}

// Kill kills the process and waits for it to exit.
func (p *Process) Kill() {
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// TURNAddrs are the STUN/TURN addresses parley printed; TLS is empty
// without a TURN-over-TLS listener.
type TURNAddrs struct{ UDP, TCP, TLS string }

var turnListening = regexp.MustCompile(`STUN/TURN on udp ([0-9.:]+), tcp ([0-9.:]+)(?:, tls ([0-9.:]+))?`)

// WaitTURN reads the "STUN/TURN on" line, which follows the "listening on"
// line Start waited for.
func (p *Process) WaitTURN(t testing.TB) TURNAddrs {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case line := <-p.Out:
			if m := turnListening.FindStringSubmatch(line); m != nil {
				return TURNAddrs{UDP: m[1], TCP: m[2], TLS: m[3]}
			}
		case <-deadline:
			t.Fatal("parley did not print its STUN/TURN addresses")
		}
	}
}

// LogWriter writes a child process's output to the test log, a line
// prefixed per write. Its owner must stop writing before the test ends.
type LogWriter struct {
	T      testing.TB
	Prefix string
	mu     sync.Mutex
}

func (w *LogWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.T.Logf("%s: %s", w.Prefix, strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
