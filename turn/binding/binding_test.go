package binding

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"github.com/parley-rtc/parley/internal/rfc5769"
)

var (
	ip1 = netip.MustParseAddr("127.0.0.1")
	ip2 = netip.MustParseAddr("127.0.0.2")
)

// datagram is what a primary socket handed to its reader (pion in production).
type datagram struct {
	data   []byte
	from   net.Addr
	socket int // index in PacketConns
}

// start runs a server and reads its primary sockets as pion/turn would,
// passing every datagram that comes out of ReadFrom to the returned channel.
func start(t testing.TB, cfg Config) (*Server, <-chan datagram) {
	t.Helper()
	s, err := Listen(cfg)
	if err != nil {
		t.Fatalf("Listen(%+v): %v", cfg, err)
	}
	out := make(chan datagram, 64)
	var wg sync.WaitGroup
	for i, pc := range s.PacketConns() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1500)
			for {
				n, from, err := pc.ReadFrom(buf)
				if errors.Is(err, net.ErrClosed) {
					return
				}
				if err != nil {
					continue
				}
				select {
				case out <- datagram{bytes.Clone(buf[:n]), from, i}:
				default:
				}
			}
		}()
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		wg.Wait()
	})
	return s, out
}

func client(t testing.TB, ip netip.Addr) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// roundTrip sends req to to, retransmitting every 200ms for up to 2s (UDP
// may drop a datagram when a test floods the socket), and returns the
// response with its source.
func roundTrip(t testing.TB, c *net.UDPConn, to netip.AddrPort, req *stun.Message) (*stun.Message, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 1500)
	for range 10 {
		if _, err := c.WriteToUDPAddrPort(req.Raw, to); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		for range 1000 { // skip answers to other requests
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				break
			}
			res := &stun.Message{Raw: bytes.Clone(buf[:n])}
			if res.Decode() == nil && res.TransactionID == req.TransactionID {
				return res, from
			}
		}
	}
	t.Fatalf("no response from %s", to)
	return nil, netip.AddrPort{}
}

func bindingRequest(t testing.TB, setters ...stun.Setter) *stun.Message {
	t.Helper()
	all := append([]stun.Setter{stun.TransactionID, stun.BindingRequest}, setters...)
	return stun.MustBuild(append(all, stun.Fingerprint)...)
}

func changeRequest(ip, port bool) stun.Setter {
	v := []byte{0, 0, 0, 0}
	if ip {
		v[3] |= changeIPFlag
	}
	if port {
		v[3] |= changePortFlag
	}
	return stun.RawAttribute{Type: stun.AttrChangeRequest, Value: v}
}

func xorMapped(t testing.TB, m *stun.Message) netip.AddrPort {
	t.Helper()
	var xa stun.XORMappedAddress
	if err := xa.GetFrom(m); err != nil {
		t.Fatalf("XOR-MAPPED-ADDRESS: %v", err)
	}
	ip, _ := netip.AddrFromSlice(xa.IP)
	return netip.AddrPortFrom(ip.Unmap(), uint16(xa.Port))
}

func addrAttr(t testing.TB, m *stun.Message, typ stun.AttrType) netip.AddrPort {
	t.Helper()
	var a stun.MappedAddress
	if err := a.GetFromAs(m, typ); err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	ip, _ := netip.AddrFromSlice(a.IP)
	return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port))
}

func TestBindingWithoutAlternate(t *testing.T) {
	s, datagrams := start(t, Config{Listen: netip.AddrPortFrom(ip1, 0), Sockets: 2, Software: "parley-test"})
	c := client(t, ip1)

	res, from := roundTrip(t, c, s.Addr(), bindingRequest(t))
	if res.Type != stun.BindingSuccess || from != s.Addr() {
		t.Fatalf("got %s from %s, want Binding success from %s", res.Type, from, s.Addr())
	}
	if got := xorMapped(t, res); got != addrOf(c) {
		t.Errorf("XOR-MAPPED-ADDRESS %s, want %s", got, addrOf(c))
	}
	var sw stun.Software
	if err := sw.GetFrom(res); err != nil || sw.String() != "parley-test" {
		t.Errorf("SOFTWARE %q (%v)", sw, err)
	}
	if err := stun.Fingerprint.Check(res); err != nil {
		t.Errorf("FINGERPRINT: %v", err)
	}
	for _, a := range []stun.AttrType{stun.AttrOtherAddress, stun.AttrResponseOrigin, stun.AttrMappedAddress} {
		if res.Contains(a) {
			t.Errorf("response carries %s without RFC 5780", a)
		}
	}

	// RFC 5780 §7.2 / RFC 8489 §6.3.1.1: no alternate → CHANGE-REQUEST is unknown.
	res, _ = roundTrip(t, c, s.Addr(), bindingRequest(t, changeRequest(true, true)))
	assertError(t, res, stun.CodeUnknownAttribute, stun.AttrChangeRequest)

	// TURN traffic is not a Binding request: it comes out of ReadFrom as sent.
	alloc := stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest))
	channelData := []byte{0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4}
	indication := stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodBinding, stun.ClassIndication))
	for _, pkt := range [][]byte{alloc.Raw, channelData, indication.Raw} {
		if _, err := c.WriteToUDPAddrPort(pkt, s.Addr()); err != nil {
			t.Fatal(err)
		}
		select {
		case d := <-datagrams:
			if !bytes.Equal(d.data, pkt) || d.from.String() != addrOf(c).String() {
				t.Errorf("ReadFrom gave % x from %s, want % x from %s", d.data, d.from, pkt, addrOf(c))
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("% x never came out of ReadFrom", pkt[:4])
		}
	}
	select {
	case d := <-datagrams:
		t.Fatalf("unexpected datagram out of ReadFrom: % x", d.data)
	default:
	}
	if st := s.Stats(); st.Answered < 1 || st.Rejected < 1 { // more if a retransmission was answered
		t.Errorf("Stats = %+v, want 1 answered, 1 rejected", st)
	}
}

