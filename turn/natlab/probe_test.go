package natlab

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/gorilla/websocket"
	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"

	"github.com/parley-rtc/parley/turn/nattype"
)

// helperEnv makes the test binary a probe: the lab runs it inside a
// namespace (ip netns exec … natlab.test ARGS) instead of building a
// separate program.
const helperEnv = "PARLEY_NATLAB_PROBE"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		if err := probe(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "probe:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func probe(args []string) error {
	if len(args) == 0 {
		return errors.New("no probe command")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	port := fs.Int("port", 0, "local UDP port")
	name := fs.String("name", "a", "my name")
	peer := fs.String("peer", "b", "peer's name")
	rdv := fs.String("rdv", "", "rendezvous directory")
	window := fs.Duration("window", 3*time.Second, "how long to try")
	user := fs.String("user", "", "TURN username")
	pass := fs.String("pass", "", "TURN password")
	url := fs.String("url", "", "Parley WebSocket URL")
	targets := fs.String("targets", "", "comma-separated IP:port peers to try through a relay")
	room := fs.String("room", "", "Parley room")
	withTURN := fs.Bool("turn", false, "use the session's ICE servers (TURN included), not STUN alone")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	switch args[0] {
	case "discover":
		return probeDiscover(ctx, *port)
	case "punch":
		return probePunch(ctx, *port, *name, *peer, *rdv, *window)
	case "relay":
		return probeRelay(*name, *peer, *rdv, *user, *pass, *window)
	case "creds":
		return probeCreds(ctx, *url)
	case "echo":
		return probeEcho(ctx, *port)
	case "loop":
		return probeLoop(*user, *pass, strings.Split(*targets, ","))
	case "peer":
		return probePeer(*name, *url, *room, *withTURN, *window)
	}
	return fmt.Errorf("unknown probe %q", args[0])
}

func listen(port int) (net.PacketConn, error) {
	return net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", port))
}

// probeDiscover prints nattype's Result as JSON.
func probeDiscover(ctx context.Context, port int) error {
	conn, err := listen(port)
	if err != nil {
		return err
	}
	defer conn.Close()
	res, err := nattype.Discover(ctx, conn, srvAddr, nattype.Options{RTO: 100 * time.Millisecond, Attempts: 3})
	if err != nil {
		return err
	}
	return json.MarshalWrite(os.Stdout, res)
}

// probePunch learns its public address from Parley's STUN, swaps it with
// the peer through the rendezvous directory (the lab's signaling) and tries
// to reach the peer directly.
func probePunch(ctx context.Context, port int, name, peer, rdv string, window time.Duration) error {
	conn, err := listen(port)
	if err != nil {
		return err
	}
	defer conn.Close()
	public, err := nattype.Mapped(ctx, conn, srvAddr, nattype.Options{RTO: 100 * time.Millisecond})
	if err != nil {
		return err
	}
	peerAddr, err := rendezvous(rdv, name, peer, public.String())
	if err != nil {
		return err
	}
	return exchange(conn, name, peer, peerAddr, window)
}

// probeRelay allocates on Parley's TURN and talks to the peer's relayed
// address through it.
func probeRelay(name, peer, rdv, user, pass string, window time.Duration) error {
	relay, done, err := allocate(user, pass)
	if err != nil {
		return err
	}
	defer done()
	peerAddr, err := rendezvous(rdv, name, peer, relay.LocalAddr().String())
	if err != nil {
		return err
	}
	return exchange(relay, name, peer, peerAddr, window)
}

// allocate makes a UDP relay on Parley's TURN; done releases it.
func allocate(user, pass string) (relay net.PacketConn, done func(), err error) {
	conn, err := listen(0)
	if err != nil {
		return nil, nil, err
	}
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: srvAddr.String(), TURNServerAddr: srvAddr.String(), Conn: conn,
		Username: user, Password: pass,
		LoggerFactory: &logging.DefaultLoggerFactory{Writer: io.Discard},
	})
	if err == nil {
		err = c.Listen()
	}
	if err == nil {
		if relay, err = c.Allocate(); err != nil {
			err = fmt.Errorf("allocate: %w", err)
		}
	}
	if err != nil {
		if c != nil {
			c.Close()
		}
		_ = conn.Close()
		return nil, nil, err
	}
	return relay, func() { _ = relay.Close(); c.Close(); _ = conn.Close() }, nil
}

// probeEcho answers every datagram on port with the same bytes until ctx
// ends: a UDP service.
func probeEcho(ctx context.Context, port int) error {
	conn, err := listen(port)
	if err != nil {
		return err
	}
	defer conn.Close()
	go func() { <-ctx.Done(); _ = conn.Close() }()
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return nil // closed at the end
		}
		_, _ = conn.WriteTo(buf[:n], from)
	}
}

