package turn

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
	"golang.org/x/time/rate"

	"github.com/parley-rtc/parley/internal/rfc5769"
)

// FuzzSTUN feeds arbitrary bytes to every parser on the TURN server's
// request path, three ways:
//
//   - as a message (checkMessage): Decode and its round trip, every
//     attribute getter the guard, the authenticator and the 401 limiter call
//     with its result written back and read again, and the guard's pure
//     parts (peerAddrs, verify, errorResponse);
//   - as a datagram to pion/turn behind the guard, wired as start wires them
//     but over in-memory sockets (fuzzServer.serve), sent as it is and
//     re-signed with valid credentials: pion's own getters (LIFETIME,
//     REQUESTED-TRANSPORT, CHANNEL-NUMBER, DATA, EVEN-PORT, ...) are
//     internal to pion and only run behind its authentication. The relay
//     policy must hold whatever the bytes say;
//   - as the bytes of one TCP connection (fuzzServer.stream): the guard's
//     reframing, then pion's.
//
// The seeds are the RFC 5769 vectors and the TURN messages a browser sends.
func FuzzSTUN(f *testing.F) {
	vectors := rfc5769.Vectors()
	for _, section := range slices.Sorted(maps.Keys(vectors)) {
		f.Add(vectors[section])
	}
	for _, seed := range turnSeeds() {
		f.Add(seed)
	}
	h := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if len(pkt) > maxFuzzInput {
			return
		}
		m := checkMessage(t, h, pkt)
		h.serve(t, pkt, m)
		h.stream(t, pkt)
	})
}

// maxFuzzInput bounds the inputs FuzzSTUN looks at. Browsers' requests are
// 100-300 bytes and a length that lies needs no bytes behind it, while the
// fuzzer's minimization of a new input costs executions quadratic in its
// length: at this target's ~100µs each, a 2 KiB input stalls a run for the
// whole minimization timeout (60s). Datagrams past pion's 1600-byte buffer
// are TestGarbage's.
const maxFuzzInput = 512

// TestRFC5769 checks the vectors as typed in: each decodes, its integrity
// and fingerprint check, and the getters read what the RFC says they hold.
func TestRFC5769(t *testing.T) {
	vectors := rfc5769.Vectors()
	const short = rfc5769.ShortTermPassword
	for _, c := range []struct {
		section string
		key     stun.MessageIntegrity
		want    map[stun.AttrType]string // getter results, as text
	}{
		{"2.1", stun.NewShortTermIntegrity(short), map[stun.AttrType]string{stun.AttrSoftware: "STUN test client", stun.AttrUsername: "evtj:h6vY"}},
		{"2.2", stun.NewShortTermIntegrity(short), map[stun.AttrType]string{stun.AttrSoftware: "test vector", stun.AttrXORMappedAddress: "192.0.2.1:32853"}},
		{"2.3", stun.NewShortTermIntegrity(short), map[stun.AttrType]string{stun.AttrSoftware: "test vector", stun.AttrXORMappedAddress: "[2001:db8:1234:5678:11:2233:4455:6677]:32853"}},
		{"2.4", stun.NewLongTermIntegrity(rfc5769.Username, rfc5769.Realm, rfc5769.Password), map[stun.AttrType]string{
			stun.AttrUsername: "マトリックス", stun.AttrNonce: "f//499k954d6OL34oL9FSTvy64sA", stun.AttrRealm: "example.org",
		}},
	} {
		t.Run(c.section, func(t *testing.T) {
			m := &stun.Message{Raw: vectors[c.section]}
			if err := m.Decode(); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if err := c.key.Check(m); err != nil {
				t.Errorf("MESSAGE-INTEGRITY: %v", err)
			}
			if m.Contains(stun.AttrFingerprint) {
				if err := stun.Fingerprint.Check(m); err != nil {
					t.Errorf("FINGERPRINT: %v", err)
				}
			}
			for attr, want := range c.want {
				if got, _, err := getterFor(attr)(m); err != nil || got != want {
					t.Errorf("%s = %q (%v), want %q", attr, got, err, want)
				}
			}
		})
	}
}

