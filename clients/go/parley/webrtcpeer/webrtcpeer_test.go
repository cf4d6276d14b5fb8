package webrtcpeer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/clients/go/parley"
	"github.com/parley-rtc/parley/clients/go/parley/webrtcpeer"
	"github.com/parley-rtc/parley/internal/testkit/looprtc"
	"github.com/parley-rtc/parley/internal/testkit/parleyproc"
)

var binary string

func TestMain(m *testing.M) {
	parleyproc.Main(m, map[string]*string{"github.com/parley-rtc/parley/cmd/parley": &binary})
}

// wait bounds each wait, so a broken setup fails instead of hanging; it is
// not a timing assertion.
const wait = 20 * time.Second

// side is one test peer: a client in room "lab" and its Manager.
type side struct {
	client *parley.Client
	mgr    *webrtcpeer.Manager
	got    chan string // DataChannel messages received
}

func join(t *testing.T, url, identity string, cfg webrtc.Configuration) *side {
	t.Helper()
	return joinRoom(t, url, identity, "lab", cfg)
}

func joinRoom(t *testing.T, url, identity, room string, cfg webrtc.Configuration) *side {
	t.Helper()
	return joinWith(t, url, room, cfg, parley.Options{Identity: identity})
}

// joinWith is joinRoom with the client's options.
func joinWith(t *testing.T, url, room string, cfg webrtc.Configuration, opts parley.Options) *side {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := parley.Dial(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	s := &side{client: c, got: make(chan string, 1000)}
	s.mgr = webrtcpeer.New(c, room, webrtcpeer.Options{
		Configuration: cfg,
		API:           looprtc.API(),
		// Answer anyone; echo what arrives on their channels.
		Accept: func(p *webrtcpeer.Peer) {
			p.PC().OnDataChannel(func(dc *webrtc.DataChannel) { s.echo(dc) })
		},
	})
	t.Cleanup(s.mgr.Close)
	if _, err := c.RoomJoin(ctx, &api.RoomJoinParams{RoomID: room, Create: true}); err != nil {
		t.Fatal(err)
	}
	return s
}

// echo records dc's messages and sends each back prefixed with "echo:".
func (s *side) echo(dc *webrtc.DataChannel) {
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		s.got <- string(msg.Data)
		_ = dc.SendText("echo:" + string(msg.Data))
	})
}

// open adds a Peer for remote with a DataChannel that sends hello once
// open; its replies go to s.got.
func (s *side) open(t *testing.T, remote, hello string) *webrtcpeer.Peer {
	t.Helper()
	p, err := s.mgr.Add(remote)
	if err != nil {
		t.Fatal(err)
	}
	p.PC().OnDataChannel(func(dc *webrtc.DataChannel) { s.echo(dc) }) // for glare: remote's channel
	dc, err := p.PC().CreateDataChannel("chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	dc.OnOpen(func() { _ = dc.SendText(hello) })
	dc.OnMessage(func(msg webrtc.DataChannelMessage) { s.got <- string(msg.Data) })
	return p
}

func expect(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	case <-time.After(wait):
		t.Fatalf("no %q", want)
	}
}

// selectedPair is the ICE pair carrying p's DataChannel.
func selectedPair(t *testing.T, p *webrtcpeer.Peer) *webrtc.ICECandidatePair {
	t.Helper()
	pair, err := p.PC().SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("no selected candidate pair: %v", err)
	}
	return pair
}

// TestDataChannel connects two pion peers through Parley signaling: over
// host candidates, and relay-only through Parley's own co-hosted TURN with
// the iceServers from session.connect.
func TestDataChannel(t *testing.T) {
	tests := []struct {
		name string
		args []string
		cfg  webrtc.Configuration
		typ  webrtc.ICECandidateType
	}{
		{"host", []string{"--no-turn"}, webrtc.Configuration{}, webrtc.ICECandidateTypeHost},
		// Both ends relay-only: the pair is relay to relay through Parley's TURN.
		{"relay", []string{"--turn-listen", "127.0.0.1:0"},
			webrtc.Configuration{ICETransportPolicy: webrtc.ICETransportPolicyRelay}, webrtc.ICECandidateTypeRelay},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parleyproc.Start(t, binary, nil, append([]string{"--dev", "--listen", "127.0.0.1:0"}, tt.args...)...)
			alice := join(t, p.URL(), "alice", tt.cfg)
			bob := join(t, p.URL(), "bob", tt.cfg)
			if tt.typ == webrtc.ICECandidateTypeRelay && len(alice.client.Session().ICEServers) == 0 {
				t.Fatal("session.connect gave no ICE servers")
			}
			peer := alice.open(t, bob.client.Session().PeerID, "hi bob")
			expect(t, bob.got, "hi bob")
			expect(t, alice.got, "echo:hi bob")
			pair := selectedPair(t, peer)
			if pair.Local.Typ != tt.typ || pair.Remote.Typ != tt.typ {
				t.Fatalf("selected pair %s, want %s on both ends", pair, tt.typ)
			}
			if tt.typ == webrtc.ICECandidateTypeHost && pair.Local.Address != "127.0.0.1" {
				t.Fatalf("selected pair %s is not on loopback", pair)
			}
		})
	}
}

