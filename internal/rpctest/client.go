// Package rpctest is a deliberately raw JSON-RPC-over-WebSocket client for
// tests and the load generator: it sends exactly the bytes it is given and
// shows every frame the server sends, so tests see the wire, not a library's
// interpretation of it.
package rpctest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/gorilla/websocket"
)

// Timeout bounds every wait in this package, so a broken server fails a test
// instead of hanging it.
const Timeout = 5 * time.Second

// Frame is one message from the server: a response (ID set) or a
// notification (Method set).
type Frame struct {
	ID     jsontext.Value `json:"id,omitzero"`
	Method string         `json:"method,omitzero"`
	Params jsontext.Value `json:"params,omitzero"`
	Result jsontext.Value `json:"result,omitzero"`
	Error  *Error         `json:"error,omitzero"`
	Raw    []byte         `json:"-"`
}

// Error is a JSON-RPC error object as received.
type Error struct {
	Code    int64          `json:"code"`
	Message string         `json:"message"`
	Data    jsontext.Value `json:"data,omitzero"`
}

func (e *Error) Error() string { return fmt.Sprintf("rpc error %d: %s %s", e.Code, e.Message, e.Data) }

// Client is one WebSocket connection. Responses and notifications are kept
// in separate queues so a test can wait for either in order.
type Client struct {
	ws     *websocket.Conn
	nextID int
	wmu    sync.Mutex

	mu        sync.Mutex
	responses map[string]chan Frame
	notes     chan Frame
	closed    chan struct{}
	closeErr  error
}

// Dial connects to a ws:// URL. header may carry an Origin.
func Dial(ctx context.Context, url string, header http.Header) (*Client, error) {
	return DialWith(ctx, websocket.DefaultDialer, url, header)
}

// DialWith connects with a given dialer (for wss:// with a test CA).
func DialWith(ctx context.Context, dialer *websocket.Dialer, url string, header http.Header) (*Client, error) {
	ws, resp, err := dialer.DialContext(ctx, url, header)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %d)", url, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	c := &Client{ws: ws, responses: make(map[string]chan Frame), notes: make(chan Frame, 1<<16), closed: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

func (c *Client) readLoop() {
	defer close(c.closed)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.closeErr = err
			c.mu.Unlock()
			return
		}
		var frames []Frame
		if len(data) > 0 && data[0] == '[' {
			_ = json.Unmarshal(data, &frames)
		} else {
			var f Frame
			_ = json.Unmarshal(data, &f)
			frames = []Frame{f}
		}
		for _, f := range frames {
			f.Raw = data
			if f.Method != "" {
				select {
				case c.notes <- f:
				default: // a test that never drains notifications loses the excess
				}
				continue
			}
			c.mu.Lock()
			ch, ok := c.responses[string(f.ID)]
			if !ok {
				ch = make(chan Frame, 1)
				c.responses[string(f.ID)] = ch
			}
			c.mu.Unlock()
			ch <- f
		}
	}
}

// Send writes raw bytes as one text frame.
func (c *Client) Send(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

// WriteMessage writes one frame of the given WebSocket message type.
func (c *Client) WriteMessage(messageType int, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(messageType, data)
}

// Response waits for the response with this raw id.
func (c *Client) Response(id string) (Frame, error) {
	c.mu.Lock()
	ch, ok := c.responses[id]
	if !ok {
		ch = make(chan Frame, 1)
		c.responses[id] = ch
	}
	c.mu.Unlock()
	select {
	case f := <-ch:
		c.mu.Lock()
		delete(c.responses, id)
		c.mu.Unlock()
		return f, nil
	case <-c.closed:
		return Frame{}, fmt.Errorf("connection closed waiting for response %s: %w", id, c.Err())
	case <-time.After(Timeout):
		return Frame{}, fmt.Errorf("no response %s within %s", id, Timeout)
	}
}

// Call sends a request with a fresh numeric id and returns its result, or
// its error as *Error.
func (c *Client) Call(method string, params any) (jsontext.Value, error) {
	c.wmu.Lock()
	c.nextID++
	n := c.nextID
	c.wmu.Unlock()
	req := map[string]any{"jsonrpc": "2.0", "id": n, "method": method}
	if params != nil {
		req["params"] = params
	}
	b, err := json.Marshal(req, json.Deterministic(true))
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", method, err)
	}
	if err := c.Send(b); err != nil {
		return nil, fmt.Errorf("send %s: %w", method, err)
	}
	f, err := c.Response(strconv.Itoa(n))
	if err != nil {
		return nil, err
	}
	if f.Error != nil {
		return nil, f.Error
	}
	return f.Result, nil
}

// CallInto is Call that decodes the result into out.
func (c *Client) CallInto(method string, params, out any) error {
	res, err := c.Call(method, params)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(res, out)
}

// Next waits for the next notification.
func (c *Client) Next() (Frame, error) {
	select {
	case f := <-c.notes:
		return f, nil
	case <-c.closed:
		select {
		case f := <-c.notes:
			return f, nil
		default:
		}
		return Frame{}, fmt.Errorf("connection closed waiting for a notification: %w", c.Err())
	case <-time.After(Timeout):
		return Frame{}, fmt.Errorf("no notification within %s", Timeout)
	}
}

// Expect waits for the next notification and checks its method, decoding
// its params into out (if not nil).
func (c *Client) Expect(method string, out any) error {
	f, err := c.Next()
	if err != nil {
		return fmt.Errorf("waiting for %s: %w", method, err)
	}
	if f.Method != method {
		return fmt.Errorf("got notification %s (%s), want %s", f.Method, f.Params, method)
	}
	if out != nil {
		return json.Unmarshal(f.Params, out)
	}
	return nil
}

// Pending reports how many notifications are queued unread.
func (c *Client) Pending() int { return len(c.notes) }

// Closed is closed when the connection ends.
func (c *Client) Closed() <-chan struct{} { return c.closed }

// Err is why the connection ended (a *websocket.CloseError carries the code
// and text the server sent).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// CloseCode waits for the connection to end and returns the close code the
// server sent (or -1 if it ended without a close frame).
func (c *Client) CloseCode() (int, string, error) {
	select {
	case <-c.closed:
	case <-time.After(Timeout):
		return 0, "", errors.New("connection still open")
	}
	var ce *websocket.CloseError
	if errors.As(c.Err(), &ce) {
		return ce.Code, ce.Text, nil
	}
	return -1, "", nil
}

// Close closes the connection abruptly (no close handshake), as a dropped
// network would.
func (c *Client) Close() error { return c.ws.NetConn().Close() }
