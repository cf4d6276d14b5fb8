package main

import (
	"bufio"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-rtc/parley/internal/testkit"
)

// TestShellKeepsOneSession: lines from a pipe run in one session, so the
// room joined on the first line is still joined for message.send (which a
// second 'parley rpc' would get 404 for); notifications print as they come,
// between commands; errors are printed and the shell goes on; at the end of
// input the shell says goodbye and the seat goes at once.
func TestShellKeepsOneSession(t *testing.T) {
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--no-turn")
	bob := dialURL(t, p.URL(), websocket.DefaultDialer)
	mustCall(t, bob, "session.connect", map[string]any{"identity": "bob"}, nil)

	shell := exec.Command(binary, "shell", "--url", p.URL(), "--identity", "alice")
	stdin, err := shell.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := shell.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testkit.SyncBuffer{}
	shell.Stderr = stderr
	if err := shell.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = shell.Process.Kill() })
	out := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out <- sc.Text()
		}
		close(out)
	}()
	// waitFor reads output lines until one contains want.
	waitFor := func(want string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case line, ok := <-out:
				if !ok {
					t.Fatalf("shell ended before %q; stderr: %s", want, stderr.String())
				}
				if strings.Contains(line, want) {
					return
				}
			case <-timeout:
				t.Fatalf("no %q from the shell; stderr: %s", want, stderr.String())
			}
		}
	}
	send := func(line string) {
		t.Helper()
		if _, err := io.WriteString(stdin, line+"\n"); err != nil {
			t.Fatal(err)
		}
	}

	send("room.join roomId=demo create:=true displayName='Alice A.'")
	waitFor(`"displayName": "Alice A."`)
	mustCall(t, bob, "room.join", map[string]any{"roomId": "demo"}, nil)
	waitFor(`{"jsonrpc":"2.0","method":"room.peerJoined"`) // printed while the shell waits for input
	send(`message.send roomId=demo data:='{"hello": "bob"}'`)
	waitFor(`"messageId":`)
	if err := expectSkippingPresence(bob, "message.received", &struct{}{}); err != nil {
		t.Fatal(err)
	}
	send("room.leave roomId=nope")
	waitFor("error: room.leave: 404")
	send("room.join roomId='not a room'")
	waitFor("error: room.join: invalid params: roomId: does not match")
	send("help room.join")
	waitFor("  roomId= (required)")
	if err := stdin.Close(); err != nil { // end of input: the session ends
		t.Fatal(err)
	}
	for range out {
	}
	if err := shell.Wait(); err != nil {
		t.Fatalf("shell: %v; stderr: %s", err, stderr.String())
	}
	var left struct {
		Reason string `json:"reason"`
	}
	if err := expectSkippingPresence(bob, "room.peerLeft", &left); err != nil || left.Reason != "disconnected" {
		t.Fatalf("bob: %v, reason %q", err, left.Reason)
	}
}

func TestCompleteShell(t *testing.T) {
	for _, tc := range []struct {
		line, want string
		choices    []string
	}{
		{"room.jo", "room.join ", []string{"room.join "}},
		{"room.join ro", "room.join roomId=", []string{"roomId="}},
		{"room.join roomId=demo cr", "room.join roomId=demo create:=", []string{"create:="}},
		{"room.join roomId=demo ", "room.join roomId=demo ", []string{"create:=", "rejoin:=", "displayName=", "metadata:="}},
		{"ex", "exit", []string{"exit"}},
		{"nosuch.method x", "nosuch.method x", nil},
	} {
		got, choices := completeShell(tc.line)
		if got != tc.want || !slices.Equal(choices, tc.choices) {
			t.Errorf("completeShell(%q) = %q %q, want %q %q", tc.line, got, choices, tc.want, tc.choices)
		}
	}
}

func TestSplitWords(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{`room.join roomId=demo  create:=true`, []string{"room.join", "roomId=demo", "create:=true"}},
		{`message.send data:='{"a": 1}'`, []string{"message.send", `data:={"a": 1}`}},
		{`x name="Alice \"A\""`, []string{"x", `name=Alice "A"`}},
		{`x a\ b`, []string{"x", "a b"}},
	} {
		got, err := splitWords(tc.line)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
	if _, err := splitWords(`x 'open`); err == nil {
		t.Error("unterminated quote: no error")
	}
}
