package server

import (
	"crypto/subtle"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
)

// The duplicate-identity policies: what a fresh session.connect does when
// its identity already has a session (attached, or detached within its
// resume window). A resume is never a duplicate.
const (
	// DuplicateMulti lets an identity hold several sessions (devices): a
	// call forks to all of them, presence lists them.
	DuplicateMulti = "multi"
	// DuplicateTakeover ends the older sessions: they get session.replaced,
	// their seats go (room.peerLeft reason replaced) and their connections
	// close with 4008.
	DuplicateTakeover = "takeover"
	// DuplicateReject refuses the new session with 409.
	DuplicateReject = "reject"
)

// registry knows every live session by id and by identity, and owns their
// lifecycle (attached → detached → attached … → ended). Lock order:
// registry.mu, then hub.mu, then session.mu; the hub never takes
// registry.mu.
type registry struct {
	mu         sync.Mutex
	byID       map[string]*session
	byIdentity map[string][]*session
	detached   detachedSessions // detached.go
	pres       presenceState    // presence.go
}

func newRegistry() *registry {
	return &registry{byID: make(map[string]*session), byIdentity: make(map[string][]*session)}
}

// sessionsOf lists identity's live sessions (attached or detached).
func (r *registry) sessionsOf(identity string) []*session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.byIdentity[identity])
}

func (r *registry) addLocked(sess *session) {
	r.byID[sess.id] = sess
	r.byIdentity[sess.identity] = append(r.byIdentity[sess.identity], sess)
}

func (r *registry) removeLocked(sess *session) {
	delete(r.byID, sess.id)
	list := slices.DeleteFunc(r.byIdentity[sess.identity], func(o *session) bool { return o == sess })
	if len(list) == 0 {
		delete(r.byIdentity, sess.identity)
	} else {
		r.byIdentity[sess.identity] = list
	}
}

// openSession makes a fresh session for st under the duplicate-identity
// policy and registers it.
func (s *Server) openSession(st *connState, identity string, grants *sessionGrants) (*session, error) {
	l := s.cfg.Limits
	sess := &session{
		id:          newID(20),
		peerID:      newID(12),
		identity:    identity,
		remote:      st.remote,
		resumeToken: newID(43),
		clock:       s.now,
		conn:        st.conn,
		rooms:       make(map[string]*room),
		replay:      replayBuffer{maxFrames: l.ReplayMessages, maxBytes: l.ReplayBytes},
	}
	sess.held.Store(grants)
	sess.log = s.log.With("session", sess.id, "peer", sess.peerID, "identity", identity)
	reg := s.reg
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if st.sess.Load() != nil {
		return nil, api.ErrConflict("this connection already has a session")
	}
	if s.draining.Load() { // under reg.mu: see Drain
		return nil, s.errDraining()
	}
	if others := reg.byIdentity[identity]; len(others) > 0 {
		switch s.cfg.DuplicateIdentity {
		case DuplicateReject:
			return nil, api.ErrConflict(fmt.Sprintf("identity %q already has a session on this server (duplicate-identity policy: reject)", identity))
		case DuplicateTakeover:
			for _, old := range slices.Clone(others) {
				s.replaceLocked(old)
			}
		}
	}
	reg.addLocked(sess)
	st.sess.Store(sess)
	s.publishPresenceLocked(identity) // one more device
	return sess, nil
}

// replaceLocked ends old for a newer session of its identity (takeover):
// it is told why, loses its seats, and its connection closes with 4008.
func (s *Server) replaceLocked(old *session) {
	_ = api.SendSessionReplaced(old, &api.SessionReplacedEvent{Reason: "a newer session of your identity connected (duplicate-identity policy: takeover)"})
	if conn := s.endLocked(old, api.PeerLeftReasonReplaced); conn != nil {
		conn.Close(rpc.CloseReplaced, "replaced by a newer session of the same identity")
	}
	old.log.Info("session replaced")
}

// endLocked ends sess for good: it leaves the registry and every room (the
// others learn reason), and its connection, if any, is returned for the
// caller to close. registry.mu must be held.
func (s *Server) endLocked(sess *session, reason api.PeerLeftReason) *rpc.Conn {
	if sess.state == sessionEnded {
		return nil
	}
	if sess.state == sessionDetached {
		s.reg.detached.remove(sess)
	}
	sess.state = sessionEnded
	if sess.window != nil {
		sess.window.Stop()
		sess.window = nil
	}
	if sess.refresh != nil {
		sess.refresh.Stop()
		sess.refresh = nil
	}
	s.reg.removeLocked(sess)
	s.hub.endCallsOf(sess)
	s.hub.leaveAll(sess, reason)
	s.presenceSessionEndedLocked(sess)
	sess.mu.Lock()
	conn := sess.conn
	sess.conn = nil
	sess.replay = replayBuffer{}
	sess.mu.Unlock()
	return conn
}

// resumable reports whether a connection that ended for reason may be
// resumed: the network or the client's reading failed, not the client
// saying goodbye (a normal close or going away ends the session) nor the
// server refusing it.
func resumable(reason rpc.CloseReason) bool {
	switch reason {
	case rpc.ClosePeerGone, rpc.ClosePingTimeout, rpc.CloseSlowConsumer, rpc.CloseWriteTimeout, rpc.CloseInternal:
		return true
	}
	return false
}

