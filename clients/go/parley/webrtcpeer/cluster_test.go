package webrtcpeer_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/clients/go/parley"
	"github.com/parley-rtc/parley/internal/testkit/clusterproc"
)

// TestDataChannelThroughANodeKill: alice and bob, on two nodes of a
// cluster, talk over a pion DataChannel that Parley signaled, while alice
// also streams numbered messages to bob through signaling (message.send).
// Bob's node is SIGKILLed mid-stream: his client resumes on another of its
// URLs as the same peer, the DataChannel carries on (pings sent after the
// resume come back; neither PeerConnection leaves connected), and every
// message sent through signaling, during the outage too, arrives exactly
// once, in order.
func TestDataChannelThroughANodeKill(t *testing.T) {
	c := clusterproc.Start(t, binary, 3)
	urls := c.URLs()
	reconnect := parley.Backoff{Initial: 5 * time.Millisecond, Max: 100 * time.Millisecond}
	alice := joinWith(t, urls[0], "lab", webrtc.Configuration{}, parley.Options{Identity: "alice", URLs: urls, Reconnect: reconnect})
	resumed := make(chan time.Time, 10)
	bob := joinWith(t, urls[1], "lab", webrtc.Configuration{}, parley.Options{Identity: "bob", URLs: urls, Reconnect: reconnect,
		OnState: func(s parley.State, _ error) {
			if s == parley.StateOpen {
				resumed <- time.Now()
			}
		}})
	<-resumed // the first open
	bobPeer := bob.client.Session().PeerID

	var mu sync.Mutex
	var numbers []int
	numbered := make(chan int, 1000)
	bob.client.OnMessageReceived(func(ev *api.MessageReceivedEvent) {
		n, _ := strconv.Atoi(string(ev.Data))
		mu.Lock()
		numbers = append(numbers, n)
		mu.Unlock()
		numbered <- n
	})

	// alice's channel: pings out, bob's echoes back.
	peer, err := alice.mgr.Add(bobPeer)
	if err != nil {
		t.Fatal(err)
	}
	states := make(chan webrtc.PeerConnectionState, 100)
	peer.PC().OnConnectionStateChange(func(s webrtc.PeerConnectionState) { states <- s })
	dc, err := peer.PC().CreateDataChannel("chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	open := make(chan struct{})
	dc.OnOpen(func() { close(open) })
	echoes := make(chan string, 1000)
	dc.OnMessage(func(msg webrtc.DataChannelMessage) { echoes <- string(msg.Data) })
	select {
	case <-open:
	case <-time.After(wait):
		t.Fatal("the DataChannel did not open")
	}
	ping := func(i int) {
		t.Helper()
		if err := dc.SendText("ping " + strconv.Itoa(i)); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		expect(t, echoes, "echo:ping "+strconv.Itoa(i))
	}
	ping(0)

	const total = 200
	killAt := 1 + rand.IntN(total-2)
	var killed time.Time
	for n := range total {
		if n == killAt {
			c.Kill(1)
			killed = time.Now()
		}
		// alice's node stays up: each send is answered, so each is relayed.
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		_, err := alice.client.MessageSend(ctx, &api.MessageSendParams{RoomID: "lab", To: bobPeer, Data: jsontext.Value(strconv.Itoa(n))})
		cancel()
		if err != nil {
			t.Fatalf("send %d: %v", n, err)
		}
		ping(n + 1) // the channel works all along, through the outage
	}
	var at time.Time
	select {
	case at = <-resumed:
	case <-time.After(wait):
		t.Fatal("bob did not resume")
	}
	for {
		if n := receiveNumber(t, numbered); n == total-1 {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := seq(total); !slices.Equal(numbers, want) {
		t.Fatalf("bob got %d messages through signaling, not 0…%d once each in order: %v", len(numbers), total-1, numbers)
	}
	if s := bob.client.Session(); s.PeerID != bobPeer || !s.Resumed || bob.client.URL() == urls[1] {
		t.Fatalf("bob after the kill: peer %s (was %s), resumed %v, on %s (killed %s)", s.PeerID, bobPeer, s.Resumed, bob.client.URL(), urls[1])
	}
	ping(total + 1)
	for len(states) > 0 {
		if s := <-states; s != webrtc.PeerConnectionStateConnecting && s != webrtc.PeerConnectionStateConnected {
			t.Fatalf("alice's PeerConnection went %s", s)
		}
	}
	if s := peer.PC().ConnectionState(); s != webrtc.PeerConnectionStateConnected {
		t.Fatalf("alice's PeerConnection is %s", s)
	}
	t.Logf("bob's node killed at message %d; bob resumed on %s %s later; %d pings and %d messages through", killAt, bob.client.URL(), at.Sub(killed).Round(time.Microsecond), total+2, total)
}

func receiveNumber(t *testing.T, ch <-chan int) int {
	t.Helper()
	select {
	case n := <-ch:
		return n
	case <-time.After(wait):
		t.Fatal("a message through signaling is missing")
		panic("unreachable")
	}
}

// seq is 0, 1, …, n-1.
func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
