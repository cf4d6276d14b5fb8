// Command parley-turnload measures Parley's co-hosted STUN/TURN side by side
// with Debian's coturn, on loopback, in one run: STUN Binding requests/s and
// TURN ChannelData relay packets/s and Mbit/s at two payload sizes. Both
// servers face the same client code on the same machine, so the ratio is the
// figure to read; the absolute numbers include the load generator's own CPU.
// Every phase is bounded in time. `make bench` runs it.
package main

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
)

const (
	secret = "parley-turnload-secret-0123456789"
	realm  = "parley.bench"
)

func main() {
	duration := flag.Duration("duration", 2*time.Second, "length of each measured phase")
	rounds := flag.Int("rounds", 3, "rounds of every phase, servers alternating; the median is printed")
	sockets := flag.Int("sockets", 4, "client UDP sockets sending STUN Binding requests")
	window := flag.Int("window", 32, "STUN requests in flight per socket")
	pairs := flag.Int("pairs", 2, "TURN allocation pairs relaying to each other")
	coturnBin := flag.String("coturn", "/usr/bin/turnserver", "coturn's turnserver binary (empty: measure parley alone)")
	skipParley := flag.Bool("skip-parley", false, "measure coturn alone (to check the harness itself)")
	flag.Parse()
	if err := run(*duration, *rounds, *sockets, *window, *pairs, *coturnBin, !*skipParley); err != nil {
		fmt.Fprintln(os.Stderr, "parley-turnload:", err)
		os.Exit(1)
	}
}

// target is one STUN/TURN server under test.
type target struct {
	name string
	addr string // UDP host:port
	stop func()
}

// figures is what one server achieved.
type figures struct {
	stun  float64
	relay map[int]float64 // payload size → delivered packets/s
}

var payloads = []int{100, 1200}

func run(d time.Duration, rounds, sockets, window, pairs int, coturnBin string, withParley bool) error {
	var targets []target
	defer func() {
		for _, t := range targets {
			t.stop()
		}
	}()
	if withParley {
		p, err := startParley()
		if err != nil {
			return err
		}
		targets = append(targets, p)
	}
	if coturnBin != "" {
		c, err := startCoturn(coturnBin)
		if err != nil {
			return err
		}
		targets = append(targets, c)
	}

	// The servers take turns phase by phase and round by round, so a burst
	// of other load on a shared machine hits both rather than one.
	samples := map[string]map[string][]float64{} // server → phase → rates
	for _, t := range targets {
		samples[t.name] = map[string][]float64{}
	}
	for range rounds {
		for _, t := range targets {
			rate, err := stunRate(t.addr, d, sockets, window)
			if err != nil {
				return fmt.Errorf("%s: STUN: %w", t.name, err)
			}
			samples[t.name]["stun"] = append(samples[t.name]["stun"], rate)
		}
		for _, size := range payloads {
			for _, t := range targets {
				rate, err := relayRate(t.addr, d, pairs, size)
				if err != nil {
					return fmt.Errorf("%s: relay %d B: %w", t.name, size, err)
				}
				key := fmt.Sprint(size)
				samples[t.name][key] = append(samples[t.name][key], rate)
			}
		}
	}
	results := map[string]figures{}
	for name, phases := range samples {
		f := figures{stun: median(phases["stun"]), relay: map[int]float64{}}
		for _, size := range payloads {
			f.relay[size] = median(phases[fmt.Sprint(size)])
		}
		results[name] = f
	}

	fmt.Printf("STUN/TURN on loopback, load generator on the same machine (%d sockets × window %d; %d relay pairs; median of %d rounds of %s)\n",
		sockets, window, pairs, rounds, d)
	pf, cf := results["parley"], results["coturn"]
	line := func(what string, parley, coturn float64, unit string, mbit func(float64) string) {
		fmt.Printf("  %-26s", what)
		if parley > 0 {
			fmt.Printf(" parley %9.0f %s%s", parley, unit, mbit(parley))
		}
		if coturn > 0 {
			fmt.Printf("   coturn %9.0f %s%s", coturn, unit, mbit(coturn))
		}
		if parley > 0 && coturn > 0 {
			fmt.Printf("   parley/coturn %.2f", parley/coturn)
		}
		fmt.Println()
	}
	none := func(float64) string { return "" }
	line("STUN Binding", pf.stun, cf.stun, "req/s", none)
	for _, size := range payloads {
		mbit := func(pps float64) string { return fmt.Sprintf(" (%6.1f Mbit/s)", pps*float64(size)*8/1e6) }
		line(fmt.Sprintf("TURN relay %d B payload", size), pf.relay[size], cf.relay[size], "pkt/s", mbit)
	}
	return nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// freePort finds a UDP port that is free now on 127.0.0.1 and on TCP too
// (both servers listen on both).
func freePort() (int, error) {
	for range 20 {
		u, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		t, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		u.Close()
		if err == nil {
			t.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free port found in 20 tries")
}

// startParley builds and starts `parley serve --dev` with its TURN server on
// a free port and the benchmark's shared secret.
func startParley() (target, error) {
	dir, err := os.MkdirTemp("", "parley-turnload")
	if err != nil {
		return target{}, err
	}
	bin := filepath.Join(dir, "parley")
	build := exec.Command("go", "build", "-o", bin, "./cmd/parley")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return target{}, fmt.Errorf("build parley (run from the repository root): %w", err)
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return target{}, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin, "serve", "--dev", "--listen", "127.0.0.1:0", "--log-level", "warn",
		"--turn-listen", addr, "--turn-secret", secret, "--turn-realm", realm,
		"--turn-bandwidth", "0") // coturn runs uncapped too
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return target{}, fmt.Errorf("start parley: %w", err)
	}
	t := target{name: "parley", addr: addr, stop: func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}}
	if err := waitBinding(addr); err != nil {
		t.stop()
		return target{}, fmt.Errorf("parley: %w", err)
	}
	return t, nil
}

