package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/testkit"
)

// readmeBlock is the fenced block after the README's <!-- try-it:name -->
// marker, as lines.
func readmeBlock(t *testing.T, readme, name string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "<!-- try-it:"+name+" ")
	if !ok {
		if _, rest, ok = strings.Cut(readme, "<!-- try-it:"+name+" -->"); !ok {
			t.Fatalf("README has no try-it:%s block", name)
		}
	}
	_, rest, _ = strings.Cut(rest, "```text\n")
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("try-it:%s: no fenced block", name)
	}
	return strings.Split(strings.TrimSuffix(block, "\n"), "\n")
}

// command is a "$ parley …" line as the real binary's command.
func command(t *testing.T, line string) *exec.Cmd {
	t.Helper()
	words, err := splitWords(strings.TrimPrefix(line, "$ "))
	if err != nil || len(words) == 0 || words[0] != "parley" {
		t.Fatalf("not a parley command line: %q (%v)", line, err)
	}
	return exec.Command(binary, words[1:]...)
}

// TestReadmeTryIt runs the README's Try it: bob's listen, alice's shell
// lines and what bob prints, exactly as written (peer ids stand in for
// the <…'s peerId> placeholders; --url comes from $PARLEY_URL, the dev
// server's in the README).
func TestReadmeTryIt(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	bobBlock, aliceBlock, bobPrints := readmeBlock(t, readme, "bob"), readmeBlock(t, readme, "alice"), readmeBlock(t, readme, "bob-prints")
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--no-turn")
	env := append(os.Environ(), "PARLEY_URL="+p.URL())

	bob := command(t, bobBlock[0])
	bob.Env = env
	bobErr := &testkit.SyncBuffer{}
	bob.Stderr = bobErr
	bobOut, err := bob.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bob.Process.Kill() })
	banner := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(bobBlock[1]), regexp.QuoteMeta("<bob's peerId>"), "([A-Za-z0-9_-]+)") + "$")
	var bobPeer string
	for deadline := time.Now().Add(10 * time.Second); bobPeer == ""; time.Sleep(20 * time.Millisecond) {
		if m := banner.FindStringSubmatch(strings.TrimSpace(bobErr.String())); m != nil {
			bobPeer = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("bob printed %q, want %q", bobErr.String(), bobBlock[1])
		}
	}

	alice := command(t, aliceBlock[0])
	alice.Env = env
	var input strings.Builder
	for _, line := range aliceBlock[1:] {
		in, ok := strings.CutPrefix(line, "parley> ")
		if !ok {
			t.Fatalf("try-it:alice: %q is not a parley> line", line)
		}
		input.WriteString(strings.ReplaceAll(in, "<bob's peerId>", bobPeer) + "\n")
	}
	alice.Stdin = strings.NewReader(input.String())
	out, err := alice.CombinedOutput()
	if err != nil || strings.Contains(string(out), "error:") {
		t.Fatalf("alice's shell: %v\n%s", err, out)
	}
	alicePeer := regexp.MustCompile(`session as alice \(peer ([A-Za-z0-9_-]+)\)`).FindStringSubmatch(string(out))
	if alicePeer == nil {
		t.Fatalf("alice's shell printed no session line:\n%s", out)
	}

	got := bufio.NewScanner(bobOut)
	for i, want := range bobPrints {
		want = strings.ReplaceAll(want, "<alice's peerId>", alicePeer[1])
		if !got.Scan() {
			t.Fatalf("bob printed %d lines, the README %d; stderr: %s", i, len(bobPrints), bobErr.String())
		}
		var w, g any
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatalf("README line %d is not JSON: %v", i+1, err)
		}
		if err := json.Unmarshal(got.Bytes(), &g); err != nil || !reflect.DeepEqual(w, g) {
			t.Errorf("bob's line %d:\n got  %s\n want %s", i+1, got.Text(), want)
		}
	}
	_ = bob.Process.Signal(os.Interrupt)
	_, _ = io.Copy(io.Discard, bobOut)
	if err := bob.Wait(); err != nil {
		t.Errorf("bob's listen: %v", err)
	}
}
