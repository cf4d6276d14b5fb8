package redisstore

import (
	"fmt"

	"github.com/go-json-experiment/json"

	"github.com/parley-rtc/parley/server/signal"
)

// Events for app backends are numbered in the commit script, inside the
// commit that makes them happen (commit.lua, field ev): INCR evc is the
// cursor, HINCRBY evq {room} the room's roomSeq, and XADD appends the
// event to one stream, events, whose entry ids are the cursors. So the
// cluster's events are in the order of its state changes, whichever
// nodes made them; a delivering node reads them from the stream (see
// EventLog).

// defaultEventRetain bounds the events stream when StoreConfig gives no
// EventRetain.
const defaultEventRetain = 10_000

// Event keeps an event for the commit.
func (t *tx) Event(e signal.AppEvent) { t.events = append(t.events, e) }

// buildEvents adds the transaction's events to commit.lua's arguments.
func (t *tx) buildEvents(sp *spec, blob func([]byte) int) error {
	if len(t.events) == 0 {
		return nil
	}
	sp.ER = t.st.cfg.EventRetain
	if sp.ER <= 0 {
		sp.ER = defaultEventRetain
	}
	for i := range t.events {
		e := &t.events[i]
		raw, err := json.Marshal(&e.Event)
		if err != nil {
			return fmt.Errorf("redisstore: encode event %s: %w", e.Type, err)
		}
		last := 0
		if e.Last {
			last = 1
		}
		sp.EV = append(sp.EV, []any{blob(raw), e.Data.RoomID, last})
	}
	return nil
}

// publishEvents hands the committed events, numbered as the script
// answered ({cursor, roomSeq} each), to StoreConfig.Events (the scenario
// suite's; a cluster's server delivers from the stream instead).
func (t *tx) publishEvents(numbers []any) {
	sink := t.st.cfg.Events
	if sink == nil {
		return
	}
	for i, n := range numbers {
		pair, _ := n.([]any)
		if i >= len(t.events) || len(pair) < 2 {
			return
		}
		ev := t.events[i].Event
		ev.Data.Cursor, _ = pair[0].(int64)
		ev.Data.RoomSeq, _ = pair[1].(int64)
		sink.Publish(ev)
	}
}
