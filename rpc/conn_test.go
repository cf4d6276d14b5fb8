package rpc

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/gorilla/websocket"
)

// wsServer serves mux over a real WebSocket on loopback. Each accepted
// Conn is sent on the returned channel; why it ended on reasons.
func wsServer(t testing.TB, mux *Mux, cfg ConnConfig) (url string, conns <-chan *Conn, reasons <-chan CloseReason) {
	t.Helper()
	url, conns, reasons, _ = wsServerOn(t, mux, cfg, false)
	return url, conns, reasons
}

// wsServerOn is wsServer, over TLS if tls (url is then wss://, and roots
// trusts the server's certificate).
func wsServerOn(t testing.TB, mux *Mux, cfg ConnConfig, tls bool) (url string, conns <-chan *Conn, reasons <-chan CloseReason, roots *x509.CertPool) {
	t.Helper()
	connc := make(chan *Conn, 16)
	reasonc := make(chan CloseReason, 16)
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.OnClose = func(_ *Conn, r CloseReason) { reasonc <- r }
	up := NewUpgrader(func(*http.Request) bool { return true }, cfg)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		connc <- c
		c.Start(context.Background(), mux)
	}))
	if tls {
		srv.StartTLS()
		roots = x509.NewCertPool()
		roots.AddCert(srv.Certificate())
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), connc, reasonc, roots
}

func dial(t testing.TB, url string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func waitReason(t *testing.T, reasons <-chan CloseReason) CloseReason {
	t.Helper()
	select {
	case r := <-reasons:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("connection did not close")
		return 0
	}
}

// readClose reads until the server's close frame and returns its code and text.
func readClose(t *testing.T, ws *websocket.Conn) (int, string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Text
			}
			t.Fatalf("read ended without a close frame: %v", err)
		}
	}
}

func echoMux() *Mux {
	m := NewMux()
	m.Handle("echo", func(_ context.Context, p jsontext.Value) (any, error) { return p, nil })
	return m
}