// Credentials for the fuzzed requests: fixed, so that a signed corpus entry
// stays signed, and signed with the second secret, so that every request
// goes through the authenticator's rotation path.
var (
	fuzzUser = Username(time.Unix(4_000_000_000, 0), "fuzz")
	fuzzKey  = pionturn.GenerateAuthKey(fuzzUser, testRealm, Password([]byte(testSecret), fuzzUser))
	fuzzTxID = [stun.TransactionIDSize]byte{'p', 'a', 'r', 'l', 'e', 'y', '-', 'f', 'u', 'z', 'z', '!'}
)

// peerAddr is an XOR-PEER-ADDRESS as most clients write it (IPv4 family for
// an IPv4 peer; xorPeer16 is the other spelling).
type peerAddr netip.AddrPort

func (p peerAddr) AddTo(m *stun.Message) error {
	ap := netip.AddrPort(p)
	return stun.XORMappedAddress{IP: ap.Addr().AsSlice(), Port: int(ap.Port())}.AddToAs(m, stun.AttrXORPeerAddress)
}

// turnSeeds are the TURN messages a browser sends, a few a server sends,
// and the regressions.
func turnSeeds() [][]byte {
	msg := func(method stun.Method, class stun.MessageClass, attrs ...stun.Setter) []byte {
		return stun.MustBuild(append([]stun.Setter{stun.NewTransactionIDSetter(fuzzTxID), stun.NewType(method, class)}, attrs...)...).Raw
	}
	signed := func(method stun.Method, attrs ...stun.Setter) []byte {
		return msg(method, stun.ClassRequest, append(attrs, stun.NewUsername(fuzzUser), stun.NewRealm(testRealm),
			stun.NewNonce("0123456789abcdef"), stun.MessageIntegrity(fuzzKey), stun.Fingerprint)...)
	}
	raw := func(attr stun.AttrType, v ...byte) stun.Setter { return stun.RawAttribute{Type: attr, Value: v} }
	public := peerAddr(netip.MustParseAddrPort("8.8.8.8:3478"))
	channel := raw(stun.AttrChannelNumber, 0x40, 0x01, 0, 0)
	return [][]byte{
		msg(stun.MethodBinding, stun.ClassRequest, stun.Fingerprint),
		msg(stun.MethodAllocate, stun.ClassRequest, udpTransport, raw(stun.AttrLifetime, 0, 0, 0x02, 0x58), raw(stun.AttrDontFragment)),
		signed(stun.MethodAllocate, udpTransport, raw(stun.AttrEvenPort, 0x80), raw(stun.AttrRequestedAddressFamily, 0x02, 0, 0, 0)),
		signed(stun.MethodAllocate, udpTransport, raw(stun.AttrReservationToken, 1, 2, 3, 4, 5, 6, 7, 8)),
		signed(stun.MethodRefresh, raw(stun.AttrLifetime, 0, 0, 0, 0)),
		signed(stun.MethodCreatePermission, public, xorPeer16{ip: netip.MustParseAddr("::ffff:10.0.0.1"), port: 80}),
		signed(stun.MethodChannelBind, channel, public),
		// A denied peer, then a malformed one: the guard passed it unchecked
		// and pion, reading only the first, bound the denied one.
		signed(stun.MethodChannelBind, channel, peerAddr(netip.MustParseAddrPort("127.0.0.1:22")), raw(stun.AttrXORPeerAddress, 0, 3, 0, 0, 0, 0, 0, 0)),
		signed(stun.MethodConnect, public),
		signed(stun.MethodConnectionBind, raw(stun.AttrConnectionID, 0, 0, 0, 1)),
		msg(stun.MethodSend, stun.ClassIndication, public, raw(stun.AttrData, 'p', 'i', 'n', 'g')),
		{0x40, 0x01, 0x00, 0x04, 'p', 'i', 'n', 'g'}, // ChannelData
		msg(stun.MethodAllocate, stun.ClassErrorResponse, stun.CodeUnauthorized, stun.NewRealm(testRealm), stun.NewNonce("0123456789abcdef")),
	}
}

