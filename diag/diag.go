// Package diag explains why two peers could not connect. It joins what
// each side's client reported (diag.report: candidates gathered per ICE
// server, candidate errors, pair states, signaling state) with what the
// server saw itself (the TURN server's record of each identity, and what
// signaling relayed between them) and names one cause, with a sentence
// and the facts it rests on. It is pure: no clock, no I/O; the server
// gathers the inputs.
package diag

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parley-rtc/parley/api"
)

// The cause codes, stable: dashboards and the peer.connectionFailed
// webhook carry them, and parley_ice_outcomes_total uses them as a label
// (Causes lists them all, which bounds it).
const (
	CauseNone                  = "none" // connected
	CauseStillChecking         = "still_checking"
	CauseAnswerNeverSent       = "answer_never_sent"
	CauseOfferNeverSent        = "offer_never_sent"
	CauseDTLSFailed            = "dtls_failed"
	CauseConnectionLost        = "connection_lost"
	CausePeerDenied            = "peer_address_denied_by_policy"
	CauseTURNExpired           = "turn_credentials_expired"
	CauseTURNRejected          = "turn_credentials_rejected"
	CauseTURNQuota             = "turn_quota_exceeded"
	CauseTURNUnreachable       = "turn_unreachable"
	CauseNoRelayCandidate      = "no_relay_candidate"
	CauseCandidatesUndelivered = "remote_candidates_never_delivered"
	CauseNoRemoteCandidates    = "no_remote_candidates"
	CauseSTUNUnreachable       = "stun_unreachable"
	CauseSymmetricNAT          = "both_sides_direct_only_behind_symmetric_nat"
	CauseOneSideReported       = "only_one_side_reported"
	CauseUnknown               = "unknown"
)

// Causes are every cause code.
var Causes = []string{
	CauseNone, CauseStillChecking, CauseAnswerNeverSent, CauseOfferNeverSent, CauseDTLSFailed,
	CauseConnectionLost, CausePeerDenied, CauseTURNExpired, CauseTURNRejected, CauseTURNQuota,
	CauseTURNUnreachable, CauseNoRelayCandidate, CauseCandidatesUndelivered, CauseNoRemoteCandidates,
	CauseSTUNUnreachable, CauseSymmetricNAT, CauseOneSideReported, CauseUnknown,
}

// Side is what is known of one peer of a pair.
type Side struct {
	PeerID, Identity string
	// Report is its client's latest diag.report; nil if it never sent one.
	Report     *api.DiagReport
	ReportedAt time.Time
	// TURN is the co-hosted TURN server's record of its identity, oldest
	// first (nil: none, or TURN is not co-hosted).
	TURN []api.TurnEvent
}

// Relay is what signaling did with one direction of a pair's messages:
// offers, answers and candidates delivered, candidates held (before the
// pair's first offer) and dropped, and sends refused (491 glare, 413).
type Relay struct {
	Offers, Answers, Candidates int
	HeldCandidates              int
	DroppedCandidates           int
	Glare, TooLarge             int
}

// Signaling is the server's record of a pair's signaling, A to B and B to
// A; nil where the server keeps none.
type Signaling struct {
	AToB, BToA Relay
}

// Pair is everything known about two peers of a room.
type Pair struct {
	A, B      Side
	Signaling *Signaling
}

// turnWindow is how far before a report's peer connection was made TURN
// events still count for it (a client allocates as it starts gathering).
const turnWindow = 30 * time.Second

// Explain diagnoses p.
func Explain(p Pair) api.DiagVerdict {
	e := &explainer{a: side{Side: p.A, name: "A"}, b: side{Side: p.B, name: "B"}, sig: p.Signaling}
	e.a.other, e.b.other = &e.b, &e.a
	result := e.result()
	var cause, sentence string
	var about *side
	switch result {
	case api.DiagResultConnected:
		cause, sentence = CauseNone, e.connected()
	case api.DiagResultUnknown:
		cause, sentence = CauseUnknown, "neither side has reported: the clients send diag.report when a connection connects or fails, or after 15 s of checking (unless the app turned it off)"
	default:
		cause, sentence, about = e.failure()
		if result == api.DiagResultChecking && (cause == CauseUnknown || cause == CauseOneSideReported) {
			cause, sentence = CauseStillChecking, "still checking candidate pairs after 15 s, with nothing yet that explains it"
		}
	}
	v := api.DiagVerdict{Result: result, Cause: cause, Explanation: sentence, Evidence: e.evidence()}
	if about != nil && cause != CauseStillChecking {
		v.PeerID = about.PeerID
	}
	return v
}

