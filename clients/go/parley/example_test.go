package parley_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/clients/go/parley"
)

// Join a room on a dev server (make run) and print who joins after us.
// (Compiled, not run: it needs a server.)
func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := parley.Dial(ctx, "ws://127.0.0.1:7880/rpc", parley.Options{
		Identity: "alice",
		OnState:  func(s parley.State, cause error) { log.Println("parley:", s, cause) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.OnRoomPeerJoined(func(ev *api.RoomPeerJoinedEvent) {
		fmt.Println("joined:", ev.Peer.Identity)
	})
	if _, err := c.RoomJoin(ctx, &api.RoomJoinParams{RoomID: "demo", Create: true}); err != nil {
		if parley.CodeOf(err) == api.CodeRoomFull {
			log.Fatal("room demo is full")
		}
		log.Fatal(err)
	}
}
