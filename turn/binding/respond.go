package binding

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/pion/stun/v4"
)

const (
	magicCookie        = 0x2112A442 // RFC 8489 §5
	headerSize         = 20
	classErrorResponse = stun.ClassErrorResponse

	// CHANGE-REQUEST flags, RFC 5780 §7.2: "A" (0x4) change IP, "B" (0x2) change port.
	changeIPFlag   = 0x4
	changePortFlag = 0x2
)

// understood lists the comprehension-required attributes (type < 0x8000)
// this server accepts in a Binding request besides CHANGE-REQUEST: the
// RFC 8489 base attributes. Binding is answered without authentication, so
// USERNAME/MESSAGE-INTEGRITY are understood and ignored; anything else in
// that range (PADDING, ICE's PRIORITY, …) gets a 420, as do CHANGE-REQUEST
// and RESPONSE-PORT without an alternate address.
var understood = map[stun.AttrType]bool{
	stun.AttrMappedAddress:          true,
	stun.AttrUsername:               true,
	stun.AttrMessageIntegrity:       true,
	stun.AttrErrorCode:              true,
	stun.AttrUnknownAttributes:      true,
	stun.AttrRealm:                  true,
	stun.AttrNonce:                  true,
	stun.AttrMessageIntegritySHA256: true,
	stun.AttrPasswordAlgorithm:      true,
	stun.AttrUserhash:               true,
	stun.AttrXORMappedAddress:       true,
}

// looksLikeBindingRequest is the cheap test run on every datagram: message
// type 0x0001 and the magic cookie. ChannelData starts with 0x40-0x7F and
// every other TURN message has another type, so TURN never matches.
// Requests without the cookie (RFC 3489 clients) are not recognised: they
// go to pion/turn, which drops them too.
func looksLikeBindingRequest(b []byte) bool {
	return len(b) >= headerSize && b[0] == 0x00 && b[1] == 0x01 &&
		binary.BigEndian.Uint32(b[4:8]) == magicCookie
}

// responder holds the buffers one reader reuses for every request, so that
// answering a Binding request allocates nothing.
type responder struct {
	req, res stun.Message
	to       netip.AddrPort // where the response goes
	unknown  stun.UnknownAttributes
	ip       [net.IPv6len]byte
}

func newResponder() *responder {
	return &responder{
		req: stun.Message{Attributes: make(stun.Attributes, 0, 8)},
		res: stun.Message{Raw: make([]byte, 0, 128), Attributes: make(stun.Attributes, 0, 8)},
	}
}

// netIP returns a as a net.IP backed by r's buffer (valid until the next call).
func (r *responder) netIP(a netip.Addr) net.IP {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return net.IP(r.ip[:copy(r.ip[:], b[:])])
	}
	b := a.As16()
	return net.IP(r.ip[:copy(r.ip[:], b[:])])
}