// startCoturn runs Debian's turnserver with the same REST-API secret,
// loopback peers allowed (the relay pairs talk over 127.0.0.1), and no TLS,
// CLI or database.
func startCoturn(bin string) (target, error) {
	port, err := freePort()
	if err != nil {
		return target{}, err
	}
	dir, err := os.MkdirTemp("", "coturn-bench")
	if err != nil {
		return target{}, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
		"--listening-port="+strconv.Itoa(port), "--min-port=40000", "--max-port=44999",
		"--use-auth-secret", "--static-auth-secret="+secret, "--realm="+realm,
		"--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls", "--no-stdout-log",
		"--log-file="+filepath.Join(dir, "turn.log"), "--simple-log",
		"--pidfile="+filepath.Join(dir, "turn.pid"), "--userdb="+filepath.Join(dir, "turndb"))
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return target{}, fmt.Errorf("start coturn: %w", err)
	}
	t := target{name: "coturn", addr: addr, stop: func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}}
	if err := waitBinding(addr); err != nil {
		t.stop()
		return target{}, fmt.Errorf("coturn: %w", err)
	}
	return t, nil
}

// waitBinding polls with STUN Binding requests until the server answers.
func waitBinding(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := stunRate(addr, 50*time.Millisecond, 1, 1); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no STUN answer on %s within 10s", addr)
}