// getters are the attribute readers on the server's request path that can
// be called from here: the authenticator's (USERNAME, REALM), pion's
// authentication (NONCE), the guard's (XOR-PEER-ADDRESS) and the 401
// limiter's (ERROR-CODE).
var getters = []stun.AttrType{stun.AttrUsername, stun.AttrRealm, stun.AttrNonce, stun.AttrXORPeerAddress, stun.AttrErrorCode}

// getterFor returns attr's getter: the value as text, and a setter that
// writes it back (nil for a value that cannot round-trip).
func getterFor(attr stun.AttrType) func(*stun.Message) (string, stun.Setter, error) {
	text := func(v interface {
		stun.Getter
		stun.Setter
		String() string
	}) func(*stun.Message) (string, stun.Setter, error) {
		return func(m *stun.Message) (string, stun.Setter, error) { err := v.GetFrom(m); return v.String(), v, err }
	}
	switch attr {
	case stun.AttrUsername:
		return text(&stun.Username{})
	case stun.AttrRealm:
		return text(&stun.Realm{})
	case stun.AttrNonce:
		return text(&stun.Nonce{})
	case stun.AttrErrorCode:
		return func(m *stun.Message) (string, stun.Setter, error) {
			var v stun.ErrorCodeAttribute
			if err := v.GetFrom(m); err != nil {
				return "", nil, err
			}
			// pion's setter writes classes 7-9 into the 3-bit class field,
			// which reads back as another code: only RFC 8489's 300-699
			// round-trip (the server writes no other).
			if v.Code < 300 || v.Code > 699 {
				return v.String(), nil, nil
			}
			return v.String(), v, nil
		}
	case stun.AttrSoftware:
		return text(&stun.Software{})
	case stun.AttrXORMappedAddress:
		return text(&stun.XORMappedAddress{})
	case stun.AttrXORPeerAddress:
		return func(m *stun.Message) (string, stun.Setter, error) {
			ap, err := readPeer(m)
			return ap.String(), peerAddr(ap), err
		}
	}
	panic("no getter for " + attr.String())
}

// readPeer is the XOR-PEER-ADDRESS getter pion and the guard use, unmapped.
func readPeer(m *stun.Message) (netip.AddrPort, error) {
	var v stun.XORMappedAddress
	if err := v.GetFromAs(m, stun.AttrXORPeerAddress); err != nil {
		return netip.AddrPort{}, err
	}
	ip, _ := netip.AddrFromSlice(v.IP)
	return netip.AddrPortFrom(ip.Unmap(), uint16(v.Port)), nil
}