// probeLoop sends a STUN Binding request to each target through one relay
// and prints, per target, "refused" (the server would not relay there: its
// CreatePermission failed), "answered" or "silent", as JSON.
func probeLoop(user, pass string, targets []string) error {
	relay, done, err := allocate(user, pass)
	if err != nil {
		return err
	}
	defer done()
	verdicts := make(map[string]string, len(targets))
	buf := make([]byte, 1500)
	for _, target := range targets {
		to, err := net.ResolveUDPAddr("udp4", target)
		if err != nil {
			return err
		}
		req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
		if _, err := relay.WriteTo(req.Raw, to); err != nil {
			verdicts[target] = "refused"
			continue
		}
		verdicts[target] = "silent"
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
			_ = relay.SetReadDeadline(deadline)
			n, from, err := relay.ReadFrom(buf)
			if err != nil {
				break
			}
			if from.String() == to.String() && bytes.Contains(buf[:n], req.TransactionID[:]) {
				verdicts[target] = "answered"
				break
			}
		}
	}
	return json.MarshalWrite(os.Stdout, verdicts)
}

// rendezvous publishes mine as name and waits (at most 5 s) for peer's.
func rendezvous(dir, name, peer, mine string) (net.Addr, error) {
	tmp := filepath.Join(dir, name+".tmp")
	if err := os.WriteFile(tmp, []byte(mine), 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name+".addr")); err != nil {
		return nil, err
	}
	for range 500 {
		if b, err := os.ReadFile(filepath.Join(dir, peer+".addr")); err == nil {
			return net.ResolveUDPAddr("udp4", strings.TrimSpace(string(b)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, fmt.Errorf("%s never published an address", peer)
}

// exchange sends "probe" to the peer every 50 ms and answers each of the
// peer's probes with "ack" to the address it really came from (ICE's
// peer-reflexive candidate). It succeeds once it has seen a probe and an
// ack, then keeps answering for 300 ms so the peer can finish too.
func exchange(conn net.PacketConn, name, peer string, peerAddr net.Addr, window time.Duration) error {
	var mu sync.Mutex
	target, gotProbe, gotAck := peerAddr, false, false
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		buf := make([]byte, 1500)
		for {
			select {
			case <-done:
				return
			default:
			}
			_ = conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				continue
			}
			mu.Lock()
			switch string(buf[:n]) {
			case "probe " + peer:
				gotProbe, target = true, from
				_, _ = conn.WriteTo([]byte("ack "+name), from)
			case "ack " + peer:
				gotAck = true
			}
			mu.Unlock()
		}
	}()
	defer func() { close(done); <-stopped }()
	deadline := time.Now().Add(window)
	var okAt time.Time
	for time.Now().Before(deadline) {
		mu.Lock()
		to, ok := target, gotProbe && gotAck
		mu.Unlock()
		if ok && okAt.IsZero() {
			okAt = time.Now()
		}
		if !okAt.IsZero() && time.Since(okAt) > 300*time.Millisecond {
			return nil
		}
		_, _ = conn.WriteTo([]byte("probe "+name), to)
		time.Sleep(50 * time.Millisecond)
	}
	if !okAt.IsZero() {
		return nil
	}
	return fmt.Errorf("no two-way path to %s (%s) in %s", peer, peerAddr, window)
}

// probeCreds gets TURN credentials the way every client does: from
// session.connect's iceServers. Prints "username credential".
func probeCreds(ctx context.Context, url string) error {
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		return err
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	req := `{"jsonrpc":"2.0","id":1,"method":"session.connect","params":{"identity":"natlab"}}`
	if err := ws.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
		return err
	}
	for range 100 {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		var resp struct {
			ID     jsontext.Value `json:"id"`
			Result struct {
				ICEServers []struct {
					URLs       []string `json:"urls"`
					Username   string   `json:"username"`
					Credential string   `json:"credential"`
				} `json:"iceServers"`
			} `json:"result"`
		}
		if err := json.Unmarshal(msg, &resp, json.RejectUnknownMembers(false)); err != nil || string(resp.ID) != "1" {
			continue
		}
		for _, s := range resp.Result.ICEServers {
			for _, u := range s.URLs {
				if uri, err := stun.ParseURI(u); err == nil && uri.Scheme == stun.SchemeTypeTURN && s.Username != "" {
					fmt.Println(s.Username, s.Credential)
					return nil
				}
			}
		}
		return fmt.Errorf("no turn: server in %s", msg)
	}
	return errors.New("no session.connect response")
}
