package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

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
	fs := newFlagSet("listen", listenSynopsis, stderr)
	var f rpcFlags
	f.add(fs, 10*time.Second, "how long to wait for the connection and each answer")
	rooms := fs.StringSlice("room", nil, "join this room first (repeat)")
	create := fs.Bool("create", false, "create the rooms that do not exist")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("listen: unexpected argument %q", fs.Arg(0))
	}
	if f.token == "" && f.identity == "" {
		return errors.New("listen: give --token or --identity (notifications belong to a session)")
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
