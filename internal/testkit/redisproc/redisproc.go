// Package redisproc runs a real redis-server for tests: on a free
// loopback port, in the test's temporary directory, killed when the test
// ends. A test can kill it and start it again on the same port, with or
// without its data (Restart), as a crash or a failover would.
package redisproc

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/testkit"
)

// Server is a running redis-server.
type Server struct {
	t        testing.TB // nil for Launch's
	bin      string
	dir      string
	args     []string
	sentinel bool
	Addr     string // 127.0.0.1:port
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
}

// Start runs redis-server with args added to the test defaults (no RDB
// snapshots, no AOF, 4096 databases so tests can take one each). It fails
// the test if redis-server is missing and REQUIRE_TEST_TOOLS is set (make
// test installs it), and skips it otherwise.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	s := &Server{t: t, bin: testkit.Tool(t, "redis-server", "redis-server"), dir: t.TempDir(), args: args}
	if err := s.listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return s
}

// Launch is Start for a TestMain, without a test: the caller kills the
// server (and removes dir) when done. A missing redis-server is an error.
func Launch(dir string, args ...string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found (Debian's redis-server package; make deps): %w", err)
	}
	s := &Server{bin: bin, dir: dir, args: args}
	if err := s.listen(); err != nil {
		return nil, err
	}
	return s, nil
}

// listen starts the server on a free port.
func (s *Server) listen() error {
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		err = s.start()
		if err == nil {
			return nil
		}
		if attempt == 5 {
			return fmt.Errorf("redis-server: %w", err)
		}
	}
}

// URL is the redis:// URL of database db.
func (s *Server) URL(db int) string { return fmt.Sprintf("redis://%s/%d", s.Addr, db) }

// freePort picks a loopback port nobody listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// StartSentinel runs a Sentinel (redis-server --sentinel) that watches
// primary as master name, with a quorum of one: it fails over a second
// after the primary stops answering.
func StartSentinel(t testing.TB, name string, primary *Server) *Server {
	t.Helper()
	s := &Server{t: t, bin: testkit.Tool(t, "redis-server", "redis-server"), dir: t.TempDir(), sentinel: true}
	host, port, _ := net.SplitHostPort(primary.Addr)
	conf := fmt.Sprintf("sentinel monitor %[1]s %[2]s %[3]s 1\nsentinel down-after-milliseconds %[1]s 1000\nsentinel failover-timeout %[1]s 5000\n", name, host, port)
	if err := os.WriteFile(filepath.Join(s.dir, "sentinel.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return s
}

// start runs the server on s.Addr and waits until it accepts connections.
func (s *Server) start() error {
	_, port, _ := net.SplitHostPort(s.Addr)
	args := append([]string{
		"--port", port, "--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--appendonly", "no", "--databases", "4096",
		"--protected-mode", "no", "--loglevel", "warning",
	}, s.args...)
	if s.sentinel {
		args = []string{filepath.Join(s.dir, "sentinel.conf"), "--sentinel", "--port", port, "--bind", "127.0.0.1", "--protected-mode", "no", "--loglevel", "warning"}
	}
	cmd := exec.Command(s.bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	var log strings.Builder
	var logMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			logMu.Lock()
			log.WriteString(sc.Text() + "\n")
			logMu.Unlock()
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
			ok := ping(c)
			c.Close()
			if ok {
				break
			}
		}
		select {
		case <-exited:
			logMu.Lock()
			defer logMu.Unlock()
			return fmt.Errorf("exited before serving: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("not serving on %s after 10 s", s.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	return nil
}

// ping reports whether c answers PING (and is done loading its data).
func ping(c net.Conn) bool {
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// Info reads one field of a section of the server's INFO ("" if none).
func (s *Server) Info(t testing.TB, section, field string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := fmt.Fprintf(c, "INFO %s\r\n", section); err != nil {
		return ""
	}
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil { // the bulk string's length
		return ""
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return ""
		}
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && k == field {
			return v
		}
		if strings.TrimSpace(line) == "" && r.Buffered() == 0 {
			return ""
		}
	}
}

// Kill kills the server (SIGKILL: a crash) and waits for it to exit.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Restart kills the server and starts it again on the same port: with
// the data it persisted (keep; args must have enabled persistence), or
// empty.
func (s *Server) Restart(keep bool) {
	s.t.Helper()
	s.Kill()
	if !keep {
		s.args = append(s.args, "--dbfilename", fmt.Sprintf("dump-%d.rdb", time.Now().UnixNano()), "--appendfilename", fmt.Sprintf("aof-%d", time.Now().UnixNano()))
	}
	if err := s.start(); err != nil {
		s.t.Fatalf("redis-server restart: %v", err)
	}
}

// Pause stops the server (SIGSTOP) until Resume: a Redis that does not
// answer.
func (s *Server) Pause()  { s.signal(syscall.SIGSTOP) }
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(sig)
	}
}
