package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/parley-rtc/parley/api"
)

const shellSynopsis = `Opens one session and keeps it while you call methods, one per line, the
way 'parley rpc' takes them (METHOD key=value key:=json …): a room joined
stays joined for the next line. Results print as JSON; every notification
the session receives prints as one JSON line as it arrives, between
commands too. 'help' lists the commands, 'help METHOD' a method's params;
Tab completes method and param names; 'exit', Ctrl-D or Ctrl-C ends the
session (a normal close: its seats go at once). Without a terminal, lines
come from standard input, so a script can drive one session:

  printf 'room.join roomId=demo create:=true\nmessage.send roomId=demo data:=1\n' | parley shell --identity alice`

func runShell(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f, err := parseSessionFlags("shell", shellSynopsis, "the shell keeps one session", args, stderr, nil)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	out := &lockedWriter{w: stdout}
	dialCtx, cancel := context.WithTimeout(ctx, f.timeout)
	c, err := dialRPC(dialCtx, f, func(frame []byte) { out.printf("%s\n", frame) })
	cancel()
	if err != nil {
		return fmt.Errorf("shell: %w", err)
	}
	defer c.close()
	var s struct{ Identity, PeerID string }
	_ = json.Unmarshal(c.session, &s)
	fmt.Fprintf(stderr, "session as %s (peer %s); 'help' lists the commands, Tab completes, Ctrl-D ends\n", s.Identity, s.PeerID)

	var lines lineReader = &plainLines{sc: bufio.NewScanner(stdin)}
	if fd, ok := terminalFD(stdin); ok {
		state, err := term.MakeRaw(fd)
		if err != nil {
			return fmt.Errorf("shell: %w", err)
		}
		defer func() { _ = term.Restore(fd, state) }()
		t := term.NewTerminal(struct {
			io.Reader
			io.Writer
		}{stdin, stdout}, "parley> ")
		t.AutoCompleteCallback = func(line string, pos int, key rune) (string, int, bool) {
			if key != '\t' || pos != len(line) {
				return "", 0, false
			}
			completed, choices := completeShell(line)
			if len(choices) > 1 && completed == line {
				fmt.Fprintf(t, "%s\n", strings.Join(choices, "  "))
			}
			return completed, len(completed), true
		}
		out.mu.Lock()
		out.w, lines = t, terminalLines{t}
		out.mu.Unlock()
	}

	// Lines are read in their own goroutine, so SIGTERM and a server that
	// closes the connection end the shell while it waits for input.
	input := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		for {
			line, err := lines.readLine()
			if err != nil {
				readErr <- err
				return
			}
			input <- line
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.done:
			return fmt.Errorf("shell: %w", c.failure(c.readErr))
		case err := <-readErr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("shell: %w", err)
		case line := <-input:
			if quit := shellLine(ctx, c, f.timeout, strings.TrimSpace(line), out); quit {
				return nil
			}
		}
	}
}

// shellLine runs one line; it reports whether the shell should end.
func shellLine(ctx context.Context, c *rpcConn, timeout time.Duration, line string, out *lockedWriter) bool {
	words, err := splitWords(line)
	switch {
	case err != nil:
		out.printf("error: %v\n", err)
		return false
	case len(words) == 0 || strings.HasPrefix(words[0], "#"):
		return false
	}
	switch words[0] {
	case "exit", "quit":
		return true
	case "help":
		if len(words) > 1 {
			out.printf("%s", methodHelp(words[1]))
		} else {
			out.printf("%s", shellHelp)
		}
		return false
	case "methods":
		for _, m := range schemaMethods() {
			out.printf("%s\t%s\n", m.Name, m.Summary)
		}
		return false
	}
	method := words[0]
	params, err := parseParams(words[1:])
	if err == nil {
		err = validateParams(method, params)
	}
	if err != nil {
		out.printf("error: %s: %v\n", method, err)
		return false
	}
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	result, err := c.call(callCtx, method, params)
	if err != nil {
		out.printf("error: %s: %v\n", method, err)
		return false
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, result, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(result)
	}
	out.printf("%s\n", pretty.Bytes())
	return false
}

