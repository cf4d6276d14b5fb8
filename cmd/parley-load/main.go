// Command parley-load measures a real `parley serve` on loopback: relay
// throughput and latency with N rooms × 2 peers exchanging ICE-candidate-size
// messages, and server memory per idle connection. Every phase is bounded in
// count and time. `make bench` runs it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	rooms := flag.Int("rooms", 50, "rooms, each with 2 peers relaying candidates to each other")
	duration := flag.Duration("duration", 5*time.Second, "length of each relay phase")
	rate := flag.Int("rate", 10_000, "total messages/s of the paced latency phase")
	window := flag.Int("window", 32, "requests in flight per sender in the throughput phase")
	idle := flag.Int("idle", 10_000, "idle authenticated connections for the memory phase (bounded by the 20,000 open-file limit: each costs one fd here and one in the server)")
	nodes := flag.Int("cluster", 0, "instead, measure cluster mode: this many nodes on a local redis-server (same-node, cross-node and all-node relays, Redis commands and server CPU per relayed message, time from SIGKILL to resumed); see cluster.go")
	flag.Parse()
	if *nodes > 0 {
		if err := runCluster(*nodes, *rooms, *duration, *rate, *window); err != nil {
			fmt.Fprintln(os.Stderr, "parley-load:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*rooms, *duration, *rate, *window, *idle); err != nil {
		fmt.Fprintln(os.Stderr, "parley-load:", err)
		os.Exit(1)
	}
}

func run(rooms int, duration time.Duration, rate, window, idle int) error {
	bin, cleanup, err := buildParley()
	if err != nil {
		return err
	}
	defer cleanup()

	srv, err := startServer(bin, idle+2*rooms+16)
	if err != nil {
		return err
	}
	fmt.Printf("relay: %d rooms × 2 peers, ice.candidate (%d-byte frames), server and load generator sharing this machine\n", rooms, len(candidateFrame(0, "x", 0)))
	tput, err := phase([]string{srv.url}, rooms, duration, 0, window)
	if err != nil {
		srv.stop()
		return err
	}
	fmt.Printf("  throughput (window %d/sender): %.0f relayed msg/s, latency p50 %s p99 %s\n", window, tput.rate, tput.p50, tput.p99)
	paced, err := phase([]string{srv.url}, rooms, duration, rate, window)
	if err != nil {
		srv.stop()
		return err
	}
	fmt.Printf("  paced at %d msg/s: %.0f relayed msg/s, latency p50 %s p99 %s\n", rate, paced.rate, paced.p50, paced.p99)
	srv.stop()

	srv, err = startServer(bin, idle+16)
	if err != nil {
		return err
	}
	defer srv.stop()
	perConn, err := idleMemory(srv, idle)
	if err != nil {
		return err
	}
	fmt.Printf("idle: %d authenticated connections cost %.1f KiB of server RSS each\n", idle, perConn/1024)
	return nil
}

// buildParley compiles the real binary into a temporary directory.
func buildParley() (string, func(), error) {
	dir, err := os.MkdirTemp("", "parley-load")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "parley")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/parley")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("build parley (run from the repository root): %w", err)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

type server struct {
	cmd *exec.Cmd
	url string
}

var listening = regexp.MustCompile(`listening on ws://([0-9.:]+)/rpc`)

// startServer runs `parley serve --dev` with limits raised for load, and
// extra flags.
func startServer(bin string, conns int, extra ...string) (*server, error) {
	cmd := exec.Command(bin, append([]string{"serve", "--dev", "--listen", "127.0.0.1:0", "--log-level", "warn",
		"--rate", "1000000", "--rate-burst", "1000000", "--max-conns-per-ip", strconv.Itoa(conns),
		"--max-peers", "2", "--queue-messages", "8192", "--queue-bytes", "16777216"}, extra...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start parley: %w", err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case addr := <-found:
		return &server{cmd: cmd, url: "ws://" + addr + "/rpc"}, nil
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		return nil, errors.New("parley did not start listening within 10s")
	}
}

func (s *server) stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// rss reads the server's resident set size.
func (s *server) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// conn is one raw client connection with a session.
type conn struct {
	ws     *websocket.Conn
	peerID string
	wmu    sync.Mutex
}

var peerIDField = regexp.MustCompile(`"peerId":"([A-Za-z0-9_-]+)"`)

// dial opens a connection and runs setup requests one by one, returning the
// peer id from session.connect.
func dial(url string, requests ...string) (*conn, error) {
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c := &conn{ws: ws}
	for _, req := range requests {
		if err := c.request(req); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// request sends a setup request and waits for its answer, skipping
// notifications; the peer id of a session.connect result is kept.
func (c *conn) request(req string) error {
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
		return err
	}
	defer func() { _ = c.ws.SetReadDeadline(time.Time{}) }()
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			return fmt.Errorf("setup %.40s: %w", req, err)
		}
		if bytes.Contains(msg, []byte(`"error"`)) {
			return fmt.Errorf("setup %.40s: %s", req, msg)
		}
		if bytes.Contains(msg, []byte(`"result"`)) {
			if m := peerIDField.FindSubmatch(msg); m != nil && c.peerID == "" {
				c.peerID = string(m[1])
			}
			return nil
		}
	}
}

func (c *conn) send(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

// pair is a room with two peers that relay to each other.
type pair struct {
	room string
	a, b *conn
}

// close says goodbye (1000), so the server ends the sessions at once
// instead of keeping their seats for a resume, as it does for a dropped
// connection, and the next phase can use the same rooms.
func (p *pair) close() {
	for _, c := range []*conn{p.a, p.b} {
		c.wmu.Lock()
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.wmu.Unlock()
		_ = c.ws.Close()
	}
}

// relayPhase numbers the rooms of each relay phase.
var relayPhase atomic.Int64

// setupPairs makes n rooms of two peers: room i's a on urls[i], its b on
// urls[i+1] (modulo: with one URL, both on it).
func setupPairs(urls []string, n int) ([]*pair, error) {
	pairs := make([]*pair, n)
	for i := range pairs {
		urlA, urlB := urls[i%len(urls)], urls[(i+1)%len(urls)]
		// Fresh names each phase: the last phase's peers may still hold
		// their seats until the server has seen their goodbye.
		room := fmt.Sprintf("load-%d-%d", relayPhase.Add(1), i)
		join := fmt.Sprintf(`{"jsonrpc":"2.0","id":2,"method":"room.join","params":{"roomId":%q,"create":true}}`, room)
		// One identity per peer: the devices of one identity share its
		// presence, which every connect and goodbye of one of them rereads.
		a, err := dial(urlA, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"session.connect","params":{"identity":"a%d"}}`, i), join)
		if err != nil {
			return nil, err
		}
		b, err := dial(urlB, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"session.connect","params":{"identity":"b%d"}}`, i), join)
		if err != nil {
			return nil, err
		}
		// The server holds candidates for a pair until its first offer
		// (early candidates), so a offers first. a's room.peerJoined and b's
		// sdp.offer notifications are skipped by the readers later.
		offer := fmt.Sprintf(`{"jsonrpc":"2.0","id":3,"method":"sdp.offer","params":{"roomId":%q,"to":%q,"sdp":%q}}`, room, b.peerID, offerSDP)
		if err := a.request(offer); err != nil {
			return nil, err
		}
		pairs[i] = &pair{room: room, a: a, b: b}
	}
	return pairs, nil
}

