package binding

import (
	"net/netip"
	"testing"

	"github.com/pion/stun/v4"
)

// FuzzRespond: any datagram that passes the Binding-request test is either
// dropped or answered with a well-formed response to its transaction. Both
// the server's getters (Decode, Contains, FINGERPRINT, CHANGE-REQUEST) and
// every getter a client uses on the answer run on every input.
func FuzzRespond(f *testing.F) {
	f.Add(rfc5769Request())
	f.Add(stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint).Raw)
	f.Add(stun.MustBuild(stun.TransactionID, stun.BindingRequest, changeRequest(true, true), stun.Fingerprint).Raw)
	f.Add(stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.RawAttribute{Type: stun.AttrChangeRequest, Value: []byte{2}}).Raw)
	f.Add(stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.NewSoftware("x"), stun.RawAttribute{Type: stun.AttrResponsePort, Value: []byte{0, 1, 0, 0}}).Raw)
	servers := []*Server{
		{},
		{rfc5780: true, software: []byte("parley"), addrs: [numSlots]netip.AddrPort{
			netip.MustParseAddrPort("192.0.2.1:3478"), netip.MustParseAddrPort("192.0.2.1:3479"),
			netip.MustParseAddrPort("192.0.2.2:3478"), netip.MustParseAddrPort("192.0.2.2:3479"),
		}},
	}
	from := netip.MustParseAddrPort("[2001:db8::1]:40000")
	r := newResponder()
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if !looksLikeBindingRequest(pkt) {
			return
		}
		for _, s := range servers {
			for slot := range numSlots {
				out, ok := s.respond(r, slot, pkt, from)
				if !ok {
					continue
				}
				if out < 0 || out >= numSlots || (!s.rfc5780 && out != slot) {
					t.Fatalf("response from slot %d", out)
				}
				checkResponse(t, r.res.Raw, pkt)
			}
		}
	})
}

func checkResponse(t *testing.T, raw, req []byte) {
	t.Helper()
	res := &stun.Message{Raw: append([]byte(nil), raw...)}
	if err := res.Decode(); err != nil {
		t.Fatalf("response does not decode: %v", err)
	}
	if string(res.TransactionID[:]) != string(req[8:20]) {
		t.Fatal("transaction ID not echoed")
	}
	if err := stun.Fingerprint.Check(res); err != nil {
		t.Fatalf("FINGERPRINT: %v", err)
	}
	switch res.Type {
	case stun.BindingSuccess:
		var xa stun.XORMappedAddress
		if err := xa.GetFrom(res); err != nil {
			t.Fatalf("XOR-MAPPED-ADDRESS: %v", err)
		}
		var oa stun.OtherAddress
		var ro stun.ResponseOrigin
		if res.Contains(stun.AttrOtherAddress) && (oa.GetFrom(res) != nil || ro.GetFrom(res) != nil) {
			t.Fatal("RFC 5780 attributes do not decode")
		}
	case stun.NewType(stun.MethodBinding, stun.ClassErrorResponse):
		var ec stun.ErrorCodeAttribute
		if err := ec.GetFrom(res); err != nil {
			t.Fatalf("ERROR-CODE: %v", err)
		}
		var ua stun.UnknownAttributes
		if ec.Code == stun.CodeUnknownAttribute && ua.GetFrom(res) != nil {
			t.Fatal("420 without UNKNOWN-ATTRIBUTES")
		}
	default:
		t.Fatalf("response type %s", res.Type)
	}
}
