package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/gorilla/websocket"
	"github.com/spf13/pflag"

	"github.com/parley-rtc/parley/api"
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

Example (a dev server from 'make run'):
  parley rpc --identity alice room.join roomId=demo create:=true`

// rpcFlags are the connection flags rpc and listen share.
type rpcFlags struct {
	url, token, identity string
	timeout              time.Duration
}

func (f *rpcFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.url, "url", "ws://127.0.0.1:7880/rpc", "the server's WebSocket endpoint")
	fs.StringVar(&f.token, "token", "", "a JWT for session.connect (see 'parley token')")
	fs.StringVar(&f.identity, "identity", "", "a bare identity instead of a token (dev servers, from loopback)")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "how long to wait for the connection and each answer")
}

func runRPC(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rpc", rpcSynopsis, stderr)
	var f rpcFlags
	f.add(fs)
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
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	c, err := dialRPC(ctx, f)
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
	api.Register(m, api.UnimplementedHandler{})
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
	Name    string `json:"name"`
	Summary string `json:"summary"`
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

// rpcConn is a minimal JSON-RPC client over one WebSocket: calls one at a
// time, and notifications that arrive meanwhile go to onNotification. The
// Go client (clients/go/parley) has typed methods only; the CLI calls any
// method by name, so it speaks the wire protocol itself.
type rpcConn struct {
	ws             *websocket.Conn
	nextID         atomic.Int64
	onNotification func(frame []byte)
	session        json.RawMessage // session.connect's result
}

// dialRPC connects to f.url and, with a token or identity, opens a session.
func dialRPC(ctx context.Context, f rpcFlags) (*rpcConn, error) {
	if f.token != "" && f.identity != "" {
		return nil, errors.New("give --token or --identity, not both")
	}
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, f.url, nil)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", f.url, err)
	}
	c := &rpcConn{ws: ws}
	// A cancelled context unblocks a read or write in progress.
	stop := context.AfterFunc(ctx, func() { _ = ws.Close() })
	defer stop()
	var creds any
	switch {
	case f.token != "":
		creds = map[string]string{"token": f.token}
	case f.identity != "":
		creds = map[string]string{"identity": f.identity}
	default:
		return c, nil
	}
	params, _ := json.Marshal(creds)
	if c.session, err = c.call(ctx, api.MethodSessionConnect, params); err != nil {
		c.close()
		return nil, fmt.Errorf("session.connect: %w", err)
	}
	return c, nil
}

// call sends one request and reads until its answer.
func (c *rpcConn) call(ctx context.Context, method string, params jsontext.Value) (json.RawMessage, error) {
	stop := context.AfterFunc(ctx, func() { _ = c.ws.Close() })
	defer stop()
	id := c.nextID.Add(1)
	req := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	if len(params) > 0 {
		req["params"] = json.RawMessage(params)
	}
	if err := c.ws.WriteJSON(req); err != nil {
		return nil, c.failure(ctx, err)
	}
	for {
		frame, err := c.read(ctx)
		if err != nil {
			return nil, err
		}
		var resp struct {
			ID     *int64          `json:"id"`
			Method string          `json:"method"`
			Result json.RawMessage `json:"result"`
			Error  *rpcError       `json:"error"`
		}
		if err := json.Unmarshal(frame, &resp); err != nil {
			return nil, fmt.Errorf("the server sent invalid JSON: %w", err)
		}
		switch {
		case resp.Method != "" && resp.ID == nil:
			if c.onNotification != nil {
				c.onNotification(frame)
			}
		case resp.ID == nil || *resp.ID != id:
			return nil, fmt.Errorf("unexpected frame: %s", frame)
		case resp.Error != nil:
			return nil, resp.Error
		default:
			return resp.Result, nil
		}
	}
}

// read reads one text frame.
func (c *rpcConn) read(ctx context.Context) ([]byte, error) {
	_, frame, err := c.ws.ReadMessage()
	if err != nil {
		return nil, c.failure(ctx, err)
	}
	return frame, nil
}

// failure explains a read or write error: the deadline, or how the server
// closed the connection (its close text is the reason, e.g. slow_consumer).
func (c *rpcConn) failure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("no answer: %w", context.Cause(ctx))
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Errorf("the server closed the connection: %d %s", ce.Code, ce.Text)
	}
	return fmt.Errorf("connection: %w", err)
}

// close says goodbye with a normal close, then closes the socket.
func (c *rpcConn) close() {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = c.ws.Close()
}

// completionBash completes commands, flags, and for rpc the method names,
// which it asks of 'parley rpc --list' so they always match the binary.
const completionBash = `# bash completion for parley; load with: source <(parley completion bash)
_parley() {
	local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]}
	if [[ $COMP_CWORD -eq 1 ]]; then
		COMPREPLY=($(compgen -W "serve token doctor rpc listen completion version help" -- "$cur"))
		return
	fi
	case $cmd in
	rpc)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--url --token --identity --timeout --list --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" rpc --list 2>/dev/null | cut -f1)" -- "$cur"))
		fi ;;
	listen) COMPREPLY=($(compgen -W "--url --token --identity --timeout --room --create --help" -- "$cur")) ;;
	completion) COMPREPLY=($(compgen -W "bash" -- "$cur")) ;;
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
