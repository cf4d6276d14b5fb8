package server

import (
	"fmt"

	"github.com/pion/ice/v4"
	"github.com/pion/sdp/v3"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/rpc/wire"
)

// checkSDP refuses SDP that is too large or does not parse, so garbage is
// answered with an error naming the field instead of being relayed. The
// usual offer or answer passes plainSDPLiteral as it came, never
// unescaped (its literal is never shorter than its text, so one within
// max fits); any other is unescaped and checked by checkSDPText.
func checkSDP(sdp wire.RawString, max int) error {
	lit := sdp.Literal()
	if body := lit[1 : len(lit)-1]; len(body) <= max && plainSDPLiteral(body) {
		return nil
	}
	text, err := sdp.Text()
	if err != nil { // a decoder read the literal: not expected
		return rpc.InvalidParams("sdp", "not a JSON string: "+err.Error())
	}
	return checkSDPText(text, max)
}

// checkSDPText is checkSDP of the text: plainSDP, or else pion/sdp.
func checkSDPText(text string, max int) error {
	if len(text) > max {
		return api.ErrTooLarge(fmt.Sprintf("sdp is %d bytes, over this server's limit of %d", len(text), max))
	}
	if plainSDP(text) {
		return nil
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(text); err != nil {
		return rpc.InvalidParams("sdp", "not a valid session description: "+err.Error())
	}
	return nil
}

// checkCandidate refuses a candidate line that does not parse. nil (end of
// all candidates) and "" (end of candidates for one m-section, as browsers
// send it) pass. (That sdpMid or sdpMLineIndex is there, as
// RTCPeerConnection.addIceCandidate wants, the schema's anyOf says and the
// generated decoder checks.)
func checkCandidate(c *api.IceCandidateInit, max int) error {
	if c == nil {
		return nil
	}
	if len(c.Candidate) > max {
		return api.ErrTooLarge(fmt.Sprintf("candidate is %d bytes, over this server's limit of %d", len(c.Candidate), max))
	}
	if c.Candidate == "" || plainCandidate(c.Candidate) {
		return nil
	}
	if _, err := ice.UnmarshalCandidate(c.Candidate); err != nil {
		return rpc.InvalidParams("candidate.candidate", "not a valid ICE candidate: "+err.Error())
	}
	return nil
}

// checkMetadata bounds what the server stores for a room or peer.
func checkMetadata(field string, m []byte, max int) error {
	if len(m) > max {
		return api.ErrTooLarge(fmt.Sprintf("%s is %d bytes, over this server's limit of %d", field, len(m), max))
	}
	return nil
}
