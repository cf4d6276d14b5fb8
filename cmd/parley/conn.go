package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/gorilla/websocket"
	"github.com/spf13/pflag"

	"github.com/parley-rtc/parley/api"
)

// rpcFlags are the connection flags rpc, listen, shell and doctor share.
type rpcFlags struct {
	url, token, identity string
	ca                   string
	insecure             bool
	timeout              time.Duration
}

// devURL is the dev server of 'make run'.
const devURL = "ws://127.0.0.1:7880/rpc"

// defaultURL is --url's default: $PARLEY_URL, else the dev server.
func defaultURL() string {
	if u := os.Getenv("PARLEY_URL"); u != "" {
		return u
	}
	return devURL
}

// add adds the flags; timeout and timeoutUsage say what --timeout bounds.
func (f *rpcFlags) add(fs *pflag.FlagSet, timeout time.Duration, timeoutUsage string) {
	fs.StringVar(&f.url, "url", defaultURL(), "the server's WebSocket endpoint ($PARLEY_URL sets the default)")
	fs.StringVar(&f.token, "token", "", "a JWT for session.connect (see 'parley token')")
	fs.StringVar(&f.identity, "identity", "", "a bare identity instead of a token (dev servers, from loopback)")
	f.addTLS(fs)
	fs.DurationVar(&f.timeout, "timeout", timeout, timeoutUsage)
}

// addTLS adds --ca and --insecure, for wss: (and turns:) to a server whose
// certificate the system does not trust.
func (f *rpcFlags) addTLS(fs *pflag.FlagSet) {
	fs.StringVar(&f.ca, "ca", "", "PEM file of the CA (or the self-signed certificate) to trust for wss: and turns:")
	fs.BoolVar(&f.insecure, "insecure", false, "skip TLS certificate checks for wss: and turns: (self-signed test servers only)")
}

// parseSessionFlags parses the flags of a command that keeps a session
// (listen, shell): the connection's, and those more registers. A session
// needs credentials; why says what for.
func parseSessionFlags(name, synopsis, why string, args []string, stderr io.Writer, more func(*pflag.FlagSet)) (rpcFlags, error) {
	fs := newFlagSet(name, synopsis, stderr)
	var f rpcFlags
	f.add(fs, 10*time.Second, "how long to wait for the connection and each answer")
	if more != nil {
		more(fs)
	}
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	if f.token == "" && f.identity == "" {
		return f, fmt.Errorf("%s: give --token or --identity (%s)", name, why)
	}
	return f, nil
}

// tlsConfig is nil (the system's roots) unless --ca or --insecure says
// otherwise.
func (f *rpcFlags) tlsConfig() (*tls.Config, error) {
	switch {
	case f.insecure:
		return &tls.Config{InsecureSkipVerify: true}, nil //nolint:gosec // --insecure, for self-signed test servers
	case f.ca != "":
		pem, err := os.ReadFile(f.ca)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in it", f.ca)
		}
		return &tls.Config{RootCAs: pool}, nil
	}
	return nil, nil
}

// rpcConn is a minimal JSON-RPC client over one WebSocket. One goroutine
// reads every frame: answers go to the call that waits for them, and
// notifications to onNotification, also while no call is under way. The Go
// client (clients/go/parley) has typed methods only; the CLI calls any
// method by name, so it speaks the wire protocol itself.
type rpcConn struct {
	ws             *websocket.Conn
	onNotification func(frame []byte) // set before dialRPC returns; called from the read loop
	session        json.RawMessage    // session.connect's result

	writeMu sync.Mutex // gorilla allows one writer at a time
	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan rpcAnswer
	done    chan struct{} // closed when the read loop ends
	readErr error         // why it ended; set before done is closed
}

type rpcAnswer struct {
	Result json.RawMessage `json:"result"`
	Error  *rpcError       `json:"error"`
}

// dialRPC connects to f.url and, with a token or identity, opens a session.
// onNotification (may be nil) gets every notification, from the first.
func dialRPC(ctx context.Context, f rpcFlags, onNotification func([]byte)) (*rpcConn, error) {
	if f.token != "" && f.identity != "" {
		return nil, errors.New("give --token or --identity, not both")
	}
	tlsConf, err := f.tlsConfig()
	if err != nil {
		return nil, err
	}
	d := *websocket.DefaultDialer
	d.TLSClientConfig = tlsConf
	ws, _, err := d.DialContext(ctx, f.url, nil)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", f.url, explainTLS(err))
	}
	c := &rpcConn{ws: ws, onNotification: onNotification, pending: map[int64]chan rpcAnswer{}, done: make(chan struct{})}
	go c.readLoop()
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

// explainTLS adds the way out to a certificate the system does not trust.
func explainTLS(err error) error {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	if errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &host) {
		return fmt.Errorf("%w (a self-signed or private CA? give --ca FILE, or --insecure for a test server)", err)
	}
	return err
}

// readLoop reads until the connection ends.
func (c *rpcConn) readLoop() {
	defer close(c.done)
	for {
		_, frame, err := c.ws.ReadMessage()
		if err != nil {
			c.readErr = err
			return
		}
		var msg struct {
			ID     *int64 `json:"id"`
			Method string `json:"method"`
			rpcAnswer
		}
		if err := json.Unmarshal(frame, &msg); err != nil {
			c.readErr = fmt.Errorf("the server sent invalid JSON: %w", err)
			return
		}
		if msg.Method != "" && msg.ID == nil {
			if c.onNotification != nil {
				c.onNotification(frame)
			}
			continue
		}
		c.mu.Lock()
		var ch chan rpcAnswer
		if msg.ID != nil {
			ch = c.pending[*msg.ID]
			delete(c.pending, *msg.ID)
		}
		c.mu.Unlock()
		if ch == nil {
			c.readErr = fmt.Errorf("unexpected frame: %s", frame)
			return
		}
		ch <- msg.rpcAnswer // buffered: never blocks
	}
}

// call sends one request and waits for its answer.
func (c *rpcConn) call(ctx context.Context, method string, params jsontext.Value) (json.RawMessage, error) {
	ch := make(chan rpcAnswer, 1)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	req := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	if len(params) > 0 {
		req["params"] = json.RawMessage(params)
	}
	c.writeMu.Lock()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.ws.SetWriteDeadline(dl)
	}
	err := c.ws.WriteJSON(req)
	c.writeMu.Unlock()
	if err != nil {
		return nil, c.failure(err)
	}
	select {
	case a := <-ch:
		if a.Error != nil {
			return nil, a.Error
		}
		return a.Result, nil
	case <-c.done:
		return nil, c.failure(c.readErr)
	case <-ctx.Done():
		return nil, fmt.Errorf("no answer: %w", context.Cause(ctx))
	}
}

// failure explains a read or write error: how the server closed the
// connection (its close text is the reason, e.g. slow_consumer).
func (c *rpcConn) failure(err error) error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Errorf("the server closed the connection: %d %s", ce.Code, ce.Text)
	}
	return fmt.Errorf("connection: %w", err)
}

// closeWait bounds how long close waits for the server's answering close
// frame.
const closeWait = 2 * time.Second

// close says goodbye with a normal close (1000), which ends the session at
// once (no resume window, so peers see it leave instead of "reconnecting"),
// waits for the server's close frame, then closes the socket.
func (c *rpcConn) close() {
	c.writeMu.Lock()
	err := c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.writeMu.Unlock()
	if err == nil {
		select {
		case <-c.done:
		case <-time.After(closeWait):
		}
	}
	_ = c.ws.Close()
	<-c.done
}