func assertError(t *testing.T, res *stun.Message, code stun.ErrorCode, unknown ...stun.AttrType) {
	t.Helper()
	if res.Type != stun.NewType(stun.MethodBinding, stun.ClassErrorResponse) {
		t.Fatalf("type %s, want Binding error response", res.Type)
	}
	var ec stun.ErrorCodeAttribute
	if err := ec.GetFrom(res); err != nil || ec.Code != code {
		t.Fatalf("ERROR-CODE %v (%v), want %d", ec, err, code)
	}
	if len(unknown) > 0 {
		var ua stun.UnknownAttributes
		if err := ua.GetFrom(res); err != nil || len(ua) != len(unknown) || ua[0] != unknown[0] {
			t.Fatalf("UNKNOWN-ATTRIBUTES %v (%v), want %v", ua, err, unknown)
		}
	}
	if err := stun.Fingerprint.Check(res); err != nil {
		t.Errorf("FINGERPRINT: %v", err)
	}
}

// TestRFC5780 sends a request to each of the four addresses with each of the
// four CHANGE-REQUEST flag combinations and checks the socket the answer
// comes from, RESPONSE-ORIGIN and OTHER-ADDRESS.
func TestRFC5780(t *testing.T) {
	s, _ := start(t, Config{Listen: netip.AddrPortFrom(ip1, 0), Alternate: netip.AddrPortFrom(ip2, 0), Software: "parley"})
	p, a := s.Addr(), s.OtherAddr()
	if p.Addr() != ip1 || a.Addr() != ip2 || p.Port() == a.Port() {
		t.Fatalf("addresses %s and %s", p, a)
	}
	addr := [numSlots]netip.AddrPort{
		slotPrimary: p,
		slotAltPort: netip.AddrPortFrom(ip1, a.Port()),
		slotAltIP:   netip.AddrPortFrom(ip2, p.Port()),
		slotAltBoth: a,
	}
	c := client(t, ip1)
	for slot := range numSlots {
		for flags := range numSlots {
			res, from := roundTrip(t, c, addr[slot], bindingRequest(t, changeRequest(flags&slotAltIP != 0, flags&slotAltPort != 0)))
			want := addr[slot^flags]
			if res.Type != stun.BindingSuccess || from != want {
				t.Errorf("to %s flags %02b: %s from %s, want success from %s", addr[slot], flags, res.Type, from, want)
				continue
			}
			if got := addrAttr(t, res, stun.AttrResponseOrigin); got != want {
				t.Errorf("to %s flags %02b: RESPONSE-ORIGIN %s, want %s", addr[slot], flags, got, want)
			}
			if got, want := addrAttr(t, res, stun.AttrOtherAddress), addr[slot^slotAltBoth]; got != want {
				t.Errorf("to %s: OTHER-ADDRESS %s, want %s", addr[slot], got, want)
			}
			if got := xorMapped(t, res); got != addrOf(c) {
				t.Errorf("XOR-MAPPED-ADDRESS %s, want %s", got, addrOf(c))
			}
		}
	}
	if st := s.Stats(); st.Answered < numSlots*numSlots {
		t.Errorf("Stats = %+v, want %d answered", st, numSlots*numSlots)
	}
}