type side struct {
	Side
	name  string // "A" or "B", until named
	other *side
}

type explainer struct {
	a, b side
	sig  *Signaling
}

// who names a side in sentences: its identity and peer id.
func (s *side) who() string {
	switch {
	case s.Identity != "" && s.PeerID != "":
		return fmt.Sprintf("%s (peer %s)", s.Identity, s.PeerID)
	case s.PeerID != "":
		return "peer " + s.PeerID
	}
	return "side " + s.name
}

func (s *side) reported() bool { return s.Report != nil }

func (s *side) state() api.DiagResult {
	if s.Report == nil {
		return api.DiagResultUnknown
	}
	switch s.Report.Trigger {
	case api.DiagTriggerFailed:
		return api.DiagResultFailed
	case api.DiagTriggerConnected:
		return api.DiagResultConnected
	}
	return api.DiagResultChecking
}

// local and remote are the report's candidate counts (zero without).
func (s *side) local() api.DiagCandidateCounts {
	if s.Report != nil && s.Report.Local != nil {
		return *s.Report.Local
	}
	return api.DiagCandidateCounts{}
}

func (s *side) remote() api.DiagCandidateCounts {
	if s.Report != nil && s.Report.Remote != nil {
		return *s.Report.Remote
	}
	return api.DiagCandidateCounts{}
}

func total(c api.DiagCandidateCounts) int64 { return c.Host + c.Srflx + c.Prflx + c.Relay }

// relayOnly: the side would use TURN only.
func (s *side) relayOnly() bool { return s.Report != nil && s.Report.ICETransportPolicy == "relay" }

// servers lists its configured ICE server URLs with a scheme prefix.
func (s *side) servers(schemes ...string) []api.DiagIceServer {
	if s.Report == nil {
		return nil
	}
	return withScheme(s.Report.ICEServers, func(srv api.DiagIceServer) string { return srv.URL }, schemes)
}

// errorsFor are its candidate errors on URLs with one of the schemes.
func (s *side) errorsFor(schemes ...string) []api.DiagCandidateError {
	if s.Report == nil {
		return nil
	}
	return withScheme(s.Report.CandidateErrors, func(e api.DiagCandidateError) string { return e.URL }, schemes)
}

// withScheme keeps the items whose URL starts with one of the schemes.
func withScheme[T any](items []T, url func(T) string, schemes []string) []T {
	var out []T
	for _, it := range items {
		if slices.ContainsFunc(schemes, func(p string) bool { return strings.HasPrefix(url(it), p) }) {
			out = append(out, it)
		}
	}
	return out
}

// turnEvents are its identity's TURN events of kind since its peer
// connection began (or all of them without a report).
func (s *side) turnEvents(kind api.TurnEventKind) []api.TurnEvent {
	since := int64(0)
	if s.Report != nil && !s.ReportedAt.IsZero() {
		since = s.ReportedAt.Add(-time.Duration(s.Report.ElapsedMs)*time.Millisecond - turnWindow).UnixMilli()
	}
	var out []api.TurnEvent
	for _, ev := range s.TURN {
		if ev.Kind == kind && ev.At >= since {
			out = append(out, ev)
		}
	}
	return out
}

func (e *explainer) sides() [2]*side { return [2]*side{&e.a, &e.b} }

// result is the pair's: failed if either side failed, else connected if
// either connected, else checking if either reported.
func (e *explainer) result() api.DiagResult {
	sa, sb := e.a.state(), e.b.state()
	for _, r := range []api.DiagResult{api.DiagResultFailed, api.DiagResultConnected, api.DiagResultChecking} {
		if sa == r || sb == r {
			return r
		}
	}
	return api.DiagResultUnknown
}

func (e *explainer) connected() string {
	for _, s := range e.sides() {
		if s.state() != api.DiagResultConnected || s.Report.SelectedPair == nil {
			continue
		}
		sp := s.Report.SelectedPair
		path := "directly"
		if sp.Local.Type == api.DiagCandidateTypeRelay || sp.Remote.Type == api.DiagCandidateTypeRelay {
			path = "through TURN"
		}
		took := ""
		if s.Report.ConnectMs > 0 {
			took = fmt.Sprintf(" in %s", time.Duration(s.Report.ConnectMs)*time.Millisecond)
		}
		return fmt.Sprintf("connected %s%s: %s's %s/%s candidate with %s's %s", path, took, s.who(), sp.Local.Type, protocol(sp.Local), s.other.who(), sp.Remote.Type)
	}
	return "connected"
}