// TestGlare: both peers offer at once, 100 times. The server settles it
// (the polite side's crossing offer gets 491, or is superseded by the
// impolite side's), the polite pion side answers the impolite offer on its
// one PeerConnection, and every run converges to one stable negotiation:
// both channels open on it, each side gets the other's hello and the echo
// of its own, and both ends are back to the stable signaling state.
func TestGlare(t *testing.T) {
	p := parleyproc.Start(t, binary, nil, "--dev", "--listen", "127.0.0.1:0", "--no-turn")
	for round := range 100 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			room := fmt.Sprintf("glare-%d", round)
			alice := joinRoom(t, p.URL(), "alice", room, webrtc.Configuration{})
			bob := joinRoom(t, p.URL(), "bob", room, webrtc.Configuration{})
			// Neither waits for the other: the offers usually cross.
			a := alice.open(t, bob.client.Session().PeerID, "from alice")
			b := bob.open(t, alice.client.Session().PeerID, "from bob")
			// The server's flags: alice joined first, so bob is polite.
			if a.Polite || !b.Polite {
				t.Fatalf("alice polite=%v, bob polite=%v; want false, true", a.Polite, b.Polite)
			}
			waitFor(t, alice.got, "from bob", "echo:from alice")
			waitFor(t, bob.got, "from alice", "echo:from bob")
			for _, peer := range []*webrtcpeer.Peer{a, b} {
				if st := peer.PC().SignalingState(); st != webrtc.SignalingStateStable {
					t.Fatalf("signaling state %s", st)
				}
				if st := peer.PC().ConnectionState(); st != webrtc.PeerConnectionStateConnected {
					t.Fatalf("connection state %s", st)
				}
			}
		})
	}
}

// waitFor reads ch until every one of want has arrived, in any order.
func waitFor(t *testing.T, ch <-chan string, want ...string) {
	t.Helper()
	missing := map[string]bool{}
	for _, w := range want {
		missing[w] = true
	}
	deadline := time.After(wait)
	for len(missing) > 0 {
		select {
		case got := <-ch:
			delete(missing, got)
		case <-deadline:
			t.Fatalf("missing %v", missing)
		}
	}
}

// TestAddAfterAccept: the remote's offer comes before the application's
// own Add for that remote (what happens in TestGlare when alice's offer
// outruns bob's open). Add returns the Peer Accept was given, which
// answered the offer, instead of closing it for a new one, and the channel
// bob adds then is negotiated on it.
func TestAddAfterAccept(t *testing.T) {
	p := parleyproc.Start(t, binary, nil, "--dev", "--listen", "127.0.0.1:0", "--no-turn")
	alice := join(t, p.URL(), "alice", webrtc.Configuration{})
	bob := join(t, p.URL(), "bob", webrtc.Configuration{})
	a := alice.open(t, bob.client.Session().PeerID, "from alice")
	expect(t, bob.got, "from alice") // bob's Accept made his Peer and answered
	accepted := bob.mgr.Peer(alice.client.Session().PeerID)
	if accepted == nil {
		t.Fatal("no Peer made for alice's offer")
	}
	b := bob.open(t, alice.client.Session().PeerID, "from bob")
	if b != accepted {
		t.Fatal("Add replaced the Peer that answered alice's offer")
	}
	waitFor(t, alice.got, "echo:from alice", "from bob")
	expect(t, bob.got, "echo:from bob")
	if st := a.PC().ConnectionState(); st != webrtc.PeerConnectionStateConnected {
		t.Fatalf("alice's connection state %s", st)
	}
}
