package main

import (
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
	"syscall"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/api/apirpc"
	"github.com/parley-rtc/parley/rpc"
)

const rpcSynopsis = `Calls one JSON-RPC method and prints its result as JSON (or the error, with
its code, message and data.reason, on stderr, and exits 1).

  parley rpc [flags] METHOD [JSON | key=value | key:=json …]

Params are one JSON object, or members: key=value sets a string, key:=json a
JSON value (create:=true, maxPeers:=4, metadata:='{"a":1}'). They are checked
against the schema before anything is sent. With --token or --identity the
call runs in a session (session.connect first); without, only rpc.discover
is answered. 'parley rpc --list' lists the methods.

Each call is a session of its own: it connects, calls, and says goodbye, so
a room it joined is left when the command ends (a later
'parley rpc message.send roomId=demo' gets 404 room_not_found). To drive one
session over several calls, use 'parley shell'; to watch a room, 'parley
listen'.

Example (a dev server from 'make run'):
  parley rpc --identity alice room.join roomId=demo create:=true`

func runRPC(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rpc", rpcSynopsis, stderr)
	var f rpcFlags
	f.add(fs, 10*time.Second, "how long to wait for the connection and each answer")
	list := fs.Bool("list", false, "list the methods with their summaries and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *list {
		for _, m := range schemaMethods() {
			fmt.Fprintf(stdout, "%s\t%s\n", m.Name, m.Summary)
		}
		return nil
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("rpc: name a method (parley rpc --list)")
	}
	method := fs.Arg(0)
	params, err := parseParams(fs.Args()[1:])
	if err != nil {
		return fmt.Errorf("rpc %s: %w", method, err)
	}
	if err := validateParams(method, params); err != nil {
		return fmt.Errorf("rpc %s: %w", method, err)
	}
	// Ctrl-C or SIGTERM mid-call still says goodbye (the deferred close).
	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(sigCtx, f.timeout)
	defer cancel()
	c, err := dialRPC(ctx, f, nil)
	if err != nil {
		return err
	}
	defer c.close()
	result, err := c.call(ctx, method, params)
	if err != nil {
		return fmt.Errorf("rpc %s: %w", method, err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, result, "", "  "); err != nil {
		return fmt.Errorf("rpc %s: the server answered invalid JSON: %w", method, err)
	}
	out.WriteByte('\n')
	_, err = stdout.Write(out.Bytes())
	return err
}

// parseParams makes the params object from the arguments after the method:
// nothing ({}), one JSON object, or key=value (string) and key:=json members.
func parseParams(args []string) (jsontext.Value, error) {
	if len(args) == 1 && strings.HasPrefix(strings.TrimSpace(args[0]), "{") {
		v := jsontext.Value(args[0])
		if !v.IsValid() {
			return nil, errors.New("params are not valid JSON")
		}
		return v, nil
	}
	members := make(map[string]json.RawMessage, len(args))
	for _, a := range args {
		if k, v, ok := strings.Cut(a, ":="); ok && !strings.Contains(k, "=") {
			if !json.Valid([]byte(v)) {
				return nil, fmt.Errorf("%s:=%s is not valid JSON (use %s=%s for a string)", k, v, k, v)
			}
			members[k] = json.RawMessage(v)
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: give params as JSON, key=value (a string) or key:=json", a)
		}
		s, _ := json.Marshal(v)
		members[k] = s
	}
	b, err := json.Marshal(members)
	return jsontext.Value(b), err
}

// validator is the api package's own strict decoders behind a local mux
// whose handlers all answer "not implemented": a request that reaches the
// handler has valid params, one that does not is answered -32602 naming
// the field, exactly as the server would. One validator, not a second one.
var validator = func() *rpc.Mux {
	m := rpc.NewMux()
	apirpc.Register(m, api.UnimplementedHandler{})
	return m
}()

// methodDiscover needs no params and no session; the server adds it
// beside the schema's methods.
const methodDiscover = "rpc.discover"

// validateParams checks method and params against the schema before
// anything is sent.
func validateParams(method string, params jsontext.Value) error {
	if method == methodDiscover {
		return nil
	}
	if !slices.Contains(validator.Methods(), method) {
		return fmt.Errorf("no method %q in the schema (parley rpc --list)", method)
	}
	req, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": json.RawMessage(params)})
	if err != nil {
		return err
	}
	var resp struct {
		Error *rpcError `json:"error"`
	}
	if err := json.Unmarshal(validator.Dispatch(context.Background(), req), &resp); err != nil {
		return err
	}
	if resp.Error != nil && resp.Error.Code == rpc.CodeInvalidParams {
		return fmt.Errorf("invalid params: %s", resp.Error.detail())
	}
	return nil
}

// schemaMethod is what the CLI needs of a method in api.Document.
type schemaMethod struct {
	Name    string       `json:"name"`
	Summary string       `json:"summary"`
	Params  []shellParam `json:"params"`
}

// schemaMethods lists the schema's methods, for --list and completion.
func schemaMethods() []schemaMethod {
	var doc struct {
		Methods []schemaMethod `json:"methods"`
	}
	_ = json.Unmarshal(api.Document, &doc) // embedded and checked by api's tests
	return doc.Methods
}

// rpcError is a JSON-RPC error answer.
type rpcError struct {
	Code    int64           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *rpcError) Error() string {
	s := fmt.Sprintf("%d %s", e.Code, e.Message)
	var d map[string]json.RawMessage
	if json.Unmarshal(e.Data, &d) != nil {
		return s
	}
	var reason string
	if json.Unmarshal(d["reason"], &reason) == nil {
		s += " (" + reason + ")"
	}
	if delete(d, "reason"); len(d) > 0 { // more than the reason: show it all
		s += "; data: " + string(e.Data)
	}
	return s
}

// detail is a -32602's "field: reason".
func (e *rpcError) detail() string {
	var d struct{ Field, Reason string }
	if json.Unmarshal(e.Data, &d) != nil || d.Reason == "" {
		return e.Message
	}
	if d.Field == "" {
		return d.Reason
	}
	return d.Field + ": " + d.Reason
}

// completionBash completes commands, flags, and for rpc the method names,
// which it asks of 'parley rpc --list' so they always match the binary.
const completionBash = `# bash completion for parley; load with: source <(parley completion bash)
_parley() {
	local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]}
	if [[ $COMP_CWORD -eq 1 ]]; then
		COMPREPLY=($(compgen -W "serve config token doctor rpc listen shell completion version help" -- "$cur"))
		return
	fi
	case $cmd in
	rpc)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--url --token --identity --ca --insecure --timeout --list --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" rpc --list 2>/dev/null | cut -f1)" -- "$cur"))
		fi ;;
	listen) COMPREPLY=($(compgen -W "--url --token --identity --ca --insecure --timeout --room --create --help" -- "$cur")) ;;
	shell) COMPREPLY=($(compgen -W "--url --token --identity --ca --insecure --timeout --help" -- "$cur")) ;;
	doctor) COMPREPLY=($(compgen -W "--server --peer-nat --url --token --identity --ca --insecure --timeout --json --help" -- "$cur")) ;;
	completion) COMPREPLY=($(compgen -W "bash" -- "$cur")) ;;
	config) [[ $COMP_CWORD -eq 2 ]] && COMPREPLY=($(compgen -W "example check" -- "$cur")) ;;
	esac
}
complete -o default -F _parley parley
`

func runCompletion(args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "bash" {
		return errors.New("completion: usage: parley completion bash (then: source <(parley completion bash))")
	}
	_, err := io.WriteString(stdout, completionBash)
	return err
}
