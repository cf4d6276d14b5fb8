package redisstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/go-json-experiment/json"

	"github.com/parley-rtc/parley/server/signal"
)

// spec is a transaction as commit.lua reads it (its header documents each
// field); blobs are ARGV indexes.
type spec struct {
	ID   string `json:"id"`
	Node string `json:"node"`
	TTL  int64  `json:"ttl"`
	Gone int64  `json:"gone"`
	MN   int    `json:"mn"`
	MB   int    `json:"mb"`

	CR [][2]string `json:"cr,omitempty"`
	CI [][2]string `json:"ci,omitempty"`
	CT [][2]string `json:"ct,omitempty"`
	PR [][]any     `json:"pr,omitempty"`
	PC [][]any     `json:"pc,omitempty"`
	DR []string    `json:"dr,omitempty"`
	NL [][2]string `json:"nl,omitempty"`
	ZI [][]any     `json:"zi,omitempty"`
	PA [][2]string `json:"pa,omitempty"`
	PD [][2]string `json:"pd,omitempty"`
	TS [][2]string `json:"ts,omitempty"`
	TD []string    `json:"td,omitempty"`
	AK [][]any     `json:"ak,omitempty"`
	NT [][]any     `json:"nt,omitempty"`
	DS []string    `json:"ds,omitempty"`
	AT [][]any     `json:"at,omitempty"`
	CL [][]any     `json:"cl,omitempty"`
	EV [][]any     `json:"ev,omitempty"`
	ER int         `json:"er,omitempty"`
}

// writes reports whether the transaction has anything for Redis: a
// read-only one (a refusal, an admin view) commits without a round trip.
func (t *tx) writes() bool {
	if len(t.notes)+len(t.acks)+len(t.attaches)+len(t.closes)+len(t.timers)+len(t.fired)+len(t.changes)+len(t.events)+len(t.counts) > 0 {
		return true
	}
	for _, r := range t.recs {
		if r.dirty {
			return true
		}
	}
	for _, ops := range t.pairOps {
		if len(ops) > 0 {
			return true
		}
	}
	return false
}

// Commit runs commit.lua with the transaction, then delivers the frames
// of this node's recipients, closes and attaches this node's
// connections, and schedules the timers it set.
func (t *tx) Commit() error {
	defer t.release()
	if t.err != nil {
		return t.err
	}
	st := t.st
	if !t.writes() {
		t.detachLocal()
		return nil
	}
	if !st.leaseLive() {
		return ErrLeaseLost
	}
	args, err := t.build()
	if err != nil {
		return err
	}
	// Once sent, a commit is seen through: a caller that goes away (its
	// connection closed) must not leave this node unaware of what it
	// wrote.
	res, err := commitScript.Run(context.WithoutCancel(t.ctx), st.rdb, nil, args...).Slice()
	if err != nil {
		return fmt.Errorf("redisstore: commit: %w", err)
	}
	switch status, _ := res[0].(string); status {
	case "ok":
	case "conflict":
		st.obs.Conflict()
		return signal.ErrConflict
	case "fenced":
		st.leaseHeld.Store(false)
		return ErrLeaseLost
	default:
		return fmt.Errorf("redisstore: commit answered %v", res)
	}
	seqs, _ := res[1].([]any)
	attaches, _ := res[2].([]any)
	if len(res) > 3 {
		numbers, _ := res[3].([]any)
		t.publishEvents(numbers)
	}
	t.deliverNotes(seqs)
	for _, c := range t.closes {
		if c.local != nil {
			st.closeLocal(c.local, c.reason, c.text)
		}
	}
	t.detachLocal()
	for _, r := range t.recs {
		if r.kind == kindSession && r.dirty && r.val == nil {
			st.dropLocal(r.id, nil)
		}
	}
	for i, a := range t.attaches {
		var got []any
		if i < len(attaches) {
			got, _ = attaches[i].([]any)
		}
		s, _ := t.recs[sessionKey(a.id)].val.(*signal.Session)
		if s == nil || len(got) < 2 {
			continue
		}
		status, _ := got[0].(int64)
		first, _ := got[1].(int64)
		st.attach(a.id, a.conn, uint64(s.Gen), s.Epoch, status, first, got[2:])
	}
	now := st.cfg.Clock.Now()
	for _, op := range t.timers {
		if op.set {
			st.afterFunc(op.at.Sub(now), st.pollTimers)
		}
	}
	return nil
}

// detachLocal forgets the connections the transaction detached.
func (t *tx) detachLocal() {
	for _, id := range t.detaches {
		if r := t.recs[sessionKey(id)]; r != nil {
			gen := r.gen
			t.st.dropLocal(id, &gen)
		}
	}
}

