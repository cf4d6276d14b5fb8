package redisstore

import (
	"cmp"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/parley-rtc/parley/server/signal"
)

// local is a session attached to this node: its connection and the last
// seq delivered to it. Frames reach it in seq order, each once, whoever
// delivers them (a commit of this node, a hint's catch-up, an attach):
// under mu, a frame is delivered only as delivered+1, and a gap is filled
// from the log first (centrifuge's merge by offset).
type local struct {
	mu        sync.Mutex
	id        string
	conn      signal.Conn
	gen       uint64
	epoch     string
	delivered int64
	gone      bool // closed, detached or replaced: nothing more
}

// closeLostText is why a connection whose log was lost closes.
const closeLostText = "the session's log was lost: resume to learn what was missed"

func (st *Store) localOf(id string) *local {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.local[id]
}

// dropLocal forgets a session's connection (detached, or the session
// ended) without closing it; gen, if set, must be the connection's.
func (st *Store) dropLocal(id string, gen *uint64) {
	st.mu.Lock()
	l := st.local[id]
	if l != nil && (gen == nil || l.gen == *gen) {
		delete(st.local, id)
	} else {
		l = nil
	}
	st.mu.Unlock()
	if l != nil {
		l.mu.Lock()
		l.gone = true
		l.mu.Unlock()
	}
}

// forget removes l from the sessions attached here, if it still is one.
// Callers hold l.mu (lock order: a local's, then the store's).
func (st *Store) forget(l *local) {
	l.gone = true
	st.mu.Lock()
	if st.local[l.id] == l {
		delete(st.local, l.id)
	}
	st.mu.Unlock()
}

// attach makes conn the session's connection here: frames (the log from
// seq first on, as the commit read it) are delivered at once, then a
// catch-up looks for frames a hint brought before the connection was here.
func (st *Store) attach(id string, conn signal.Conn, gen uint64, epoch string, status, first int64, frames []any) {
	l := &local{id: id, conn: conn, gen: gen, epoch: epoch, delivered: first - 1}
	st.mu.Lock()
	old := st.local[id]
	st.local[id] = l
	st.mu.Unlock()
	if old != nil {
		old.mu.Lock()
		old.gone = true
		old.mu.Unlock()
	}
	l.mu.Lock()
	conn.Attached()
	if status != 0 { // the log was lost (or trimmed) since the core read it
		st.closeLostLocked(l)
		l.mu.Unlock()
		return
	}
	for _, f := range frames {
		frame, _ := f.(string)
		st.push(l, l.delivered+1, []byte(frame))
	}
	l.mu.Unlock()
	st.dirty.add(id, "attach")
}

// push delivers the frame of seq (delivered+1) to l. Callers hold l.mu.
func (st *Store) push(l *local, seq int64, frame []byte) {
	l.delivered = seq
	if err := l.conn.Deliver(frame); err != nil {
		st.log.Debug("notification not queued", "session", l.id, "seq", seq, "err", err)
	}
}

// deliver delivers a frame a commit of this node appended, at seq.
func (st *Store) deliver(l *local, seq int64, frame signal.SharedFrame) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone || seq <= l.delivered {
		return
	}
	if seq > l.delivered+1 { // another commit's frame is not here yet
		st.catchUpLocked(l, "gap")
		if l.gone || seq <= l.delivered {
			return
		}
	}
	if seq != l.delivered+1 {
		st.closeLostLocked(l)
		return
	}
	st.push(l, seq, frame.At(seq))
}

// closeLost closes a connection whose log was lost: the session's resume
// answers 410, which tells the client to rejoin.
func (st *Store) closeLost(l *local) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st.closeLostLocked(l)
}

func (st *Store) closeLostLocked(l *local) {
	if l.gone {
		return
	}
	st.forget(l)
	st.log.Warn("session's log lost; its connection is closed for a resume", "session", l.id)
	l.conn.Close(signal.CloseMigrate, closeLostText)
}

// closeLocal closes a connection of this node after the frames already in
// its session's log.
func (st *Store) closeLocal(l *local, reason signal.CloseReason, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone {
		return
	}
	st.catchUpLocked(l, "close")
	if l.gone {
		return
	}
	st.forget(l)
	l.conn.Close(reason, text)
}