// connEnded runs when conn, which carried sess, has closed: the session is
// detached for the resume window, or ended.
func (s *Server) connEnded(sess *session, conn *rpc.Conn, reason rpc.CloseReason) {
	reg := s.reg
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if sess.state != sessionAttached || sess.currentConn() != conn {
		return // resumed on another connection, replaced, or already ended
	}
	if !resumable(reason) || s.closing.Load() {
		s.endLocked(sess, api.PeerLeftReasonDisconnected)
		sess.log.Info("session ended", "reason", reason.String())
		return
	}
	sess.mu.Lock()
	sess.conn = nil
	sess.mu.Unlock()
	sess.state = sessionDetached
	// The window counts from now, when the drop is noticed, not from the
	// client's last activity.
	sess.window = time.AfterFunc(s.cfg.Limits.ResumeWindow, func() { s.expire(sess, conn) })
	sess.detachedBy = conn
	s.hub.setPeerState(sess, api.PeerStateReconnecting)
	sess.log.Info("session detached; resumable", "reason", reason.String(), "window", s.cfg.Limits.ResumeWindow)
	s.detachLocked(sess)
}

// expire ends a session that did not resume within its window; by is the
// connection whose drop started that window (a later drop starts another).
func (s *Server) expire(sess *session, by *rpc.Conn) {
	reg := s.reg
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if sess.state != sessionDetached || sess.detachedBy != by {
		return
	}
	s.endLocked(sess, api.PeerLeftReasonTimeout)
	sess.log.Info("session ended: resume window passed")
}

// resume restores a detached (or not yet detached) session on st's
// connection: session.connect with resume. A token given with it renews
// the session's grants; once the session's token has expired, a resume
// needs one.
func (s *Server) resume(st *connState, p *api.SessionConnectParams) (*session, error) {
	r := p.Resume
	var identity string
	var fresh *sessionGrants
	if p.Token != "" || p.Identity != "" {
		var err error
		if identity, fresh, err = s.authenticate(st, p); err != nil {
			return nil, err
		}
		if p.Token == "" {
			fresh = nil // a bare identity (dev mode) renews nothing
		}
	}
	reg := s.reg
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if st.sess.Load() != nil {
		return nil, api.ErrConflict("this connection already has a session")
	}
	// No draining check: a draining node still serves its sessions until
	// the deadline, so a dropped one may come back.
	sess := reg.byID[r.SessionID]
	if sess == nil {
		return nil, api.ErrSessionNotFound(fmt.Sprintf("session %q does not exist or its resume window has passed; connect without resume", r.SessionID))
	}
	if subtle.ConstantTimeCompare([]byte(r.ResumeToken), []byte(sess.resumeToken)) != 1 {
		return nil, api.ErrUnauthenticated("resume.resumeToken does not match the session's latest resume token")
	}
	if identity != "" && identity != sess.identity {
		return nil, api.ErrForbidden(fmt.Sprintf("session %q belongs to another identity", r.SessionID))
	}
	if held := sess.held.Load(); fresh == nil && held.expiredAt(s.now()) {
		return nil, api.ErrUnauthenticated(fmt.Sprintf("the session's token expired at %s: resume with a fresh token (token beside resume)", held.expires.UTC().Format(time.RFC3339)))
	}
	sess.mu.Lock()
	latest := sess.seq
	if r.LastSeq > latest {
		sess.mu.Unlock()
		return nil, api.ErrBadRequest(fmt.Sprintf("resume.lastSeq %d is ahead of the session's latest seq %d", r.LastSeq, latest))
	}
	frames, ok := sess.replay.since(r.LastSeq, latest)
	if !ok {
		oldest := sess.replay.first
		sess.mu.Unlock()
		if conn := s.endLocked(sess, api.PeerLeftReasonDisconnected); conn != nil {
			conn.Close(rpc.CloseReplaced, "session ended by a resume gap")
		}
		return nil, api.ErrResumeGap(fmt.Sprintf("notifications after seq %d are no longer buffered (the oldest kept is %d of %d); connect without resume and rejoin with rejoin: true", r.LastSeq, oldest, latest))
	}
	old := sess.conn
	sess.conn = st.conn
	st.conn.Authenticated() // before the replay, which the pre-auth queue could not hold
	// Replay under the session's lock: nothing newer can be queued between.
	for _, f := range frames {
		if err := st.conn.NotifyRaw(f); err != nil {
			sess.log.Debug("replay not queued", "err", err)
			break
		}
	}
	sess.mu.Unlock()
	wasDetached := sess.state == sessionDetached
	if wasDetached {
		reg.detached.remove(sess)
	}
	sess.state = sessionAttached
	sess.remote = st.remote
	if sess.window != nil {
		sess.window.Stop()
		sess.window = nil
	}
	sess.detachedBy = nil
	sess.resumeToken = newID(43)
	if fresh != nil {
		sess.held.Store(fresh)
	}
	st.sess.Store(sess)
	if old != nil {
		old.Close(rpc.CloseReplaced, "session resumed on another connection")
	}
	if wasDetached {
		s.hub.setPeerState(sess, api.PeerStateConnected)
	}
	sess.log.Info("session resumed", "lastSeq", r.LastSeq, "replayed", len(frames), "remote", st.remote)
	return sess, nil
}

// endAll ends every session (shutdown): no window outlives the server.
func (s *Server) endAll() {
	reg := s.reg
	reg.mu.Lock()
	defer reg.mu.Unlock()
	for _, sess := range reg.byID {
		s.endLocked(sess, api.PeerLeftReasonClosed)
	}
}

// setPeerState marks sess reconnecting or connected in each of its rooms
// and tells the other members.
func (h *hub) setPeerState(sess *session, state api.PeerState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range sess.rooms {
		m := r.member(sess.peerID)
		if m == nil {
			continue
		}
		m.peer.State = state
		if state == api.PeerStateConnected {
			m.peer.State = "" // absent means connected
		}
		ev := &api.RoomPeerStateEvent{RoomID: r.id, PeerID: sess.peerID, State: state}
		r.notifyMembers(sess, func(n api.Notifier) error { return api.SendRoomPeerState(n, ev) })
	}
}
