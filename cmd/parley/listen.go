package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/parley-rtc/parley/api"
)

const listenSynopsis = `Opens a session, joins the --room rooms, and prints every notification the
server sends as one JSON line ({"method": …, "params": {…, "seq": n}}) until
interrupted (Ctrl-C, SIGTERM) or the server closes the connection. An
interrupted listen says goodbye (close 1000): its session and seats end at
once, and the room's peers see it leave.

Example (a dev server from 'make run'):
  parley listen --identity watcher --room demo --create`

func runListen(args []string, stdout, stderr io.Writer) error {
	var rooms *[]string
	var create *bool
	f, err := parseSessionFlags("listen", listenSynopsis, "notifications belong to a session", args, stderr, func(fs *pflag.FlagSet) {
		rooms = fs.StringSlice("room", nil, "join this room first (repeat)")
		create = fs.Bool("create", false, "create the rooms that do not exist")
	})
	if err != nil {
		return err
	}
	joins := make([][]byte, len(*rooms))
	for i, room := range *rooms {
		joins[i], _ = json.Marshal(map[string]any{"roomId": room, "create": *create})
		if err := validateParams(api.MethodRoomJoin, joins[i]); err != nil {
			return fmt.Errorf("listen: --room %s: %w", room, err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dialCtx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	// Notifications are printed as they come, also those that arrive
	// between the joins' answers.
	var outMu sync.Mutex
	printFrame := func(frame []byte) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(stdout, "%s\n", frame)
	}
	c, err := dialRPC(dialCtx, f, printFrame)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer c.close() // a normal close: the session ends now, not after the resume window
	for i, room := range *rooms {
		if _, err := c.call(dialCtx, api.MethodRoomJoin, joins[i]); err != nil {
			return fmt.Errorf("listen: join %s: %w", room, err)
		}
	}
	var s struct{ Identity, PeerID string }
	_ = json.Unmarshal(c.session, &s)
	fmt.Fprintf(stderr, "listening as %s (peer %s) in %d room(s); Ctrl-C stops\n", s.Identity, s.PeerID, len(*rooms))
	select {
	case <-ctx.Done():
		return nil // interrupted: a normal end
	case <-c.done:
		return fmt.Errorf("listen: %w", c.failure(c.readErr))
	}
}
