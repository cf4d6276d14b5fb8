package parley_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/gorilla/websocket"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/clients/go/parley"
	"github.com/parley-rtc/parley/internal/testkit"
	"github.com/parley-rtc/parley/internal/testkit/parleyproc"
)

// cutter is a dialer whose latest TCP connection a test can cut, as a
// network failure would (no close frame, no FIN from the application).
type cutter struct {
	mu   sync.Mutex
	last net.Conn
}

func (c *cutter) dialer() *websocket.Dialer {
	return &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			c.mu.Lock()
			c.last = conn
			c.mu.Unlock()
		}
		return conn, err
	}}
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.last.Close()
}

// TestResumeIsTransparent streams 1,000 numbered messages to bob while his
// connection is cut at random points: his hooks see 1..1000 exactly once,
// in order, his peer id never changes, and alice sees him only as
// reconnecting and connected, never as gone.
func TestResumeIsTransparent(t *testing.T) {
	p := devServer(t, "--replay-messages", "1024", "--rate", "100000", "--rate-burst", "100000")
	alice := dial(t, p.URL(), "alice", parley.Options{})
	var cut cutter
	states := make(chan parley.State, 100)
	bob := dial(t, p.URL(), "bob", parley.Options{
		Dialer:    cut.dialer(),
		Reconnect: parley.Backoff{Initial: time.Millisecond, Max: 20 * time.Millisecond},
		OnState:   func(s parley.State, _ error) { states <- s },
	})
	peerID := bob.Session().PeerID
	receive(t, states, "connecting")
	receive(t, states, "open")

	const total = 1000
	got := make(chan int, total*2)
	bob.OnMessageReceived(func(ev *api.MessageReceivedEvent) {
		n, _ := strconv.Atoi(string(ev.Data))
		got <- n
	})
	var mu sync.Mutex
	var peerStates []api.PeerState
	var left []*api.RoomPeerLeftEvent
	alice.OnRoomPeerState(func(ev *api.RoomPeerStateEvent) {
		mu.Lock()
		peerStates = append(peerStates, ev.State)
		mu.Unlock()
	})
	alice.OnRoomPeerLeft(func(ev *api.RoomPeerLeftEvent) {
		mu.Lock()
		left = append(left, ev)
		mu.Unlock()
	})
	joined := make(chan struct{}, 1)
	alice.OnRoomPeerJoined(func(*api.RoomPeerJoinedEvent) { joined <- struct{}{} })
	if _, err := alice.RoomJoin(ctx(t), &api.RoomJoinParams{RoomID: "stream", Create: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.RoomJoin(ctx(t), &api.RoomJoinParams{RoomID: "stream"}); err != nil {
		t.Fatal(err)
	}
	receive(t, joined, "bob's peerJoined")

	cuts := map[int]bool{}
	for range 3 {
		cuts[rand.IntN(total-1)+1] = true
	}
	go func() {
		for n := 1; n <= total; n++ {
			// alice's own connection is never cut; a send refused because
			// she raced a server shutdown would show as a missing number.
			if _, err := alice.MessageSend(context.Background(), &api.MessageSendParams{RoomID: "stream", To: peerID, Data: jsontext.Value(strconv.Itoa(n))}); err != nil {
				t.Errorf("send %d: %v", n, err)
				return
			}
		}
	}()
	for want := 1; want <= total; want++ {
		n := receive(t, got, fmt.Sprintf("message %d", want))
		if n != want {
			t.Fatalf("got message %d, want %d", n, want)
		}
		if cuts[n] {
			cut.cut()
			if s := receive(t, states, "reconnecting"); s != parley.StateReconnecting {
				t.Fatalf("state %s after the cut", s)
			}
			if s := receive(t, states, "open"); s != parley.StateOpen {
				t.Fatalf("state %s after reconnecting", s)
			}
			if s := bob.Session(); s.PeerID != peerID || !s.Resumed {
				t.Fatalf("after the cut: %+v, want peer %s resumed", s, peerID)
			}
		}
	}
	// A round trip on alice's connection: anything still to come for her
	// about bob is queued before its answer.
	if _, err := alice.RoomGet(ctx(t), &api.RoomGetParams{RoomID: "stream"}); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-got:
		t.Fatalf("message %d delivered twice or extra", n)
	default:
	}
	mu.Lock()
	defer mu.Unlock()
	if len(left) != 0 {
		t.Fatalf("alice saw bob leave: %+v", left[0])
	}
	// A cut the server noticed before the resume shows as reconnecting then
	// connected; one it did not notice shows as nothing.
	for i, s := range peerStates {
		if want := map[bool]api.PeerState{true: api.PeerStateReconnecting, false: api.PeerStateConnected}[i%2 == 0]; s != want {
			t.Fatalf("alice saw bob's states %v", peerStates)
		}
	}
	if len(peerStates)%2 != 0 {
		t.Fatalf("alice saw bob's states %v, ending reconnecting", peerStates)
	}
}

// TestReplacedClientStops: under takeover, the replaced client closes with
// ErrReplaced instead of reconnecting and taking the identity back.
func TestReplacedClientStops(t *testing.T) {
	p := devServer(t, "--duplicate-identity", "takeover")
	states := make(chan stateChange, 10)
	dial(t, p.URL(), "dana", parley.Options{OnState: func(s parley.State, cause error) { states <- stateChange{s, cause} }})
	receive(t, states, "connecting")
	receive(t, states, "open")
	dial(t, p.URL(), "dana", parley.Options{})
	if got := receive(t, states, "closed"); got.state != parley.StateClosed || got.cause != parley.ErrReplaced {
		t.Fatalf("the replaced client: %s %v", got.state, got.cause)
	}
}

// TestTokenSourceRenewsOnResume (2 s tokens: exp counts whole seconds): a client with a TokenSource asks it for a
// fresh token on every connect, so a resume after its first token expired
// still succeeds (same peer id) and its grants come back; a client with a
// static token that expired cannot resume (401) and closes.
func TestTokenSourceRenewsOnResume(t *testing.T) {
	const kid, secret = "test", "0123456789abcdef0123456789abcdef"
	p := parleyproc.Start(t, binary, nil, "--listen", "127.0.0.1:0", "--no-turn", "--api-keys", kid+":"+secret)
	token := func(identity string, ttl time.Duration) string {
		return testkit.SignHS256(kid, secret, fmt.Sprintf(`{"sub":%q,"exp":%d,"admin":true}`, identity, time.Now().Add(ttl).Unix()))
	}
	// expired waits (at most 5 s) until c's grants have lapsed with its token.
	expired := func(c *parley.Client) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			_, err := c.AdminRoomsList(ctx(t))
			if e, ok := errors.AsType[*parley.Error](err); ok && e.Code == api.CodeUnauthenticated {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("admin.rooms.list past the token's expiry: %v, want 401", err)
			}
		}
	}

	var minted atomic.Int32
	var cut cutter
	states := make(chan parley.State, 10)
	renewed, err := parley.Dial(ctx(t), p.URL(), parley.Options{
		TokenSource: func(context.Context) (string, error) {
			if minted.Add(1) == 1 {
				return token("renewed", 2*time.Second), nil
			}
			return token("renewed", time.Hour), nil
		},
		Dialer:    cut.dialer(),
		Reconnect: parley.Backoff{Initial: time.Millisecond, Max: 20 * time.Millisecond},
		OnState:   func(s parley.State, _ error) { states <- s },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer renewed.Close()
	peerID := renewed.Session().PeerID
	expired(renewed)
	receive(t, states, "connecting")
	receive(t, states, "open")
	cut.cut()
	receive(t, states, "reconnecting")
	receive(t, states, "open")
	if s := renewed.Session(); !s.Resumed || s.PeerID != peerID || minted.Load() != 2 {
		t.Fatalf("after the cut: resumed %v, peer %s (was %s), %d tokens minted; want a resume with a second token", s.Resumed, s.PeerID, peerID, minted.Load())
	}
	if _, err := renewed.AdminRoomsList(ctx(t)); err != nil {
		t.Fatalf("admin.rooms.list with the fresh token's grants: %v", err)
	}

	var cutStatic cutter
	closed := make(chan error, 1)
	static, err := parley.Dial(ctx(t), p.URL(), parley.Options{
		Token:     token("static", 2*time.Second),
		Dialer:    cutStatic.dialer(),
		Reconnect: parley.Backoff{Initial: time.Millisecond, Max: 20 * time.Millisecond},
		OnState: func(s parley.State, cause error) {
			if s == parley.StateClosed {
				closed <- cause
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer static.Close()
	expired(static)
	cutStatic.cut()
	select {
	case cause := <-closed:
		if e, ok := errors.AsType[*parley.Error](cause); !ok || e.Code != api.CodeUnauthenticated {
			t.Fatalf("the static token's client closed with %v, want 401", cause)
		}
	case <-time.After(wait):
		t.Fatal("the client with an expired static token kept reconnecting")
	}
}
