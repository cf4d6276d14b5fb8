// Command parley-load measures a real `parley serve` on loopback: relay
// throughput, relay latency at paced rates, the server's CPU time per
// relayed message, and server memory per idle joined connection. N rooms ×
// 2 peers relay ICE candidates (and, in one phase, 4 KB SDP offers) from
// one peer to the other. Where taskset is found, the server runs on CPU 0
// and the load generator on CPU 1, so that a figure means "one server
// core"; the machine is shared, so compare runs made back to back. Every
// phase is bounded in count and time. `make bench` runs it.
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
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	rooms := flag.Int("rooms", 100, "rooms, each with 2 peers; one relays to the other")
	duration := flag.Duration("duration", 5*time.Second, "length of each relay phase")
	rates := flag.String("rates", "5000,20000", "total messages/s of the paced latency phases, comma-separated")
	window := flag.Int("window", 16, "requests in flight per sender in the throughput phases")
	idle := flag.Int("idle", 10_000, "idle joined connections for the memory phase (bounded by the 20,000 open-file limit: each costs one fd here and one in the server)")
	pin := flag.Bool("pin", true, "run the server on CPU 0 and this load generator on CPU 1 (needs taskset)")
	nodes := flag.Int("cluster", 0, "instead, measure cluster mode: this many nodes on a local redis-server (same-node, cross-node and all-node relays, Redis commands and server CPU per relayed message, time from SIGKILL to resumed); see cluster.go")
	clusterRate := flag.Int("rate", 2000, "total messages/s of cluster mode's paced latency phases (-cluster)")
	flag.Parse()
	if *nodes > 0 {
		if err := runCluster(*nodes, *rooms, *duration, *clusterRate, *window); err != nil {
			fmt.Fprintln(os.Stderr, "parley-load:", err)
			os.Exit(1)
		}
		return
	}
	paced, err := parseRates(*rates)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley-load:", err)
		os.Exit(2)
	}
	if *pin && pinned() {
		return // the pinned child ran
	}
	if err := run(*rooms, *duration, paced, *window, *idle, *pin); err != nil {
		fmt.Fprintln(os.Stderr, "parley-load:", err)
		os.Exit(1)
	}
}

func parseRates(s string) ([]int, error) {
	var rates []int
	for f := range strings.SplitSeq(s, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("-rates: %q is not a positive number of messages/s", f)
		}
		rates = append(rates, r)
	}
	return rates, nil
}

// pinnedEnv marks the copy of this program that runs under taskset.
const pinnedEnv = "PARLEY_LOAD_PINNED"

// pinned runs this program again on CPU 1 under taskset and reports
// whether it did (false: no taskset, or this is that copy).
func pinned() bool {
	if os.Getenv(pinnedEnv) != "" {
		return false
	}
	if runtime.NumCPU() < 2 {
		fmt.Println("one CPU: the server and the load generator share it")
		return false
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		fmt.Println("taskset not found: the server and the load generator share every CPU")
		return false
	}
	cmd := exec.Command(taskset, append([]string{"-c", "1", os.Args[0]}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), pinnedEnv+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "parley-load:", err)
		os.Exit(1)
	}
	return true
}

