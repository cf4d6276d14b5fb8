// Package webrtcpeer binds pion/webrtc PeerConnections to Parley signaling:
// one Peer per remote peer of a room, with offer/answer, trickle ICE both
// ways, candidates queued until the remote description is set, and perfect
// negotiation (the polite peer rolls back its own offer on glare, the
// impolite one ignores the other's). It is the glue the echobot and the
// tests share; the core client package stays free of pion/webrtc.
package webrtcpeer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/clients/go/parley"
)

// callTimeout bounds each signaling call a Peer makes.
const callTimeout = 10 * time.Second

// Options configure a Manager.
type Options struct {
	// Configuration is the base of every PeerConnection. Without
	// ICEServers, the session's (from session.connect) are used.
	Configuration webrtc.Configuration
	// API creates the PeerConnections (e.g. with a SettingEngine); nil
	// means webrtc.NewPeerConnection's defaults.
	API *webrtc.API
	// Accept, if set, is called with the Peer made for an offer from a
	// peer the Manager has none for, before the offer is applied: set
	// OnDataChannel and the like there. Nil ignores such offers.
	Accept func(*Peer)
	// Logger gets diagnostics; nil discards them.
	Logger *slog.Logger
}

// Manager routes one room's sdp.offer, sdp.answer, ice.candidate and
// room.peerLeft notifications to its Peers.
type Manager struct {
	client *parley.Client
	room   string
	opts   Options
	log    *slog.Logger

	mu     sync.Mutex
	peers  map[string]*Peer
	closed bool
}

// New makes a Manager for roomID and registers its hooks on c. Hooks
// cannot be removed from a client, so a closed Manager's stay and do
// nothing.
func New(c *parley.Client, roomID string, opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{client: c, room: roomID, opts: opts, log: opts.Logger.With("room", roomID), peers: map[string]*Peer{}}
	c.OnSdpOffer(func(ev *api.SdpOfferEvent) {
		if p := m.route(ev.RoomID, ev.From, true); p != nil {
			p.remoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: ev.SDP})
		}
	})
	c.OnSdpAnswer(func(ev *api.SdpAnswerEvent) {
		if p := m.route(ev.RoomID, ev.From, false); p != nil {
			p.remoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ev.SDP})
		}
	})
	c.OnIceCandidate(func(ev *api.IceCandidateEvent) {
		if p := m.route(ev.RoomID, ev.From, false); p != nil {
			p.remoteCandidate(ev.Candidate)
		}
	})
	c.OnRoomPeerLeft(func(ev *api.RoomPeerLeftEvent) {
		if ev.RoomID != roomID {
			return
		}
		if ev.PeerID == c.Session().PeerID { // we were kicked
			m.ClosePeers()
			return
		}
		m.Remove(ev.PeerID)
	})
	c.OnRoomClosed(func(ev *api.RoomClosedEvent) {
		if ev.RoomID == roomID {
			m.ClosePeers()
		}
	})
	return m
}

// route finds the Peer for a notification from remote, making one for an
// offer when Accept is set.
func (m *Manager) route(room, remote string, offer bool) *Peer {
	if room != m.room {
		return nil
	}
	m.mu.Lock()
	p, closed := m.peers[remote], m.closed
	m.mu.Unlock()
	if p != nil || closed || !offer || m.opts.Accept == nil {
		if p == nil && !closed {
			m.log.Debug("webrtcpeer: signaling from an unknown peer dropped", "from", remote)
		}
		return p
	}
	p, err := m.Add(remote)
	if err != nil {
		m.log.Warn("webrtcpeer: cannot answer", "from", remote, "err", err)
		return nil
	}
	m.opts.Accept(p)
	return p
}

// Add makes a Peer for remote (a peer id of the room). Negotiation starts
// when the PeerConnection needs it: add a DataChannel or a track to offer.
func (m *Manager) Add(remote string) (*Peer, error) {
	sess := m.client.Session()
	ctx, cancel := context.WithCancel(context.Background())
	p := &Peer{
		Remote: remote,
		Polite: sess.PeerID < remote,
		m:      m,
		log:    m.log.With("remote", remote),
		ctx:    ctx,
		cancel: cancel,
	}
	p.ops.init()
	if err := p.replacePC(); err != nil {
		cancel()
		return nil, err
	}
	m.mu.Lock()
	old, closed := m.peers[remote], m.closed
	if !closed {
		m.peers[remote] = p
	}
	m.mu.Unlock()
	if closed {
		p.Close()
		return nil, errors.New("webrtcpeer: manager closed")
	}
	if old != nil {
		old.Close()
	}
	go p.ops.run(ctx)
	return p, nil
}

