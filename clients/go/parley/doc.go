// Package parley is the Go client of the Parley signaling server: typed
// calls for every method of the protocol, typed hooks for every
// notification (both generated from api/parley.openrpc.json into
// methods_gen.go, using package api's types), and a small runtime that
// dials, opens the session and reconnects.
//
// It lives in the server's module, github.com/parley-rtc/parley (go get
// github.com/parley-rtc/parley), with the protocol's types in package api:
//
//	import (
//		"github.com/go-json-experiment/json/jsontext" // for Data and Metadata
//		"github.com/parley-rtc/parley/api"
//		"github.com/parley-rtc/parley/clients/go/parley"
//	)
//
//	c, err := parley.Dial(ctx, "ws://127.0.0.1:7880/rpc", parley.Options{Identity: "alice"})
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	c.OnSdpOffer(func(ev *api.SdpOfferEvent) { /* answer ev.From */ })
//	if _, err := c.RoomJoin(ctx, &api.RoomJoinParams{RoomID: "demo", Create: true}); err != nil {
//		if parley.ReasonOf(err) == "room_full" { … }
//	}
//
// Free-form JSON (message.send's data, metadata) is jsontext.Value from
// github.com/go-json-experiment/json/jsontext, raw JSON text: write it
// as a literal (jsontext.Value(`{"text":"hi"}`)) or convert what
// json.Marshal returns (jsontext.Value(b)); it arrives the same way
// (MessageReceivedEvent.Data), for json.Unmarshal.
//
//	b, _ := json.Marshal(map[string]string{"text": "hi"})
//	_, err = c.MessageSend(ctx, &api.MessageSendParams{RoomID: "demo", Data: jsontext.Value(b)})
//
// An SDP is a wire.RawString (github.com/parley-rtc/parley/rpc/wire), the
// JSON literal the server relays untouched: wire.Quote(offer.SDP) makes
// one, ev.SDP.Text() reads one.
//
// Hooks run one at a time, in the order the server sent the notifications,
// on a goroutine of their own, so they may call the server. Server
// refusals are *Error (errors.As), with the code, reason and field of the
// answer. A dropped connection is redialled with backoff and the session
// resumed (OnState reports it): the same peer id and rooms, and every
// notification missed meanwhile delivered once, in order. When the server
// cannot resume it (404, the window passed; 410, more was missed than it
// kept), a new session with a new peer id rejoins the rooms. Calls made
// while reconnecting fail with ErrNotConnected rather than wait; a call in
// flight when the connection dropped fails with ErrConnectionLost too,
// since the server may have carried it out (call it again only if doing it
// twice is harmless). While
// connected, the client acknowledges the notifications it has received
// (session.ack), so the server need not keep them for a resume.
//
// Against a cluster (servers started with --redis-url), give the client
// every node's URL, or a function that picks one, and it resumes on
// another node when its node dies (even kill -9) or drains, with the same
// peer id and nothing missed:
//
//	c, err := parley.Dial(ctx, "", parley.Options{
//		Identity: "bot",
//		URLs:     []string{"ws://10.0.0.1:7880/rpc", "ws://10.0.0.2:7880/rpc", "ws://10.0.0.3:7880/rpc"},
//	})
//
// Each reconnect attempt goes to the next URL (with backoff); a node that
// says it is handing its sessions over (session.draining with
// resumeElsewhere, close code 4307) is left at once for another and passed
// over for 30 seconds. Options.PickURL replaces the rotation with your own
// choice (a service registry, DNS).
//
// Package webrtcpeer binds pion/webrtc PeerConnections to a client; this
// package itself does not depend on pion.
package parley
