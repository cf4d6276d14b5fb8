package parley_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/clients/go/parley"
	"github.com/parley-rtc/parley/internal/testkit/parleyproc"
	"github.com/parley-rtc/parley/rpc/wire"
)

// binary is the real parley executable, built once for these tests.
var binary string

func TestMain(m *testing.M) {
	parleyproc.Main(m, map[string]*string{"github.com/parley-rtc/parley/cmd/parley": &binary})
}

// wait bounds every wait on the server, so a broken server fails a test
// instead of hanging it; it is not a timing assertion.
const wait = 10 * time.Second

func devServer(t *testing.T, args ...string) *parleyproc.Process {
	t.Helper()
	return parleyproc.Start(t, binary, nil, append([]string{"--dev", "--listen", "127.0.0.1:0", "--no-turn"}, args...)...)
}

func dial(t *testing.T, url, identity string, opts parley.Options) *parley.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	opts.Identity = identity
	c, err := parley.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", identity, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return c
}

// hooked registers a hook that passes each event to the returned channel,
// which holds up to n of them.
func hooked[T any](on func(func(*T)), n int) <-chan *T {
	ch := make(chan *T, n)
	on(func(ev *T) { ch <- ev })
	return ch
}

// receive waits for one value of ch.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("no %s", what)
		panic("unreachable")
	}
}

// TestCallsAndHooks: typed calls reach the server and its notifications
// reach the typed hooks, with seq tracked.
func TestCallsAndHooks(t *testing.T) {
	p := devServer(t)
	alice := dial(t, p.URL(), "alice", parley.Options{})
	bob := dial(t, p.URL(), "bob", parley.Options{})
	if s := alice.Session(); s.Identity != "alice" || s.PeerID == "" || s.ResumeToken == "" || s.Protocol != api.DocumentSHA256 {
		t.Fatalf("alice's session: %+v", s)
	}

	joined := hooked(alice.OnRoomPeerJoined, 1)
	received := hooked(alice.OnMessageReceived, 1)
	left := hooked(alice.OnRoomPeerLeft, 1)

	res, err := alice.RoomJoin(ctx(t), &api.RoomJoinParams{RoomID: "demo", Create: true, DisplayName: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	if res.RoomID != "demo" || res.Self.Role != api.RoleOwner || len(res.Peers) != 0 {
		t.Fatalf("alice joined %+v", res)
	}
	if _, err := bob.RoomJoin(ctx(t), &api.RoomJoinParams{RoomID: "demo"}); err != nil {
		t.Fatal(err)
	}
	if ev := receive(t, joined, "room.peerJoined"); ev.Peer.PeerID != bob.Session().PeerID || ev.Seq == 0 {
		t.Fatalf("room.peerJoined %+v", ev)
	}

	sent, err := bob.MessageSend(ctx(t), &api.MessageSendParams{RoomID: "demo", Data: jsontext.Value(`{"hello":"alice"}`)})
	if err != nil {
		t.Fatal(err)
	}
	msg := receive(t, received, "message.received")
	if msg.From != bob.Session().PeerID || msg.MessageID != sent.MessageID || string(msg.Data) != `{"hello":"alice"}` {
		t.Fatalf("message.received %+v (data %s)", msg, msg.Data)
	}
	if alice.LastSeq() != msg.Seq {
		t.Fatalf("LastSeq %d, the message's seq %d", alice.LastSeq(), msg.Seq)
	}

	info, err := bob.RoomGet(ctx(t), &api.RoomGetParams{RoomID: "demo"})
	if err != nil || len(info.Peers) != 2 {
		t.Fatalf("room.get: %+v, %v", info, err)
	}
	servers, err := bob.IceServers(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if servers.ICEServers == nil {
		t.Fatalf("ice.servers: %+v", servers)
	}
	if _, err := bob.RoomLeave(ctx(t), &api.RoomLeaveParams{RoomID: "demo"}); err != nil {
		t.Fatal(err)
	}
	if ev := receive(t, left, "room.peerLeft"); ev.PeerID != bob.Session().PeerID || ev.Reason != api.PeerLeftReasonLeft {
		t.Fatalf("room.peerLeft %+v", ev)
	}
}

// TestErrors: the server's refusals come back as *parley.Error with the
// code, reason and field of the answer.
func TestErrors(t *testing.T) {
	p := devServer(t)
	c := dial(t, p.URL(), "carol", parley.Options{})
	other := dial(t, p.URL(), "dave", parley.Options{})
	if _, err := other.RoomJoin(ctx(t), &api.RoomJoinParams{RoomID: "theirs", Create: true}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		call   func() error
		code   int64
		reason string
		field  string
	}{
		{"leave a room not joined", func() error {
			_, err := c.RoomLeave(ctx(t), &api.RoomLeaveParams{RoomID: "nowhere"})
			return err
		}, api.CodeRoomNotFound, "room_not_found", ""},
		{"join a missing room without create", func() error {
			_, err := c.RoomJoin(ctx(t), &api.RoomJoinParams{RoomID: "missing"})
			return err
		}, api.CodeRoomNotFound, "room_not_found", ""},
		{"offer to a room not joined", func() error {
			_, err := c.SdpOffer(ctx(t), &api.SdpOfferParams{RoomID: "theirs", To: other.Session().PeerID, SDP: rawMinimalSDP})
			return err
		}, api.CodeRoomNotFound, "room_not_found", ""},
		{"bad room id", func() error {
			_, err := c.RoomJoin(ctx(t), &api.RoomJoinParams{RoomID: "no spaces", Create: true})
			return err
		}, -32602, "", "roomId"},
		{"nil params", func() error {
			_, err := c.RoomLeave(ctx(t), nil)
			return err
		}, -32602, "", "roomId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var pe *parley.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T), want a *parley.Error", err, err)
			}
			if pe.Code != tt.code || (tt.reason != "" && pe.Reason != tt.reason) || pe.Field != tt.field {
				t.Fatalf("got %+v, want code %d reason %q field %q", pe, tt.code, tt.reason, tt.field)
			}
			if parley.CodeOf(err) != tt.code || parley.ReasonOf(err) != pe.Reason {
				t.Fatalf("CodeOf/ReasonOf disagree with %+v", pe)
			}
		})
	}
}