// newPC makes a PeerConnection with the Manager's configuration.
func (m *Manager) newPC() (*webrtc.PeerConnection, error) {
	cfg := m.opts.Configuration
	if len(cfg.ICEServers) == 0 {
		cfg.ICEServers = ICEServers(m.client.Session().ICEServers)
	}
	if m.opts.API != nil {
		return m.opts.API.NewPeerConnection(cfg)
	}
	return webrtc.NewPeerConnection(cfg)
}

// Peer returns the Peer for remote, or nil.
func (m *Manager) Peer(remote string) *Peer {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peers[remote]
}

// Remove closes and forgets the Peer for remote.
func (m *Manager) Remove(remote string) {
	m.mu.Lock()
	p := m.peers[remote]
	delete(m.peers, remote)
	m.mu.Unlock()
	if p != nil {
		p.log.Info("webrtcpeer: peer closed")
		p.Close()
	}
}

// ClosePeers closes every Peer (e.g. after the client reconnected into a
// new session, where the old peer ids mean nothing).
func (m *Manager) ClosePeers() {
	m.mu.Lock()
	peers := m.peers
	m.peers = map[string]*Peer{}
	m.mu.Unlock()
	for _, p := range peers {
		p.Close()
	}
}

// Close closes every Peer and ignores signaling from now on.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.ClosePeers()
}

// Peer is a PeerConnection to one remote peer. Its signaling runs on one
// goroutine in arrival order, so an offer goes out before the candidates
// gathered for it and a remote description is set before its candidates.
//
// Glare (both ends offer at once) is settled as in perfect negotiation:
// the impolite end ignores the other's offer. The polite end should roll
// its offer back, but pion (v4.2.26) refuses SetLocalDescription(rollback)
// from have-local-offer, so it replaces its PeerConnection with a fresh
// one, hands the Peer to Options.Accept again, and answers: channels and
// tracks added to the old PeerConnection are gone, the remote's arrive on
// the new one.
type Peer struct {
	Remote string // the remote peer id
	// Polite is fixed when the Peer is made: the peer with the smaller peer
	// id is polite, so both ends agree without a word.
	Polite bool

	m      *Manager
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	ops    queue

	mu sync.Mutex
	pc *webrtc.PeerConnection // replaced only by the ops goroutine (and Add)

	// Touched only by the ops goroutine.
	ignoreOffer bool
	pending     []webrtc.ICECandidateInit // remote candidates before a remote description
	lastMid     *string                   // of the last local candidate: where end-of-candidates goes
	lastIndex   *int64
}

// PC is the Peer's current PeerConnection (see Peer on glare).
func (p *Peer) PC() *webrtc.PeerConnection {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pc
}

// replacePC makes a new PeerConnection for the Peer, closing the old one,
// whose late callbacks are then ignored.
func (p *Peer) replacePC() error {
	pc, err := p.m.newPC()
	if err != nil {
		return fmt.Errorf("webrtcpeer: new PeerConnection for %s: %w", p.Remote, err)
	}
	p.mu.Lock()
	old := p.pc
	p.pc = pc
	p.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	pc.OnNegotiationNeeded(func() {
		p.ops.push(func() {
			if p.PC() == pc {
				p.negotiate()
			}
		})
	})
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		p.ops.push(func() {
			if p.PC() == pc {
				p.sendCandidate(c)
			}
		})
	})
	return nil
}

// Close closes the PeerConnection and stops the Peer's signaling.
func (p *Peer) Close() {
	p.cancel()
	if err := p.PC().Close(); err != nil {
		p.log.Debug("webrtcpeer: close", "err", err)
	}
}

func (p *Peer) call(fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(p.ctx, callTimeout)
	defer cancel()
	return fn(ctx)
}

// negotiate makes and sends an offer (onnegotiationneeded). Outside the
// stable state an offer/answer exchange is under way; pion asks again
// once it is back to stable if still needed.
func (p *Peer) negotiate() {
	if p.PC().SignalingState() != webrtc.SignalingStateStable {
		return
	}
	offer, err := p.PC().CreateOffer(nil)
	if err == nil {
		err = p.PC().SetLocalDescription(offer)
	}
	if err == nil {
		err = p.call(func(ctx context.Context) error {
			_, err := p.m.client.SdpOffer(ctx, &api.SdpOfferParams{RoomID: p.m.room, To: p.Remote, SDP: offer.SDP})
			return err
		})
	}
	if err != nil && p.ctx.Err() == nil {
		p.log.Warn("webrtcpeer: offer failed", "err", err)
	}
}

// remoteDescription queues the perfect-negotiation handling of an offer or
// answer.
func (p *Peer) remoteDescription(desc webrtc.SessionDescription) {
	p.ops.push(func() {
		if err := p.applyDescription(desc); err != nil && p.ctx.Err() == nil {
			p.log.Warn("webrtcpeer: remote description failed", "type", desc.Type, "err", err)
		}
	})
}