// checkMessage decodes pkt as the guard does and runs the getters and the
// guard's pure functions on it; nil when pkt is not a STUN message.
func checkMessage(t *testing.T, h *fuzzServer, pkt []byte) *stun.Message {
	t.Helper()
	h.srv.suppress401(pkt, h.home) // ERROR-CODE, as on what the server sends
	if !stun.IsMessage(pkt) {
		return nil
	}
	m := &stun.Message{Raw: bytes.Clone(pkt)}
	if m.Decode() != nil {
		return nil
	}
	checkReencode(t, pkt, m)
	_ = stun.Fingerprint.Check(m)
	_ = m.Contains(stun.AttrMessageIntegrity)
	for _, attr := range getters {
		get := getterFor(attr)
		v, set, err := get(m)
		if err != nil || set == nil {
			continue
		}
		back := encode(&stun.Message{TransactionID: m.TransactionID})
		if set.AddTo(back) != nil {
			continue // a value its setter refuses to write, such as an over-long USERNAME
		}
		if again, _, err := get(back); err != nil || again != v {
			t.Fatalf("%s: read %q, wrote it back, read %q (%v)", attr, v, again, err)
		}
	}
	var user stun.Username
	if user.GetFrom(m) == nil {
		_, _, _ = ParseUsername(user.String())
	}

	// Every XOR-PEER-ADDRESS the guard reads, written back, reads the same.
	peers, ok := peerAddrs(m)
	if ok {
		back := encode(&stun.Message{TransactionID: m.TransactionID})
		for _, p := range peers {
			_ = peerAddr(p).AddTo(back)
		}
		again, _ := peerAddrs(back)
		if !slices.EqualFunc(peers, again, func(a, b netip.AddrPort) bool { return a.Addr().Unmap() == b.Addr().Unmap() && a.Port() == b.Port() }) {
			t.Fatalf("XOR-PEER-ADDRESS: read %v, wrote them back, read %v", peers, again)
		}
	}

	key, signed := h.srv.auth.verify(m)
	if signed && !bytes.Equal(key, fuzzKey) {
		t.Fatalf("verify matched key %x, want the fuzz client's", key)
	}
	if m.Type.Class == stun.ClassRequest {
		res := &stun.Message{Raw: errorResponse(m, stun.CodeForbidden, fuzzKey)}
		var ec stun.ErrorCodeAttribute
		switch {
		case res.Decode() != nil:
			t.Fatal("errorResponse does not decode")
		case res.TransactionID != m.TransactionID || res.Type != stun.NewType(m.Type.Method, stun.ClassErrorResponse):
			t.Fatalf("errorResponse to %s is %s", m.Type, res.Type)
		case ec.GetFrom(res) != nil || ec.Code != stun.CodeForbidden:
			t.Fatalf("errorResponse: ERROR-CODE %v", ec)
		case stun.MessageIntegrity(fuzzKey).Check(res) != nil:
			t.Fatal("errorResponse: MESSAGE-INTEGRITY does not check")
		}
	}
	return m
}

// checkReencode: what Decode read, written back by the encoder, decodes to
// the same message; and when pkt was in the encoder's own form (zero
// padding, top type bits clear, no attribute Decode dropped or renamed) it
// is the same bytes.
func checkReencode(t *testing.T, pkt []byte, m *stun.Message) {
	t.Helper()
	re := encode(m)
	again := &stun.Message{Raw: re.Raw}
	sameAttr := func(a, b stun.RawAttribute) bool { return a.Type == b.Type && bytes.Equal(a.Value, b.Value) }
	if err := again.Decode(); err != nil || again.Type != m.Type || again.TransactionID != m.TransactionID ||
		!slices.EqualFunc(again.Attributes, m.Attributes, sameAttr) {
		t.Fatalf("re-encoded message decodes differently (%v):\n%x\n%x", err, pkt, re.Raw)
	}
	want := pkt[:20+int(m.Length)]
	if len(re.Raw) != len(want) || want[0]&0xC0 != 0 {
		return
	}
	off := 20
	for _, a := range m.Attributes {
		end, padded := off+4+len(a.Value), off+4+(len(a.Value)+3)&^3
		if binary.BigEndian.Uint16(want[off:]) != uint16(a.Type) || bytes.ContainsFunc(want[end:padded], func(r rune) bool { return r != 0 }) {
			return
		}
		off = padded
	}
	if !bytes.Equal(re.Raw, want) {
		t.Fatalf("re-encoded message differs:\n%x\n%x", want, re.Raw)
	}
}

// fuzzServer is the guard in front of pion/turn, wired as start wires them,
// on an in-memory socket (memSocket) with relays that send nowhere
// (nullRelays): a fuzzed Send must not reach the network.
type fuzzServer struct {
	srv    *Server
	sock   *memSocket
	relays *nullRelays
	pion   *pionturn.Server
	nonce  string
	// home keeps an allocation across executions, for the requests that
	// need one; away has none at the start of each, for Allocate. Both
	// move to a fresh address (clients counts them) whenever they need a
	// new allocation: see fresh.
	home, away net.Addr
	clients    int
}

