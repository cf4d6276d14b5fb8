package main_test

import (
	"bufio"
	"context"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/clients/go/parley"
	"github.com/parley-rtc/parley/clients/go/parley/webrtcpeer"
	"github.com/parley-rtc/parley/internal/testkit/looprtc"
	"github.com/parley-rtc/parley/internal/testkit/parleyproc"
)

var parleyBin, echobotBin string

func TestMain(m *testing.M) {
	parleyproc.Main(m, map[string]*string{
		"github.com/parley-rtc/parley/cmd/parley":       &parleyBin,
		"github.com/parley-rtc/parley/examples/echobot": &echobotBin,
	})
}

// wait bounds each wait; it is not a timing assertion.
const wait = 20 * time.Second

var ready = regexp.MustCompile(`^echobot ready room=(\S+) peer=(\S+)$`)

// startEchobot runs the built echobot and waits for its ready line,
// returning its peer id.
func startEchobot(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(echobotBin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &parleyproc.LogWriter{T: t, Prefix: "echobot"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 10)
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	select {
	case line := <-lines:
		m := ready.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("echobot's first line %q is not its ready line", line)
		}
		return m[2]
	case <-exited:
		t.Fatal("echobot exited before it was ready")
	case <-time.After(wait):
		t.Fatal("echobot printed no ready line")
	}
	panic("unreachable")
}

// TestEchobotEchoes: a pion peer driven by the Go client offers to the
// echobot in its room, opens a DataChannel and gets its messages back,
// over loopback host candidates and relay-only through Parley's TURN.
func TestEchobotEchoes(t *testing.T) {
	tests := []struct {
		name      string
		serveArgs []string
		botArgs   []string
		cfg       webrtc.Configuration
	}{
		{"host", []string{"--no-turn"}, nil, webrtc.Configuration{}},
		{"relay", []string{"--turn-listen", "127.0.0.1:0"}, []string{"-relay"},
			webrtc.Configuration{ICETransportPolicy: webrtc.ICETransportPolicyRelay}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parleyproc.Start(t, parleyBin, nil, append([]string{"--dev", "--listen", "127.0.0.1:0"}, tt.serveArgs...)...)
			bot := startEchobot(t, append([]string{"-url", p.URL(), "-room", "echo"}, tt.botArgs...)...)

			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			c, err := parley.Dial(ctx, p.URL(), parley.Options{Identity: "tester"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			mgr := webrtcpeer.New(c, "echo", webrtcpeer.Options{Configuration: tt.cfg, API: looprtc.API()})
			defer mgr.Close()
			joined, err := c.RoomJoin(ctx, &api.RoomJoinParams{RoomID: "echo"})
			if err != nil {
				t.Fatal(err)
			}
			if len(joined.Peers) != 1 || joined.Peers[0].PeerID != bot {
				t.Fatalf("room echo holds %+v, want the echobot %s", joined.Peers, bot)
			}

			peer, err := mgr.Add(bot)
			if err != nil {
				t.Fatal(err)
			}
			dc, err := peer.PC().CreateDataChannel("echo", nil)
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan string, 10)
			dc.OnMessage(func(msg webrtc.DataChannelMessage) { got <- string(msg.Data) })
			dc.OnOpen(func() {
				_ = dc.SendText("one")
				_ = dc.SendText("two")
			})
			for _, want := range []string{"one", "two"} {
				select {
				case m := <-got:
					if m != want {
						t.Fatalf("echo %q, want %q", m, want)
					}
				case <-time.After(wait):
					t.Fatalf("no echo of %q", want)
				}
			}
		})
	}
}
