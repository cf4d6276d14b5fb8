package server

import (
	"net/netip"
	"slices"

	"github.com/parley-rtc/parley/api"
)

// Detached sessions are bounded like connections: each holds its seats,
// rooms and replay buffer for the resume window with no connection open,
// so dropping connections on purpose must not escape the caps (issue 16:
// 3,000 sessions from one address dropped on purpose held 48,000 seats and
// 397 MiB for 30 s). An address holds at most --max-detached-per-ip of
// them and an identity --max-detached-per-identity; a drop beyond either
// ends the oldest of that address or identity at once. They also count
// against --max-conns-per-ip: a new connection that finds its address at
// the cap ends the address's oldest detached session to make room.

// detachedSessions lists the detached sessions by address and by identity,
// oldest first. It is guarded by registry.mu.
type detachedSessions struct {
	byIP       map[netip.Addr][]*session
	byIdentity map[string][]*session
}

func (d *detachedSessions) add(sess *session) {
	if d.byIP == nil {
		d.byIP, d.byIdentity = make(map[netip.Addr][]*session), make(map[string][]*session)
	}
	d.byIP[sess.remote] = append(d.byIP[sess.remote], sess)
	d.byIdentity[sess.identity] = append(d.byIdentity[sess.identity], sess)
}

func (d *detachedSessions) remove(sess *session) {
	drop(d.byIP, sess.remote, sess)
	drop(d.byIdentity, sess.identity, sess)
}

func drop[K comparable](m map[K][]*session, key K, sess *session) {
	list := slices.DeleteFunc(m[key], func(o *session) bool { return o == sess })
	if len(list) == 0 {
		delete(m, key)
	} else {
		m[key] = list
	}
}

// The caps that end a detached session early, as /metrics labels them.
const (
	capAddress  = "address"
	capIdentity = "identity"
)

// detachLocked records sess, which just detached, and ends the oldest
// detached sessions of its address and identity beyond their caps.
// registry.mu must be held.
func (s *Server) detachLocked(sess *session) {
	d := &s.reg.detached
	d.add(sess)
	l := s.cfg.Limits
	for len(d.byIP[sess.remote]) > l.MaxDetachedPerIP {
		s.endDetachedLocked(d.byIP[sess.remote][0], capAddress)
	}
	for len(d.byIdentity[sess.identity]) > l.MaxDetachedPerIdentity {
		s.endDetachedLocked(d.byIdentity[sess.identity][0], capIdentity)
	}
}

// endDetachedLocked ends a detached session before its window passes:
// cap names the cap it was over. Its peers see it time out.
func (s *Server) endDetachedLocked(sess *session, cap string) {
	s.endLocked(sess, api.PeerLeftReasonTimeout)
	s.rpcMetrics.detachedEnded.WithLabelValues(cap).Inc()
	sess.log.Info("resumable session ended early: its "+cap+" holds its cap of dropped sessions", "remote", sess.remote)
}

// detachedFrom counts the detached sessions of address ip.
func (s *Server) detachedFrom(ip netip.Addr) int {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	return len(s.reg.detached.byIP[ip])
}

// makeRoomFor ends the oldest detached session of ip, for a new
// connection that found the address at --max-conns-per-ip.
func (s *Server) makeRoomFor(ip netip.Addr) {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	if list := s.reg.detached.byIP[ip]; len(list) > 0 {
		s.endDetachedLocked(list[0], capAddress)
	}
}
