package abuse

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-rtc/parley/internal/testkit"
)

// joinRaw connects a dev session on ws and seats it in room.
func joinRaw(t *testing.T, ws *websocket.Conn, identity, room string) {
	t.Helper()
	for i, req := range []string{
		fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"session.connect","params":{"identity":%q}}`, identity),
		fmt.Sprintf(`{"jsonrpc":"2.0","id":2,"method":"room.join","params":{"roomId":%q,"create":true}}`, room),
	} {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, reply, err := ws.ReadMessage(); err != nil || !strings.Contains(string(reply), `"result"`) {
			t.Fatalf("%s step %d: %s %v", identity, i, reply, err)
		}
	}
}

// closeOf reads ws once stalled is closed, until it ends, and returns the
// close code and text, or -1 when it ended without a close frame.
func closeOf(ws *websocket.Conn, stalled <-chan struct{}) (int, string) {
	<-stalled
	for {
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Text
			}
			return -1, err.Error()
		}
	}
}

// TestSlowConsumerSeesReason is issue 16's eleventh attack turned around:
// a client that fell behind a burst was cut off as the README says (4009
// slow_consumer), yet saw 51 frames and then 1006, with no reason. The
// close frame is now sent, best effort, before the socket is dropped.
func TestSlowConsumerSeesReason(t *testing.T) {
	slow := size(3, 20)
	tg := start(t, 4096, "--no-turn", "--log-level", "warn", "--rate-burst", "100000", "--rate", "100000",
		"--queue-messages", "64", "--queue-bytes", "65536", "--replay-messages", "64", "--replay-bytes", "65536", "--max-peers", "64")
	s := tg.siege(t)
	sender := tg.session(t, "sender")
	if _, err := sender.Call("room.join", map[string]any{"roomId": "burst", "create": true}); err != nil {
		t.Fatal(err)
	}
	codes, texts := make([]int, slow), make([]string, slow)
	// The readers stall until the server has found each one's queue full
	// and begun to close it, then read at once: the close frame waits a
	// second for room in a socket (a fixed 500 ms stall was too short when
	// the sender shared two loaded cores: the readers caught up and were
	// never cut).
	stalled := make(chan struct{})
	defer func() {
		select {
		case <-stalled:
		default:
			close(stalled)
		}
	}()
	var wg sync.WaitGroup
	for i := range slow {
		ws, err := tg.rawWS(t, source(0), 0)
		if err != nil {
			t.Fatal(err)
		}
		joinRaw(t, ws, fmt.Sprintf("slow%d", i), "burst")
		wg.Go(func() { codes[i], texts[i] = closeOf(ws, stalled) })
	}
	// 1,000 messages of 8 KB at once, while the readers stall: more than a
	// reader's queue (64) and its socket's buffers hold.
	data := strings.Repeat("s", 8000)
	for range 1000 {
		_ = sender.Send([]byte(fmt.Sprintf(`{"jsonrpc":"2.0","method":"message.send","params":{"roomId":"burst","data":%q}}`, data)))
	}
	testkit.EventuallyWithin(t, 20*time.Second, "the stalled readers' queues to fill", func() bool {
		// One sender's reader relays to them: one refused frame each.
		return tg.metrics(t)[`parley_notifications_dropped_total{reason="queue_full"}`] >= float64(slow)
	})
	close(stalled)
	wg.Wait()
	s.bounded(t, s.during(t), 32, 20)
	for i := range slow {
		if codes[i] != 4009 || texts[i] != "slow_consumer" {
			t.Errorf("slow reader %d saw the connection end with %d %q, want 4009 slow_consumer", i, codes[i], texts[i])
		}
	}
	s.after(t)
}

// TestStoppedReaderTimesOut: a client that stops reading altogether is
// told apart from one that cannot keep up with a burst (issue 14): its
// queue never fills, its writes time out, and it is closed as
// write_timeout, which /metrics counts apart from slow_consumer.
func TestStoppedReaderTimesOut(t *testing.T) {
	stopped := size(2, 5)
	tg := start(t, 4096, "--no-turn", "--log-level", "warn", "--rate-burst", "100000", "--rate", "100000",
		"--write-timeout", "2s", "--queue-bytes", "16777216")
	s := tg.siege(t)
	sender := tg.session(t, "sender")
	if _, err := sender.Call("room.join", map[string]any{"roomId": "quiet", "create": true}); err != nil {
		t.Fatal(err)
	}
	for i := range stopped {
		ws, err := tg.rawWS(t, source(0), 4096)
		if err != nil {
			t.Fatal(err)
		}
		joinRaw(t, ws, fmt.Sprintf("stopped%d", i), "quiet")
	}
	// 8 MB each: more than the sockets take (a send buffer grows to 4 MiB),
	// less than a queue (16 MiB).
	data := strings.Repeat("l", 50_000)
	for range 160 {
		_ = sender.Send([]byte(fmt.Sprintf(`{"jsonrpc":"2.0","method":"message.send","params":{"roomId":"quiet","data":%q}}`, data)))
	}
	testkit.EventuallyWithin(t, 10*time.Second, "the stopped readers to be cut off", func() bool {
		m := tg.metrics(t)
		return m[`parley_connections_closed_total{reason="write_timeout"}`]+m[`parley_connections_closed_total{reason="slow_consumer"}`] >= float64(stopped)
	})
	s.bounded(t, s.during(t), float64(32+16*stopped), 20)
	m := tg.metrics(t)
	t.Logf("closed: %.0f write_timeout, %.0f slow_consumer", m[`parley_connections_closed_total{reason="write_timeout"}`], m[`parley_connections_closed_total{reason="slow_consumer"}`])
	if got := m[`parley_connections_closed_total{reason="slow_consumer"}`]; got != 0 {
		t.Errorf("%.0f stopped readers closed as slow_consumer, want write_timeout", got)
	}
	s.after(t)
}
