package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/parley-rtc/parley/api"
)

const listenSynopsis = `Opens a session, joins the --room rooms, and prints every notification the
server sends as one JSON line ({"method": …, "params": {…, "seq": n}}) until
interrupted (Ctrl-C) or the server closes the connection.

Example (a dev server from 'make run'):
  parley listen --identity watcher --room demo --create`

func runListen(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("listen", listenSynopsis, stderr)
	var f rpcFlags
	f.add(fs)
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
	c, err := dialRPC(dialCtx, f)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer c.close()
	// Notifications are printed as they come, also those that arrive
	// between the joins' answers.
	c.onNotification = func(frame []byte) { fmt.Fprintf(stdout, "%s\n", frame) }
	for i, room := range *rooms {
		if _, err := c.call(dialCtx, api.MethodRoomJoin, joins[i]); err != nil {
			return fmt.Errorf("listen: join %s: %w", room, err)
		}
	}
	var s struct{ Identity, PeerID string }
	_ = json.Unmarshal(c.session, &s)
	fmt.Fprintf(stderr, "listening as %s (peer %s) in %d room(s); Ctrl-C stops\n", s.Identity, s.PeerID, len(*rooms))
	stopRead := context.AfterFunc(ctx, func() { _ = c.ws.Close() })
	defer stopRead()
	for {
		frame, err := c.read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted: a normal end
			}
			return fmt.Errorf("listen: %w", err)
		}
		c.onNotification(frame)
	}
}
