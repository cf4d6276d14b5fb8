package abuse

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-rtc/parley/internal/testkit"
)

// dropSessions opens n dev sessions, each from from(i) as identity(i),
// seats each in rooms rooms with 3.5 KB of peer metadata, and drops its
// TCP connection without a close frame: a resumable session, for the
// resume window. It returns how many it opened.
func (tg *target) dropSessions(t *testing.T, n, rooms int, from, identity func(int) string) int {
	t.Helper()
	meta := fmt.Sprintf(`{"pad":"%s"}`, strings.Repeat("m", 3500))
	var opened atomic.Int64
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				ws, err := tg.dialWS(from(i), 0)
				if err != nil {
					continue // refused: over a cap
				}
				if seated(ws, identity(i), i/16, rooms, meta) {
					opened.Add(1)
				}
				_ = ws.NetConn().Close() // dropped, not closed
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return int(opened.Load())
}

// seated connects a dev session on ws and joins it to rooms rooms, d<group>-<r>,
// with a batch; false if anything failed.
func seated(ws *websocket.Conn, identity string, group, rooms int, meta string) bool {
	joins := make([]string, rooms)
	for r := range joins {
		joins[r] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"room.join","params":{"roomId":"d%d-%d","create":true,"metadata":%s}}`, r+1, group, r, meta)
	}
	for _, frame := range []string{
		fmt.Sprintf(`{"jsonrpc":"2.0","id":0,"method":"session.connect","params":{"identity":%q}}`, identity),
		"[" + strings.Join(joins, ",") + "]",
	} {
		if ws.WriteMessage(websocket.TextMessage, []byte(frame)) != nil {
			return false
		}
		for { // to the response, past notifications
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, reply, err := ws.ReadMessage()
			if err != nil {
				return false
			}
			if strings.Contains(string(reply), `"error"`) {
				return false
			}
			if reply[0] == '[' || strings.Contains(string(reply), `"result"`) {
				break
			}
		}
	}
	return true
}

// reconnecting is how many sessions the target holds for a resume.
func (tg *target) reconnecting(t *testing.T) int {
	return int(tg.metrics(t)[`parley_sessions_active{state="reconnecting"}`])
}

// TestDetachedSessionsPerAddress is issue 16's eighth attack: 3,000 dev
// sessions from one address joined 16 rooms each with 3.5 KB of metadata
// and dropped TCP, which left 3,000 resumable sessions and 48,000 seats for
// the resume window (397 MiB) with no connection open. An address now
// holds at most --max-detached-per-ip resumable sessions (32): a further
// drop ends its oldest.
func TestDetachedSessionsPerAddress(t *testing.T) {
	sessions, rooms := size(150, 3000), size(4, 16)
	tg := start(t, 4096, "--no-turn", "--log-level", "warn")
	s := tg.siege(t)
	opened := tg.dropSessions(t, sessions, rooms, func(int) string { return source(0) }, func(i int) string { return fmt.Sprintf("d%d", i) })
	testkit.EventuallyWithin(t, 5*time.Second, "the dropped sessions to detach", func() bool { return tg.reconnecting(t) > 0 })
	tg.settle(t, 5*time.Second)
	held := tg.reconnecting(t)
	t.Logf("%d sessions from one address in %d rooms each dropped: %d held for a resume", opened, rooms, held)
	if held > 32 {
		t.Errorf("%d dropped sessions of one address held for a resume, over the cap of 32", held)
	}
	// What is held is 32 sessions' seats; the RSS also keeps the garbage
	// of the thousands that came and went.
	s.bounded(t, s.during(t), 32+float64(sessions)/100, 20)
	s.after(t)
}

// TestDetachedSessionsPerIdentity: one identity drops sessions from
// several addresses; it holds at most --max-detached-per-identity (8).
func TestDetachedSessionsPerIdentity(t *testing.T) {
	sessions := size(40, 400)
	tg := start(t, 4096, "--no-turn", "--log-level", "warn")
	s := tg.siege(t)
	opened := tg.dropSessions(t, sessions, 1, func(i int) string { return source(i % 4) }, func(int) string { return "mallory" })
	testkit.EventuallyWithin(t, 5*time.Second, "the dropped sessions to detach", func() bool { return tg.reconnecting(t) > 0 })
	tg.settle(t, 5*time.Second)
	held := tg.reconnecting(t)
	t.Logf("%d sessions of one identity from 4 addresses dropped: %d held for a resume", opened, held)
	if held > 8 {
		t.Errorf("%d dropped sessions of one identity held for a resume, over the cap of 8", held)
	}
	s.bounded(t, s.during(t), 16, 20)
	s.after(t)
}
