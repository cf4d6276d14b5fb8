package webrtcpeer

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/api"
)

// Diagnostics: each Peer reports what its PeerConnection saw with
// diag.report, so the server can explain a connection that failed
// (admin.diag.explain): when it reaches connected or failed, and when it
// has been trying for checkingReport since it sent an offer or an answer
// or started checking, whichever came first: an offer never answered, or
// a side that gathered nothing, never reaches checking.
// Options.DisableDiagnostics turns it off.
//
// The states are polled rather than hooked: pion keeps one handler per
// event, and OnConnectionStateChange belongs to the application.

const (
	checkingReport = 15 * time.Second
	pollInterval   = 250 * time.Millisecond
	maxReported    = 16 // ICE servers in a report (the schema's bound)
)

// peerDiag is what a Peer keeps for its reports.
type peerDiag struct {
	remoteCandidates atomic.Int64 // arrived over signaling (end-of-candidates not counted)
	tryingSince      atomic.Int64 // Unix nanoseconds of the first offer or answer sent; 0 if none since the last report

	// The candidates sent and received over signaling, by type: pion
	// releases a failed agent's candidates, so a failed PeerConnection's
	// stats list none, and the report would say it gathered nothing.
	mu          sync.Mutex
	sent, recvd api.DiagCandidateCounts
}

// signaled counts a candidate of type typ sent (local) or received.
func (d *peerDiag) signaled(local bool, typ webrtc.ICECandidateType) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if local {
		count(&d.sent, typ)
	} else {
		count(&d.recvd, typ)
	}
}

// candidateType reads the type of a candidate line ("... typ srflx ...").
func candidateType(line string) webrtc.ICECandidateType {
	fields := strings.Fields(line)
	for i := 0; i+1 < len(fields); i++ {
		if fields[i] == "typ" {
			t, err := webrtc.NewICECandidateType(fields[i+1])
			if err == nil {
				return t
			}
		}
	}
	return webrtc.ICECandidateTypeUnknown
}

// trying marks that the Peer sent an offer or an answer.
func (d *peerDiag) trying() { d.tryingSince.CompareAndSwap(0, time.Now().UnixNano()) }

// watch polls pc's states until the Peer closes or its PeerConnection is
// replaced, reporting each connected and failed once per time it is
// reached and each stretch of checkingReport in checking.
func (p *Peer) watch(pc *webrtc.PeerConnection) {
	created := time.Now()
	var checkingSince, connectedAt time.Time
	var last webrtc.PeerConnectionState
	checkingReported := false
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-tick.C:
		}
		if p.PC() != pc {
			return
		}
		now := time.Now()
		if checkingSince.IsZero() {
			if pc.ICEConnectionState() == webrtc.ICEConnectionStateChecking {
				checkingSince, checkingReported = now, false
			} else if sent := p.diag.tryingSince.Load(); sent != 0 {
				checkingSince, checkingReported = time.Unix(0, sent), false
			}
		}
		state := pc.ConnectionState()
		if state != last {
			last = state
			switch state {
			case webrtc.PeerConnectionStateConnected:
				connectedAt = now
				p.report(pc, api.DiagTriggerConnected, created, checkingSince, connectedAt)
				checkingSince = time.Time{}
				p.diag.tryingSince.Store(0)
			case webrtc.PeerConnectionStateFailed:
				p.report(pc, api.DiagTriggerFailed, created, checkingSince, connectedAt)
				checkingSince = time.Time{}
				p.diag.tryingSince.Store(0)
			case webrtc.PeerConnectionStateClosed:
				return
			}
		}
		if !checkingSince.IsZero() && !checkingReported && state != webrtc.PeerConnectionStateConnected && now.Sub(checkingSince) >= checkingReport {
			checkingReported = true
			p.report(pc, api.DiagTriggerChecking, created, checkingSince, connectedAt)
		}
	}
}