func TestUnknownAttributes(t *testing.T) {
	s, _ := start(t, Config{Listen: netip.AddrPortFrom(ip1, 0), Alternate: netip.AddrPortFrom(ip2, 0)})
	c := client(t, ip1)
	// PADDING (RFC 5780 §7.6, optional for servers) is comprehension-required: 420.
	res, _ := roundTrip(t, c, s.Addr(), bindingRequest(t, stun.RawAttribute{Type: stun.AttrPadding, Value: make([]byte, 8)}))
	assertError(t, res, stun.CodeUnknownAttribute, stun.AttrPadding)
	// An unknown comprehension-optional attribute is ignored.
	res, _ = roundTrip(t, c, s.Addr(), bindingRequest(t, stun.RawAttribute{Type: 0xC0FF, Value: []byte{1}}))
	if res.Type != stun.BindingSuccess {
		t.Errorf("optional attribute: got %s, want success", res.Type)
	}
	// A CHANGE-REQUEST or RESPONSE-PORT that is not 4 bytes long, or port 0, is a bad request.
	for _, bad := range []stun.RawAttribute{
		{Type: stun.AttrChangeRequest, Value: []byte{6}},
		{Type: stun.AttrResponsePort, Value: []byte{0x12, 0x34}},
		{Type: stun.AttrResponsePort, Value: []byte{0, 0, 0, 0}},
	} {
		res, _ = roundTrip(t, c, s.Addr(), bindingRequest(t, bad))
		assertError(t, res, stun.CodeBadRequest)
	}
}

// TestResponsePort: RFC 5780 §7.5 sends the response to the request's
// source IP at RESPONSE-PORT, still mapping the request's own address; a
// server without an alternate address does no behaviour discovery: 420.
func TestResponsePort(t *testing.T) {
	s, _ := start(t, Config{Listen: netip.AddrPortFrom(ip1, 0), Alternate: netip.AddrPortFrom(ip2, 0)})
	sender, receiver := client(t, ip1), client(t, ip1)
	port := make([]byte, 4)
	binary.BigEndian.PutUint16(port, addrOf(receiver).Port())
	req := bindingRequest(t, stun.RawAttribute{Type: stun.AttrResponsePort, Value: port}, changeRequest(false, true))
	if _, err := sender.WriteToUDPAddrPort(req.Raw, s.Addr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	_ = receiver.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, from, err := receiver.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no response at RESPONSE-PORT: %v", err)
	}
	res := &stun.Message{Raw: buf[:n]}
	if err := res.Decode(); err != nil || res.Type != stun.BindingSuccess || res.TransactionID != req.TransactionID {
		t.Fatalf("got %s (%v), want the success response", res.Type, err)
	}
	if got := xorMapped(t, res); got != addrOf(sender) {
		t.Errorf("XOR-MAPPED-ADDRESS %s, want the sender's %s", got, addrOf(sender))
	}
	if from.Port() == s.Addr().Port() {
		t.Errorf("response from %s: CHANGE-REQUEST (port) ignored", from)
	}

	plain, _ := start(t, Config{Listen: netip.AddrPortFrom(ip1, 0)})
	res, _ = roundTrip(t, sender, plain.Addr(), bindingRequest(t, stun.RawAttribute{Type: stun.AttrResponsePort, Value: port}))
	assertError(t, res, stun.CodeUnknownAttribute, stun.AttrResponsePort)
}

// TestRFC5769Request answers the RFC 5769 §2.1 sample request: an ICE
// connectivity check whose PRIORITY (0x0024) a STUN server does not know.
func TestRFC5769Request(t *testing.T) {
	s := &Server{}
	r := newResponder()
	slot, ok := s.respond(r, slotPrimary, rfc5769Request(), netip.MustParseAddrPort("192.0.2.1:32853"))
	if !ok || slot != slotPrimary {
		t.Fatalf("respond = %d, %v", slot, ok)
	}
	res := &stun.Message{Raw: r.res.Raw}
	if err := res.Decode(); err != nil {
		t.Fatal(err)
	}
	assertError(t, res, stun.CodeUnknownAttribute, stun.AttrPriority)
	if !bytes.Equal(res.TransactionID[:], rfc5769Request()[8:20]) {
		t.Errorf("transaction ID not echoed")
	}
}

// rfc5769Request is RFC 5769 §2.1, "Sample Request".
func rfc5769Request() []byte { return rfc5769.Vectors()["2.1"] }

