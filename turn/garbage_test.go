package turn

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
)

// TestGarbage throws 5,000 random and mutated STUN, TURN and ChannelData
// datagrams at the live server over UDP, and random and cut-short streams
// over TCP. Afterwards it still answers Binding over both and a full
// authenticated Allocate, and its goroutines come back to what they were.
//
// Half the datagrams come from a client with an allocation, a permission and
// a channel, so that they reach the handlers that need one, and some of
// those are re-signed after mutation so that they get past authentication
// to pion's attribute getters. Every peer is denied, so nothing the garbage
// asks for leaves loopback (relay to relay is still allowed).
func TestGarbage(t *testing.T) {
	s := startTURN(t, func(c *Config) { c.DenyPeers = []string{"0.0.0.0/0", "::/0"} })
	user, pass, _ := s.Issue("garbage", time.Hour)
	a, b := newRawClient(t, s, user, pass), newRawClient(t, s, user, pass)
	a.allocate()
	res := b.request(stun.MethodAllocate, udpTransport)
	var relayB stun.XORMappedAddress
	if err := relayB.GetFromAs(res, stun.AttrXORRelayedAddress); err != nil {
		t.Fatalf("b's Allocate: %s code %d", res.Type, errorCode(res))
	}
	peer := peerAddr(netip.AddrPortFrom(netip.AddrFrom4([4]byte(relayB.IP.To4())), uint16(relayB.Port)))
	channel := stun.RawAttribute{Type: stun.AttrChannelNumber, Value: []byte{0x40, 0x00, 0, 0}}
	for _, method := range []stun.Method{stun.MethodCreatePermission, stun.MethodChannelBind} {
		if res := a.request(method, channel, peer); res.Type.Class != stun.ClassSuccessResponse {
			t.Fatalf("%s to b's relay: %s code %d", method, res.Type, errorCode(res))
		}
	}

	// The requests garbage is made from, valid before it is mangled.
	build := func(method stun.Method, class stun.MessageClass, attrs ...stun.Setter) *stun.Message {
		return stun.MustBuild(append([]stun.Setter{stun.TransactionID, stun.NewType(method, class)}, attrs...)...)
	}
	templates := []*stun.Message{
		build(stun.MethodAllocate, stun.ClassRequest, udpTransport, stun.RawAttribute{Type: stun.AttrLifetime, Value: []byte{0, 0, 2, 0x58}}),
		build(stun.MethodRefresh, stun.ClassRequest, stun.RawAttribute{Type: stun.AttrLifetime, Value: []byte{0, 0, 2, 0x58}}),
		build(stun.MethodCreatePermission, stun.ClassRequest, peer, peer),
		build(stun.MethodChannelBind, stun.ClassRequest, channel, peer),
		build(stun.MethodSend, stun.ClassIndication, peer, stun.RawAttribute{Type: stun.AttrData, Value: []byte("garbage")}),
	}
	sign := func(m *stun.Message) []byte {
		return signAs(m, user, a.realm.String(), a.nonce.String(), pionturn.GenerateAuthKey(user, a.realm.String(), pass)).Raw
	}
	signedAllocate := sign(templates[0])

	junk := newRawClient(t, s, "", "")
	before := runtime.NumGoroutine()
	rng := rand.New(rand.NewPCG(1, 2))
	randomBytes := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		return p
	}
	template := func() []byte {
		if rng.IntN(2) == 0 {
			return bytes.Clone(signedAllocate)
		}
		return bytes.Clone(templates[rng.IntN(len(templates))].Raw)
	}
	mutations := []func() []byte{
		func() []byte { return randomBytes(rng.IntN(300)) },
		func() []byte { // a valid request with bytes flipped
			p := template()
			for range 1 + rng.IntN(4) {
				p[rng.IntN(len(p))] ^= byte(1 + rng.IntN(255))
			}
			return p
		},
		func() []byte { // a header length that lies, and sometimes a cut
			p := template()
			binary.BigEndian.PutUint16(p[2:4], uint16(rng.IntN(0x10000)))
			return p[:20+rng.IntN(len(p)-19)]
		},
		func() []byte { // an attribute whose length runs past the end
			p := template()
			off := 20
			for n := rng.IntN(3); n > 0 && off+4 < len(p); n-- {
				off += 4 + (int(binary.BigEndian.Uint16(p[off+2:]))+3)&^3
			}
			if off+4 <= len(p) {
				binary.BigEndian.PutUint16(p[off+2:], uint16(len(p)-off+rng.IntN(0x10000-len(p))))
			}
			return p
		},
		func() []byte { // ChannelData, on the bound channel or another, lying or not
			p := binary.BigEndian.AppendUint16(nil, uint16(0x4000+rng.IntN(2)*rng.IntN(0x4000)))
			data := randomBytes(rng.IntN(100))
			length := len(data)
			if rng.IntN(2) == 0 {
				length = rng.IntN(0x10000)
			}
			return append(binary.BigEndian.AppendUint16(p, uint16(length)), data...)
		},
		func() []byte { // a valid request trailed past pion's 1600-byte buffer
			return append(template(), randomBytes(1600)...)
		},
		func() []byte { // a request mangled, then correctly signed
			m := templates[rng.IntN(len(templates))]
			mut := &stun.Message{Type: m.Type, Attributes: append([]stun.RawAttribute(nil), m.Attributes...)}
			copy(mut.TransactionID[:], randomBytes(stun.TransactionIDSize))
			i := rng.IntN(len(mut.Attributes))
			mut.Attributes[i].Value = randomBytes(rng.IntN(24))
			if rng.IntN(2) == 0 { // and a second attribute of the same type
				mut.Attributes = append(mut.Attributes, stun.RawAttribute{Type: mut.Attributes[i].Type, Value: randomBytes(rng.IntN(24))})
			}
			if mut.Type.Class == stun.ClassIndication {
				return encode(mut).Raw // indications are not signed
			}
			return sign(mut)
		},
	}
	// A Binding round trip every 100 datagrams keeps the server answering
	// throughout, and paces the garbage to what it reads: each client's
	// datagrams go to one socket, read in order, and pion handles each before
	// reading the next, so the answer means the batch before it was handled
	// rather than dropped by a full socket buffer.
	const datagrams = 5000
	binding := func(c *rawClient) {
		if res := c.roundTrip(stun.MustBuild(stun.TransactionID, stun.BindingRequest), timeout); res == nil || res.Type != stun.BindingSuccess {
			t.Fatalf("Binding over UDP among the garbage: %v", res)
		}
	}
	for i := range datagrams {
		kind := i % len(mutations)
		from := junk
		if kind == len(mutations)-1 || rng.IntN(2) == 0 {
			from = a
		}
		_, _ = from.conn.Write(mutations[kind]())
		if i%100 == 99 {
			binding(a)
			binding(junk)
		}
	}

	// TCP: every way a stream can end mid-frame or never frame at all.
	stunHeader := func(length uint16) []byte {
		p := bytes.Clone(signedAllocate[:20])
		binary.BigEndian.PutUint16(p[2:4], length)
		return p
	}
	streams := [][]byte{
		randomBytes(2000),
		append(stunHeader(0xFFFF), randomBytes(100)...),             // a 64 KiB STUN frame, cut short
		append([]byte{0x40, 0x00, 0xFF, 0xFF}, "cut"...),            // a 64 KiB ChannelData frame, cut short
		append([]byte{0xC0, 0x00, 0x00, 0x10}, "xyz"...),            // neither STUN nor ChannelData
		append(bytes.Clone(signedAllocate), signedAllocate[:30]...), // a frame, then half a frame
		append(stunHeader(2000), randomBytes(2000)...),              // a whole frame past pion's 1600-byte buffer
		{0x00, 0x01},
	}
	for range 3 {
		mangled := []byte{}
		for range 5 {
			mangled = append(mangled, mutations[1+rng.IntN(4)]()...)
		}
		streams = append(streams, mangled)
	}
	for _, stream := range streams {
		c, err := net.DialTimeout("tcp", s.Addrs().TCP.String(), timeout)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(stream)
		_ = c.Close()
	}

	// Still answering: Binding over UDP (from a new client) and TCP, and an
	// Allocate from a new client. That client takes a's nonce: the garbage
	// spent 127.0.0.1's 401 budget, and the limiter is right not to answer.
	binding(newRawClient(t, s, "", ""))
	if st := s.Stats(); st.DeniedPeers == 0 || st.AuthFailures == 0 || st.PacketsToPeers == 0 {
		t.Errorf("the garbage did not reach the guard, pion's authentication and the relay: %+v", st)
	}
	tcp, err := net.DialTimeout("tcp", s.Addrs().TCP.String(), timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	_ = tcp.SetDeadline(time.Now().Add(timeout))
	bind := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	if _, err := tcp.Write(bind.Raw); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, _, err := pionturn.NewSTUNConn(tcp).ReadFrom(buf)
	if res := (&stun.Message{Raw: buf[:n]}); err != nil || res.Decode() != nil || res.Type != stun.BindingSuccess || res.TransactionID != bind.TransactionID {
		t.Fatalf("after garbage, Binding over TCP: %v %v", err, res)
	}
	_ = tcp.Close()
	c := newRawClient(t, s, user, pass)
	c.nonce, c.realm = a.nonce, a.realm
	c.allocate()
	if res := c.request(stun.MethodRefresh, lifetimeZero); res.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("deleting the new allocation: %s code %d", res.Type, errorCode(res))
	}

	// Every connection closed and the new allocation deleted, the server is
	// back to the goroutines it had: one it kept for a connection it failed
	// to close would outlive this wait (firstFrameTimeout is 10s).
	deadline := time.Now().Add(timeout)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d before the garbage, %d after", before, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
