package parley_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/clients/go/parley"
)

// TestAcknowledges: the client acknowledges what it has received, so the
// server's replay buffer for its session empties once the last
// acknowledgement is out (about a second after the last message). The
// server's view is read with admin.sessions.get over POST /rpc.
func TestAcknowledges(t *testing.T) {
	const keyID, key = "ops", "ack-test-api-key-0123456789abcdefghij"
	p := devServer(t, "--api-keys", keyID+":"+key)
	alice := dial(t, p.URL(), "alice", parley.Options{})
	got := make(chan int64, 100)
	bob := dial(t, p.URL(), "bob", parley.Options{})
	bob.OnMessageReceived(func(m *api.MessageReceivedEvent) { got <- m.Seq })
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, c := range []*parley.Client{alice, bob} {
		if _, err := c.RoomJoin(ctx, &api.RoomJoinParams{RoomID: "acks", Create: true}); err != nil {
			t.Fatal(err)
		}
	}
	var last int64
	for i := range 40 {
		if _, err := alice.MessageSend(ctx, &api.MessageSendParams{RoomID: "acks", To: bob.Session().PeerID, Data: jsontext.Value(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
		last = receive(t, got, "message.received")
	}

	session := func() api.SessionInfo {
		body := `{"jsonrpc":"2.0","id":1,"method":"admin.sessions.get","params":{"sessionId":"` + bob.Session().SessionID + `"}}`
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+p.Addr+"/rpc", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(keyID, key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Result api.SessionInfo `json:"result"`
			Error  any             `json:"error"`
		}
		if err := json.UnmarshalRead(resp.Body, &out, json.RejectUnknownMembers(false)); err != nil || out.Error != nil {
			t.Fatalf("admin.sessions.get: %v %v", err, out.Error)
		}
		return out.Result
	}
	// The last acknowledgement follows the last message by about a second.
	deadline := time.Now().Add(wait)
	for info := session(); info.AckedSeq != last || info.ReplayMessages != 0; info = session() {
		if time.Now().After(deadline) {
			t.Fatalf("the server's view of bob's session: acked %d, %d replay frames (%d bytes); want %d acked, none kept", info.AckedSeq, info.ReplayMessages, info.ReplayBytes, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