func TestConnRepliesInOrder(t *testing.T) {
	url, _, _ := wsServer(t, echoMux(), ConnConfig{})
	ws := dial(t, url)
	const n = 200
	for i := range n {
		msg := fmt.Sprintf(`{"jsonrpc":"2.0","method":"echo","params":[%d],"id":%d}`, i, i)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		_, got, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"result":[%d]}`, i, i); string(got) != want {
			t.Fatalf("reply %d: %s, want %s", i, got, want)
		}
	}
}

// TestConnBatchedFramesArriveIntact queues frames faster than they are
// written, so the writer takes many at once and sends them together, with
// some larger than a pooled slab among them: each must still arrive whole
// and in order, though they are all queued from one buffer, as a read's
// handling queues them (NotifyRaw copies).
func TestConnBatchedFramesArriveIntact(t *testing.T) {
	url, conns, _ := wsServer(t, NewMux(), ConnConfig{})
	ws := dial(t, url)
	c := <-conns
	const n = 300
	frames := make([]string, n)
	var buf []byte
	c.box.begin() // a read is being handled: the frames wait for its end
	for i := range frames {
		size := 10 + i%7*100
		if i%50 == 25 {
			size = maxPooledBuffer + 1000
		}
		frames[i] = fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", size))
		buf = append(buf[:0], frames[i]...)
		if err := c.NotifyRaw(buf); err != nil {
			t.Fatal(err)
		}
	}
	c.box.end()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i, want := range frames {
		_, got, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("frame %d: got %.40s… (%d bytes), want %.40s… (%d bytes)", i, got, len(got), want, len(want))
		}
	}
}

func TestConnCloses(t *testing.T) {
	tests := []struct {
		name      string
		cfg       ConnConfig
		act       func(ws *websocket.Conn, c *Conn)
		reason    CloseReason
		code      int
		textHas   string
		closeSeen bool // the client sees a close frame
	}{
		{
			name:   "binary frame",
			act:    func(ws *websocket.Conn, _ *Conn) { _ = ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2}) },
			reason: CloseUnsupportedData, code: 1003, textHas: "binary frames", closeSeen: true,
		},
		{
			name: "frame over the read limit",
			cfg:  ConnConfig{ReadLimit: 1024},
			act: func(ws *websocket.Conn, _ *Conn) {
				_ = ws.WriteMessage(websocket.TextMessage, []byte(`"`+strings.Repeat("x", 2000)+`"`))
			},
			reason: CloseTooLarge, code: 1009, closeSeen: true,
		},
		{
			name:   "server drains",
			act:    func(_ *websocket.Conn, c *Conn) { c.Close(CloseDraining, "") },
			reason: CloseDraining, code: 4503, textHas: "draining", closeSeen: true,
		},
		{
			name: "client closes",
			act: func(ws *websocket.Conn, _ *Conn) {
				_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1001, "tab closed"))
			},
			reason: CloseGoingAway,
		},
		{
			name:   "client vanishes",
			act:    func(ws *websocket.Conn, _ *Conn) { ws.UnderlyingConn().Close() },
			reason: ClosePeerGone,
		},
		{
			name:   "client never authenticates",
			cfg:    ConnConfig{PreAuth: PreAuthLimits{Timeout: 50 * time.Millisecond, TimeoutText: "log in first"}},
			act:    func(*websocket.Conn, *Conn) {},
			reason: CloseAuthTimeout, code: 4002, textHas: "log in first", closeSeen: true,
		},
		{
			name:   "client never answers pings",
			cfg:    ConnConfig{PingInterval: 20 * time.Millisecond, PongTimeout: 100 * time.Millisecond},
			act:    func(*websocket.Conn, *Conn) {}, // not reading means no pongs
			reason: ClosePingTimeout,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, conns, reasons := wsServer(t, echoMux(), tt.cfg)
			ws := dial(t, url)
			tt.act(ws, <-conns)
			if got := waitReason(t, reasons); got != tt.reason {
				t.Fatalf("reason %v, want %v", got, tt.reason)
			}
			if !tt.closeSeen {
				return
			}
			code, text := readClose(t, ws)
			if code != tt.code || !strings.Contains(text, tt.textHas) {
				t.Fatalf("close %d %q, want %d containing %q", code, text, tt.code, tt.textHas)
			}
		})
	}
}

// Notifications queued before a close are delivered before the close frame.
func TestConnFlushesBeforeClose(t *testing.T) {
	url, conns, reasons := wsServer(t, echoMux(), ConnConfig{})
	ws := dial(t, url)
	c := <-conns
	for i := range 10 {
		if err := c.Notify("room.closed", map[string]int{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	c.Close(CloseGoingAway, "server shutting down")
	for i := range 10 {
		_, got, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("notification %d lost: %v", i, err)
		}
		if want := fmt.Sprintf(`{"jsonrpc":"2.0","method":"room.closed","params":{"n":%d}}`, i); string(got) != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	if code, text := readClose(t, ws); code != 1001 || text != "server shutting down" {
		t.Fatalf("close %d %q", code, text)
	}
	waitReason(t, reasons)
	if err := c.Notify("late", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Notify after close: %v, want ErrClosed", err)
	}
}

// A client that stops reading fills its queue; the next Notify closes it as
// slow_consumer without blocking the sender.
// TestConnSlowConsumer: a client that never reads is cut off, and the
// shared Stats count what was queued, refused and why the connection ended.
func TestConnSlowConsumer(t *testing.T) {
	var stats Stats
	url, conns, reasons := wsServer(t, echoMux(), ConnConfig{MaxQueueMessages: 64, MaxQueueBytes: 1 << 20, WriteTimeout: time.Second, Stats: &stats})
	dial(t, url) // never reads
	c := <-conns
	payload := map[string]string{"sdp": strings.Repeat("v=0 ", 4096)}
	var err error
	queued := uint64(0)
	deadline := time.Now().Add(30 * time.Second)
	for err == nil && time.Now().Before(deadline) {
		if err = c.Notify("sdp.offer", payload); err == nil {
			queued++
		}
	}
	if !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("Notify: %v, want ErrSlowConsumer", err)
	}
	if got := waitReason(t, reasons); got != CloseSlowConsumer {
		t.Fatalf("reason %v, want slow_consumer", got)
	}
	if err := c.Notify("sdp.offer", payload); !errors.Is(err, ErrClosed) {
		t.Fatalf("Notify after close: %v, want ErrClosed", err)
	}
	got := []uint64{stats.Notifications.Load(), stats.DroppedQueueFull.Load(), stats.DroppedClosed.Load(), stats.Closes(CloseSlowConsumer), stats.Closes(CloseNormal)}
	if want := []uint64{queued, 1, 1, 1, 0}; !slices.Equal(got, want) {
		t.Fatalf("stats (queued, queue full, closed, slow_consumer closes, normal closes) = %v, want %v", got, want)
	}
}

// TestConnSlowConsumerSeesReason: a client that fell behind a burst is cut
// off, but a write in progress may finish and the close frame follow it,
// so the client learns why (issue 16: it saw 1006 and no reason).
func TestConnSlowConsumerSeesReason(t *testing.T) {
	url, conns, reasons := wsServer(t, echoMux(), ConnConfig{MaxQueueMessages: 64, MaxQueueBytes: 1 << 20})
	ws := dial(t, url) // stalls until the queue overflows
	c := <-conns
	payload := map[string]string{"sdp": strings.Repeat("v=0 ", 4096)}
	for deadline := time.Now().Add(10 * time.Second); c.Notify("sdp.offer", payload) == nil; {
		if time.Now().After(deadline) {
			t.Fatal("the queue never filled")
		}
	}
	if code, text := readClose(t, ws); code != 4009 || text != "slow_consumer" {
		t.Fatalf("close %d %q, want 4009 slow_consumer", code, text)
	}
	if got := waitReason(t, reasons); got != CloseSlowConsumer {
		t.Fatalf("reason %v, want slow_consumer", got)
	}
}

// TestConnWriteTimeout: a client that stopped reading altogether, while
// its queue is far from full, is cut off when a write times out, and that
// is a reason of its own (write_timeout), not slow_consumer: an operator
// tells a reader that stopped from one that fell behind a burst.
func TestConnWriteTimeout(t *testing.T) {
	var stats Stats
	url, conns, reasons := wsServer(t, echoMux(), ConnConfig{MaxQueueBytes: 64 << 20, MaxQueueMessages: 100_000, WriteTimeout: 200 * time.Millisecond, Stats: &stats})
	ws := dial(t, url) // never reads
	_ = ws.UnderlyingConn().(*net.TCPConn).SetReadBuffer(4096)
	c := <-conns
	payload := map[string]string{"sdp": strings.Repeat("v=0 ", 4096)}
	for range 1000 { // 16 MB: more than the sockets hold, a quarter of the queue
		if err := c.Notify("sdp.offer", payload); err != nil {
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("Notify: %v, want nil or ErrClosed (once the write timed out)", err)
			}
			break
		}
	}
	if got := waitReason(t, reasons); got != CloseWriteTimeout {
		t.Fatalf("reason %v, want write_timeout", got)
	}
	if stats.Closes(CloseWriteTimeout) != 1 || stats.Closes(CloseSlowConsumer) != 0 || stats.DroppedQueueFull.Load() != 0 {
		t.Fatalf("closes: %d write_timeout, %d slow_consumer; %d dropped for a full queue", stats.Closes(CloseWriteTimeout), stats.Closes(CloseSlowConsumer), stats.DroppedQueueFull.Load())
	}
}

func TestCloseReasonsAreDistinct(t *testing.T) {
	names, codes := map[string]bool{}, map[int]bool{}
	for _, r := range CloseReasons() {
		if names[r.String()] || codes[r.Code()] {
			t.Fatalf("%v (%d) is not unique", r, r.Code())
		}
		names[r.String()], codes[r.Code()] = true, true
	}
	if got := truncateCloseText(strings.Repeat("é", 100)); len(got) > 123 || !strings.HasPrefix(strings.Repeat("é", 100), got) {
		t.Fatalf("close text cut badly: %d bytes", len(got))
	}
}

// writerIdle reports that no writer goroutine runs.
func (c *Conn) writerIdle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.writing
}

func waitWriterIdle(t *testing.T, c *Conn) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !c.writerIdle(); {
		if time.Now().After(deadline) {
			t.Fatal("the writer goroutine did not exit")
		}
		time.Sleep(time.Millisecond)
	}
}

// An idle connection has no writer goroutine, yet it still pings: a client
// that answers stays connected well past the pong timeout.
func TestConnIdleWriterExitsAndPings(t *testing.T) {
	// A pong timeout a loaded machine's scheduler cannot miss (200 ms did,
	// under -race beside other tests), and a read over three of them.
	url, conns, reasons := wsServer(t, echoMux(), ConnConfig{PingInterval: 20 * time.Millisecond, PongTimeout: time.Second})
	ws := dial(t, url)
	c := <-conns
	if err := c.Notify("hello", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	waitWriterIdle(t, c)

	pings := 0
	ws.SetPingHandler(func(data string) error {
		pings++
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	_ = ws.SetReadDeadline(time.Now().Add(3 * time.Second))
	var ne net.Error
	if _, _, err := ws.ReadMessage(); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read: %v, want the client's own timeout", err)
	}
	if pings < 30 {
		t.Fatalf("%d pings in 3s at a 20ms interval", pings)
	}
	select {
	case r := <-reasons:
		t.Fatalf("connection closed (%v) although the client answered pings", r)
	default:
	}
	c.Close(CloseNormal, "")
	if got := waitReason(t, reasons); got != CloseNormal {
		t.Fatalf("reason %v, want normal", got)
	}
}

// Every frame Notify accepted before a Close is written, in order, before
// the close frame, while senders race the writer starting and stopping.
func TestConnConcurrentNotifyThenClose(t *testing.T) {
	url, conns, reasons := wsServer(t, echoMux(), ConnConfig{})
	ws := dial(t, url)
	c := <-conns
	const senders, perSender = 4, 200 // 800 frames: under the 1024 queue bound
	accepted := make(chan int, senders)
	for s := range senders {
		go func() {
			n := 0
			for i := range perSender {
				if c.Notify("n", []int{s, i}) != nil {
					break
				}
				n++
				if i%16 == 0 {
					time.Sleep(100 * time.Microsecond) // let the writer drain and exit
				}
			}
			accepted <- n
		}()
	}
	time.Sleep(5 * time.Millisecond)
	c.Close(CloseGoingAway, "")

	next := make([]int, senders)
	got := 0
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, frame, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != 1001 {
				t.Fatalf("after %d frames: %v, want the going_away close frame", got, err)
			}
			break
		}
		var s, i int
		if _, err := fmt.Sscanf(string(frame), `{"jsonrpc":"2.0","method":"n","params":[%d,%d]}`, &s, &i); err != nil {
			t.Fatalf("frame %s: %v", frame, err)
		}
		if i != next[s] {
			t.Fatalf("sender %d: frame %d, want %d", s, i, next[s])
		}
		next[s]++
		got++
	}
	want := 0
	for range senders {
		want += <-accepted
	}
	if got != want {
		t.Fatalf("client got %d frames, Notify accepted %d", got, want)
	}
	waitReason(t, reasons)
}

// Done is closed by Close, whether it was asked for before or after.
func TestConnDone(t *testing.T) {
	url, conns, reasons := wsServer(t, echoMux(), ConnConfig{})
	dial(t, url)
	c := <-conns
	before := c.Done()
	select {
	case <-before:
		t.Fatal("Done closed on an open connection")
	default:
	}
	c.Close(CloseNormal, "")
	for _, done := range []<-chan struct{}{before, c.Done()} {
		select {
		case <-done:
		default:
			t.Fatal("Done not closed after Close")
		}
	}
	waitReason(t, reasons)
}

// TestConnPreAuth: until Authenticated, a connection gets short batches, a
// small outbound queue (but for a reply AllowReply lets through) and one
// request in flight; the bytes it costs are counted. Issue 16: one 3.3 KB
// frame of 64 rpc.discover made the server queue 4 MB for a socket that
// never read.
func TestConnPreAuth(t *testing.T) {
	var stats Stats
	calls := make(chan string, 16)
	m := NewMux()
	m.Handle("small", func(context.Context, jsontext.Value) (any, error) { calls <- "small"; return "ok", nil })
	m.Handle("big", func(ctx context.Context, p jsontext.Value) (any, error) {
		calls <- "big"
		var args []int
		_ = json.Unmarshal(p, &args)
		n := args[0]
		if n > 1<<20 {
			ConnFromContext(ctx).AllowReply(n + 100)
		}
		return strings.Repeat("x", n), nil
	})
	m.Handle("login", func(ctx context.Context, _ jsontext.Value) (any, error) {
		calls <- "login"
		ConnFromContext(ctx).Authenticated()
		return "welcome", nil
	})
	cfg := ConnConfig{PreAuth: PreAuthLimits{QueueBytes: 4096, MaxBatch: 2}, Stats: &stats}
	call := func(ws *websocket.Conn, frame string) string {
		t.Helper()
		if err := ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, reply, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return string(reply)
	}
	small := `{"jsonrpc":"2.0","method":"small","id":1}`
	batch3 := "[" + small + "," + small + "," + small + "]"

	t.Run("batches and stats", func(t *testing.T) {
		url, conns, _ := wsServer(t, m, cfg)
		ws := dial(t, url)
		<-conns
		if got := call(ws, batch3); !strings.Contains(got, "at most 2 requests until the connection authenticates") || len(calls) != 0 {
			t.Fatalf("a batch of 3 before authenticating: %s, %d calls", got, len(calls))
		}
		in, out := stats.PreAuthBytesIn.Load(), stats.PreAuthBytesOut.Load()
		if got := call(ws, `{"jsonrpc":"2.0","method":"login","id":2}`); !strings.Contains(got, "welcome") {
			t.Fatalf("login: %s", got)
		}
		<-calls
		if in != uint64(len(batch3)) || out == 0 || stats.PreAuthBytesOut.Load() != out {
			t.Fatalf("pre-auth bytes in %d (want %d), out %d then %d (the reply to login is not pre-auth)", in, len(batch3), out, stats.PreAuthBytesOut.Load())
		}
		if got := call(ws, batch3); strings.Contains(got, "error") {
			t.Fatalf("a batch of 3 after authenticating: %s", got)
		}
		for range 3 {
			<-calls
		}
	})

	t.Run("queue bound", func(t *testing.T) {
		url, conns, reasons := wsServer(t, m, cfg)
		ws := dial(t, url)
		<-conns
		if got := call(ws, `{"jsonrpc":"2.0","method":"big","params":[3000],"id":1}`); !strings.Contains(got, "xxx") {
			t.Fatalf("a 3 KB reply: %.100s", got)
		}
		<-calls
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","method":"big","params":[5000],"id":2}`))
		<-calls
		if got := waitReason(t, reasons); got != CloseSlowConsumer {
			t.Fatalf("a 5 KB reply over a 4 KiB pre-auth queue: %v, want slow_consumer", got)
		}
	})

	t.Run("one request in flight", func(t *testing.T) {
		url, conns, _ := wsServer(t, m, cfg)
		ws := dial(t, url) // reads nothing until the end
		conn := <-conns
		// A reply larger than the sockets hold blocks the writer: the next
		// request is not read meanwhile.
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","method":"big","params":[16000000],"id":1}`))
		_ = ws.WriteMessage(websocket.TextMessage, []byte(small))
		if got := <-calls; got != "big" {
			t.Fatalf("first call %s", got)
		}
		for deadline := time.Now().Add(10 * time.Second); stats.PreAuthBytesOut.Load() < 16_000_000; {
			if time.Now().After(deadline) {
				t.Fatal("the big reply was not queued")
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		if len(calls) != 0 {
			t.Fatal("the next request ran while the reply to the previous one was not written")
		}
		for range 2 {
			_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := ws.ReadMessage(); err != nil {
				t.Fatal(err)
			}
		}
		if got := <-calls; got != "small" {
			t.Fatalf("second call %s", got)
		}
		conn.Close(CloseNormal, "")
	})
}

// TestHandlerContext: a handler's context carries its Conn and the values
// of Start's ctx, and it (and what derives from it) ends when the
// connection closes.
func TestHandlerContext(t *testing.T) {
	type key struct{}
	ctxs := make(chan context.Context, 1)
	m := NewMux()
	m.Handle("hold", func(ctx context.Context, _ jsontext.Value) (any, error) { ctxs <- ctx; return "ok", nil })
	up := NewUpgrader(func(*http.Request) bool { return true }, ConnConfig{Logger: slog.New(slog.DiscardHandler)})
	conns := make(chan *Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		conns <- c
		c.Start(context.WithValue(context.Background(), key{}, "value"), m)
	}))
	t.Cleanup(srv.Close)
	ws := dial(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
	c := <-conns
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","method":"hold","id":1}`)); err != nil {
		t.Fatal(err)
	}
	ctx := <-ctxs
	if ConnFromContext(ctx) != c || ctx.Value(key{}) != "value" || ctx.Err() != nil {
		t.Fatalf("open: conn %p (want %p), value %v, err %v", ConnFromContext(ctx), c, ctx.Value(key{}), ctx.Err())
	}
	if _, ok := ctx.Deadline(); ok {
		t.Fatal("the handler's context has a deadline")
	}
	derived, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	select {
	case <-ctx.Done():
		t.Fatal("done while open")
	default:
	}
	c.Close(CloseGoingAway, "")
	for _, x := range []context.Context{ctx, derived} {
		select {
		case <-x.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("not done after Close")
		}
		if !errors.Is(x.Err(), context.Canceled) {
			t.Fatalf("err after Close: %v", x.Err())
		}
	}
}
