package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/redis/go-redis/v9"

	"github.com/parley-rtc/parley/api"
)

// EventLog is the cluster's events as webhook delivery and
// admin.events.list read them: the events stream (numbered by
// commit.lua) and, per webhook URL, the lease and the delivery state of
// delivery.lua. The server adapts it to webhook.Journal.
type EventLog struct{ st *Store }

// Events is the cluster's event log.
func (st *Store) Events() EventLog { return EventLog{st} }

// Read returns up to limit events after cursor after, in cursor order,
// waiting up to wait (0: not at all) for one to come.
func (l EventLog) Read(ctx context.Context, after int64, limit int, wait time.Duration) ([]api.Event, error) {
	st := l.st
	start := strconv.FormatInt(after, 10) + "-0"
	if wait <= 0 {
		msgs, err := st.rdb.XRangeN(ctx, st.p+"events", "("+start, "+", int64(limit)).Result()
		if err != nil {
			return nil, err
		}
		return decodeEvents(msgs)
	}
	streams, err := st.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{st.p + "events", start}, Count: int64(limit), Block: wait}).Result()
	if errors.Is(err, redis.Nil) || len(streams) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeEvents(streams[0].Messages)
}

// List is admin.events.list: up to limit events after cursor after,
// whether more follow, and the oldest cursor the stream keeps (0: none).
func (l EventLog) List(ctx context.Context, after int64, limit int) (events []api.Event, more bool, oldest int64, err error) {
	st := l.st
	var page, first *redis.XMessageSliceCmd
	_, err = st.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		page = p.XRangeN(ctx, st.p+"events", "("+strconv.FormatInt(after, 10)+"-0", "+", int64(limit)+1)
		first = p.XRangeN(ctx, st.p+"events", "-", "+", 1)
		return nil
	})
	if err != nil {
		return nil, false, 0, err
	}
	msgs := page.Val()
	if more = len(msgs) > limit; more {
		msgs = msgs[:limit]
	}
	if events, err = decodeEvents(msgs); err != nil {
		return nil, false, 0, err
	}
	if f := first.Val(); len(f) > 0 {
		oldest, _ = cursorOf(f[0].ID)
	}
	return events, more, oldest, nil
}

// decodeEvents decodes stream entries: the event (field e), its cursor
// (the entry id) and its roomSeq (field q).
func decodeEvents(msgs []redis.XMessage) ([]api.Event, error) {
	out := make([]api.Event, 0, len(msgs))
	for _, m := range msgs {
		raw, _ := m.Values["e"].(string)
		var ev api.Event
		if err := json.Unmarshal([]byte(raw), &ev); err != nil {
			return nil, fmt.Errorf("redisstore: event %s: %w", m.ID, err)
		}
		cursor, err := cursorOf(m.ID)
		if err != nil {
			return nil, err
		}
		ev.Data.Cursor = cursor
		q, _ := m.Values["q"].(string)
		ev.Data.RoomSeq, _ = strconv.ParseInt(q, 10, 64)
		out = append(out, ev)
	}
	return out, nil
}

func cursorOf(id string) (int64, error) {
	ms, _, _ := strings.Cut(id, "-")
	c, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redisstore: event id %q: %w", id, err)
	}
	return c, nil
}

// urlKey names a webhook URL in keys without writing it out (a URL may
// carry a credential).
func urlKey(url string) string {
	h := sha256.Sum256([]byte(url))
	return hex.EncodeToString(h[:12])
}

func (l EventLog) delivery(ctx context.Context, op, url string, args ...any) *redis.Cmd {
	st := l.st
	return deliveryScript.Run(ctx, st.rdb, nil, append([]any{st.p, op, urlKey(url), st.node}, args...)...)
}

// Start makes url's delivery start at the latest event if the cluster
// has not delivered to it before (a URL added to the configuration gets
// the events from now on, not the retained history).
func (l EventLog) Start(ctx context.Context, url string) error {
	return l.delivery(ctx, "start", url).Err()
}

// Lease takes or renews this node's right to deliver to url for ttl;
// false while another node holds it.
func (l EventLog) Lease(ctx context.Context, url string, ttl time.Duration) (bool, error) {
	n, err := l.delivery(ctx, "lease", url, ttl.Milliseconds()).Int()
	return n == 1, err
}

// Release gives up url's lease if this node holds it (a node shutting
// down), so that another takes over at once.
func (l EventLog) Release(ctx context.Context, url string) error {
	return l.delivery(ctx, "release", url).Err()
}

// Done records that this node finished (a 2xx, a give-up) the event
// cursor of key (webhook's order key) for url; false if it no longer
// holds url's lease (nothing recorded).
func (l EventLog) Done(ctx context.Context, url, key string, cursor int64) (bool, error) {
	n, err := l.delivery(ctx, "done", url, key, cursor).Int()
	return n == 1, err
}

// Low records that every event of url up to cursor is finished.
func (l EventLog) Low(ctx context.Context, url string, cursor int64) error {
	return l.delivery(ctx, "low", url, cursor).Err()
}

// Delivered is where url's delivery stands: every event up to low is
// finished, and each key's events up to done[key].
func (l EventLog) Delivered(ctx context.Context, url string) (low int64, done map[string]int64, err error) {
	res, err := l.delivery(ctx, "state", url).StringSlice()
	if err != nil {
		return 0, nil, err
	}
	if len(res) == 0 {
		return 0, nil, errors.New("redisstore: delivery state: empty answer")
	}
	low, _ = strconv.ParseInt(res[0], 10, 64)
	done = make(map[string]int64, len(res)/2)
	for i := 1; i+1 < len(res); i += 2 {
		done[res[i]], _ = strconv.ParseInt(res[i+1], 10, 64)
	}
	return low, done, nil
}