// deliverNotes delivers the frames of this node's recipients: seqs has,
// per recipient in order, its seq (0: none; negative: its log is lost).
func (t *tx) deliverNotes(seqs []any) {
	i := 0
	for _, n := range t.notes {
		for _, id := range n.to {
			if i >= len(seqs) {
				return
			}
			seq, _ := seqs[i].(int64)
			i++
			if seq == 0 {
				continue
			}
			l := t.st.localOf(id)
			if l == nil {
				continue
			}
			if seq < 0 {
				t.st.closeLost(l)
				continue
			}
			t.st.deliver(l, seq, n.frame)
		}
	}
}

// build makes commit.lua's arguments.
func (t *tx) build() ([]any, error) {
	st := t.st
	sp := spec{
		ID:   st.node + "." + strconv.FormatUint(st.commits.Add(1), 36),
		Node: st.node, TTL: doneTTL.Milliseconds(), Gone: goneTTL.Milliseconds(),
		MN: st.cfg.ReplayMessages, MB: st.cfg.ReplayBytes,
	}
	args := make([]any, 2, 4+len(t.recs)+2*len(t.notes))
	args[0] = st.p
	blob := func(b []byte) int {
		args = append(args, b)
		return len(args) // ARGV is 1-based
	}
	for _, r := range t.recs {
		if r.read {
			sp.CR = append(sp.CR, [2]string{r.key, r.v})
		}
		if !r.dirty {
			continue
		}
		if r.val == nil {
			if r.kind == kindSession {
				sp.DS = append(sp.DS, r.id)
			} else if r.v != "" {
				sp.DR = append(sp.DR, r.key)
			}
			continue
		}
		raw, err := json.Marshal(r.val, recordOptions)
		if err != nil {
			return nil, fmt.Errorf("redisstore: encode %s: %w", r.key, err)
		}
		w := []any{r.key, blob(raw)}
		if s, ok := r.val.(*signal.Session); ok {
			state := "a"
			if s.State != signal.Attached {
				state = "d"
			}
			w = append(w, "n", s.Node, "g", strconv.FormatUint(uint64(s.Gen), 10), "st", state, "e", s.Epoch)
			if r.v == "" {
				sp.NL = append(sp.NL, [2]string{s.ID, s.Epoch})
			}
		}
		sp.PR = append(sp.PR, w)
	}
	for _, c := range t.counts {
		sp.PC = append(sp.PC, []any{c.key, c.field, c.n})
	}
	for k, r := range t.ixs {
		if checked(k.ix) {
			sp.CI = append(sp.CI, [2]string{k.field(), r.v})
		}
	}
	for k, m := range t.changes {
		adds, rems := make([]string, 0, 2*len(m)), make([]string, 0, len(m))
		for id, c := range m {
			if c.present {
				adds = append(adds, strconv.FormatInt(c.score, 10), id)
			} else {
				rems = append(rems, id)
			}
		}
		field := ""
		if checked(k.ix) {
			field = k.field()
		}
		sp.ZI = append(sp.ZI, []any{k.redisKey(), field, adds, rems})
	}
	for room, ops := range t.pairOps {
		for k, present := range ops {
			if present {
				sp.PA = append(sp.PA, [2]string{pairsKey(room), pairMember(k)})
			} else {
				sp.PD = append(sp.PD, [2]string{pairsKey(room), pairMember(k)})
			}
		}
	}
	for m, op := range t.timers {
		if op.set {
			sp.TS = append(sp.TS, [2]string{m, strconv.FormatInt(op.at.UnixMilli(), 10)})
		} else {
			sp.TD = append(sp.TD, m)
		}
	}
	for m, due := range t.fired {
		sp.CT = append(sp.CT, [2]string{m, strconv.FormatInt(due, 10)})
	}
	for _, a := range t.acks {
		sp.AK = append(sp.AK, []any{a.id, a.seq})
	}
	for _, n := range t.notes {
		sp.NT = append(sp.NT, []any{blob(n.frame.Head), blob(n.frame.Tail), n.to})
	}
	for _, a := range t.attaches {
		sp.AT = append(sp.AT, []any{a.id, a.after})
	}
	for _, c := range t.closes {
		if c.node != st.node && c.node != "" {
			sp.CL = append(sp.CL, []any{c.id, c.node, c.gen, int(c.reason), c.text})
		}
	}
	if err := t.buildEvents(&sp, blob); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(&sp)
	if err != nil {
		return nil, fmt.Errorf("redisstore: encode the transaction: %w", err)
	}
	args[1] = raw
	return args, nil
}