func protocol(c api.DiagCandidate) string {
	if c.Protocol == "" {
		return "udp"
	}
	return string(c.Protocol)
}

// failure finds the cause of a failed (or still checking) pair: the first
// rule that matches, in the order a WebRTC engineer would rule things
// out: signaling that never completed, a transport that did connect,
// TURN's half, candidates that never crossed, then the networks.
func (e *explainer) failure() (string, string, *side) {
	for _, rule := range []func() (string, string, *side){
		e.negotiation, e.afterICE, e.turnRefusals, e.relayMissing, e.candidates, e.networks,
	} {
		if cause, sentence, about := rule(); cause != "" {
			return cause, sentence, about
		}
	}
	for _, s := range e.sides() {
		if s.reported() && !s.other.reported() {
			return CauseOneSideReported, fmt.Sprintf("only %s reported (%s); without %s's report the cause cannot be told (its client may have diag.report turned off, or have left)", s.who(), s.summary(), s.other.who()), s
		}
	}
	return CauseUnknown, "every candidate pair failed, and neither the reports nor the server's records say why", nil
}

// negotiation: an offer with no answer, or no offer at all.
func (e *explainer) negotiation() (string, string, *side) {
	for _, s := range e.sides() {
		o := s.other
		serverSaw := e.sig != nil && e.relay(s).Offers > 0 && e.relay(o).Answers == 0
		waiting := s.Report != nil && (s.Report.AwaitingAnswer || s.Report.SignalingState == "have-local-offer")
		holding := o.Report != nil && o.Report.SignalingState == "have-remote-offer"
		if !serverSaw && !(waiting && (holding || e.sig == nil || e.relay(o).Answers == 0)) {
			continue
		}
		detail := "no answer came back"
		switch {
		case holding:
			detail = fmt.Sprintf("%s applied the offer (have-remote-offer) but never answered", o.who())
		case e.sig != nil:
			detail = fmt.Sprintf("the server delivered %d offer(s) to %s and relayed no answer from it", e.relay(s).Offers, o.who())
		}
		return CauseAnswerNeverSent, fmt.Sprintf("%s offered but %s never sent an answer: %s; ICE cannot start without one", s.who(), o.who(), detail), o
	}
	if e.sig != nil && e.sig.AToB.Offers == 0 && e.sig.BToA.Offers == 0 {
		refused := e.sig.AToB.Glare + e.sig.BToA.Glare + e.sig.AToB.TooLarge + e.sig.BToA.TooLarge
		why := "neither side sent one"
		if refused > 0 {
			why = fmt.Sprintf("the server refused %d (491 glare or 413 too large) and delivered none", refused)
		}
		return CauseOfferNeverSent, "no offer was ever delivered between the two: " + why, nil
	}
	return "", "", nil
}

func (e *explainer) relay(from *side) Relay {
	if from == &e.a {
		return e.sig.AToB
	}
	return e.sig.BToA
}

// afterICE: ICE connected but the connection did not, or it was lost.
func (e *explainer) afterICE() (string, string, *side) {
	for _, s := range e.sides() {
		r := s.Report
		if r == nil || s.state() != api.DiagResultFailed {
			continue
		}
		if (r.ICEConnectionState == "connected" || r.ICEConnectionState == "completed") && r.ConnectionState == "failed" {
			return CauseDTLSFailed, fmt.Sprintf("%s's ICE connected but the connection failed: the DTLS handshake did not complete (a certificate fingerprint that does not match the SDP, or a middlebox that passes STUN but not DTLS)", s.who()), s
		}
		if r.ConnectMs > 0 {
			return CauseConnectionLost, fmt.Sprintf("%s connected after %s, then lost the connection (consent checks stopped getting answers: a network change, a NAT binding that timed out, or the peer went away); an ICE restart (ice.restart) recovers it", s.who(), time.Duration(r.ConnectMs)*time.Millisecond), s
		}
	}
	return "", "", nil
}

