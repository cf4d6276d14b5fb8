package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/testkit"
)

// parleyCmd runs the real binary with args and returns stdout, stderr and
// the exit code.
func parleyCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("parley %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// TestRPCAndListen: parley listen joins a room and prints what happens in
// it as JSON lines while parley rpc calls join it, each printing its
// result; errors go to stderr with code and reason and exit 1.
func TestRPCAndListen(t *testing.T) {
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--turn-listen", "127.0.0.1:0")
	url := p.URL()

	listen := exec.Command(binary, "listen", "--url", url, "--identity", "bob", "--room", "lab", "--create")
	stdout, err := listen.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	listenErr := &testkit.SyncBuffer{} // written by the child's copier, read here
	listen.Stderr = listenErr
	if err := listen.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = listen.Process.Kill() })
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// listen prints its banner once it has joined; poll its stderr.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(listenErr.String(), "listening as bob") {
		if time.Now().After(deadline) {
			t.Fatalf("listen did not start: %s", listenErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	out, errOut, code := parleyCmd(t, "rpc", "--url", url, "--identity", "alice", "room.join", "roomId=lab", "displayName=Alice A.")
	if code != 0 {
		t.Fatalf("rpc room.join: exit %d: %s", code, errOut)
	}
	var joined struct {
		RoomID string `json:"roomId"`
		Self   struct{ PeerID, Identity string }
		Peers  []struct{ Identity string }
	}
	if err := json.Unmarshal([]byte(out), &joined); err != nil || joined.RoomID != "lab" || joined.Self.Identity != "alice" ||
		len(joined.Peers) != 1 || joined.Peers[0].Identity != "bob" {
		t.Fatalf("rpc room.join printed %s (%v)", out, err)
	}

	// bob's listener saw alice come (and go when her rpc disconnected).
	for _, want := range []string{"room.peerJoined", "room.peerLeft"} {
		select {
		case line := <-lines:
			var n struct {
				Method string
				Params struct {
					Seq    int64
					RoomID string `json:"roomId"`
				}
			}
			if err := json.Unmarshal([]byte(line), &n); err != nil || n.Method != want || n.Params.RoomID != "lab" || n.Params.Seq == 0 {
				t.Fatalf("listen printed %q, want %s with a seq (%v)", line, want, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("listen printed no %s; stderr: %s", want, listenErr.String())
		}
	}

	// A server error: code, message and reason on stderr, exit 1.
	out, errOut, code = parleyCmd(t, "rpc", "--url", url, "--identity", "alice", "room.leave", `{"roomId":"nope"}`)
	if code != 1 || out != "" || !strings.Contains(errOut, "404") || !strings.Contains(errOut, "(room_not_found)") {
		t.Fatalf("room.leave of a room not joined: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Without credentials only rpc.discover is answered.
	out, _, code = parleyCmd(t, "rpc", "--url", url, "rpc.discover")
	if code != 0 || !strings.Contains(out, `"openrpc"`) {
		t.Fatalf("rpc.discover: exit %d: %.80s", code, out)
	}

	// Ctrl-C ends listen normally.
	if err := listen.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for range lines { // drain until its stdout closes
	}
	if err := listen.Wait(); err != nil {
		t.Fatalf("listen after SIGINT: %v; stderr: %s", err, listenErr.String())
	}
}

// TestRPCValidatesBeforeSending: bad params and unknown methods are refused
// by the schema with the field named, before any connection (the URL
// points nowhere).
func TestRPCValidatesBeforeSending(t *testing.T) {
	const nowhere = "ws://127.0.0.1:1/rpc"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"room.join", "roomId=not a room"}, "invalid params: roomId: does not match"},
		{[]string{"room.join"}, "invalid params: roomId: required"},
		{[]string{"room.join", "roomId=lab", "maxPeers:=3"}, "invalid params: maxPeers: unknown member"},
		{[]string{"room.create", "maxPeers:=0"}, "invalid params: maxPeers: must be between 1 and"},
		{[]string{"room.join", "roomId=lab", "create:=yes"}, "create:=yes is not valid JSON"},
		{[]string{"room.jion"}, `no method "room.jion" in the schema`},
	} {
		_, errOut, code := parleyCmd(t, append([]string{"rpc", "--url", nowhere, "--identity", "alice"}, tc.args...)...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("parley rpc %v: exit %d, stderr %q; want %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestCompletion: the bash script completes method names from the
// binary's own schema.
func TestCompletion(t *testing.T) {
	script, _, code := parleyCmd(t, "completion", "bash")
	if code != 0 || !strings.Contains(script, "complete -o default -F _parley parley") || !strings.Contains(script, "rpc --list") {
		t.Fatalf("completion bash: exit %d:\n%s", code, script)
	}
	list, _, code := parleyCmd(t, "rpc", "--list")
	if code != 0 || !strings.Contains(list, "room.join\tJoin a room.\n") || !strings.Contains(list, "sdp.offer\t") {
		t.Fatalf("rpc --list: exit %d:\n%s", code, list)
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		// Complete "parley rpc room.j" with the real script and binary.
		cmd := exec.Command(bash, "-c", `source /dev/stdin; COMP_WORDS=("$PARLEY" rpc room.j); COMP_CWORD=2; _parley; echo "${COMPREPLY[@]}"`)
		cmd.Env = append(cmd.Environ(), "PARLEY="+binary)
		cmd.Stdin = strings.NewReader(script)
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != "room.join" {
			t.Fatalf("completing 'rpc room.j': %q (%v)", out, err)
		}
	}
}