const shellHelp = `METHOD [JSON | key=value | key:=json …]   call a method in this session (as parley rpc)
help METHOD                               a method's summary and params
methods                                   list the methods
exit                                      end the session (also Ctrl-D, Ctrl-C)
`

// methodHelp describes a method's params from the schema.
func methodHelp(name string) string {
	for _, m := range schemaMethods() {
		if m.Name != name {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s: %s\n", m.Name, m.Summary)
		for _, p := range m.Params {
			req := ""
			if p.Required {
				req = " (required)"
			}
			fmt.Fprintf(&b, "  %s%s%s\n", p.Name, p.assign(), req)
		}
		return b.String()
	}
	return fmt.Sprintf("no method %q (methods lists them)\n", name)
}

// completeShell completes the last word of line: a command or method name
// first, then the method's param names (with = for strings, := for other
// JSON). It returns the completed line and, when several names fit, them.
func completeShell(line string) (string, []string) {
	words := strings.Fields(line)
	if strings.HasSuffix(line, " ") || len(words) == 0 {
		words = append(words, "")
	}
	last := words[len(words)-1]
	head := line[:len(line)-len(last)]
	var names []string
	if len(words) == 1 {
		names = []string{"help", "methods", "exit"}
		for _, m := range schemaMethods() {
			names = append(names, m.Name+" ")
		}
	} else if !strings.Contains(last, "=") {
		for _, m := range schemaMethods() {
			if m.Name != words[0] {
				continue
			}
			for _, p := range m.Params {
				if !slices.ContainsFunc(words[1:len(words)-1], func(w string) bool { return strings.HasPrefix(w, p.Name+"=") || strings.HasPrefix(w, p.Name+":=") }) {
					names = append(names, p.Name+p.assign())
				}
			}
		}
	}
	var fit []string
	for _, n := range names {
		if strings.HasPrefix(n, last) {
			fit = append(fit, n)
		}
	}
	if len(fit) == 0 {
		return line, nil
	}
	return head + commonPrefix(fit), fit
}

func commonPrefix(words []string) string {
	p := words[0]
	for _, w := range words[1:] {
		for !strings.HasPrefix(w, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}

// splitWords splits a line into words as a POSIX shell would for simple
// quoting: spaces separate, '…' keeps everything, "…" keeps everything but
// \" and \\, and a backslash outside quotes escapes the next character.
func splitWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == ' ' || ch == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated '")
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\') {
					i++
				}
				cur.WriteByte(line[i])
			}
			if i == len(line) {
				return nil, errors.New(`unterminated "`)
			}
			inWord = true
		case ch == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// lockedWriter serializes the shell's output: results come from the line
// loop, notifications from the connection's read loop.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

type lineReader interface{ readLine() (string, error) }

type plainLines struct{ sc *bufio.Scanner }

func (p *plainLines) readLine() (string, error) {
	if p.sc.Scan() {
		return p.sc.Text(), nil
	}
	if err := p.sc.Err(); err != nil {
		return "", err
	}
	return "", io.EOF
}

type terminalLines struct{ t *term.Terminal }

func (t terminalLines) readLine() (string, error) { return t.t.ReadLine() }

// terminalFD is stdin's file descriptor when it is a terminal.
func terminalFD(stdin io.Reader) (int, bool) {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	return int(f.Fd()), true
}

// shellParam is what the shell needs of a method's param.
type shellParam struct {
	Name     string          `json:"name"`
	Required bool            `json:"required"`
	Schema   json.RawMessage `json:"schema"`
}

// assign is "=" for a param whose value is a string (key=value), ":=" for
// other JSON (key:=json).
func (p shellParam) assign() string {
	if schemaIsString(p.Schema) {
		return "="
	}
	return ":="
}

// schemaIsString follows a $ref into the document's components.
func schemaIsString(raw json.RawMessage) bool {
	var s struct {
		Ref  string `json:"$ref"`
		Type string `json:"type"`
	}
	if json.Unmarshal(raw, &s) != nil {
		return false
	}
	if name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/"); ok {
		var doc struct {
			Components struct {
				Schemas map[string]json.RawMessage `json:"schemas"`
			} `json:"components"`
		}
		_ = json.Unmarshal(api.Document, &doc)
		return schemaIsString(doc.Components.Schemas[name])
	}
	return s.Type == "string"
}
