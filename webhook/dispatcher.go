package webhook

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/parley-rtc/parley/api"
)

// Dispatcher keeps the latest events for List and queues each for every
// configured URL. The events come numbered (cursor, roomSeq) by the
// signaling store's commit, in commit order: on one node, through
// Publish.
type Dispatcher struct {
	cfg       Config
	secrets   []Secret
	log       *slog.Logger
	now       func() time.Time
	client    *http.Client
	endpoints []*endpoint
	stats     counters
	ctx       context.Context
	cancel    context.CancelFunc
	workers   sync.WaitGroup

	mu     sync.Mutex
	kept   []api.Event // the retained log, a ring of cfg.Retain (values: no object of its own per event)
	next   int         // where the next message goes in kept
	closed bool
}

// message is one event, encoded once for every URL.
type message struct {
	event api.Event
	id    string // webhook-id: msg_<cursor>, the same for every attempt
	key   string // what orders it: its room, else its session
	at    time.Time
	body  []byte
}

// New checks cfg and starts the delivery workers of each URL.
func New(cfg Config) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Dispatcher{
		cfg:    cfg,
		log:    cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		now:    time.Now,
		client: cfg.Client,
		kept:   make([]api.Event, 0, min(cfg.Retain, 1024)),
	}
	for _, s := range cfg.Secrets {
		key, _ := ParseSecret(s) // checked by Validate
		d.secrets = append(d.secrets, key)
	}
	if d.client == nil {
		d.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	for _, u := range cfg.URLs {
		e := newEndpoint(d, u)
		d.endpoints = append(d.endpoints, e)
		if j := cfg.Journal; j != nil {
			if err := startURL(j, u); err != nil {
				d.Close()
				return nil, err
			}
			e.finished = e.recorder(j)
			d.workers.Go(func() { e.follow(j) })
		}
		for range cfg.Concurrency {
			d.workers.Add(1)
			go func() {
				defer d.workers.Done()
				e.work()
			}()
		}
	}
	return d, nil
}

// Publish keeps a numbered event and queues it for every URL. It never
// blocks: the signaling store calls it as it commits.
func (d *Dispatcher) Publish(ev api.Event) {
	var m *message
	if len(d.endpoints) > 0 { // encoded only for a URL to send it to
		if m = d.message(ev); m == nil {
			return
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.keep(ev)
	for _, e := range d.endpoints {
		e.enqueue(m)
	}
}

// message encodes an event once for every URL (nil if it cannot be).
func (d *Dispatcher) message(ev api.Event) *message {
	at, err := time.Parse(time.RFC3339Nano, ev.Timestamp)
	if err != nil {
		at = d.now()
	}
	m := &message{event: ev, id: fmt.Sprintf("msg_%d", ev.Data.Cursor), key: orderKey(&ev.Data), at: at}
	if m.body, err = json.Marshal(&m.event); err != nil { // plain strings and integers: cannot happen
		d.log.Error("webhook: event not encoded", "type", ev.Type, "err", err)
		return nil
	}
	return m
}

// orderKey is what orders an event's delivery: its room, else its
// session.
func orderKey(d *api.EventData) string {
	if d.RoomID != "" {
		return "room/" + d.RoomID
	}
	return "session/" + d.SessionID
}

// keep adds ev to the retained log, over the oldest once it is full.
func (d *Dispatcher) keep(ev api.Event) {
	if len(d.kept) < d.cfg.Retain {
		d.kept = append(d.kept, ev)
		return
	}
	d.kept[d.next] = ev
	d.next = (d.next + 1) % d.cfg.Retain
}

// List returns up to limit retained events with a cursor above after, in
// cursor order, whether more follow, and the oldest retained cursor (0 if
// none).
func (d *Dispatcher) List(after int64, limit int) (events []api.Event, more bool, oldest int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := len(d.kept)
	if n == 0 {
		return []api.Event{}, false, 0
	}
	// kept is a ring: the i-th oldest is at (d.next+i) % n (next is 0
	// until it is full).
	at := func(i int) *api.Event { return &d.kept[(d.next+i)%n] }
	first := sort.Search(n, func(i int) bool { return at(i).Data.Cursor > after })
	end := min(n, first+limit)
	events = make([]api.Event, 0, end-first)
	for i := first; i < end; i++ {
		events = append(events, *at(i))
	}
	return events, end < n, at(0).Data.Cursor
}

// Close stops delivery: attempts under way are abandoned, queued events
// dropped (they stay in the log until the process ends; in a cluster, in
// the journal, and the URLs this node delivered are released at once for
// another node to carry on).
func (d *Dispatcher) Close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	for _, e := range d.endpoints {
		e.close()
	}
	d.workers.Wait()
	if j := d.cfg.Journal; j != nil {
		for _, e := range d.endpoints {
			ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
			if err := j.Release(ctx, e.url); err != nil {
				d.log.Debug("webhook: URL not released", "url", e.url, "err", err)
			}
			cancel()
		}
	}
}
