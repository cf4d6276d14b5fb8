package abuse

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/parley-rtc/parley/internal/rpctest"
)

// source is the i-th address attacks come from (127.0.0.2, .3, …): all of
// 127/8 reaches the server, so a test can attack from several addresses,
// and none of them is the probe's (127.0.0.1).
func source(i int) string { return fmt.Sprintf("127.0.0.%d", 2+i) }

// dialTCP opens a TCP connection to the target from the address from with
// a receive buffer of rcvbuf bytes (0: the kernel's default), so that a
// socket that never reads fills up after a few KiB. It is closed when the
// test ends.
func (tg *target) dialTCP(t testing.TB, from string, rcvbuf int) (*net.TCPConn, error) {
	t.Helper()
	c, err := dialFrom(context.Background(), from, rcvbuf, tg.Addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, nil
}

func dialFrom(ctx context.Context, from string, rcvbuf int, addr string) (*net.TCPConn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: rpctest.Timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	if rcvbuf > 0 {
		_ = tc.SetReadBuffer(rcvbuf)
	}
	return tc, nil
}

// rawWS opens a WebSocket to /rpc from the address from that the test
// drives frame by frame: nothing reads it unless the test does. rcvbuf as
// in dialTCP. It is closed (without a close frame) when the test ends.
func (tg *target) rawWS(t testing.TB, from string, rcvbuf int) (*websocket.Conn, error) {
	t.Helper()
	ws, err := tg.dialWS(from, rcvbuf)
	if err == nil {
		t.Cleanup(func() { _ = ws.NetConn().Close() })
	}
	return ws, err
}

// dialWS is rawWS for a caller that closes the connection itself.
func (tg *target) dialWS(from string, rcvbuf int) (*websocket.Conn, error) {
	d := websocket.Dialer{
		HandshakeTimeout: rpctest.Timeout,
		NetDialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialFrom(ctx, from, rcvbuf, addr)
		},
	}
	ws, _, err := d.Dial(tg.URL(), nil)
	return ws, err
}

// get runs GET path on a fresh connection from the address from and
// returns the status, or the error (a refused or timed-out connection).
func (tg *target) get(from, path string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), rpctest.Timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tg.httpURL()+path, nil)
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialFrom(ctx, from, 0, addr)
		},
	}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
