package memstore

import (
	"time"

	"github.com/parley-rtc/parley/server/signal"
)

// eventNumbers numbers events as they commit: the cursor counts every
// event, a room's roomSeq its events until its last.
type eventNumbers struct {
	cursor  int64
	roomSeq map[string]int64
}

// newEventNumbers starts the cursor at the start time in microseconds, so
// that cursors keep growing across restarts while events come slower than
// one a microsecond on average (see api.EventData's cursor).
func newEventNumbers(start time.Time) eventNumbers {
	return eventNumbers{cursor: start.UnixMicro(), roomSeq: make(map[string]int64)}
}

// Event numbers e and hands it to the sink at once: a memory transaction
// always commits (there is no rollback), and one transaction at a time
// makes the sink's order the commit order.
func (t *tx) Event(e signal.AppEvent) {
	n := &t.st.events
	n.cursor++
	e.Data.Cursor = n.cursor
	if room := e.Data.RoomID; room != "" {
		n.roomSeq[room]++
		e.Data.RoomSeq = n.roomSeq[room]
		if e.Last {
			delete(n.roomSeq, room)
		}
	}
	if t.st.cfg.Events != nil {
		t.st.cfg.Events.Publish(e.Event)
	}
}