// logRead is one session's log as a catch-up reads it.
type logRead struct {
	l       *local
	after   int64
	meta    *redis.SliceCmd
	entries *redis.XMessageSliceCmd
}

// catchUpLocked reads l's log after what it delivered and delivers it.
// Callers hold l.mu.
func (st *Store) catchUpLocked(l *local, reason string) {
	reads := []logRead{{l: l, after: l.delivered}}
	boot, err := st.readLogs(reads)
	if err != nil {
		st.log.Debug("catch-up not read", "session", l.id, "err", err)
		return
	}
	st.applyLog(&reads[0], boot, reason)
}

// readLogs reads, in one round trip, the logs of reads after their
// positions, and Redis' boot.
func (st *Store) readLogs(reads []logRead) (string, error) {
	ctx := st.ctx
	var boot *redis.StringCmd
	_, err := st.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		boot = p.Get(ctx, st.p+"boot")
		for i := range reads {
			r := &reads[i]
			r.meta = p.HMGet(ctx, st.p+"logm:"+r.l.id, "e", "b")
			r.entries = p.XRange(ctx, st.p+"log:"+r.l.id, "("+strconv.FormatInt(r.after, 10)+"-0", "+")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", err
	}
	return cmp.Or(boot.Val(), "0"), nil
}

// applyLog delivers what a read found after l's position: in order, each
// once; a lost log or a gap closes the connection. Callers hold l.mu.
func (st *Store) applyLog(r *logRead, boot, reason string) {
	l := r.l
	if l.gone {
		return
	}
	m := r.meta.Val()
	epoch, _ := m[0].(string)
	b, _ := m[1].(string)
	if epoch != l.epoch || b != boot {
		st.closeLostLocked(l)
		return
	}
	n := 0
	for _, e := range r.entries.Val() {
		seq := streamSeq(e.ID)
		if seq <= l.delivered {
			continue
		}
		if seq != l.delivered+1 {
			st.closeLostLocked(l) // trimmed before this node read it
			return
		}
		frame, _ := e.Values["f"].(string)
		st.push(l, seq, []byte(frame))
		n++
	}
	if n > 0 {
		st.obs.CaughtUp(reason, n)
	}
}

// dirtySet holds the sessions whose log may have frames this node has not
// delivered (a hint came, or the connection to Redis came back), for the
// catch-up workers.
type dirtySet struct {
	mu     sync.Mutex
	ids    map[string]string // session → why
	wake   chan struct{}
	closed bool
}

func (d *dirtySet) init() {
	d.ids = make(map[string]string)
	d.wake = make(chan struct{}, 1)
}

func (d *dirtySet) add(id, reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	if _, ok := d.ids[id]; !ok {
		d.ids[id] = reason
	}
	d.signal()
}

// signal wakes a worker. Callers hold d.mu.
func (d *dirtySet) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// take waits for dirty sessions and takes up to n of them; false once
// closed.
func (d *dirtySet) take(n int) (map[string]string, bool) {
	for {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return nil, false
		}
		if len(d.ids) > 0 {
			out := make(map[string]string, min(n, len(d.ids)))
			for id, why := range d.ids {
				if len(out) == n {
					break
				}
				out[id] = why
				delete(d.ids, id)
			}
			if len(d.ids) > 0 {
				d.signal()
			}
			d.mu.Unlock()
			return out, true
		}
		d.mu.Unlock()
		<-d.wake
	}
}

// close wakes every worker for good.
func (d *dirtySet) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		close(d.wake)
	}
}

// dirtyAll marks every session attached here.
func (st *Store) dirtyAll(reason string) {
	for _, l := range st.locals() {
		st.dirty.add(l.id, reason)
	}
}

// locals lists the sessions attached here.
func (st *Store) locals() []*local {
	st.mu.Lock()
	defer st.mu.Unlock()
	ls := make([]*local, 0, len(st.local))
	for _, l := range st.local {
		ls = append(ls, l)
	}
	return ls
}

// catchUpBatch is how many sessions a worker catches up in one round trip.
const catchUpBatch = 128