// respond decodes the Binding request pkt that arrived on socket slot from
// from, builds the answer in r.res, puts its destination in r.to and says
// which socket must send it.
// ok is false when the datagram is not a valid STUN message: it is dropped.
func (s *Server) respond(r *responder, slot int, pkt []byte, from netip.AddrPort) (out int, ok bool) {
	r.req.Raw = pkt
	if err := r.req.Decode(); err != nil {
		return 0, false
	}
	// RFC 8489 §6.3: over UDP a datagram carries exactly one message; a
	// shorter or longer one is not STUN, and FINGERPRINT (which must be the
	// last attribute) could not be located in it.
	if headerSize+int(r.req.Length) != len(pkt) || r.req.Length%4 != 0 {
		return 0, false
	}
	// RFC 8489 §14.7: a FINGERPRINT that does not match means this is not
	// a STUN message; it is discarded.
	if r.req.Contains(stun.AttrFingerprint) && stun.Fingerprint.Check(&r.req) != nil {
		return 0, false
	}

	// RFC 8489 §6.3.1.1: "If the request contains one or more unknown
	// comprehension-required attributes, the server replies with an error
	// response with an error code of 420 (Unknown Attribute) and includes
	// an UNKNOWN-ATTRIBUTES attribute". Without an alternate address
	// CHANGE-REQUEST is such an attribute, which is how RFC 5780 §7.2 tells
	// a client the server cannot do behaviour discovery.
	r.unknown = r.unknown[:0]
	r.to = from
	var change, port []byte
	for _, a := range r.req.Attributes {
		switch {
		case a.Type == stun.AttrChangeRequest && s.rfc5780:
			change = a.Value
		case a.Type == stun.AttrResponsePort && s.rfc5780:
			port = a.Value
		case a.Type.Required() && !understood[a.Type]:
			r.unknown = append(r.unknown, a.Type)
		}
	}
	if len(r.unknown) > 0 {
		s.errorResponse(r, stun.CodeUnknownAttribute)
		return slot, true
	}

	if port != nil {
		// RFC 5780 §7.5: a 16-bit port and 2 bytes of padding; the
		// response goes to the request's source IP at that port (the
		// filtering test for clients with one socket per port, e.g.
		// turnutils_stunclient -f). Only the port can change: no
		// reflection to another host.
		p := uint16(0)
		if len(port) == 4 {
			p = binary.BigEndian.Uint16(port)
		}
		if p == 0 {
			s.errorResponse(r, stun.CodeBadRequest)
			return slot, true
		}
		r.to = netip.AddrPortFrom(from.Addr(), p)
	}

	out = slot
	if change != nil {
		// RFC 5780 §7.2: CHANGE-REQUEST's value is 4 bytes; a malformed
		// attribute is a 400.
		if len(change) != 4 {
			s.errorResponse(r, stun.CodeBadRequest)
			return slot, true
		}
		// "the server MUST send its response from the alternate IP and/or
		// port", relative to the address the request was received on.
		if change[3]&changeIPFlag != 0 {
			out ^= slotAltIP
		}
		if change[3]&changePortFlag != 0 {
			out ^= slotAltPort
		}
	}

	res := &r.res
	res.Reset()
	res.Type = stun.BindingSuccess
	res.TransactionID = r.req.TransactionID
	res.WriteHeader()
	// RFC 8489 §8: the response carries XOR-MAPPED-ADDRESS. MAPPED-ADDRESS
	// is only for RFC 3489 clients (§12), which this server does not
	// recognise (see looksLikeBindingRequest), so it is left out, as
	// coturn does by default.
	_ = stun.XORMappedAddress{IP: r.netIP(from.Addr()), Port: int(from.Port())}.AddTo(res)
	if s.rfc5780 {
		// RFC 5780 §7.3: RESPONSE-ORIGIN is the address the response is
		// sent from; OTHER-ADDRESS the one "change IP" and "change port"
		// together would use, both relative to the receiving socket.
		origin := stun.ResponseOrigin{IP: r.netIP(s.addrs[out].Addr()), Port: int(s.addrs[out].Port())}
		_ = origin.AddTo(res)
		other := stun.OtherAddress{IP: r.netIP(s.addrs[slot^slotAltBoth].Addr()), Port: int(s.addrs[slot^slotAltBoth].Port())}
		_ = other.AddTo(res)
	}
	s.finish(r)
	return out, true
}

func (s *Server) errorResponse(r *responder, code stun.ErrorCode) {
	res := &r.res
	res.Reset()
	res.Type = stun.NewType(stun.MethodBinding, stun.ClassErrorResponse)
	res.TransactionID = r.req.TransactionID
	res.WriteHeader()
	_ = code.AddTo(res)
	if code == stun.CodeUnknownAttribute {
		_ = r.unknown.AddTo(res)
	}
	s.finish(r)
}

// finish adds SOFTWARE and FINGERPRINT, which every response carries.
func (s *Server) finish(r *responder) {
	if len(s.software) > 0 {
		r.res.Add(stun.AttrSoftware, s.software)
	}
	_ = stun.Fingerprint.AddTo(&r.res)
}
