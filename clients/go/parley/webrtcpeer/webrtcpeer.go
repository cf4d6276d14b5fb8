// Package webrtcpeer binds pion/webrtc PeerConnections to Parley signaling:
// one Peer per remote peer of a room, with offer/answer, trickle ICE both
// ways, candidates queued until the remote description is set, perfect
// negotiation with the server's polite flags (the polite peer drops its own
// offer on glare and answers, the impolite one ignores the other's), ICE
// restarts on request (ice.restartRequested) and fresh TURN credentials
// (ice.serversRefreshed). It is the glue the echobot and the tests share;
// the core client package stays free of pion/webrtc.
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
	"github.com/parley-rtc/parley/clients/go/parley/internal/serial"
	"github.com/parley-rtc/parley/rpc/wire"
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
	// OnDataChannel and the like there. Nil ignores such offers. It must
	// not call the Manager's Add (it runs inside it).
	Accept func(*Peer)
	// Logger gets diagnostics; nil discards them.
	Logger *slog.Logger
	// DisableDiagnostics stops the Peers' diag.report calls, which tell
	// the server what each PeerConnection saw when it connects, fails or
	// has been checking for 15 s (so admin.diag.explain can say why a
	// connection failed).
	DisableDiagnostics bool
}

// Manager routes one room's sdp.offer, sdp.answer, ice.candidate and
// room.peerLeft notifications to its Peers.
type Manager struct {
	client *parley.Client
	room   string
	opts   Options
	log    *slog.Logger

	adding sync.Mutex // serializes add
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
			p.remoteDescription(webrtc.SDPTypeOffer, ev.SDP)
		}
	})
	c.OnSdpAnswer(func(ev *api.SdpAnswerEvent) {
		if p := m.route(ev.RoomID, ev.From, false); p != nil {
			p.remoteDescription(webrtc.SDPTypeAnswer, ev.SDP)
		}
	})
	c.OnIceCandidate(func(ev *api.IceCandidateEvent) {
		if p := m.route(ev.RoomID, ev.From, false); p != nil {
			p.remoteCandidate(ev.Candidate)
		}
	})
	c.OnIceRestartRequested(func(ev *api.IceRestartRequestedEvent) {
		if p := m.route(ev.RoomID, ev.From, false); p != nil {
			p.log.Info("webrtcpeer: ICE restart requested", "reason", ev.Reason)
			p.ops.Push(func() { p.negotiateWith(&webrtc.OfferOptions{ICERestart: true}) })
		}
	})
	c.OnIceServersRefreshed(func(ev *api.IceServersRefreshedEvent) {
		if ev == nil || len(m.opts.Configuration.ICEServers) > 0 {
			return // the application's own ICE servers are not Parley's to refresh
		}
		m.mu.Lock()
		peers := make([]*Peer, 0, len(m.peers))
		for _, p := range m.peers {
			peers = append(peers, p)
		}
		m.mu.Unlock()
		servers := ICEServers(ev.ICEServers)
		for _, p := range peers {
			pc := p.PC()
			cfg := pc.GetConfiguration()
			cfg.ICEServers = servers
			if err := pc.SetConfiguration(cfg); err != nil {
				p.log.Warn("webrtcpeer: new ICE servers refused", "err", err)
			}
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
	p, err := m.add(remote, m.opts.Accept)
	if err != nil {
		m.log.Warn("webrtcpeer: cannot answer", "from", remote, "err", err)
		return nil
	}
	return p
}

// Add returns the Peer for remote (a peer id of the room), making one if
// there is none. Negotiation starts when the PeerConnection needs it: add
// a DataChannel or a track to offer. A Peer that already exists (e.g. the
// one Accept was given for remote's offer, which can come first when both
// sides start at once) is returned as it is, never replaced: closing it
// would drop the negotiation under way, leaving remote connected to a
// PeerConnection that is gone. Remove it first to start afresh.
func (m *Manager) Add(remote string) (*Peer, error) { return m.add(remote, nil) }

// add returns remote's Peer, or makes one, hands it to setup (Accept) and
// only then makes it visible. m.adding serializes it, so the application's
// Add and an offer's Accept never make two Peers for one remote.
func (m *Manager) add(remote string, setup func(*Peer)) (*Peer, error) {
	m.adding.Lock()
	defer m.adding.Unlock()
	m.mu.Lock()
	p, closed := m.peers[remote], m.closed
	m.mu.Unlock()
	switch {
	case closed:
		return nil, errors.New("webrtcpeer: manager closed")
	case p != nil:
		return p, nil
	}
	polite, err := m.polite(remote)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p = &Peer{
		Remote: remote,
		Polite: polite,
		m:      m,
		log:    m.log.With("remote", remote),
		ctx:    ctx,
		cancel: cancel,
	}
	if err := p.replacePC(); err != nil {
		cancel()
		return nil, err
	}
	if setup != nil {
		setup(p)
	}
	m.mu.Lock()
	closed = m.closed
	if !closed {
		m.peers[remote] = p
	}
	m.mu.Unlock()
	if closed {
		p.Close()
		return nil, errors.New("webrtcpeer: manager closed")
	}
	go p.ops.Run(ctx, func(fn func()) { fn() })
	return p, nil
}

// polite is the server's Peer.polite for remote: from the client's roster,
// or, for a peer whose room.peerJoined the client has not handled yet,
// from room.get, which lists the members in join order (the later joiner
// of a pair is polite).
func (m *Manager) polite(remote string) (bool, error) {
	if polite, known := m.client.Polite(m.room, remote); known {
		return polite, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	info, err := m.client.RoomGet(ctx, &api.RoomGetParams{RoomID: m.room})
	if err != nil {
		return false, fmt.Errorf("webrtcpeer: who is polite towards %s: %w", remote, err)
	}
	self := m.client.Session().PeerID
	for _, p := range info.Peers {
		switch p.PeerID {
		case remote:
			return true, nil // remote joined first
		case self:
			return false, nil
		}
	}
	return false, fmt.Errorf("webrtcpeer: peer %s is not in room %s", remote, m.room)
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
// Glare (both ends offer at once) is settled by the server and perfect
// negotiation: the polite end's crossing offer is refused (491 glare) or,
// if it went first, superseded by the impolite end's, which the polite end
// answers; the impolite end ignores the polite one's offer. pion (v4.2.26)
// cannot roll back (it refuses SetLocalDescription(rollback) from
// have-local-offer), so a Peer applies its own offer only when the answer
// arrives: an offer that lost was never applied, and there is nothing to
// roll back. Channels and tracks stay on the one PeerConnection.
type Peer struct {
	Remote string // the remote peer id
	// Polite is fixed when the Peer is made: the server's Peer.polite for
	// this pair (the later joiner of the room is polite), or, for a peer
	// the client has no roster entry for, whether our peer id sorts first.
	Polite bool

	m      *Manager
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	ops    serial.Queue[func()]
	diag   peerDiag

	mu sync.Mutex
	pc *webrtc.PeerConnection // replaced only by the ops goroutine (and Add)

	// Touched only by the ops goroutine.
	ignoreOffer bool
	offer       *webrtc.SessionDescription // sent, not yet answered, not yet applied
	offerer     bool                       // our offer is the pair's current one
	pending     []webrtc.ICECandidateInit  // remote candidates before a remote description
	lastMid     *string                    // of the last local candidate: where end-of-candidates goes
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
	if !p.m.opts.DisableDiagnostics {
		go p.watch(pc)
	}
	pc.OnNegotiationNeeded(func() {
		p.ops.Push(func() {
			if p.PC() == pc {
				p.negotiate()
			}
		})
	})
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		p.ops.Push(func() {
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

// negotiate makes and sends an offer (onnegotiationneeded).
func (p *Peer) negotiate() { p.negotiateWith(nil) }

// negotiateWith makes and sends an offer; it is applied when its answer
// arrives (see Peer on glare). Outside the stable state, or with an offer
// of ours outstanding, an offer/answer exchange is under way; pion asks
// again once it is back to stable if still needed.
func (p *Peer) negotiateWith(opts *webrtc.OfferOptions) {
	if p.PC().SignalingState() != webrtc.SignalingStateStable || p.offer != nil {
		return
	}
	offer, err := p.PC().CreateOffer(opts)
	if err == nil {
		err = p.call(func(ctx context.Context) error {
			sdp, err := wire.Quote(offer.SDP)
			if err == nil {
				_, err = p.m.client.SdpOffer(ctx, &api.SdpOfferParams{RoomID: p.m.room, To: p.Remote, SDP: sdp})
			}
			return err
		})
	}
	var perr *parley.Error
	switch {
	case err == nil:
		p.offer = &offer
		p.diag.trying()
	case errors.As(err, &perr) && perr.Code == api.CodeGlare:
		// We are the polite side and the other's offer is outstanding:
		// it is ours to answer (it is here or on its way).
		p.log.Debug("webrtcpeer: glare, our offer refused; answering theirs")
	case p.ctx.Err() == nil:
		p.log.Warn("webrtcpeer: offer failed", "err", err)
	}
}

// RestartICE restarts ICE with the remote peer: with an offer (ICE
// restart) if ours is the pair's current offer, else by asking the remote
// peer, the current offerer, with ice.restart (rate-limited by the server:
// a refusal is returned).
func (p *Peer) RestartICE(ctx context.Context, reason string) error {
	done := make(chan error, 1)
	p.ops.Push(func() {
		if p.offerer {
			p.negotiateWith(&webrtc.OfferOptions{ICERestart: true})
			done <- nil
			return
		}
		_, err := p.m.client.IceRestart(ctx, &api.IceRestartParams{RoomID: p.m.room, To: p.Remote, Reason: reason})
		done <- err
	})
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// remoteDescription queues the perfect-negotiation handling of an offer or
// answer.
func (p *Peer) remoteDescription(typ webrtc.SDPType, sdp wire.RawString) {
	p.ops.Push(func() {
		text, err := sdp.Text()
		if err == nil {
			err = p.applyDescription(webrtc.SessionDescription{Type: typ, SDP: text})
		}
		if err != nil && p.ctx.Err() == nil {
			p.log.Warn("webrtcpeer: remote description failed", "type", typ, "err", err)
		}
	})
}

func (p *Peer) applyDescription(desc webrtc.SessionDescription) error {
	if desc.Type == webrtc.SDPTypeAnswer {
		if p.offer == nil {
			p.log.Debug("webrtcpeer: an answer to no offer of ours dropped")
			return nil
		}
		// Our offer is applied now that it has won (see Peer on glare).
		offer := *p.offer
		p.offer = nil
		if err := p.PC().SetLocalDescription(offer); err != nil {
			return fmt.Errorf("set local offer: %w", err)
		}
		p.offerer = true
	}
	// The ops goroutine never runs two steps at once, so "making an offer"
	// shows as an outstanding offer of ours: an offer arriving then is glare.
	collision := desc.Type == webrtc.SDPTypeOffer && (p.offer != nil || p.PC().SignalingState() != webrtc.SignalingStateStable)
	p.ignoreOffer = !p.Polite && collision
	if p.ignoreOffer {
		p.log.Debug("webrtcpeer: glare, ignoring the offer (impolite)")
		return nil
	}
	if collision {
		// Polite: ours was never applied, so dropping it is the rollback.
		p.log.Debug("webrtcpeer: glare, dropping our offer to answer theirs (polite)")
		p.offer = nil
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
	p.offerer = false
	answer, err := p.PC().CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	if err := p.PC().SetLocalDescription(answer); err != nil {
		return fmt.Errorf("set local answer: %w", err)
	}
	err = p.call(func(ctx context.Context) error {
		sdp, err := wire.Quote(answer.SDP)
		if err == nil {
			_, err = p.m.client.SdpAnswer(ctx, &api.SdpAnswerParams{RoomID: p.m.room, To: p.Remote, SDP: sdp})
		}
		return err
	})
	if err == nil {
		p.diag.trying()
	}
	return err
}

// remoteCandidate queues a trickled candidate; nil (end of all
// candidates) needs nothing from pion.
func (p *Peer) remoteCandidate(c *api.IceCandidateInit) {
	if c == nil {
		return
	}
	p.diag.remoteCandidates.Add(1)
	p.diag.signaled(false, candidateType(c.Candidate))
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, UsernameFragment: c.UsernameFragment}
	if c.SDPMLineIndex != nil {
		i := uint16(*c.SDPMLineIndex)
		init.SDPMLineIndex = &i
	}
	p.ops.Push(func() {
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
		p.diag.signaled(true, c.Typ)
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