// stunRate sends Binding requests from several sockets, each keeping a
// window in flight, and returns answered requests per second. A lost
// response is written off after a short timeout, so the run never stalls.
func stunRate(addr string, d time.Duration, sockets, window int) (float64, error) {
	server, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return 0, err
	}
	var answered atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, sockets)
	stopAt := time.Now().Add(d)
	start := time.Now()
	for i := range sockets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: clientIP(i)})
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			req := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
			buf := make([]byte, 1500)
			var res stun.Message
			for time.Now().Before(stopAt) {
				for range window {
					// The same request each time: neither server keeps
					// per-transaction state for Binding, and rebuilding it
					// would only burn the client's share of the CPU.
					if _, err := conn.WriteToUDP(req.Raw, server); err != nil {
						errs <- err
						return
					}
				}
				_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				for range window {
					m, _, err := conn.ReadFromUDP(buf)
					if err != nil {
						break // lost responses: move on to the next window
					}
					res.Raw = buf[:m]
					if res.Decode() == nil && res.Type == stun.BindingSuccess {
						answered.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	if answered.Load() == 0 {
		return 0, errors.New("no Binding response")
	}
	return float64(answered.Load()) / elapsed.Seconds(), nil
}

// restCredential is the TURN REST API credential both servers accept.
func restCredential(identity string) (string, string) {
	user := fmt.Sprintf("%d:%s", time.Now().Add(time.Hour).Unix(), identity)
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(user))
	return user, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// allocation is one TURN client with its relayed socket.
type allocation struct {
	client *turn.Client
	conn   net.PacketConn // the client's own UDP socket
	relay  net.PacketConn
}

// clientIP spreads the load generator's sockets over 127.0.0.0/8, as real
// clients come from many addresses: Parley steers each client IP to one of
// its SO_REUSEPORT sockets, so from 127.0.0.1 alone one core would serve all.
func clientIP(i int) net.IP { return net.IPv4(127, 0, 0, byte(1+i%250)) }

func allocate(addr, identity string, i int) (*allocation, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: clientIP(i)})
	if err != nil {
		return nil, err
	}
	user, pass := restCredential(identity)
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: user, Password: pass, Realm: realm,
		LoggerFactory: logging.NewDefaultLoggerFactory(),
	})
	if err != nil {
		conn.Close()
		return nil, err
	}
	if err := c.Listen(); err != nil {
		c.Close()
		conn.Close()
		return nil, err
	}
	relay, err := c.Allocate()
	if err != nil {
		c.Close()
		conn.Close()
		return nil, fmt.Errorf("allocate: %w", err)
	}
	return &allocation{client: c, conn: conn, relay: relay}, nil
}

func (a *allocation) close() {
	a.relay.Close()
	a.client.Close()
	a.conn.Close()
}

// relayRate sets up pairs of allocations and has one side of each send as
// fast as it can to the other's relayed address (ChannelData once the
// client has bound a channel), returning packets/s delivered to the
// receiving clients. Packets the server could not keep up with are lost, so
// the figure is the server's delivered throughput, not the offered load.
func relayRate(addr string, d time.Duration, pairs, size int) (float64, error) {
	var all []*allocation
	defer func() {
		for _, a := range all {
			a.close()
		}
	}()
	type pair struct{ from, to *allocation }
	ps := make([]pair, pairs)
	for i := range ps {
		from, err := allocate(addr, fmt.Sprintf("sender%d", i), 2*i)
		if err != nil {
			return 0, err
		}
		all = append(all, from)
		to, err := allocate(addr, fmt.Sprintf("receiver%d", i), 2*i+1)
		if err != nil {
			return 0, err
		}
		all = append(all, to)
		ps[i] = pair{from, to}
		// Permissions both ways: the receiver's relay must accept the
		// sender's relayed address.
		if _, err := to.relay.WriteTo([]byte("hello"), from.relay.LocalAddr()); err != nil {
			return 0, fmt.Errorf("receiver permission: %w", err)
		}
	}
	time.Sleep(200 * time.Millisecond) // let permissions and channel binds settle

	var delivered atomic.Int64
	var wg sync.WaitGroup
	stopAt := time.Now().Add(d)
	start := time.Now()
	for _, p := range ps {
		wg.Add(2)
		go func() { // receiver
			defer wg.Done()
			buf := make([]byte, 1500)
			for {
				_ = p.to.relay.SetReadDeadline(stopAt.Add(200 * time.Millisecond))
				n, _, err := p.to.relay.ReadFrom(buf)
				if err != nil {
					return
				}
				if n == size && time.Now().Before(stopAt) {
					delivered.Add(1)
				}
			}
		}()
		go func() { // sender
			defer wg.Done()
			payload := make([]byte, size)
			dst := p.to.relay.LocalAddr()
			for i := 0; time.Now().Before(stopAt); i++ {
				if _, err := p.from.relay.WriteTo(payload, dst); err != nil {
					return
				}
				if i%64 == 63 {
					// Yield now and then so a sender cannot starve the
					// server of the machine's two cores entirely.
					time.Sleep(50 * time.Microsecond)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := min(time.Since(start), d)
	if delivered.Load() == 0 {
		return 0, errors.New("nothing relayed")
	}
	return float64(delivered.Load()) / elapsed.Seconds(), nil
}