func newFuzzServer(tb testing.TB) *fuzzServer {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.Secrets = []string{"fuzz-signing-secret-0123", testSecret}
	cfg.Realm = testRealm
	cfg.MaxPermissionsPerAllocation = 3
	s, _, _, err := newServer(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	// No 401 is rate-limited: the limiter's verdict depends on the clock and
	// on the executions before.
	for i := range s.unauthorized.buckets {
		s.unauthorized.buckets[i] = rate.NewLimiter(rate.Inf, 0)
	}
	h := &fuzzServer{
		srv:    s,
		sock:   newMemSocket(net.UDPAddrFromAddrPort(netip.MustParseAddrPort(cfg.Listen))),
		relays: &nullRelays{srv: s, open: make(map[int]int)},
	}
	s.perms.live = h.relays.live
	h.home, h.away = h.fresh(1), h.fresh(2)
	h.pion, err = pionturn.NewServer(pionturn.ServerConfig{
		Realm:         cfg.Realm,
		AuthHandler:   s.auth.handle,
		QuotaHandler:  s.admit,
		EventHandler:  s.events(),
		LoggerFactory: pionLogs{s.log},
		PacketConnConfigs: []pionturn.PacketConnConfig{{
			PacketConn:            &guardedPacketConn{PacketConn: h.sock, srv: s},
			RelayAddressGenerator: h.relays,
			PermissionHandler:     s.permit,
		}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = h.pion.Close() })
	<-h.sock.idle

	// The nonce, from the 401 to an unsigned Allocate.
	for _, b := range h.deliver(h.home, stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest), udpTransport).Raw) {
		var nonce stun.Nonce
		if res := (&stun.Message{Raw: b}); res.Decode() == nil && nonce.GetFrom(res) == nil {
			h.nonce = nonce.String()
		}
	}
	if h.nonce == "" {
		tb.Fatal("no nonce in the answer to an unsigned Allocate")
	}
	h.reset(tb)
	if ok, _ := h.allocation(h.home); !ok {
		tb.Fatal("no allocation for a signed Allocate")
	}
	return h
}

// deliver hands pion one datagram from src and returns what the server sent
// while handling it.
func (h *fuzzServer) deliver(src net.Addr, b []byte) [][]byte {
	h.sock.in <- packet{b: b, from: src}
	<-h.sock.idle
	h.sock.mu.Lock()
	defer h.sock.mu.Unlock()
	sent := h.sock.sent
	h.sock.sent = nil
	return sent
}

// request is a signed request of method with attrs.
func (h *fuzzServer) request(method stun.Method, attrs ...stun.Setter) []byte {
	m := stun.MustBuild(append([]stun.Setter{stun.TransactionID, stun.NewType(method, stun.ClassRequest)}, attrs...)...)
	return h.sign(m).Raw
}

// lifetimeZero makes a Refresh release its allocation.
var lifetimeZero = stun.RawAttribute{Type: stun.AttrLifetime, Value: []byte{0, 0, 0, 0}}

// sign re-signs m for the fuzz client: USERNAME, REALM, NONCE and the
// integrity attributes are replaced and everything else is kept byte for
// byte, even attributes no encoder would write, so that the request gets
// past authentication to the code that reads them.
func (h *fuzzServer) sign(m *stun.Message) *stun.Message {
	return signAs(m, fuzzUser, testRealm, h.nonce, fuzzKey)
}

func signAs(m *stun.Message, user, realm, nonce string, key []byte) *stun.Message {
	out := encode(m, authAttrs...)
	for _, s := range []stun.Setter{stun.NewUsername(user), stun.NewRealm(realm), stun.NewNonce(nonce), stun.MessageIntegrity(key), stun.Fingerprint} {
		if err := s.AddTo(out); err != nil {
			return nil
		}
	}
	return out
}

// authAttrs are the attributes signAs replaces.
var authAttrs = []stun.AttrType{stun.AttrUsername, stun.AttrRealm, stun.AttrNonce, stun.AttrMessageIntegrity, stun.AttrMessageIntegritySHA256, stun.AttrFingerprint}

// encode writes m's type, transaction and attributes, less the dropped
// types, as a new message.
func encode(m *stun.Message, drop ...stun.AttrType) *stun.Message {
	out := &stun.Message{Type: m.Type, TransactionID: m.TransactionID}
	out.WriteHeader()
	for _, a := range m.Attributes {
		if !slices.Contains(drop, a.Type) {
			out.Add(a.Type, a.Value)
		}
	}
	return out
}