// turnRefusals: the TURN server's record says it refused a side.
func (e *explainer) turnRefusals() (string, string, *side) {
	for _, s := range e.sides() {
		if denied := s.turnEvents(api.TurnEventKindPeerDenied); len(denied) > 0 {
			last := denied[len(denied)-1]
			return CausePeerDenied, fmt.Sprintf("the TURN server's relay policy refused %s's relay a permission to %s (%s's candidate address): that address is in a denied range (--turn-deny-peer, or a private range not opened with --turn-allow-peer)", s.who(), last.Address, s.other.who()), s
		}
	}
	for _, s := range e.sides() {
		if s.local().Relay > 0 {
			continue // whatever TURN refused, it got a relay in the end
		}
		switch {
		case len(s.turnEvents(api.TurnEventKindAuthExpired)) > 0:
			return CauseTURNExpired, fmt.Sprintf("the TURN server refused %s's allocation: its TURN credentials had expired (401), so it gathered no relay candidate; the app must use fresh iceServers (ice.servers, or apply ice.serversRefreshed)", s.who()), s
		case len(s.turnEvents(api.TurnEventKindAuthWrong)) > 0:
			return CauseTURNRejected, fmt.Sprintf("the TURN server refused %s's credentials (401: the password does not verify with any of its secrets, or the realm is wrong), so it gathered no relay candidate", s.who()), s
		case len(s.turnEvents(api.TurnEventKindAllocationQuota)) > 0:
			return CauseTURNQuota, fmt.Sprintf("the TURN server refused %s's allocation by quota (486: its identity holds --turn-max-allocations-per-identity relays, or the server is full), so it gathered no relay candidate", s.who()), s
		case len(s.turnEvents(api.TurnEventKindPermissionQuota)) > 0:
			return CauseTURNQuota, fmt.Sprintf("the TURN server refused %s's relay a permission by quota (508: --turn-max-permissions peers per allocation)", s.who()), s
		}
	}
	return "", "", nil
}

// relayMissing: a relay-only side without a relay candidate.
func (e *explainer) relayMissing() (string, string, *side) {
	for _, s := range e.sides() {
		if !s.relayOnly() || s.local().Relay > 0 {
			continue
		}
		turns := s.servers("turn:", "turns:")
		if len(turns) == 0 {
			return CauseNoRelayCandidate, fmt.Sprintf("%s allows relay candidates only (iceTransportPolicy relay) but was given no TURN server", s.who()), s
		}
		if errs := s.errorsFor("turn:", "turns:"); len(errs) > 0 {
			if len(s.turnEvents(api.TurnEventKindAllocated)) == 0 {
				return CauseTURNUnreachable, fmt.Sprintf("%s could not reach its TURN server: %s (error %d%s), and the TURN server has no allocation of its identity; UDP/TCP to it is blocked, or the host or port is wrong", s.who(), errs[0].URL, errs[0].ErrorCode, text(errs[0].ErrorText)), s
			}
		}
		return CauseNoRelayCandidate, fmt.Sprintf("%s allows relay candidates only but gathered none from %d TURN server(s)", s.who(), len(turns)), s
	}
	return "", "", nil
}

func text(t string) string {
	if t == "" {
		return ""
	}
	return ": " + t
}

// candidates: candidates that never crossed, or were never gathered.
func (e *explainer) candidates() (string, string, *side) {
	for _, s := range e.sides() {
		o := s.other
		if !o.reported() {
			continue
		}
		gathered := total(s.local())
		delivered := o.Report.RemoteCandidates + o.remote().Host + o.remote().Srflx + o.remote().Relay
		if e.sig != nil {
			delivered = int64(e.relay(s).Candidates)
		}
		if gathered > 0 && delivered == 0 || e.sig != nil && e.relay(s).Candidates == 0 && e.relay(s).HeldCandidates+e.relay(s).DroppedCandidates > 0 {
			detail := ""
			if e.sig != nil {
				r := e.relay(s)
				detail = fmt.Sprintf(" (the server delivered %d, held %d waiting for an offer, dropped %d)", r.Candidates, r.HeldCandidates, r.DroppedCandidates)
			}
			return CauseCandidatesUndelivered, fmt.Sprintf("%s gathered %d candidate(s) but none reached %s%s: the app does not send ice.candidate, or sends it to the wrong peer or room", s.who(), gathered, o.who(), detail), s
		}
	}
	for _, s := range e.sides() {
		if s.reported() && total(s.local()) == 0 {
			return CauseNoRemoteCandidates, fmt.Sprintf("%s gathered no candidate at all, so %s had nothing to check (no usable network interface, or every ICE server failed)", s.who(), s.other.who()), s
		}
	}
	return "", "", nil
}

