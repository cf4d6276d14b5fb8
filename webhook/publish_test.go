package webhook

import (
	"sync"
	"time"

	"github.com/parley-rtc/parley/api"
)

// The event types the tests publish (package signal has them all).
const (
	SessionStarted = "session.started"
	PeerJoined     = "peer.joined"
	PeerLeft       = "peer.left"
)

// numbering is what a signaling store keeps to number events: one cursor,
// a roomSeq per room.
type numbering struct {
	cursor  int64
	roomSeq map[string]int64
}

var (
	numbersMu sync.Mutex
	numbers   = map[*Dispatcher]*numbering{}
)

// publish numbers an event as a store would (per dispatcher) and
// publishes it to d.
func publish(d *Dispatcher, typ string, data api.EventData) {
	numbersMu.Lock()
	n := numbers[d]
	if n == nil {
		n = &numbering{cursor: time.Now().UnixMicro(), roomSeq: map[string]int64{}}
		numbers[d] = n
	}
	n.cursor++
	data.Cursor = n.cursor
	if data.RoomID != "" {
		n.roomSeq[data.RoomID]++
		data.RoomSeq = n.roomSeq[data.RoomID]
	}
	numbersMu.Unlock()
	d.Publish(api.Event{Type: typ, Timestamp: time.Now().UTC().Format(time.RFC3339Nano), Data: data})
}
