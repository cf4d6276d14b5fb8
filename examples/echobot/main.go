// Command echobot is a WebRTC peer on Parley: it joins a room (creating it
// if missing), answers every peer's offer, and echoes each DataChannel
// message back on the channel it came on. It never offers first.
//
//	go run ./examples/echobot -room demo
//
// Once joined it prints one line to stdout,
//
//	echobot ready room=<room> peer=<peerId>
//
// and logs to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/clients/go/parley"
	"github.com/parley-rtc/parley/clients/go/parley/webrtcpeer"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "echobot:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("url", "ws://127.0.0.1:7880/rpc", "Parley's JSON-RPC WebSocket URL")
	identity := flag.String("identity", "echobot", "identity for a --dev server (ignored with -token)")
	token := flag.String("token", "", "JWT for session.connect (e.g. from parley token)")
	room := flag.String("room", "demo", "room to join (created if missing)")
	relay := flag.Bool("relay", false, "relay-only ICE: use only the TURN servers from the session")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := parley.Options{Token: *token, Logger: log}
	if *token == "" {
		opts.Identity = *identity
	}
	states := make(chan parley.State, 16)
	opts.OnState = func(s parley.State, cause error) {
		log.Info("connection", "state", s, "cause", cause)
		states <- s
	}
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	c, err := parley.Dial(dialCtx, *url, opts)
	cancel()
	if err != nil {
		return err
	}
	defer c.Close()

	cfg := webrtc.Configuration{}
	if *relay {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	mgr := webrtcpeer.New(c, *room, webrtcpeer.Options{
		Configuration: cfg,
		API:           newAPI(),
		Logger:        log,
		Accept: func(p *webrtcpeer.Peer) {
			log.Info("answering", "peer", p.Remote)
			p.PC().OnDataChannel(echo(log, p.Remote))
			p.PC().OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
				log.Info("peer connection", "peer", p.Remote, "state", s)
			})
		},
	})
	defer mgr.Close()

	self, err := join(ctx, c, *room)
	if err != nil {
		return err
	}
	fmt.Printf("echobot ready room=%s peer=%s\n", *room, self)

	reconnecting := false
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
			return nil
		case s := <-states:
			switch s {
			case parley.StateReconnecting:
				reconnecting = true
			case parley.StateOpen:
				if !reconnecting {
					continue // Dial's own open
				}
				reconnecting = false
				// A reconnect opens a new session in no room: the old
				// peers are gone, join again under the new peer id.
				mgr.ClosePeers()
				if self, err = join(ctx, c, *room); err != nil {
					return err
				}
				log.Info("rejoined", "room", *room, "peer", self)
			case parley.StateClosed:
				return errors.New("connection closed")
			}
		}
	}
}

// join creates the room if missing and joins it, returning our peer id.
func join(ctx context.Context, c *parley.Client, room string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := c.RoomJoin(ctx, &api.RoomJoinParams{RoomID: room, Create: true, DisplayName: "echobot"})
	if err != nil {
		return "", fmt.Errorf("join %s: %w", room, err)
	}
	return res.Self.PeerID, nil
}

// newAPI includes loopback host candidates, which pion leaves out by
// default, so a peer on the same machine (a test, a local pion client)
// can reach the bot without a TURN server.
func newAPI() *webrtc.API {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// echo sends every message of a remote peer's DataChannel back on it.
func echo(log *slog.Logger, peer string) func(*webrtc.DataChannel) {
	return func(dc *webrtc.DataChannel) {
		log.Info("data channel", "peer", peer, "label", dc.Label())
		dc.OnMessage(func(msg webrtc.DataChannelMessage) {
			var err error
			if msg.IsString {
				err = dc.SendText(string(msg.Data))
			} else {
				err = dc.Send(msg.Data)
			}
			if err != nil {
				log.Warn("echo failed", "peer", peer, "label", dc.Label(), "err", err)
			}
		})
	}
}