// TestDialRefused: a server's refusal of session.connect is Dial's error.
func TestDialRefused(t *testing.T) {
	p := parleyproc.Start(t, binary, []string{"PARLEY_API_KEYS=main:" + fmt.Sprintf("%040d", 0)}, "--listen", "127.0.0.1:0", "--no-turn")
	states := make(chan parley.State, 10)
	_, err := parley.Dial(ctx(t), p.URL(), parley.Options{Identity: "mallory", OnState: func(s parley.State, _ error) { states <- s }})
	if parley.CodeOf(err) != api.CodeUnauthenticated {
		t.Fatalf("bare identity on a production server: %v, want 401", err)
	}
	if s := receive(t, states, "state"); s != parley.StateConnecting {
		t.Fatalf("first state %s", s)
	}
	if s := receive(t, states, "state"); s != parley.StateClosed {
		t.Fatalf("second state %s", s)
	}
}

// minimalSDP parses as an offer; the server checks SDP before routing.
// rawMinimalSDP is it as the generated params hold it.
var rawMinimalSDP, _ = wire.Quote(minimalSDP)

const minimalSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"

type stateChange struct {
	state parley.State
	cause error
}

// TestReconnect: the server is killed and restarted on the same port; the
// client reports reconnecting, opens a new session by itself, and calls
// work again. Calls while it is down fail with ErrNotConnected.
func TestReconnect(t *testing.T) {
	p := devServer(t)
	changes := make(chan stateChange, 100)
	c := dial(t, p.URL(), "erin", parley.Options{
		Reconnect: parley.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		OnState:   func(s parley.State, cause error) { changes <- stateChange{s, cause} },
	})
	for _, want := range []parley.State{parley.StateConnecting, parley.StateOpen} {
		if got := receive(t, changes, "state"); got.state != want {
			t.Fatalf("state %s, want %s", got.state, want)
		}
	}
	first := c.Session()
	if _, err := c.RoomJoin(ctx(t), &api.RoomJoinParams{RoomID: "r", Create: true}); err != nil {
		t.Fatal(err)
	}

	addr := p.Addr
	p.Kill()
	if got := receive(t, changes, "state after the kill"); got.state != parley.StateReconnecting || !errors.Is(got.cause, parley.ErrConnectionLost) {
		t.Fatalf("after the kill: %s %v", got.state, got.cause)
	}
	if _, err := c.RoomGet(ctx(t), &api.RoomGetParams{RoomID: "r"}); !errors.Is(err, parley.ErrNotConnected) {
		t.Fatalf("call while down: %v, want ErrNotConnected", err)
	}

	parleyproc.Start(t, binary, nil, "--dev", "--listen", addr, "--no-turn")
	if got := receive(t, changes, "state after the restart"); got.state != parley.StateOpen {
		t.Fatalf("after the restart: %s %v", got.state, got.cause)
	}
	second := c.Session()
	if second.SessionID == "" || second.SessionID == first.SessionID || second.Identity != "erin" || second.Resumed {
		t.Fatalf("sessions %+v then %+v", first, second)
	}
	// The new server knew neither the session (resume: 404) nor room r: the
	// client opened a fresh session and rejoined r before reporting open.
	if _, err := c.RoomGet(ctx(t), &api.RoomGetParams{RoomID: "r"}); err != nil {
		t.Fatalf("room r after reconnecting: %v", err)
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, changes, "state after Close"); got.state != parley.StateClosed || got.cause != nil {
		t.Fatalf("after Close: %s %v", got.state, got.cause)
	}
	if _, err := c.IceServers(ctx(t)); !errors.Is(err, parley.ErrClosed) {
		t.Fatalf("call after Close: %v, want ErrClosed", err)
	}
}