// catchUpLoop delivers what the logs of dirty sessions hold beyond what
// was delivered.
func (st *Store) catchUpLoop() {
	defer st.wg.Done()
	for {
		batch, ok := st.dirty.take(catchUpBatch)
		if !ok {
			return
		}
		reads := make([]logRead, 0, len(batch))
		whys := make([]string, 0, len(batch))
		for id, why := range batch {
			l := st.localOf(id)
			if l == nil {
				continue
			}
			l.mu.Lock()
			after, gone := l.delivered, l.gone
			l.mu.Unlock()
			if !gone {
				reads = append(reads, logRead{l: l, after: after})
				whys = append(whys, why)
			}
		}
		if len(reads) == 0 {
			continue
		}
		boot, err := st.readLogs(reads)
		if err != nil {
			if st.ctx.Err() == nil {
				st.log.Debug("catch-up not read; again once Redis is back", "sessions", len(reads), "err", err)
			}
			continue // the reconnect (or the periodic check) marks them again
		}
		for i := range reads {
			r := &reads[i]
			r.l.mu.Lock()
			if r.l.delivered == r.after {
				st.applyLog(r, boot, whys[i])
			} else { // delivered meanwhile: read again from there
				st.dirty.add(r.l.id, whys[i])
			}
			r.l.mu.Unlock()
		}
	}
}

// hintLoop reads this node's wake-ups: "w {session} {seq}" marks a session
// dirty, "c {session} {gen} {reason} {text}" closes a connection (after
// its log). A resubscription (the connection to Redis came back) marks
// every session: hints may have been lost meanwhile.
func (st *Store) hintLoop(sub *redis.PubSub) {
	defer st.wg.Done()
	defer sub.Close()
	first := false // subscribe received the first subscription
	ch := sub.ChannelWithSubscriptions(redis.WithChannelSize(4096))
	for {
		select {
		case <-st.ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			switch m := msg.(type) {
			case *redis.Subscription:
				if !first {
					st.obs.Reconnected()
					st.dirtyAll("reconnect")
				}
				first = false
			case *redis.Message:
				st.hint(m.Payload)
			}
		}
	}
}

// hint applies one wake-up message.
func (st *Store) hint(payload string) {
	for line := range strings.SplitSeq(payload, "\n") {
		kind, rest, _ := strings.Cut(line, " ")
		switch kind {
		case "w":
			id, seq, _ := strings.Cut(rest, " ")
			if l := st.localOf(id); l != nil {
				n, _ := strconv.ParseInt(seq, 10, 64)
				l.mu.Lock()
				behind := !l.gone && l.delivered < n
				l.mu.Unlock()
				if behind {
					st.dirty.add(id, "hint")
				}
			}
		case "c":
			f := strings.SplitN(rest, " ", 4)
			if len(f) < 4 {
				continue
			}
			gen, _ := strconv.ParseUint(f[1], 10, 64)
			reason, _ := strconv.Atoi(f[2])
			if l := st.localOf(f[0]); l != nil && l.gen == gen {
				go st.closeLocal(l, signal.CloseReason(reason), f[3])
			}
		}
	}
}

// check compares (every checkEvery) the logs of the sessions attached
// here with what they were delivered: a hint lost (a full channel, a
// publish during a reconnect) delays a frame, never loses it.
func (st *Store) check() {
	ls := st.locals()
	for len(ls) > 0 {
		batch := ls[:min(len(ls), 1024)]
		ls = ls[len(batch):]
		cmds := make([]*redis.StringCmd, len(batch))
		_, err := st.rdb.Pipelined(st.ctx, func(p redis.Pipeliner) error {
			for i, l := range batch {
				cmds[i] = p.HGet(st.ctx, st.p+"logm:"+l.id, "q")
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return
		}
		for i, l := range batch {
			last, _ := strconv.ParseInt(cmds[i].Val(), 10, 64)
			l.mu.Lock()
			behind := !l.gone && l.delivered < last
			l.mu.Unlock()
			if behind {
				st.dirty.add(l.id, "check")
			}
		}
	}
}

// subscribe subscribes to this node's wake-ups before anything can be
// attached here.
func (st *Store) subscribe(ctx context.Context) (*redis.PubSub, error) {
	sub := st.rdb.Subscribe(ctx, st.p+"wake:"+st.node)
	if _, err := sub.Receive(ctx); err != nil {
		_ = sub.Close()
		return nil, err
	}
	return sub, nil
}