// serve sends pkt from home, and a request re-signed from home (and from
// away, if it is an Allocate), and checks every answer.
func (h *fuzzServer) serve(t *testing.T, pkt []byte, m *stun.Message) {
	t.Helper()
	h.check(t, m, h.deliver(h.home, pkt))
	if m != nil && m.Type.Class == stun.ClassRequest && len(m.Raw) < 0xF000 {
		s := h.sign(m)
		if s == nil {
			t.Fatal("cannot sign a decoded request")
		}
		if key, ok := h.srv.auth.verify(s); !ok || !bytes.Equal(key, fuzzKey) {
			t.Fatal("the guard does not verify a correctly signed request")
		}
		h.check(t, s, h.deliver(h.home, s.Raw))
		if m.Type.Method == stun.MethodAllocate {
			h.check(t, s, h.deliver(h.away, s.Raw))
		}
	}
	h.reset(t)
}

// check holds the server to what it promises whatever it was sent: answers
// decode, echo the request's transaction and are signed with the client's
// key or not at all; no permission or channel for a denied peer is granted;
// nothing is relayed to one; no allocation holds more permissions than its
// cap.
func (h *fuzzServer) check(t *testing.T, req *stun.Message, sent [][]byte) {
	t.Helper()
	for _, b := range sent {
		res := &stun.Message{Raw: b}
		switch {
		case res.Decode() != nil:
			t.Fatalf("the server sent what does not decode: %x", b)
		case req == nil:
			t.Fatalf("%s sent in answer to a datagram that does not decode", res.Type)
		case res.TransactionID != req.TransactionID:
			t.Fatalf("%s answers another transaction", res.Type)
		case res.Contains(stun.AttrMessageIntegrity) && stun.MessageIntegrity(fuzzKey).Check(res) != nil:
			t.Fatalf("%s is signed with another key", res.Type)
		}
		if res.Type.Class != stun.ClassSuccessResponse || (res.Type.Method != stun.MethodCreatePermission && res.Type.Method != stun.MethodChannelBind) {
			continue
		}
		_ = req.ForEach(stun.AttrXORPeerAddress, func(m *stun.Message) error {
			if p, err := readPeer(m); err == nil && !h.srv.peerAllowed(p) {
				t.Fatalf("%s for the denied peer %s", res.Type, p)
			}
			return nil
		})
	}
	if leaked := h.relays.takeLeaked(); len(leaked) > 0 {
		t.Fatalf("relayed to denied peers %v", leaked)
	}
	h.srv.perms.mu.Lock()
	defer h.srv.perms.mu.Unlock()
	for tuple, e := range h.srv.perms.peers {
		if len(e.set) > h.srv.perms.max {
			t.Fatalf("allocation %v holds %d permissions, cap %d", tuple, len(e.set), h.srv.perms.max)
		}
	}
}

// allocation reports whether src has an allocation and how many peers it
// holds permissions for (the permission table follows pion's events).
func (h *fuzzServer) allocation(src net.Addr) (ok bool, peers int) {
	h.srv.perms.mu.Lock()
	defer h.srv.perms.mu.Unlock()
	e, ok := h.srv.perms.peers[tupleOf(src, h.sock.addr)]
	if !ok {
		return false, 0
	}
	return true, len(e.set)
}

// reset leaves away without an allocation and home with one that holds no
// permission, so that every execution starts from the same state (a fuzzer
// cannot minimize an input whose coverage depends on the ones before).
func (h *fuzzServer) reset(tb testing.TB) {
	tb.Helper()
	release := func(src net.Addr) {
		answers := h.deliver(src, h.request(stun.MethodRefresh, lifetimeZero))
		// An allocation whose fuzzed LIFETIME just ran out is being deleted
		// by its timer: pion has let go of it, the event is on its way.
		for deadline := time.Now().Add(timeout); ; time.Sleep(time.Millisecond) {
			if ok, _ := h.allocation(src); !ok {
				return
			}
			if time.Now().After(deadline) {
				var said []string
				for _, a := range answers {
					m := &stun.Message{Raw: a}
					var code stun.ErrorCodeAttribute
					if m.Decode() == nil {
						_ = code.GetFrom(m)
						said = append(said, fmt.Sprintf("%s %d", m.Type, code.Code))
					}
				}
				tb.Fatalf("Refresh with LIFETIME 0 left the allocation: answered %v; pion holds %d allocations", said, h.pion.AllocationCount())
			}
		}
	}
	if ok, _ := h.allocation(h.away); ok {
		release(h.away)
	}
	h.away = h.fresh(2)
	if ok, peers := h.allocation(h.home); ok && peers > 0 {
		release(h.home)
	}
	if ok, _ := h.allocation(h.home); !ok {
		h.home = h.fresh(1)
		h.deliver(h.home, h.request(stun.MethodAllocate, udpTransport))
	}
}