// TestGarbage throws random and truncated datagrams at every socket: the
// server keeps answering, counts what it dropped and starts no goroutines.
func TestGarbage(t *testing.T) {
	s, datagrams := start(t, Config{Listen: netip.AddrPortFrom(ip1, 0), Alternate: netip.AddrPortFrom(ip2, 0), Sockets: 2})
	go func() { // drain what pion would get
		for range datagrams {
		}
	}()
	c := client(t, ip1)
	targets := []netip.AddrPort{s.Addr(), s.OtherAddr(), netip.AddrPortFrom(ip1, s.OtherAddr().Port())}
	before := runtime.NumGoroutine()
	rng := rand.New(rand.NewPCG(1, 2))
	valid := bindingRequest(t).Raw
	for i := range 3000 {
		var pkt []byte
		switch i % 3 {
		case 0: // random bytes
			pkt = make([]byte, rng.IntN(200))
			for j := range pkt {
				pkt[j] = byte(rng.Uint32())
			}
		case 1: // a Binding request header with a lying length or cut short
			pkt = bytes.Clone(valid[:headerSize+rng.IntN(len(valid)-headerSize)])
			binary.BigEndian.PutUint16(pkt[2:4], uint16(rng.IntN(100)))
		case 2: // a valid request with one byte flipped
			pkt = bytes.Clone(valid)
			pkt[headerSize+rng.IntN(len(pkt)-headerSize)] ^= byte(1 + rng.IntN(255))
		}
		_, _ = c.WriteToUDPAddrPort(pkt, targets[rng.IntN(len(targets))])
	}
	for _, to := range targets {
		if res, _ := roundTrip(t, c, to, bindingRequest(t)); res.Type != stun.BindingSuccess {
			t.Errorf("after garbage, %s answers %s", to, res.Type)
		}
	}
	if st := s.Stats(); st.Malformed == 0 || st.Dropped == 0 {
		t.Errorf("Stats = %+v: want malformed and dropped counted", st)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("goroutines %d → %d", before, after)
	}
}

func TestSocketsShareThePort(t *testing.T) {
	s, _ := start(t, Config{Listen: netip.AddrPortFrom(ip1, 0), Sockets: 3})
	conns := s.PacketConns()
	if len(conns) != 3 {
		t.Fatalf("%d sockets, want 3", len(conns))
	}
	for _, pc := range conns {
		if got := pc.LocalAddr().(*net.UDPAddr).AddrPort(); got != s.Addr() {
			t.Errorf("socket on %s, want %s", got, s.Addr())
		}
	}
	// Different client ports hash to different sockets; all are answered.
	for range 8 {
		if res, _ := roundTrip(t, client(t, ip1), s.Addr(), bindingRequest(t)); res.Type != stun.BindingSuccess {
			t.Errorf("got %s", res.Type)
		}
	}
}

// TestSocketsSteerBySourceIP: every datagram from one client IP reaches the
// same socket whatever its source port (pion keeps per-socket state that
// spans a client's ports), and two IPs that differ modulo the socket count
// reach different sockets.
func TestSocketsSteerBySourceIP(t *testing.T) {
	s, out := start(t, Config{Listen: netip.AddrPortFrom(ip1, 0), Sockets: 2})
	got := map[netip.Addr]map[int]int{} // source IP → socket → datagrams
	const ports = 8
	for _, ip := range []netip.Addr{ip1, ip2} {
		got[ip] = map[int]int{}
		for range ports {
			// Not STUN, so it passes through to the socket's reader.
			if _, err := client(t, ip).WriteToUDPAddrPort([]byte("not stun"), s.Addr()); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 2 * ports {
		select {
		case d := <-out:
			got[d.from.(*net.UDPAddr).AddrPort().Addr()][d.socket]++
		case <-time.After(2 * time.Second):
			t.Fatalf("datagrams missing; so far %v", got)
		}
	}
	if len(got[ip1]) != 1 || len(got[ip2]) != 1 {
		t.Fatalf("one IP's datagrams spread over sockets: %v", got)
	}
	for sock := range got[ip1] {
		if got[ip2][sock] != 0 {
			t.Errorf("127.0.0.1 and 127.0.0.2 share socket %d: %v", sock, got)
		}
	}
}

func TestConfigRejected(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no listen":      {},
		"negative":       {Listen: netip.AddrPortFrom(ip1, 0), Sockets: -1},
		"same IP":        {Listen: netip.AddrPortFrom(ip1, 0), Alternate: netip.AddrPortFrom(ip1, 4000)},
		"same port":      {Listen: netip.AddrPortFrom(ip1, 4000), Alternate: netip.AddrPortFrom(ip2, 4000)},
		"wildcard":       {Listen: netip.MustParseAddrPort("0.0.0.0:0"), Alternate: netip.AddrPortFrom(ip2, 0)},
		"mixed families": {Listen: netip.AddrPortFrom(ip1, 0), Alternate: netip.MustParseAddrPort("[::1]:0")},
		"port taken":     {Listen: netip.AddrPortFrom(ip1, 0), Alternate: netip.AddrPortFrom(ip2, 0), Sockets: 1},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "port taken" {
				held := client(t, ip2)
				cfg.Listen = netip.AddrPortFrom(ip1, addrOf(held).Port())
				cfg.Alternate = netip.AddrPortFrom(ip2, addrOf(held).Port()+1)
			}
			if s, err := Listen(cfg); err == nil {
				_ = s.Close()
				t.Fatalf("Listen(%+v) succeeded", cfg)
			}
		})
	}
}
