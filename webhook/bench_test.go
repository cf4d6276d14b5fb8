package webhook

import (
	"fmt"
	"testing"

	"github.com/parley-rtc/parley/api"
)

// BenchmarkPublish is what the signaling core pays per event: numbering,
// encoding, the retained log and one queue (a receiver that holds every
// delivery, so the queue stays full and drops its oldest).
func BenchmarkPublish(b *testing.B) {
	hold := make(chan struct{})
	r := &recorder{hold: hold}
	c := testConfig(serve(b, r))
	c.QueueSize = 1000
	d, err := New(c)
	if err != nil {
		b.Fatal(err)
	}
	rooms := make([]string, 64)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("room-%d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		publish(d, PeerJoined, api.EventData{RoomID: rooms[i%len(rooms)], SessionID: "s", PeerID: "p", Identity: "alice"})
	}
	b.StopTimer()
	close(hold)
	d.Close()
}
