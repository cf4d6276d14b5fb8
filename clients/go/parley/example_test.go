package parley_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/go-json-experiment/json/jsontext"

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

// Send a room message: data is any JSON value, as raw JSON text
// (jsontext.Value); what arrives is raw JSON too. (Compiled, not run.)
func ExampleClient_MessageSend() {
	ctx := context.Background()
	c, err := parley.Dial(ctx, "ws://127.0.0.1:7880/rpc", parley.Options{Identity: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.OnMessageReceived(func(ev *api.MessageReceivedEvent) {
		var chat struct{ Text string }
		if json.Unmarshal(ev.Data, &chat) == nil {
			fmt.Println(ev.From, "says", chat.Text)
		}
	})
	if _, err := c.RoomJoin(ctx, &api.RoomJoinParams{RoomID: "demo", Create: true}); err != nil {
		log.Fatal(err)
	}
	data, _ := json.Marshal(map[string]string{"text": "hi"})
	if _, err := c.MessageSend(ctx, &api.MessageSendParams{RoomID: "demo", Data: jsontext.Value(data)}); err != nil {
		log.Fatal(err)
	}
}