// TestNoRejoinOfALostSeat: a room whose seat this client lost (another
// device of its identity took it over) is not rejoined when the session is
// lost and a new one rejoins the others, or the devices would take the
// seat back from each other.
func TestNoRejoinOfALostSeat(t *testing.T) {
	p := devServer(t)
	changes := make(chan parley.State, 100)
	phone := dial(t, p.URL(), "gina", parley.Options{
		Reconnect: parley.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		OnState:   func(s parley.State, _ error) { changes <- s },
	})
	lost := hooked(phone.OnRoomPeerLeft, 1)
	if _, err := phone.RoomCreate(ctx(t), &api.RoomCreateParams{RoomID: "taken", DuplicateIdentity: api.DuplicatePolicyTakeover}); err != nil {
		t.Fatal(err)
	}
	for _, room := range []string{"taken", "kept"} {
		if _, err := phone.RoomJoin(ctx(t), &api.RoomJoinParams{RoomID: room, Create: true}); err != nil {
			t.Fatal(err)
		}
	}
	laptop := dial(t, p.URL(), "gina", parley.Options{})
	if _, err := laptop.RoomJoin(ctx(t), &api.RoomJoinParams{RoomID: "taken"}); err != nil {
		t.Fatal(err)
	}
	if ev := receive(t, lost, "room.peerLeft"); ev.PeerID != phone.Session().PeerID || ev.Reason != api.PeerLeftReasonReplaced {
		t.Fatalf("room.peerLeft %+v, want the phone's seat replaced", ev)
	}
	if err := laptop.Close(); err != nil {
		t.Fatal(err)
	}

	addr := p.Addr
	p.Kill() // the new server knows no session: the phone opens a new one and rejoins
	parleyproc.Start(t, binary, nil, "--dev", "--listen", addr, "--no-turn")
	for _, want := range []parley.State{parley.StateConnecting, parley.StateOpen, parley.StateReconnecting, parley.StateOpen} {
		if got := receive(t, changes, "state"); got != want {
			t.Fatalf("state %s, want %s", got, want)
		}
	}
	if _, err := phone.RoomGet(ctx(t), &api.RoomGetParams{RoomID: "kept"}); err != nil {
		t.Fatalf("room kept after the new session: %v", err)
	}
	if _, err := phone.RoomGet(ctx(t), &api.RoomGetParams{RoomID: "taken"}); parley.ReasonOf(err) != "room_not_found" {
		t.Fatalf("room taken after the new session: %v, want room_not_found (not rejoined)", err)
	}
}

// TestReconnectDisabled: without reconnecting, a dropped connection closes
// the client with ErrConnectionLost.
func TestReconnectDisabled(t *testing.T) {
	p := devServer(t)
	changes := make(chan stateChange, 10)
	dial(t, p.URL(), "frank", parley.Options{
		Reconnect: parley.Backoff{Disabled: true},
		OnState:   func(s parley.State, cause error) { changes <- stateChange{s, cause} },
	})
	receive(t, changes, "connecting")
	receive(t, changes, "open")
	p.Kill()
	if got := receive(t, changes, "state after the kill"); got.state != parley.StateClosed || !errors.Is(got.cause, parley.ErrConnectionLost) {
		t.Fatalf("after the kill: %s %v", got.state, got.cause)
	}
}