// offerSDP is a minimal data-channel offer the server's SDP check accepts.
const offerSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"

// candidateFrame is an ice.candidate request whose foundation carries the
// send time, so the receiver can compute latency from the relayed copy.
func candidateFrame(id int, to string, sentNanos int64) []byte {
	return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"ice.candidate","params":{"roomId":"r","to":%q,"candidate":{"candidate":"candidate:%d 1 udp 2130706431 127.0.0.1 50000 typ host generation 0","sdpMid":"0","sdpMLineIndex":0}}}`, id, to, sentNanos)
}

type result struct {
	rate     float64
	n        int64 // messages relayed
	p50, p99 time.Duration
}

// phase measures on fresh pairs: a gorilla connection whose read deadline
// fired (how measure stops its readers) cannot be read again.
func phase(urls []string, rooms int, d time.Duration, perSecond, window int) (result, error) {
	pairs, err := setupPairs(urls, rooms)
	if err != nil {
		return result{}, err
	}
	defer func() {
		for _, p := range pairs {
			p.close()
		}
	}()
	return measure(pairs, d, perSecond, window), nil
}

// measure runs one phase: each pair's a sends to b. perSecond 0 means as
// fast as a window of in-flight requests allows; otherwise senders are paced
// to perSecond in total.
func measure(pairs []*pair, d time.Duration, perSecond, window int) result {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var received atomic.Int64
	var latMu sync.Mutex
	var lats []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for _, p := range pairs {
		inflight := make(chan struct{}, window)
		wg.Add(3)
		go func() { // b: receive relayed candidates
			defer wg.Done()
			var local []time.Duration
			prefix := []byte(`"candidate":"candidate:`)
			for {
				_ = p.b.ws.SetReadDeadline(time.Now().Add(d + time.Second))
				_, msg, err := p.b.ws.ReadMessage()
				if err != nil || ctx.Err() != nil {
					break
				}
				i := bytes.Index(msg, prefix)
				if i < 0 {
					continue
				}
				rest := msg[i+len(prefix):]
				j := bytes.IndexByte(rest, ' ')
				if sent, err := strconv.ParseInt(string(rest[:j]), 10, 64); err == nil {
					local = append(local, time.Duration(time.Now().UnixNano()-sent))
					received.Add(1)
				}
			}
			latMu.Lock()
			lats = append(lats, local...)
			latMu.Unlock()
		}()
		go func() { // a: read responses, freeing the window
			defer wg.Done()
			for {
				_ = p.a.ws.SetReadDeadline(time.Now().Add(d + time.Second))
				_, msg, err := p.a.ws.ReadMessage()
				if err != nil || ctx.Err() != nil {
					return
				}
				if bytes.Contains(msg, []byte(`"result"`)) || bytes.Contains(msg, []byte(`"error"`)) {
					select {
					case <-inflight:
					default:
					}
				}
			}
		}()
		go func() { // a: send
			defer wg.Done()
			var tick *time.Ticker
			if perSecond > 0 {
				tick = time.NewTicker(time.Duration(len(pairs)) * time.Second / time.Duration(perSecond))
				defer tick.Stop()
			}
			for id := 1; ctx.Err() == nil; id++ {
				if tick != nil {
					select {
					case <-tick.C:
					case <-ctx.Done():
						return
					}
				}
				select {
				case inflight <- struct{}{}:
				case <-ctx.Done():
					return
				}
				frame := candidateFrame(id, p.b.peerID, time.Now().UnixNano())
				frame = bytes.Replace(frame, []byte(`"roomId":"r"`), []byte(`"roomId":"`+p.room+`"`), 1)
				if p.a.send(frame) != nil {
					return
				}
			}
		}()
	}
	<-ctx.Done()
	elapsed := time.Since(start)
	n := received.Load()
	// Unblock readers parked in ReadMessage.
	for _, p := range pairs {
		_ = p.a.ws.SetReadDeadline(time.Now())
		_ = p.b.ws.SetReadDeadline(time.Now())
	}
	wg.Wait()
	slices.Sort(lats)
	r := result{rate: float64(n) / elapsed.Seconds(), n: n}
	if len(lats) > 0 {
		r.p50 = lats[len(lats)/2].Round(time.Microsecond)
		r.p99 = lats[len(lats)*99/100].Round(time.Microsecond)
	}
	return r
}

// idleMemory opens n authenticated, idle connections and returns the
// server's RSS growth per connection.
func idleMemory(srv *server, n int) (float64, error) {
	warm, err := dial(srv.url, `{"jsonrpc":"2.0","id":1,"method":"session.connect","params":{"identity":"warm"}}`)
	if err != nil {
		return 0, err
	}
	defer warm.ws.Close()
	time.Sleep(500 * time.Millisecond)
	before, err := srv.rss()
	if err != nil {
		return 0, err
	}
	conns := make([]*conn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.ws.Close()
		}
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for i := range n {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("opened only %d of %d connections in 2 minutes", i, n)
		}
		c, err := dial(srv.url, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"session.connect","params":{"identity":"idle%d"}}`, i))
		if err != nil {
			return 0, fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, c)
	}
	time.Sleep(2 * time.Second) // let the server settle (GC, stacks shrink)
	after, err := srv.rss()
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(n), nil
}
