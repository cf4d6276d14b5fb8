package signal

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/parley-rtc/parley/api"
)

// Paging bounds of admin.sessions.list.
const (
	defaultSessionPage = 100
	maxSessionPage     = 1000
)

// SessionPage pages through the sessions (identity's, if not ""), by id,
// after the id after.
func (c *Core) SessionPage(ctx context.Context, identity, after string, limit int) (*api.SessionListResult, error) {
	limit = min(cmp.Or(limit, defaultSessionPage), maxSessionPage)
	out := &api.SessionListResult{}
	err := c.update(ctx, func(t *txn) error {
		ids := t.Index(SessionsAll, "")
		if identity != "" {
			ids = t.Index(SessionsOfIdentity, identity)
		}
		slices.Sort(ids)
		start, _ := slices.BinarySearchFunc(ids, after, func(id, after string) int {
			if id <= after {
				return -1
			}
			return 1
		})
		page := ids[start:min(len(ids), start+limit)]
		prefetchSessions(t, page, true)
		out.Sessions, out.More = make([]api.SessionInfo, 0, len(page)), start+limit < len(ids)
		for _, id := range page {
			if s := t.Session(id); s != nil {
				out.Sessions = append(out.Sessions, c.sessionInfo(t, s))
			}
		}
		return nil
	})
	for i := range out.Sessions {
		c.addQueue(&out.Sessions[i])
	}
	return out, err
}

// SessionInfo describes one session.
func (c *Core) SessionInfo(ctx context.Context, id string) (*api.SessionInfo, error) {
	var out *api.SessionInfo
	err := c.update(ctx, func(t *txn) error {
		s := t.Session(id)
		if s == nil {
			return api.ErrSessionNotFound(fmt.Sprintf("no session %q on this node", id))
		}
		info := c.sessionInfo(t, s)
		out = &info
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.addQueue(out)
	return out, nil
}

// prefetchSessions has the store read sessions (and their logs) together.
func prefetchSessions(t *txn, ids []string, logs bool) {
	if !t.prefetches() || len(ids) == 0 {
		return
	}
	wants := make([]Want, 0, 2*len(ids))
	for _, id := range ids {
		wants = append(wants, Want{Kind: WantSession, ID: id})
		if logs {
			wants = append(wants, Want{Kind: WantLog, ID: id})
		}
	}
	t.prefetch(wants...)
}

// prefetchRooms has the store read rooms together.
func prefetchRooms(t *txn, ids []string) {
	if !t.prefetches() || len(ids) == 0 {
		return
	}
	wants := make([]Want, len(ids))
	for i, id := range ids {
		wants[i] = Want{Kind: WantRoom, ID: id}
	}
	t.prefetch(wants...)
}

// queueLen is what rpc.Conn (behind the server's adapter) tells of its
// outbound queue.
type queueLen interface{ QueueLen() (messages, bytes int) }

// sessionInfo describes s to an admin.
func (c *Core) sessionInfo(t *txn, s *Session) api.SessionInfo {
	info := api.SessionInfo{SessionID: s.ID, PeerID: s.PeerID, Identity: s.Identity, State: api.SessionStateConnected}
	if s.State != Attached {
		info.State = api.SessionStateReconnecting
	} else {
		info.Remote = s.Remote
	}
	info.Rooms = t.Index(RoomsOfSession, s.ID)
	slices.Sort(info.Rooms)
	log := t.Log(s.ID)
	info.LastSeq, info.AckedSeq = log.Last, log.Acked
	info.ReplayMessages, info.ReplayBytes = int64(log.Len), int64(log.Bytes)
	return info
}

// addQueue adds what the session's connection on this node has queued
// (outside the transaction: Store.Conn).
func (c *Core) addQueue(info *api.SessionInfo) {
	if q, ok := c.store.Conn(info.SessionID).(queueLen); ok {
		messages, bytes := q.QueueLen()
		info.QueueMessages, info.QueueBytes = int64(messages), int64(bytes)
	}
}

// Counts are the gauges of this node's sessions: by state, and what their
// logs hold.
type Counts struct {
	Attached, Detached        int
	ReplayFrames, ReplayBytes int
}

// Count reads them.
func (c *Core) Count(ctx context.Context) (n Counts) {
	_ = c.update(ctx, func(t *txn) error {
		n = Counts{}
		ids := t.Index(SessionsOfNode, c.cfg.Node)
		prefetchSessions(t, ids, true)
		for _, id := range ids {
			s := t.Session(id)
			if s == nil {
				continue
			}
			if s.State == Attached {
				n.Attached++
			} else {
				n.Detached++
			}
			log := t.Log(id)
			n.ReplayFrames += log.Len
			n.ReplayBytes += log.Bytes
		}
		return nil
	})
	return n
}