// fresh returns a client address on host 198.51.100.host that no recent
// allocation has used, so that no execution meets an allocation pion is
// still tearing down from the one before: a deleted allocation's relay
// reader deletes by five-tuple whenever it gets to run, even a successor
// made at once from the same address (see permissionTable and
// TestReallocateFromOneAddress).
func (h *fuzzServer) fresh(host byte) net.Addr {
	h.clients++
	return &net.UDPAddr{IP: net.IPv4(198, 51, 100, host), Port: 1024 + h.clients%64000}
}

// TestReallocateFromOneAddress: a client allocates and releases from one
// address, again and again, as fast as the server answers. pion's events
// for that five-tuple then arrive out of order now and then (see
// permissionTable); the permission table must still agree with pion after
// every round: an entry exactly while pion holds the allocation. Before the
// table named each entry's relay, a few thousand rounds left an entry pion
// no longer had.
func TestReallocateFromOneAddress(t *testing.T) {
	h := newFuzzServer(t)
	agree := func(round int, step string) {
		for deadline := time.Now().Add(timeout); ; time.Sleep(time.Millisecond) {
			inTable, _ := h.allocation(h.away)
			if inPion := h.pion.AllocationCount() == 2; inTable == inPion { // home's and away's
				return
			}
			if time.Now().After(deadline) {
				inTable, _ := h.allocation(h.away)
				t.Fatalf("round %d, after %s: the table says %v, pion holds %d allocations (home's and maybe away's)", round, step, inTable, h.pion.AllocationCount())
			}
		}
	}
	for round := range 20_000 {
		h.deliver(h.away, h.request(stun.MethodAllocate, udpTransport))
		agree(round, "Allocate")
		h.deliver(h.away, h.request(stun.MethodRefresh, lifetimeZero))
		agree(round, "Refresh(0)")
	}
}

// stream feeds pkt to the TCP path as one connection's bytes, read by pion
// through the guard, and checks that every frame pion gets is a piece of
// pkt and that the reading ends.
func (h *fuzzServer) stream(t *testing.T, pkt []byte) {
	t.Helper()
	conn := &streamConn{r: bytes.NewReader(pkt)}
	sc := pionturn.NewSTUNConn(&guardedConn{Conn: conn, srv: h.srv, r: bufio.NewReader(conn)})
	buf := make([]byte, 1600) // pion's inbound MTU
	total := 0
	for range len(pkt) + 1 {
		n, _, err := sc.ReadFrom(buf)
		if err != nil {
			return
		}
		if total += n; n <= 0 || n > len(buf) || total > len(pkt) || !bytes.Contains(pkt, buf[:n]) {
			t.Fatalf("a %d-byte frame that is not in the stream", n)
		}
	}
	t.Fatal("reading the stream does not end")
}

// packet is one datagram for memSocket.
type packet struct {
	b    []byte
	from net.Addr
}

// memSocket is the server's UDP socket in memory. pion reads one datagram at
// a time, and comes back for the next only when it has handled the last,
// which is what makes an execution synchronous: deliver waits for idle.
type memSocket struct {
	noDeadlines
	addr net.Addr
	in   chan packet
	idle chan struct{}
	done chan struct{}
	once sync.Once

	mu   sync.Mutex
	sent [][]byte
}