// networks: both sides' candidates crossed and every pair failed.
func (e *explainer) networks() (string, string, *side) {
	if !e.a.reported() || !e.b.reported() {
		return "", "", nil
	}
	for _, s := range e.sides() {
		l := s.local()
		if l.Srflx > 0 || l.Relay > 0 || len(s.servers("stun:")) == 0 {
			continue
		}
		if errs := s.errorsFor("stun:"); len(errs) > 0 {
			return CauseSTUNUnreachable, fmt.Sprintf("%s gathered host candidates only: its STUN server %s did not answer (error %d), so it has no public address to offer", s.who(), errs[0].URL, errs[0].ErrorCode), s
		}
	}
	if e.a.local().Relay > 0 || e.b.local().Relay > 0 {
		return "", "", nil
	}
	if e.a.local().Srflx > 0 && e.b.local().Srflx > 0 {
		why := "hole punching failed both ways"
		for _, s := range e.sides() {
			if s.remote().Prflx > 0 {
				why = fmt.Sprintf("%s saw %s's checks arrive from a port it had not announced (peer-reflexive), the mark of a NAT that maps each destination to a new port (symmetric)", s.who(), s.other.who())
				break
			}
		}
		return CauseSymmetricNAT, fmt.Sprintf("both sides are behind NAT and offered direct candidates only (no relay): %s. At least one NAT is symmetric, and such a pair needs TURN: give both sides a turn: server", why), nil
	}
	return CauseNoRelayCandidate, "every direct candidate pair failed and neither side has a relay candidate: give both sides a TURN server", nil
}

// summary is one line of what a side reported.
func (s *side) summary() string {
	r := s.Report
	if r == nil {
		return "no report"
	}
	l, rm := s.local(), s.remote()
	out := fmt.Sprintf("%s after %s; gathered host %d, srflx %d, relay %d; remote candidates %d received, known host %d, srflx %d, prflx %d, relay %d",
		r.Trigger, time.Duration(r.ElapsedMs)*time.Millisecond, l.Host, l.Srflx, l.Relay, r.RemoteCandidates, rm.Host, rm.Srflx, rm.Prflx, rm.Relay)
	if r.ICETransportPolicy == "relay" {
		out += "; relay only"
	}
	if r.SignalingState != "" {
		out += "; signaling " + r.SignalingState
	}
	if r.AwaitingAnswer {
		out += "; awaiting an answer"
	}
	return out
}

// evidence lists the facts the verdict rests on, at most 16.
func (e *explainer) evidence() []string {
	out := []string{}
	for _, s := range e.sides() {
		out = append(out, s.who()+": "+s.summary())
		if r := s.Report; r != nil {
			for _, srv := range r.ICEServers {
				out = append(out, fmt.Sprintf("%s: %s gave srflx %d, relay %d", s.who(), srv.URL, srv.Srflx, srv.Relay))
			}
			for _, ce := range r.CandidateErrors {
				out = append(out, fmt.Sprintf("%s: candidate error %d from %s%s", s.who(), ce.ErrorCode, ce.URL, text(ce.ErrorText)))
			}
		}
		for _, ev := range s.TURN {
			line := fmt.Sprintf("TURN, %s: %s", s.who(), ev.Kind)
			if ev.Address != "" {
				line += " " + ev.Address
			}
			if ev.Count > 1 {
				line += fmt.Sprintf(" ×%d", ev.Count)
			}
			out = append(out, line+" at "+time.UnixMilli(ev.At).UTC().Format(time.RFC3339))
		}
	}
	if e.sig != nil {
		for _, d := range []struct {
			from, to *side
			r        Relay
		}{{&e.a, &e.b, e.sig.AToB}, {&e.b, &e.a, e.sig.BToA}} {
			out = append(out, fmt.Sprintf("signaling %s → %s: offers %d, answers %d, candidates %d delivered, %d held, %d dropped; refused: glare %d, too large %d",
				d.from.who(), d.to.who(), d.r.Offers, d.r.Answers, d.r.Candidates, d.r.HeldCandidates, d.r.DroppedCandidates, d.r.Glare, d.r.TooLarge))
		}
	}
	for i, line := range out {
		if r := []rune(line); len(r) > 256 {
			out[i] = string(r[:255]) + "…"
		}
	}
	return out[:min(len(out), 16)]
}