func run(rooms int, duration time.Duration, rates []int, window, idle int, pin bool) error {
	bin, cleanup, err := buildParley()
	if err != nil {
		return err
	}
	defer cleanup()
	pin = pin && os.Getenv(pinnedEnv) != ""
	if pin {
		fmt.Println("server on CPU 0, load generator on CPU 1 (taskset)")
	}

	srv, err := startServer(bin, 4*rooms+16, pin)
	if err != nil {
		return err
	}
	fmt.Printf("relay: %d rooms × 2 peers; ice.candidate frames of %d bytes\n", rooms, len(candidateFrame(1, "peer-id-1234", "load-1", time.Now().UnixNano())))
	type spec struct {
		name         string
		kind         payload
		rate, window int
	}
	phases := []spec{{fmt.Sprintf("throughput (window %d/sender)", window), ice, 0, window}}
	for _, r := range rates {
		phases = append(phases, spec{fmt.Sprintf("paced %d msg/s", r), ice, r, 0})
	}
	phases = append(phases, spec{fmt.Sprintf("sdp.offer of %d bytes, throughput (window %d/sender)", len(offerFrame(1, "peer-id-1234", "load-1", time.Now().UnixNano())), window), sdp, 0, window})
	for _, ph := range phases {
		res, err := phase([]*server{srv}, rooms, duration, ph.kind, ph.rate, ph.window)
		if err != nil {
			srv.stop()
			return fmt.Errorf("%s: %w", ph.name, err)
		}
		fmt.Printf("  %s: %s\n", ph.name, res)
	}
	srv.stop()

	srv, err = startServer(bin, idle+16, pin)
	if err != nil {
		return err
	}
	defer srv.stop()
	perConn, err := idleMemory(srv, idle)
	if err != nil {
		return err
	}
	fmt.Printf("idle: %d joined connections cost %.1f KiB of server RSS each\n", idle, perConn/1024)
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

// startServer runs `parley serve --dev` (and extra flags) with the limits a
// load generator would trip lifted (the rate limit, the per-address cap),
// on CPU 0 when pinned.
func startServer(bin string, conns int, pin bool, extra ...string) (*server, error) {
	args := append([]string{"serve", "--dev", "--listen", "127.0.0.1:0", "--no-turn", "--log-level", "warn",
		"--rate", "1000000", "--rate-burst", "1000000", "--max-conns-per-ip", strconv.Itoa(conns),
		"--max-peers", "2", "--queue-messages", "8192", "--queue-bytes", "16777216"}, extra...)
	cmd := exec.Command(bin, args...)
	if pin {
		cmd = exec.Command("taskset", append([]string{"-c", "0", bin}, args...)...)
	}
	// The server's environment is its configuration: none of this one's.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PARLEY_") })
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

// procStat reads the server's resident set size and its CPU time (user
// and system, in clock ticks of 10 ms: USER_HZ is 100 on Linux).
func (s *server) procStat() (rss int64, cpu time.Duration, err error) {
	pid := s.cmd.Process.Pid
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, 0, err
			}
			rss = kb * 1024
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(f) < 13 {
		return 0, 0, errors.New("short /proc stat")
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return rss, time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// cpuTime is the CPU time the servers have used.
func cpuTime(srvs []*server) (time.Duration, error) {
	var total time.Duration
	for _, s := range srvs {
		_, cpu, err := s.procStat()
		if err != nil {
			return 0, err
		}
		total += cpu
	}
	return total, nil
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

// close says goodbye (1000), so the server ends the session at once
// instead of keeping its seats for a resume, as it does for a dropped
// connection.
func (c *conn) close() {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.ws.Close()
}

// pair is a room with two peers: a relays to b.
type pair struct {
	room string
	a, b *conn
}

// rooms numbers the rooms of the whole run: a phase's peers may still hold
// their seats until the server has seen their goodbye.
var rooms atomic.Int64

// joinPair opens a room with two peers; with offer, a offers first (the
// server holds a pair's candidates until its first offer; a's
// room.peerJoined and b's sdp.offer are skipped by the readers later).
func joinPair(urlA, urlB string, offer bool) (*pair, error) {
	n := rooms.Add(1)
	room := fmt.Sprintf("load-%d", n)
	join := fmt.Sprintf(`{"jsonrpc":"2.0","id":2,"method":"room.join","params":{"roomId":%q,"create":true}}`, room)
	// Identities of their own: sessions of one identity are told of each
	// other (presence), which is not what this measures.
	connect := `{"jsonrpc":"2.0","id":1,"method":"session.connect","params":{"identity":"%s%d"}}`
	a, err := dial(urlA, fmt.Sprintf(connect, "a", n), join)
	if err != nil {
		return nil, err
	}
	b, err := dial(urlB, fmt.Sprintf(connect, "b", n), join)
	if err != nil {
		a.close()
		return nil, err
	}
	p := &pair{room: room, a: a, b: b}
	if offer {
		req := fmt.Sprintf(`{"jsonrpc":"2.0","id":3,"method":"sdp.offer","params":{"roomId":%q,"to":%q,"sdp":%q}}`, room, b.peerID, minimalSDP)
		if err := a.request(req); err != nil {
			p.close()
			return nil, err
		}
	}
	return p, nil
}

func (p *pair) close() {
	p.a.close()
	p.b.close()
}

// minimalSDP is a data-channel offer the server's SDP check accepts.
const minimalSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"

// payload is what a phase relays: each frame carries its send time, which
// the receiver reads back from the relayed copy.
type payload int

const (
	ice payload = iota // an ice.candidate; the time is the foundation
	sdp                // a ~4 KB sdp.offer; the time is an attribute
)

func (k payload) frame(id int, to, room string, sentNanos int64) []byte {
	if k == sdp {
		return offerFrame(id, to, room, sentNanos)
	}
	return candidateFrame(id, to, room, sentNanos)
}

// stampAfter precedes the send time in a relayed frame.
func (k payload) stampAfter() []byte {
	if k == sdp {
		return []byte(`a=x-sent:`)
	}
	return []byte(`"candidate":"candidate:`)
}

// candidateFrame is a server-reflexive candidate as browsers send it.
func candidateFrame(id int, to, room string, sentNanos int64) []byte {
	return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"ice.candidate","params":{"roomId":%q,"to":%q,"candidate":{"candidate":"candidate:%d 1 udp 1677729535 203.0.113.7 54321 typ srflx raddr 10.0.0.2 rport 54321 generation 0 ufrag sXP5 network-id 1 network-cost 10","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"sXP5"}}}`, id, room, to, sentNanos)
}

// offerMedia is the body of a 4 KB offer: audio, video and data sections
// of the shape browsers send.
var offerMedia = strings.Repeat("m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"+
	"a=ice-ufrag:sXP5\r\na=ice-pwd:6ctEoBJCGzg+M2ZuKPfRaNce\r\na=ice-options:trickle\r\n"+
	"a=fingerprint:sha-256 75:74:5A:A6:A4:E5:52:F4:A7:67:4C:01:C7:EE:91:3F:21:3D:A2:E3:53:7B:6F:30:86:F2:30:AA:65:FB:04:24\r\n"+
	"a=setup:actpass\r\na=mid:0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=sendrecv\r\na=rtcp-mux\r\n"+
	"a=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=ssrc:1001 cname:4TOk42mSjXCkVIa6\r\n", 7)

func offerFrame(id int, to, room string, sentNanos int64) []byte {
	offer := fmt.Sprintf("v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=x-sent:%d\r\n%s", sentNanos, offerMedia)
	return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"sdp.offer","params":{"roomId":%q,"to":%q,"sdp":%q}}`, id, room, to, offer)
}

type result struct {
	n          int64         // relayed messages received
	rate       float64       // relayed messages/s
	p50, p99   time.Duration // one-way latency
	cpuPerMsg  time.Duration // server CPU time per relayed message
	serverLoad float64       // server CPU time per second of the phase
}

func (r result) String() string {
	return fmt.Sprintf("%.0f relayed msg/s, latency p50 %s p99 %s, server CPU %.0f%% (%.1f µs/msg)",
		r.rate, r.p50, r.p99, 100*r.serverLoad, float64(r.cpuPerMsg)/float64(time.Microsecond))
}

// phase measures on fresh pairs: a gorilla connection whose read deadline
// fired (how measure stops its readers) cannot be read again. With several
// servers (cluster nodes), pair i's peers are on servers i and i+1.
func phase(srvs []*server, n int, d time.Duration, kind payload, perSecond, window int) (result, error) {
	pairs := make([]*pair, 0, n)
	defer func() {
		for _, p := range pairs {
			p.close()
		}
	}()
	for i := range n {
		p, err := joinPair(srvs[i%len(srvs)].url, srvs[(i+1)%len(srvs)].url, kind == ice)
		if err != nil {
			return result{}, err
		}
		pairs = append(pairs, p)
	}
	return measure(srvs, pairs, d, kind, perSecond, window)
}

// measure runs one phase: each pair's a sends to b. perSecond 0 means as
// fast as a window of in-flight requests allows; otherwise one pacer sends
// perSecond in total, on a fixed schedule, round robin over the pairs.
func measure(srvs []*server, pairs []*pair, d time.Duration, kind payload, perSecond, window int) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var received atomic.Int64
	var latMu sync.Mutex
	var lats []time.Duration
	var wg sync.WaitGroup
	cpu0, err := cpuTime(srvs)
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	inflight := make([]chan struct{}, len(pairs))
	for i, p := range pairs {
		inflight[i] = make(chan struct{}, max(window, 1))
		wg.Add(2)
		go func() { // b: receive relayed frames
			defer wg.Done()
			var local []time.Duration
			prefix := kind.stampAfter()
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
				j := bytes.IndexAny(rest, ` \`)
				if sent, err := strconv.ParseInt(string(rest[:max(j, 0)]), 10, 64); err == nil {
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
					case <-inflight[i]:
					default:
					}
				}
			}
		}()
	}
	send := func(i, id int) bool {
		p := pairs[i]
		return p.a.send(kind.frame(id, p.b.peerID, p.room, time.Now().UnixNano())) == nil
	}
	if perSecond > 0 {
		wg.Add(1)
		go func() { // the pacer
			defer wg.Done()
			interval := time.Second / time.Duration(perSecond)
			for k := 0; ctx.Err() == nil; k++ {
				if wait := time.Until(start.Add(time.Duration(k) * interval)); wait > 200*time.Microsecond {
					time.Sleep(wait)
				}
				if !send(k%len(pairs), k) {
					return
				}
			}
		}()
	} else {
		for i := range pairs {
			wg.Add(1)
			go func() { // a: send within the window
				defer wg.Done()
				for id := 1; ; id++ {
					select {
					case inflight[i] <- struct{}{}:
					case <-ctx.Done():
						return
					}
					if !send(i, id) {
						return
					}
				}
			}()
		}
	}
	<-ctx.Done()
	elapsed := time.Since(start)
	n := received.Load()
	cpu1, err := cpuTime(srvs)
	if err != nil {
		return result{}, err
	}
	// Unblock readers parked in ReadMessage.
	for _, p := range pairs {
		_ = p.a.ws.SetReadDeadline(time.Now())
		_ = p.b.ws.SetReadDeadline(time.Now())
	}
	wg.Wait()
	if n == 0 {
		return result{}, errors.New("nothing was relayed")
	}
	slices.Sort(lats)
	return result{
		n:          n,
		rate:       float64(n) / elapsed.Seconds(),
		p50:        lats[len(lats)/2].Round(time.Microsecond),
		p99:        lats[len(lats)*99/100].Round(time.Microsecond),
		cpuPerMsg:  (cpu1 - cpu0) / time.Duration(n),
		serverLoad: (cpu1 - cpu0).Seconds() / elapsed.Seconds(),
	}, nil
}

// idleMemory opens n connections in rooms of two (each with a session and
// a seat), leaves them idle, and returns the server's RSS growth per
// connection.
func idleMemory(srv *server, n int) (float64, error) {
	warm, err := joinPair(srv.url, srv.url, false)
	if err != nil {
		return 0, err
	}
	defer warm.close()
	time.Sleep(500 * time.Millisecond)
	before, _, err := srv.procStat()
	if err != nil {
		return 0, err
	}
	pairs := make([]*pair, 0, n/2)
	defer func() {
		for _, p := range pairs {
			_ = p.a.ws.Close()
			_ = p.b.ws.Close()
		}
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for i := range n / 2 {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("opened only %d of %d connections in 2 minutes", 2*i, n)
		}
		p, err := joinPair(srv.url, srv.url, false)
		if err != nil {
			return 0, fmt.Errorf("connection %d: %w", 2*i, err)
		}
		pairs = append(pairs, p)
	}
	time.Sleep(3 * time.Second) // let the server settle (GC, idle readers park)
	after, _, err := srv.procStat()
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(2*len(pairs)), nil
}