func newMemSocket(addr net.Addr) *memSocket {
	return &memSocket{addr: addr, in: make(chan packet), idle: make(chan struct{}), done: make(chan struct{})}
}

func (c *memSocket) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case c.idle <- struct{}{}:
	case <-c.done:
		return 0, nil, net.ErrClosed
	}
	select {
	case d := <-c.in:
		return copy(p, d.b), d.from, nil
	case <-c.done:
		return 0, nil, net.ErrClosed
	}
}

func (c *memSocket) WriteTo(p []byte, _ net.Addr) (int, error) {
	c.mu.Lock()
	c.sent = append(c.sent, bytes.Clone(p))
	c.mu.Unlock()
	return len(p), nil
}

func (c *memSocket) Close() error        { c.once.Do(func() { close(c.done) }); return nil }
func (c *memSocket) LocalAddr() net.Addr { return c.addr }

// nullRelays is pion's RelayAddressGenerator for fuzzing: relay sockets that
// carry nothing. Unlike relayConn they do not check the relay policy, so
// that a datagram to a denied peer shows that the guard and pion let it
// through; they record it.
type nullRelays struct {
	srv *Server

	mu     sync.Mutex
	port   int
	open   map[int]int // relay sockets open per port (a reserved port can be asked for twice)
	leaked []net.Addr
}

// live is the permission table's question (see permissionTable.live).
func (r *nullRelays) live(relay net.Addr) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.open[int(addrPortOf(relay).Port())] > 0
}

func (r *nullRelays) Validate() error { return nil }

func (r *nullRelays) AllocatePacketConn(conf pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	port := conf.RequestedPort
	r.mu.Lock()
	for port == 0 || r.open[port] > 0 && conf.RequestedPort == 0 { // a port no open relay has, as a kernel would give
		r.port = r.port%10_000 + 1
		port = 50_000 + r.port
	}
	r.open[port]++
	r.mu.Unlock()
	ip := net.IPv4(127, 0, 0, 1)
	if conf.Network == "udp6" {
		ip = net.IPv6loopback
	}
	c := &nullRelay{relays: r, addr: &net.UDPAddr{IP: ip, Port: port}, done: make(chan struct{})}
	return c, c.addr, nil
}

func (r *nullRelays) AllocateListener(pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errNoTCPRelay
}

func (r *nullRelays) AllocateConn(pionturn.AllocateConnConfig) (net.Conn, error) {
	return nil, errNoTCPRelay
}

func (r *nullRelays) takeLeaked() []net.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.leaked
	r.leaked = nil
	return l
}

type nullRelay struct {
	noDeadlines
	relays *nullRelays
	addr   net.Addr
	done   chan struct{}
	once   sync.Once
}

func (c *nullRelay) ReadFrom([]byte) (int, net.Addr, error) {
	<-c.done
	return 0, nil, net.ErrClosed
}

func (c *nullRelay) WriteTo(p []byte, to net.Addr) (int, error) {
	if !c.relays.srv.peerAllowed(addrPortOf(to)) {
		c.relays.mu.Lock()
		c.relays.leaked = append(c.relays.leaked, to)
		c.relays.mu.Unlock()
	}
	return len(p), nil
}

func (c *nullRelay) Close() error {
	c.once.Do(func() {
		c.relays.mu.Lock()
		c.relays.open[c.addr.(*net.UDPAddr).Port]--
		c.relays.mu.Unlock()
		close(c.done)
	})
	return nil
}

func (c *nullRelay) LocalAddr() net.Addr { return c.addr }

// streamConn is one TCP connection's bytes, then EOF; what the server writes
// is dropped.
type streamConn struct {
	noDeadlines
	r *bytes.Reader
}

func (c *streamConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *streamConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *streamConn) Close() error                { return nil }
func (c *streamConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 3478}
}
func (c *streamConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(198, 51, 100, 3), Port: 40000}
}

type noDeadlines struct{}

func (noDeadlines) SetDeadline(time.Time) error      { return nil }
func (noDeadlines) SetReadDeadline(time.Time) error  { return nil }
func (noDeadlines) SetWriteDeadline(time.Time) error { return nil }
