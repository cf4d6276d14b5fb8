package signal

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/parley-rtc/parley/api"
)

// A session's life: attached (it has a connection) → detached (its
// connection dropped; it keeps its seats for the resume window, and its
// notifications go to its log only) → attached … → ended (its record is
// gone).

// Credentials are what authenticated a connection: an identity, and the
// grants of its token until the token expires (zero: a bare identity in
// dev mode, which never does).
type Credentials struct {
	Identity string
	Grants   Grants
	Expires  time.Time
}

// Connection is a connection taking a session: its handle for the store
// and its remote address.
type Connection struct {
	Conn   Conn
	Remote string
}

// Opened is a session as session.connect answers it.
type Opened struct {
	Ref         *Ref
	ResumeToken string
	// Replayed counts the notifications a resume delivered again.
	Replayed int64
}

// newToken makes a resume token: the store's dataset, a dot, and 43
// random characters (about 256 bits).
func (c *Core) newToken() string {
	token := NewID(43)
	if ds := c.store.Dataset(); ds != "" {
		return ds + "." + token
	}
	return token
}

// lostWith reports whether a resume token was issued by a dataset the
// store no longer holds (a Redis restarted without its data).
func (c *Core) lostWith(token string) bool {
	ds, _, ok := strings.Cut(token, ".")
	return ok && ds != c.store.Dataset()
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Open makes a fresh session for conn under the duplicate-identity policy.
func (c *Core) Open(ctx context.Context, conn Connection, cred Credentials) (*Opened, error) {
	c.drainMu.RLock()
	defer c.drainMu.RUnlock()
	if c.draining {
		return nil, c.errDraining()
	}
	now := c.now()
	token := c.newToken()
	s := &Session{
		ID: NewID(20), PeerID: NewID(12), Identity: cred.Identity,
		Node: c.cfg.Node, Gen: 1, State: Attached, Remote: conn.Remote,
		TokenHash: tokenHash(token), Grants: cred.Grants, GrantsExpire: cred.Expires,
		Epoch: NewID(8), CreatedAt: now,
	}
	err := c.update(ctx, func(t *txn) error {
		if others := t.Index(SessionsOfIdentity, cred.Identity); len(others) > 0 {
			switch c.cfg.Duplicate {
			case DuplicateReject:
				return api.ErrConflict(fmt.Sprintf("identity %q already has a session on this server (duplicate-identity policy: reject)", cred.Identity))
			case DuplicateTakeover:
				for _, id := range others {
					if old := t.Session(id); old != nil {
						c.replace(t, old)
					}
				}
			}
		}
		t.PutSession(s)
		t.Attach(s.ID, conn.Conn, 0)
		c.event(t, EventSessionStarted, sessionData(s))
		if c.cfg.RefreshEvery > 0 {
			t.SetTimer(Timer{TimerRefresh, s.ID, now.Add(c.cfg.RefreshEvery)})
		}
		c.publishPresence(t, cred.Identity) // one more device
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.sessionLog(s).Info("session connected", slog.String("remote", conn.Remote))
	return &Opened{Ref: s.ref(), ResumeToken: token}, nil
}

func (s *Session) ref() *Ref {
	return &Ref{ID: s.ID, PeerID: s.PeerID, Identity: s.Identity, Gen: uint64(s.Gen)}
}

// replace ends old for a newer session of its identity (takeover): it is
// told why, loses its seats, and its connection closes with 4008.
func (c *Core) replace(t *txn, old *Session) {
	t.Notify(old.ID, Note{api.NotifySessionReplaced, &api.SessionReplacedEvent{Reason: "a newer session of your identity connected (duplicate-identity policy: takeover)"}})
	t.CloseConn(old.ID, CloseReplaced, "replaced by a newer session of the same identity")
	c.end(t, old, api.PeerLeftReasonReplaced)
	log := c.sessionLog(old)
	t.afterCommit(func() { log.Info("session replaced") })
}

// end ends s for good: it leaves the store, its calls and every room (the
// others learn reason), and its identity's presence is published.
func (c *Core) end(t *txn, s *Session, reason api.PeerLeftReason) {
	c.endAs(t, s, reason, string(reason))
}

// endAs is end with session.ended's reason (why) told apart from the
// peers' (a connection's close reason: normal, …).
func (c *Core) endAs(t *txn, s *Session, reason api.PeerLeftReason, why string) {
	t.DeleteSession(s.ID)
	t.CancelTimer(TimerResume, s.ID)
	t.CancelTimer(TimerRefresh, s.ID)
	c.endCallsOf(t, s)
	for _, id := range t.Index(RoomsOfSession, s.ID) {
		if r := t.Room(id); r != nil {
			c.remove(t, r, s.ID, reason)
		}
	}
	for _, id := range t.Index(EmptyRoomsOfSession, s.ID) {
		if r := t.Room(id); r != nil {
			c.deleteRoom(t, r, RoomFinishedCreator)
		}
	}
	c.publishPresence(t, s.Identity)
	c.sessionEnded(t, s, why)
}

// ConnEnded runs when the connection that carried ref has closed: the
// session is detached for the resume window if resumable (the network or
// the client's reading failed; see server.resumable), or ended. why is
// the close reason, for the log. An error is the store's (Redis
// unreachable): the caller tries again, or the session would stay
// attached to a connection that is gone.
func (c *Core) ConnEnded(ctx context.Context, ref *Ref, resumable bool, why string) error {
	return c.update(ctx, func(t *txn) error {
		s := t.Session(ref.ID)
		if s == nil || uint64(s.Gen) != ref.Gen || s.State != Attached {
			return nil // resumed on another connection, replaced, or already ended
		}
		log := c.sessionLog(s)
		t.Detach(s.ID)
		if !resumable {
			c.endAs(t, s, api.PeerLeftReasonDisconnected, why)
			t.afterCommit(func() { log.Info("session ended", slog.String("reason", why)) })
			return nil
		}
		c.detach(t, s)
		t.afterCommit(func() {
			log.Info("session detached; resumable", slog.String("reason", why), slog.Duration("window", c.cfg.Limits.ResumeWindow))
		})
		return nil
	})
}

// The caps that end a detached session early, as the Observer names them.
const (
	CapAddress  = "address"
	CapIdentity = "identity"
)

// detach starts s's resume window, counted from now (when the drop is
// noticed, not from the client's last activity), tells its rooms it is
// reconnecting, and ends the oldest detached sessions of its address and
// identity beyond their caps: dropping connections on purpose must not
// escape the caps on connections (issue 16).
func (c *Core) detach(t *txn, s *Session) {
	now := c.now()
	s.State, s.DetachedAt = Detached, now
	t.PutSession(s)
	t.SetTimer(Timer{TimerResume, s.ID, now.Add(c.cfg.Limits.ResumeWindow)})
	c.setPeerState(t, s, api.PeerStateReconnecting)
	l := c.cfg.Limits
	for _, over := range []struct {
		ix       Index
		key, cap string
		max      int
	}{{DetachedOfAddress, s.Remote, CapAddress, l.MaxDetachedPerIP}, {DetachedOfIdentity, s.Identity, CapIdentity, l.MaxDetachedPerIdentity}} {
		if t.Len(over.ix, over.key) <= over.max {
			continue // the common case, without sorting the cap's sessions
		}
		list := t.Index(over.ix, over.key)
		for _, id := range list[:max(len(list)-over.max, 0)] {
			if old := t.Session(id); old != nil {
				c.endDetached(t, old, over.cap)
			}
		}
	}
}

// endDetached ends a detached session before its window passes: cap names
// the cap it was over. Its peers see it time out.
func (c *Core) endDetached(t *txn, s *Session, cap string) {
	c.end(t, s, api.PeerLeftReasonTimeout)
	log := c.sessionLog(s)
	t.afterCommit(func() {
		c.obs.DetachedEnded(cap)
		log.Info("resumable session ended early: its "+cap+" holds its cap of dropped sessions", slog.String("remote", s.Remote))
	})
}

// expireSession ends a session that did not resume within its window.
func (c *Core) expireSession(t *txn, id string) {
	s := t.Session(id)
	if s == nil || s.State != Detached {
		return
	}
	c.end(t, s, api.PeerLeftReasonTimeout)
	log := c.sessionLog(s)
	t.afterCommit(func() { log.Info("session ended: resume window passed") })
}

// DetachedFrom counts the detached sessions of an address.
func (c *Core) DetachedFrom(ctx context.Context, remote string) (n int) {
	_ = c.update(ctx, func(t *txn) error {
		n = t.Len(DetachedOfAddress, remote)
		return nil
	})
	return n
}

// EndOldestDetached ends the oldest detached session of an address, for a
// new connection that found the address at its connection cap.
func (c *Core) EndOldestDetached(ctx context.Context, remote string) {
	_ = c.update(ctx, func(t *txn) error {
		if list := t.Index(DetachedOfAddress, remote); len(list) > 0 {
			if s := t.Session(list[0]); s != nil {
				c.endDetached(t, s, CapAddress)
			}
		}
		return nil
	})
}

// Resumption is session.connect with resume: the session, the token that
// proves it, the last seq the client processed, and the credentials given
// beside it (Identity "" if none; Fresh nil unless a token renews the
// grants).
type Resumption struct {
	Params   api.ResumeParams
	Identity string
	Fresh    *Credentials
}

// Resume restores a detached (or not yet detached) session on conn: the
// log after lastSeq is replayed, the resume token rotates, and the peers
// that saw it reconnecting see it connected. Once the session's token has
// expired, a resume needs a fresh one.
func (c *Core) Resume(ctx context.Context, conn Connection, r Resumption) (*Opened, error) {
	// A single draining node still serves its sessions until the
	// deadline, so a dropped one may come back; in a cluster they resume
	// on another node.
	if c.cfg.Cluster {
		c.drainMu.RLock()
		draining := c.draining
		c.drainMu.RUnlock()
		if draining {
			return nil, c.errDraining()
		}
	}
	p := r.Params
	token := c.newToken()
	var out *Opened
	var gap error
	err := c.update(ctx, func(t *txn) error {
		gap = nil
		s := t.Session(p.SessionID)
		if s == nil {
			if c.lostWith(p.ResumeToken) {
				return api.ErrResumeGap("the cluster's state was lost with its store (a Redis restarted without its data); connect without resume and rejoin with rejoin: true")
			}
			return api.ErrSessionNotFound(fmt.Sprintf("session %q does not exist or its resume window has passed; connect without resume", p.SessionID))
		}
		if subtle.ConstantTimeCompare(tokenHash(p.ResumeToken), s.TokenHash) != 1 {
			return api.ErrUnauthenticated("resume.resumeToken does not match the session's latest resume token")
		}
		if r.Identity != "" && r.Identity != s.Identity {
			return api.ErrForbidden(fmt.Sprintf("session %q belongs to another identity", p.SessionID))
		}
		if r.Fresh == nil && s.expired(c.now()) {
			return api.ErrUnauthenticated(fmt.Sprintf("the session's token expired at %s: resume with a fresh token (token beside resume)", s.GrantsExpire.UTC().Format(time.RFC3339)))
		}
		// A lost log (its epoch is not the session's) cannot say what the
		// client missed, so it is a gap whatever lastSeq says.
		log := t.Log(s.ID)
		lost := log.Epoch != s.Epoch
		if p.LastSeq > log.Last && !lost {
			return api.ErrBadRequest(fmt.Sprintf("resume.lastSeq %d is ahead of the session's latest seq %d", p.LastSeq, log.Last))
		}
		if lost || !log.Since(p.LastSeq) {
			t.CloseConn(s.ID, CloseReplaced, "session ended by a resume gap")
			c.end(t, s, api.PeerLeftReasonDisconnected)
			missed := fmt.Sprintf("the oldest kept is %d of %d", log.First, log.Last)
			if lost {
				missed = "the session's log was lost"
			}
			gap = api.ErrResumeGap(fmt.Sprintf("notifications after seq %d are no longer buffered (%s); connect without resume and rejoin with rejoin: true", p.LastSeq, missed))
			return nil
		}
		if s.State == Attached {
			t.CloseConn(s.ID, CloseReplaced, "session resumed on another connection")
		}
		wasDetached := s.State == Detached
		s.State, s.Remote, s.Node, s.DetachedAt = Attached, conn.Remote, c.cfg.Node, time.Time{}
		s.Gen++
		s.TokenHash = tokenHash(token)
		if r.Fresh != nil {
			s.Grants, s.GrantsExpire = r.Fresh.Grants, r.Fresh.Expires
		}
		t.PutSession(s)
		t.CancelTimer(TimerResume, s.ID)
		t.Attach(s.ID, conn.Conn, p.LastSeq)
		if wasDetached {
			c.setPeerState(t, s, api.PeerStateConnected)
		}
		out = &Opened{Ref: s.ref(), ResumeToken: token, Replayed: log.Last - p.LastSeq}
		sl := c.sessionLog(s)
		t.afterCommit(func() {
			sl.Info("session resumed", slog.Int64("lastSeq", p.LastSeq), slog.Int64("replayed", out.Replayed), slog.String("remote", conn.Remote))
		})
		return nil
	})
	if err == nil {
		err = gap
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Ack lets the log go of what the client has processed (session.ack).
func (c *Core) Ack(ctx context.Context, ref *Ref, seq int64) error {
	return c.update(ctx, func(t *txn) error {
		if _, err := c.caller(t, ref); err != nil {
			return err
		}
		if last := t.Log(ref.ID).Last; seq > last {
			return api.ErrBadRequest(fmt.Sprintf("seq %d is ahead of the session's latest seq %d", seq, last))
		}
		t.Ack(ref.ID, seq)
		return nil
	})
}

// refreshICE pushes fresh ICE servers to a session (kept in its log while
// it is detached) and sets the next refresh.
func (c *Core) refreshICE(t *txn, id string) {
	s := t.Session(id)
	if s == nil || c.cfg.ICEServers == nil {
		return
	}
	servers, expires := c.cfg.ICEServers(s.Identity)
	t.Notify(id, Note{api.NotifyIceServersRefreshed, &api.IceServersRefreshedEvent{ICEServers: servers, ExpiresAt: expires}})
	t.SetTimer(Timer{TimerRefresh, id, c.now().Add(c.cfg.RefreshEvery)})
}

// Drain takes this node out of service: session.connect refuses new
// sessions with 503 (retryAfterMs: the time left), and every session of
// this node gets session.draining once. It returns how many did. On a
// single node resumes still work; in a cluster the notification says
// resumeElsewhere, and the caller closes the connections with 4307 so
// that their sessions resume on other nodes (resumes here are refused).
func (c *Core) Drain(ctx context.Context, deadline time.Time, retryAfter time.Duration) (int, error) {
	c.drainMu.Lock()
	defer c.drainMu.Unlock()
	c.draining, c.deadline = true, deadline
	var n int
	err := c.update(ctx, func(t *txn) error {
		ids := t.Index(SessionsOfNode, c.cfg.Node)
		n = len(ids)
		ev := &api.SessionDrainingEvent{Deadline: deadline.UnixMilli(), RetryAfterMs: retryAfter.Milliseconds(), ResumeElsewhere: c.cfg.Cluster}
		t.Broadcast(ids, Note{api.NotifySessionDraining, ev})
		return nil
	})
	return n, err
}

// errDraining refuses a new session on a draining node.
func (c *Core) errDraining() error {
	e := api.ErrDraining(fmt.Sprintf("this node is draining until %s; connect again later", c.deadline.UTC().Format(time.RFC3339)))
	e.Data.(*api.ErrorData).RetryAfterMs = max(c.deadline.Sub(c.now()).Milliseconds(), 0) + 1
	return e
}

// Shutdown closes every room (room.closed with reason) and ends every
// session of this node: no resume window outlives a single node. A node
// of a cluster hands its sessions over instead (Reap of itself): they are
// detached, their connections closed with 4307, and they resume on other
// nodes; the rooms live on.
func (c *Core) Shutdown(ctx context.Context, reason string) error {
	if c.cfg.Cluster {
		_, err := c.Reap(ctx, c.cfg.Node)
		return err
	}
	return c.update(ctx, func(t *txn) error {
		for _, id := range t.Index(RoomsAll, "") {
			if r := t.Room(id); r != nil {
				c.closeRoom(t, r, reason)
			}
		}
		for _, id := range t.Index(SessionsOfNode, c.cfg.Node) {
			if s := t.Session(id); s != nil {
				c.end(t, s, api.PeerLeftReasonClosed)
			}
		}
		return nil
	})
}

// reapBatch bounds the sessions one transaction of Reap detaches: each
// reads its rooms and caps, and a big transaction conflicts more.
const reapBatch = 32

// Reap detaches the sessions attached to node, a node that left the
// cluster (its lease lapsed: it died, or lost Redis; or this node, shutting
// down): each as if its connection had dropped (peers see reconnecting,
// its resume window starts), its generation bumped so that whatever the
// node still has in flight writes nothing, and its connection, if this
// node holds it, closed with 4307. It runs in batches and returns how many
// it detached.
func (c *Core) Reap(ctx context.Context, node string) (int, error) {
	total := 0
	seen := make(map[string]bool) // read in a committed batch: not again
	for {
		n := 0
		var read []string
		err := c.update(ctx, func(t *txn) error {
			n, read = 0, read[:0]
			for _, id := range t.Index(SessionsOfNode, node) {
				if seen[id] {
					continue
				}
				read = append(read, id)
				s := t.Session(id)
				if s == nil || s.State != Attached || s.Node != node {
					continue
				}
				s.Gen++
				t.CloseConn(s.ID, CloseMigrate, "this node is leaving the cluster: resume on another node")
				c.detach(t, s)
				if n++; n == reapBatch {
					break
				}
			}
			return nil
		})
		for _, id := range read {
			seen[id] = true
		}
		if n > 0 && err == nil {
			total += n
			c.obs.Reaped(n)
		}
		if err != nil || n < reapBatch {
			if total > 0 {
				c.log.Info("sessions handed over", "node", node, "sessions", total)
			}
			return total, err
		}
	}
}

// Unconnected lists the sessions the store holds as attached to this
// node whose connection is not here (connected false): their connection's
// end could not be written (Redis was away), or they attached a moment
// ago. A caller that finds one twice, some time apart, ends its
// connection (ConnEnded).
func (c *Core) Unconnected(ctx context.Context, connected func(session string) bool) (out []Ref, err error) {
	err = c.update(ctx, func(t *txn) error {
		out = out[:0]
		for _, id := range t.Index(SessionsOfNode, c.cfg.Node) {
			if connected(id) {
				continue
			}
			if s := t.Session(id); s != nil && s.State == Attached && s.Node == c.cfg.Node {
				out = append(out, *s.ref())
			}
		}
		return nil
	})
	return out, err
}

// Sessions counts this node's sessions.
func (c *Core) Sessions(ctx context.Context) (n int) {
	_ = c.update(ctx, func(t *txn) error {
		n = t.Len(SessionsOfNode, c.cfg.Node)
		return nil
	})
	return n
}

// SessionsOf lists identity's sessions (attached or detached).
func (c *Core) SessionsOf(ctx context.Context, identity string) (ids []string) {
	_ = c.update(ctx, func(t *txn) error {
		ids = t.Index(SessionsOfIdentity, identity)
		return nil
	})
	return slices.Clip(ids)
}