// report builds the report on the Peer's signaling goroutine (where its
// offer state lives) and sends it from its own, so that signaling does
// not wait for the server.
func (p *Peer) report(pc *webrtc.PeerConnection, trigger api.DiagTrigger, created, checkingSince, connectedAt time.Time) {
	p.ops.Push(func() {
		r := diagReport(pc, trigger)
		if total(r.Local)+total(r.Remote) == 0 { // released (failed): what signaling carried
			p.diag.mu.Lock()
			*r.Local, *r.Remote = p.diag.sent, p.diag.recvd
			p.diag.mu.Unlock()
		}
		r.AwaitingAnswer = p.offer != nil || pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer
		r.RemoteCandidates = p.diag.remoteCandidates.Load()
		r.ElapsedMs = time.Since(created).Milliseconds()
		if !connectedAt.IsZero() && !checkingSince.IsZero() && connectedAt.After(checkingSince) {
			r.ConnectMs = connectedAt.Sub(checkingSince).Milliseconds()
		}
		go func() {
			ctx, cancel := context.WithTimeout(p.ctx, callTimeout)
			defer cancel()
			if _, err := p.m.client.DiagReport(ctx, &api.DiagReportParams{RoomID: p.m.room, PeerID: p.Remote, Report: r}); err != nil && p.ctx.Err() == nil {
				p.log.Debug("webrtcpeer: diag.report failed", "err", err)
			}
		}()
	})
}

// diagReport reads pc's configuration and stats into a report.
func diagReport(pc *webrtc.PeerConnection, trigger api.DiagTrigger) api.DiagReport {
	cfg := pc.GetConfiguration()
	r := api.DiagReport{
		Trigger:            trigger,
		ConnectionState:    pc.ConnectionState().String(),
		ICEConnectionState: pc.ICEConnectionState().String(),
		SignalingState:     pc.SignalingState().String(),
		ICETransportPolicy: cfg.ICETransportPolicy.String(),
		Local:              &api.DiagCandidateCounts{},
		Remote:             &api.DiagCandidateCounts{},
		Pairs:              &api.DiagPairCounts{},
		Agent:              "parley-go",
	}
	servers := map[string]*api.DiagIceServer{}
	for _, s := range cfg.ICEServers {
		for _, u := range s.URLs {
			if len(r.ICEServers) < maxReported && len(u) <= 256 && servers[u] == nil {
				r.ICEServers = append(r.ICEServers, api.DiagIceServer{URL: u})
				servers[u] = &r.ICEServers[len(r.ICEServers)-1]
			}
		}
	}
	stats := pc.GetStats()
	var selected *webrtc.ICECandidatePairStats
	for _, s := range stats {
		switch st := s.(type) {
		case webrtc.ICECandidateStats:
			counts := r.Remote
			if st.Type == webrtc.StatsTypeLocalCandidate {
				counts = r.Local
				if srv := servers[st.URL]; srv != nil {
					switch st.CandidateType {
					case webrtc.ICECandidateTypeSrflx:
						srv.Srflx++
					case webrtc.ICECandidateTypeRelay:
						srv.Relay++
					}
				}
			}
			count(counts, st.CandidateType)
		case webrtc.ICECandidatePairStats:
			switch st.State {
			case webrtc.StatsICECandidatePairStateFrozen:
				r.Pairs.Frozen++
			case webrtc.StatsICECandidatePairStateWaiting:
				r.Pairs.Waiting++
			case webrtc.StatsICECandidatePairStateInProgress:
				r.Pairs.InProgress++
			case webrtc.StatsICECandidatePairStateSucceeded:
				r.Pairs.Succeeded++
				if st.Nominated {
					selected = &st
				}
			case webrtc.StatsICECandidatePairStateFailed:
				r.Pairs.Failed++
			}
		}
	}
	if selected != nil {
		local, lok := stats[selected.LocalCandidateID].(webrtc.ICECandidateStats)
		remote, rok := stats[selected.RemoteCandidateID].(webrtc.ICECandidateStats)
		if lok && rok {
			r.SelectedPair = &api.DiagSelectedPair{Local: diagCandidate(local), Remote: diagCandidate(remote)}
		}
	}
	return r
}

func total(c *api.DiagCandidateCounts) int64 { return c.Host + c.Srflx + c.Prflx + c.Relay }

func count(c *api.DiagCandidateCounts, t webrtc.ICECandidateType) {
	switch t {
	case webrtc.ICECandidateTypeHost:
		c.Host++
	case webrtc.ICECandidateTypeSrflx:
		c.Srflx++
	case webrtc.ICECandidateTypePrflx:
		c.Prflx++
	case webrtc.ICECandidateTypeRelay:
		c.Relay++
	}
}

func diagCandidate(s webrtc.ICECandidateStats) api.DiagCandidate {
	c := api.DiagCandidate{Type: api.DiagCandidateType(s.CandidateType.String())}
	switch s.Protocol {
	case "udp", "tcp":
		c.Protocol = api.DiagProtocol(s.Protocol)
	}
	switch s.RelayProtocol {
	case "udp", "tcp", "tls":
		c.RelayProtocol = api.DiagProtocol(s.RelayProtocol)
	}
	return c
}