func (p *Peer) applyDescription(desc webrtc.SessionDescription) error {
	// The ops goroutine never runs two steps at once, so "making an offer"
	// shows as have-local-offer: an offer arriving then is glare.
	collision := desc.Type == webrtc.SDPTypeOffer && p.PC().SignalingState() != webrtc.SignalingStateStable
	p.ignoreOffer = !p.Polite && collision
	if p.ignoreOffer {
		p.log.Debug("webrtcpeer: glare, ignoring the offer (impolite)")
		return nil
	}
	if collision {
		p.log.Debug("webrtcpeer: glare, replacing our PeerConnection to answer (polite; pion cannot roll back)")
		if err := p.replacePC(); err != nil {
			return err
		}
		p.lastMid, p.lastIndex = nil, nil
		if p.m.opts.Accept != nil {
			p.m.opts.Accept(p)
		}
	}
	if err := p.PC().SetRemoteDescription(desc); err != nil {
		return fmt.Errorf("set remote %s: %w", desc.Type, err)
	}
	for _, c := range p.pending {
		p.addCandidate(c)
	}
	p.pending = nil
	if desc.Type != webrtc.SDPTypeOffer {
		return nil
	}
	answer, err := p.PC().CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	if err := p.PC().SetLocalDescription(answer); err != nil {
		return fmt.Errorf("set local answer: %w", err)
	}
	return p.call(func(ctx context.Context) error {
		_, err := p.m.client.SdpAnswer(ctx, &api.SdpAnswerParams{RoomID: p.m.room, To: p.Remote, SDP: answer.SDP})
		return err
	})
}

// remoteCandidate queues a trickled candidate; nil (end of all
// candidates) needs nothing from pion.
func (p *Peer) remoteCandidate(c *api.IceCandidateInit) {
	if c == nil {
		return
	}
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, UsernameFragment: c.UsernameFragment}
	if c.SDPMLineIndex != nil {
		i := uint16(*c.SDPMLineIndex)
		init.SDPMLineIndex = &i
	}
	p.ops.push(func() {
		if p.PC().RemoteDescription() == nil {
			p.pending = append(p.pending, init)
			return
		}
		p.addCandidate(init)
	})
}

func (p *Peer) addCandidate(c webrtc.ICECandidateInit) {
	// Candidates of an offer we ignored fail to apply; that is expected.
	if err := p.PC().AddICECandidate(c); err != nil && !p.ignoreOffer {
		p.log.Warn("webrtcpeer: remote candidate refused", "candidate", c.Candidate, "err", err)
	}
}

// sendCandidate trickles a local candidate; nil (gathering done) goes out
// as "" for the media section of the last one, end of candidates.
func (p *Peer) sendCandidate(c *webrtc.ICECandidate) {
	var init api.IceCandidateInit
	if c != nil {
		j := c.ToJSON()
		init.Candidate, init.SDPMid = j.Candidate, j.SDPMid
		if j.SDPMLineIndex != nil {
			i := int64(*j.SDPMLineIndex)
			init.SDPMLineIndex = &i
		}
		p.lastMid, p.lastIndex = init.SDPMid, init.SDPMLineIndex
	} else {
		init.SDPMid, init.SDPMLineIndex = p.lastMid, p.lastIndex
		if init.SDPMid == nil && init.SDPMLineIndex == nil {
			init.SDPMLineIndex = new(int64) // no candidate at all: say so for the first section
		}
	}
	err := p.call(func(ctx context.Context) error {
		_, err := p.m.client.IceCandidate(ctx, &api.IceCandidateParams{RoomID: p.m.room, To: p.Remote, Candidate: &init})
		return err
	})
	if err != nil && p.ctx.Err() == nil {
		p.log.Warn("webrtcpeer: sending a candidate failed", "err", err)
	}
}

// ICEServers converts Parley's ICE servers (session.connect, ice.servers)
// to pion's.
func ICEServers(in []api.IceServer) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(in))
	for _, s := range in {
		out = append(out, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}

// queue runs funcs one at a time in push order; unbounded, so pion's
// callbacks that push never block on signaling calls in progress.
type queue struct {
	mu      sync.Mutex
	pending []func()
	wake    chan struct{}
}

func (q *queue) init() { q.wake = make(chan struct{}, 1) }

func (q *queue) push(fn func()) {
	q.mu.Lock()
	q.pending = append(q.pending, fn)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		q.mu.Unlock()
		for _, fn := range batch {
			if ctx.Err() != nil {
				return
			}
			fn()
		}
	}
}
