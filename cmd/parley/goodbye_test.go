package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-rtc/parley/internal/rpctest"
	"github.com/parley-rtc/parley/internal/testkit"
)

// TestListenSaysGoodbye: listen ended by Ctrl-C or SIGTERM closes with 1000,
// so its session and seat end at once: the room's other peer sees it leave
// (room.peerLeft, disconnected), never "reconnecting" for a resume window.
func TestListenSaysGoodbye(t *testing.T) {
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--no-turn")
	alice := dialURL(t, p.URL(), websocket.DefaultDialer)
	mustCall(t, alice, "session.connect", map[string]any{"identity": "alice"}, nil)
	mustCall(t, alice, "room.join", map[string]any{"roomId": "lab", "create": true}, nil)
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			listen := exec.Command(binary, "listen", "--url", p.URL(), "--identity", "bob", "--room", "lab")
			stderr := &testkit.SyncBuffer{}
			listen.Stderr = stderr
			if err := listen.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = listen.Process.Kill() })
			// The signal must reach a listener that has joined: alice can get
			// room.peerJoined before bob's listen has read its join result.
			testkit.Eventually(t, "listen to join", func() bool { return strings.Contains(stderr.String(), "listening as bob") })
			var joined struct {
				Peer struct {
					PeerID string `json:"peerId"`
				} `json:"peer"`
			}
			if err := expectSkippingPresence(alice, "room.peerJoined", &joined); err != nil {
				t.Fatal(err)
			}
			if err := listen.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := listen.Wait(); err != nil {
				t.Fatalf("listen after %s: %v; stderr: %s", sig, err, stderr.String())
			}
			var left struct {
				PeerID string `json:"peerId"`
				Reason string `json:"reason"`
			}
			if err := expectSkippingPresence(alice, "room.peerLeft", &left); err != nil {
				t.Fatal(err) // before the fix: room.peerState {state: reconnecting}
			}
			if left.PeerID != joined.Peer.PeerID || left.Reason != "disconnected" {
				t.Fatalf("room.peerLeft %+v, want bob's peer %s disconnected", left, joined.Peer.PeerID)
			}
		})
	}
}

// expectSkippingPresence is c.Expect(method, out) past presence.changed
// notifications, which a room co-member gets as sessions come and go.
func expectSkippingPresence(c *rpctest.Client, method string, out any) error {
	for range 10 {
		f, err := c.Next()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", method, err)
		}
		if f.Method == "presence.changed" {
			continue
		}
		if f.Method != method {
			return fmt.Errorf("got notification %s (%s), want %s", f.Method, f.Params, method)
		}
		return json.Unmarshal(f.Params, out)
	}
	return fmt.Errorf("no %s among 10 notifications", method)
}

// TestDoctorSaysGoodbye: the session doctor opens for its TURN credentials
// ends when doctor does; none is left connected or waiting for a resume
// (a draining server would otherwise wait for it).
func TestDoctorSaysGoodbye(t *testing.T) {
	p := startDevTURN(t)
	out, errOut, code := parleyCmd(t, "doctor", "--url", p.URL(), "--identity", "doc")
	if code != 0 {
		t.Fatalf("doctor: exit %d:\n%s%s", code, out, errOut)
	}
	metrics := "http://" + p.Addr + "/metrics"
	sessions := regexp.MustCompile(`(?m)^parley_sessions_active\{state="(connected|reconnecting)"\} (\d+)`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := scrape(t, metrics)
		m := sessions.FindAllStringSubmatch(got, -1)
		if len(m) == 2 && m[0][2] == "0" && m[1][2] == "0" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions left after doctor: %q", m) // before the fix: reconnecting 1
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCLIWithSelfSignedTLS: rpc and listen reach a server with a
// self-signed certificate with --ca (or --insecure); without, the error
// names the way out.
func TestCLIWithSelfSignedTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testkit.SelfSigned(t).Files(t, dir)
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--no-turn", "--tls-cert", certFile, "--tls-key", keyFile)
	url := "wss://" + p.Addr + "/rpc"

	_, errOut, code := parleyCmd(t, "rpc", "--url", url, "rpc.discover")
	if code != 1 || !strings.Contains(errOut, "certificate") || !strings.Contains(errOut, "--ca FILE") {
		t.Fatalf("rpc without --ca: exit %d, stderr %q", code, errOut)
	}
	for _, trust := range [][]string{{"--ca", certFile}, {"--insecure"}} {
		out, errOut, code := parleyCmd(t, append([]string{"rpc", "--url", url, "--identity", "alice", "room.join", "roomId=tls", "create:=true"}, trust...)...)
		if code != 0 || !strings.Contains(out, `"roomId": "tls"`) {
			t.Fatalf("rpc %v: exit %d, stdout %q, stderr %q", trust, code, out, errOut)
		}
	}
	_, errOut, code = parleyCmd(t, "rpc", "--url", url, "--ca", keyFile, "rpc.discover")
	if code != 1 || !strings.Contains(errOut, "no PEM certificate") {
		t.Fatalf("rpc --ca with a key file: exit %d, stderr %q", code, errOut)
	}

	listen := exec.Command(binary, "listen", "--url", url, "--ca", certFile, "--identity", "bob", "--room", "tls", "--create")
	var stderr bytes.Buffer
	listen.Stderr = &stderr
	stdout, err := listen.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := listen.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = listen.Process.Kill() })
	lines := bufio.NewScanner(stdout)
	go func() {
		time.Sleep(500 * time.Millisecond) // no harm if listen has not joined yet: it creates the room, and alice's join comes later
		for i := range 20 {
			if _, _, code := parleyCmd(t, "rpc", "--url", url, "--ca", certFile, "--identity", "alice", "room.join", "roomId=tls"); code == 0 {
				return
			}
			time.Sleep(time.Duration(i) * 50 * time.Millisecond)
		}
	}()
	if !lines.Scan() {
		t.Fatalf("listen printed nothing; stderr: %s", stderr.String())
	}
	var n struct{ Method string }
	if err := json.Unmarshal(lines.Bytes(), &n); err != nil || n.Method != "room.peerJoined" {
		t.Fatalf("listen printed %q (%v)", lines.Text(), err)
	}
	_ = listen.Process.Signal(os.Interrupt)
	if err := listen.Wait(); err != nil {
		t.Fatal(fmt.Errorf("listen: %w; stderr: %s", err, stderr.String()))
	}
}
