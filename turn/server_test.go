package turn

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"

	"github.com/parley-rtc/parley/internal/testkit"
)

const (
	testSecret = "parley-test-secret-0123"
	testRealm  = "parley.test"
	timeout    = 5 * time.Second
)

// startTURN runs a server on loopback ports picked by the kernel.
func startTURN(t *testing.T, mutate ...func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Sockets = 2
	cfg.Secrets = []string{testSecret}
	cfg.Realm = testRealm
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// pionClient is pion/turn's own client over conn (UDP, or a TCP/TLS stream
// wrapped in a STUNConn), with credentials for identity.
func pionClient(t *testing.T, s *Server, conn net.PacketConn, server netip.AddrPort, identity string) *pionturn.Client {
	t.Helper()
	user, pass, _ := s.Issue(identity, time.Hour)
	return testkit.TURNClient(t, conn, server.String(), user, pass)
}

func udpSocket(t *testing.T) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// clientConn is a client's socket to s over transport (udp, tcp, or tls
// trusting pool), as pion's client takes it, and the server address it
// talks to.
func clientConn(t *testing.T, s *Server, transport string, pool *x509.CertPool) (net.PacketConn, netip.AddrPort) {
	t.Helper()
	if transport == "udp" {
		return udpSocket(t), s.Addrs().UDP
	}
	var c net.Conn
	var err error
	server := s.Addrs().TCP
	if transport == "tls" {
		server = s.Addrs().TLS
		c, err = tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", server.String(), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	} else {
		c, err = net.DialTimeout("tcp", server.String(), timeout)
	}
	if err != nil {
		t.Fatal(err)
	}
	conn := pionturn.NewSTUNConn(c)
	t.Cleanup(func() { _ = conn.Close() })
	return conn, server
}

// allocate returns a relay over UDP.
func allocate(t *testing.T, s *Server, identity string) (*pionturn.Client, net.PacketConn) {
	t.Helper()
	c := pionClient(t, s, udpSocket(t), s.Addrs().UDP, identity)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate over UDP: %v", err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	return c, relay
}

// relayBetween sends a datagram each way between two relays of this server
// (relay↔relay, allowed although 127.0.0.1 is a denied range).
func relayBetween(t *testing.T, ca, cb *pionturn.Client, a, b net.PacketConn) {
	t.Helper()
	if err := cb.CreatePermission(a.LocalAddr()); err != nil {
		t.Fatalf("permission for relay %s: %v", a.LocalAddr(), err)
	}
	if err := ca.CreatePermission(b.LocalAddr()); err != nil {
		t.Fatalf("permission for relay %s: %v", b.LocalAddr(), err)
	}
	for _, dir := range []struct {
		from, to net.PacketConn
		msg      string
	}{{a, b, "a→b"}, {b, a, "b→a"}} {
		if _, err := dir.from.WriteTo([]byte(dir.msg), dir.to.LocalAddr()); err != nil {
			t.Fatalf("%s: WriteTo: %v", dir.msg, err)
		}
		buf := make([]byte, 1500)
		_ = dir.to.SetReadDeadline(time.Now().Add(timeout))
		n, from, err := dir.to.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%s: ReadFrom: %v", dir.msg, err)
		}
		if string(buf[:n]) != dir.msg || from.String() != dir.from.LocalAddr().String() {
			t.Fatalf("%s: got %q from %s", dir.msg, buf[:n], from)
		}
	}
}

func TestAllocateAndRelayOverUDPTCPTLS(t *testing.T) {
	cert := testkit.SelfSigned(t)
	tlsCfg, pool := cert.TLS, cert.Pool
	s := startTURN(t, func(c *Config) { c.TLSListen = "127.0.0.1:0"; c.TLS = tlsCfg })
	ca, a := allocate(t, s, "alice")
	for _, transport := range []string{"udp", "tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			conn, server := clientConn(t, s, transport, pool)
			cb := pionClient(t, s, conn, server, "bob-"+transport)
			mapped, err := cb.SendBindingRequest()
			if err != nil {
				t.Fatalf("STUN Binding over %s: %v", transport, err)
			}
			if got := addrPortOf(mapped).Addr(); got != netip.MustParseAddr("127.0.0.1") {
				t.Fatalf("Binding over %s mapped %s", transport, mapped)
			}
			b, err := cb.Allocate()
			if err != nil {
				t.Fatalf("Allocate over %s: %v", transport, err)
			}
			defer b.Close()
			relayBetween(t, ca, cb, a, b)
		})
	}
	// A relay counts a datagram after its send returns, which can be after
	// the peer read it: poll.
	for deadline := time.Now().Add(timeout); ; time.Sleep(5 * time.Millisecond) {
		st := s.Stats()
		if st.AllocationsTotal >= 4 && st.PacketsToPeers >= 6 && st.PacketsFromPeers >= 6 && st.BytesToPeers > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats do not show the relays: %+v", st)
		}
	}
}

func TestCreatePermissionToDeniedPeers(t *testing.T) {
	s := startTURN(t)
	c, relay := allocate(t, s, "mallory")
	for _, peer := range []string{"127.0.0.1", "10.0.0.1", "169.254.169.254", "::ffff:127.0.0.1", "0.0.0.0", "192.168.1.1", "100.64.0.1"} {
		err := c.CreatePermission(&net.UDPAddr{IP: net.ParseIP(peer), Port: 80})
		if code := turnCode(err); code != stun.CodeForbidden {
			t.Errorf("CreatePermission(%s) = %v (code %d), want 403", peer, err, code)
		}
	}
	// The relay's own address, on a port that is not a relay: 403 too.
	self := addrPortOf(relay.LocalAddr())
	err := c.CreatePermission(&net.UDPAddr{IP: self.Addr().AsSlice(), Port: 22})
	if code := turnCode(err); code != stun.CodeForbidden {
		t.Errorf("CreatePermission(relay IP, port 22) = %v, want 403", err)
	}
	if got := s.Stats().DeniedPeers; got < 8 {
		t.Errorf("DeniedPeers = %d, want at least 8", got)
	}
	// A public peer is fine (no packet is sent by a permission).
	if err := c.CreatePermission(&net.UDPAddr{IP: net.IPv4(8, 8, 8, 8), Port: 53}); err != nil {
		t.Errorf("CreatePermission(8.8.8.8): %v", err)
	}
}

func turnCode(err error) stun.ErrorCode {
	var te *stun.TurnError
	if errors.As(err, &te) {
		return te.ErrorCodeAttr.Code
	}
	return 0
}

// rawClient speaks TURN by hand over UDP, to send what pion's client would
// never build: IPv6-encoded IPv4 peers, refreshes after expiry.
type rawClient struct {
	t          *testing.T
	conn       net.Conn
	user, pass string
	nonce      stun.Nonce
	realm      stun.Realm
}

func newRawClient(t *testing.T, s *Server, user, pass string) *rawClient {
	t.Helper()
	conn, err := net.Dial("udp4", s.Addrs().UDP.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &rawClient{t: t, conn: conn, user: user, pass: pass}
}

// roundTrip sends m and returns the response with the same transaction ID,
// or nil when none comes within d.
func (c *rawClient) roundTrip(m *stun.Message, d time.Duration) *stun.Message {
	c.t.Helper()
	if _, err := c.conn.Write(m.Raw); err != nil {
		c.t.Fatal(err)
	}
	buf := make([]byte, 2048)
	deadline := time.Now().Add(d)
	for {
		_ = c.conn.SetReadDeadline(deadline)
		n, err := c.conn.Read(buf)
		if err != nil {
			return nil
		}
		res := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
		if res.Decode() == nil && res.TransactionID == m.TransactionID {
			return res
		}
	}
}

// request sends an authenticated request (learning realm and nonce from the
// first 401 or a 438) and returns the response.
func (c *rawClient) request(method stun.Method, attrs ...stun.Setter) *stun.Message {
	c.t.Helper()
	for range 3 {
		setters := append([]stun.Setter{stun.TransactionID, stun.NewType(method, stun.ClassRequest)}, attrs...)
		if c.nonce != nil {
			setters = append(setters, stun.NewUsername(c.user), c.realm, c.nonce,
				stun.NewLongTermIntegrity(c.user, c.realm.String(), c.pass))
		}
		m := stun.MustBuild(append(setters, stun.Fingerprint)...)
		res := c.roundTrip(m, timeout)
		if res == nil {
			c.t.Fatalf("%s: no response", method)
		}
		code := errorCode(res)
		if (code == stun.CodeUnauthorized && c.nonce == nil) || code == stun.CodeStaleNonce {
			if err := c.nonce.GetFrom(res); err != nil {
				c.t.Fatalf("%s: %d without a nonce", method, code)
			}
			if err := c.realm.GetFrom(res); err != nil {
				c.t.Fatalf("%s: %d without a realm", method, code)
			}
			continue
		}
		return res
	}
	c.t.Fatalf("%s: no answer past the nonce exchange", method)
	return nil
}

func errorCode(m *stun.Message) stun.ErrorCode {
	var ec stun.ErrorCodeAttribute
	if m.Type.Class != stun.ClassErrorResponse || ec.GetFrom(m) != nil {
		return 0
	}
	return ec.Code
}

// udpTransport is REQUESTED-TRANSPORT UDP (RFC 8656 §18.7).
var udpTransport = stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}}

// xorPeer16 is an XOR-PEER-ADDRESS in the IPv6 family whatever ip is: the
// encoding pion's and most clients' encoders never produce for a mapped
// IPv4 address, so a filter that only looks at IPv4 would miss it.
type xorPeer16 struct {
	ip   netip.Addr
	port uint16
}

func (p xorPeer16) AddTo(m *stun.Message) error {
	v := make([]byte, 20)
	binary.BigEndian.PutUint16(v[0:2], 0x02)
	binary.BigEndian.PutUint16(v[2:4], p.port^0x2112)
	var key [16]byte
	binary.BigEndian.PutUint32(key[0:4], 0x2112A442)
	copy(key[4:], m.TransactionID[:])
	ip := p.ip.As16()
	for i := range ip {
		v[4+i] = ip[i] ^ key[i]
	}
	m.Add(stun.AttrXORPeerAddress, v)
	return nil
}

func (c *rawClient) allocate() {
	c.t.Helper()
	if res := c.request(stun.MethodAllocate, udpTransport); res.Type.Class != stun.ClassSuccessResponse {
		c.t.Fatalf("Allocate: %s code %d", res.Type, errorCode(res))
	}
}

func TestHandBuiltIPv6PeersRefused(t *testing.T) {
	s := startTURN(t)
	user, pass, _ := s.Issue("mallory", time.Hour)
	c := newRawClient(t, s, user, pass)
	c.allocate()
	for _, peer := range []string{"::ffff:10.0.0.1", "64:ff9b::a00:1", "::ffff:127.0.0.1", "::127.0.0.1", "2002:a9fe:a9fe::1", "::1"} {
		p := xorPeer16{ip: netip.MustParseAddr(peer), port: 80}
		for _, method := range []stun.Method{stun.MethodCreatePermission, stun.MethodChannelBind} {
			attrs := []stun.Setter{p}
			if method == stun.MethodChannelBind {
				attrs = append(attrs, stun.RawAttribute{Type: stun.AttrChannelNumber, Value: []byte{0x40, 0x01, 0, 0}})
			}
			res := c.request(method, attrs...)
			if code := errorCode(res); code != stun.CodeForbidden {
				t.Errorf("%s to %s: %s code %d, want 403", method, peer, res.Type, code)
			}
			if stun.NewLongTermIntegrity(user, testRealm, pass).Check(res) != nil {
				t.Errorf("%s to %s: the 403 is not signed", method, peer)
			}
		}
	}
	// One allowed and one denied peer in the same request: 403, and the
	// allowed one gets no permission either.
	ok := xorPeer16{ip: netip.MustParseAddr("::ffff:8.8.8.8"), port: 53}
	res := c.request(stun.MethodCreatePermission, ok, xorPeer16{ip: netip.MustParseAddr("::ffff:10.0.0.1"), port: 53})
	if errorCode(res) != stun.CodeForbidden {
		t.Fatalf("mixed CreatePermission: %s code %d, want 403", res.Type, errorCode(res))
	}
	s.perms.mu.Lock()
	for _, e := range s.perms.peers {
		if len(e.set) != 0 {
			t.Errorf("permissions exist after refused requests: %v", e.set)
		}
	}
	s.perms.mu.Unlock()
}

// TestMalformedPeerRefused: a malformed XOR-PEER-ADDRESS after a good one
// does not carry the request past the guard. pion reads only the first peer
// of a ChannelBind and grants a CreatePermission's peers up to the bad one,
// so such a request would bind a denied peer, or go past the permission cap,
// with nothing checked.
func TestMalformedPeerRefused(t *testing.T) {
	s := startTURN(t, func(c *Config) { c.MaxPermissionsPerAllocation = 1 })
	user, pass, _ := s.Issue("mallory", time.Hour)
	c := newRawClient(t, s, user, pass)
	c.allocate()
	bad := stun.RawAttribute{Type: stun.AttrXORPeerAddress, Value: []byte{0, 3, 0, 0, 0, 0, 0, 0}} // no family 3
	for i, peer := range []string{"::ffff:127.0.0.1", "::ffff:8.8.8.8", "::ffff:1.1.1.1"} {
		for _, method := range []stun.Method{stun.MethodCreatePermission, stun.MethodChannelBind} {
			attrs := []stun.Setter{xorPeer16{ip: netip.MustParseAddr(peer), port: 53}, bad}
			if method == stun.MethodChannelBind {
				attrs = append(attrs, stun.RawAttribute{Type: stun.AttrChannelNumber, Value: []byte{0x40, byte(i), 0, 0}})
			}
			if res := c.request(method, attrs...); errorCode(res) != stun.CodeBadRequest {
				t.Errorf("%s to %s and a malformed peer: %s code %d, want 400", method, peer, res.Type, errorCode(res))
			}
		}
	}
	s.perms.mu.Lock()
	defer s.perms.mu.Unlock()
	for _, e := range s.perms.peers {
		if len(e.set) != 0 {
			t.Errorf("permissions exist after malformed requests: %v", e.set)
		}
	}
}

func TestCredentialsRefused(t *testing.T) {
	s := startTURN(t)
	past := time.Now().Add(-time.Minute)
	expired := Username(past, "alice")
	cases := map[string][2]string{
		"expired":        {expired, Password([]byte(testSecret), expired)},
		"wrong password": {Username(time.Now().Add(time.Hour), "alice"), "bi/wv7w85lyv6QFYSM0dc8LDxmI="},
		"other secret":   {Username(time.Now().Add(time.Hour), "alice"), Password([]byte("another-secret-0123456"), Username(time.Now().Add(time.Hour), "alice"))},
		"no identity":    {"4000000000", Password([]byte(testSecret), "4000000000")},
	}
	for name, cred := range cases {
		t.Run(name, func(t *testing.T) {
			c := newRawClient(t, s, cred[0], cred[1])
			res := c.request(stun.MethodAllocate, udpTransport)
			if code := errorCode(res); code != stun.CodeUnauthorized {
				t.Fatalf("Allocate: %s code %d, want 401", res.Type, code)
			}
		})
	}
	if s.Stats().AuthFailures < uint64(len(cases)) {
		t.Fatalf("AuthFailures = %d", s.Stats().AuthFailures)
	}
}

func TestRotatedSecretVerifies(t *testing.T) {
	s := startTURN(t, func(c *Config) { c.Secrets = []string{"new-secret-0123456789", testSecret} })
	user := Username(time.Now().Add(time.Hour), "alice")
	c := newRawClient(t, s, user, Password([]byte(testSecret), user)) // signed with the old secret
	c.allocate()
	if res := c.request(stun.MethodRefresh); res.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("Refresh with the old secret: %s code %d", res.Type, errorCode(res))
	}
}

// TestEvenPortReservation: an EVEN-PORT Allocate (the R bit set, as
// coturn's uclient sends for RTP) gets an even relay port and a
// RESERVATION-TOKEN, and the next port is held for the token: no other
// socket on the host can take it in the meantime, and the Allocate that
// redeems the token (RTCP, from another socket) gets it. A reservation
// whose allocation ends first is freed with it.
func TestEvenPortReservation(t *testing.T) {
	s := startTURN(t)
	user, pass, _ := s.Issue("rtp", time.Hour)
	evenPort := stun.RawAttribute{Type: stun.AttrEvenPort, Value: []byte{0x80}}
	relayPort := func(res *stun.Message) uint16 {
		t.Helper()
		var relayed stun.XORMappedAddress
		if err := relayed.GetFromAs(res, stun.AttrXORRelayedAddress); err != nil {
			t.Fatalf("Allocate answered %s without XOR-RELAYED-ADDRESS: %v", res.Type, err)
		}
		return uint16(relayed.Port)
	}
	bindable := func(port uint16) bool {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)})
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}

	rtp := newRawClient(t, s, user, pass)
	res := rtp.request(stun.MethodAllocate, udpTransport, evenPort)
	port := relayPort(res)
	token, err := res.Get(stun.AttrReservationToken)
	if err != nil || port%2 != 0 {
		t.Fatalf("EVEN-PORT Allocate: relay port %d, RESERVATION-TOKEN %x (%v); want an even port and a token", port, token, err)
	}
	if bindable(port + 1) {
		t.Fatalf("reserved port %d was free for any socket to take", port+1)
	}
	rtcp := newRawClient(t, s, user, pass)
	res = rtcp.request(stun.MethodAllocate, udpTransport, stun.RawAttribute{Type: stun.AttrReservationToken, Value: token})
	if code := errorCode(res); code != 0 || relayPort(res) != port+1 {
		t.Fatalf("Allocate redeeming the token: %s code %d, want the reserved port %d", res.Type, code, port+1)
	}

	// A second pair whose even allocation ends before the token is redeemed.
	other := newRawClient(t, s, user, pass)
	port = relayPort(other.request(stun.MethodAllocate, udpTransport, evenPort))
	if bindable(port + 1) {
		t.Fatalf("reserved port %d was free for any socket to take", port+1)
	}
	if res := other.request(stun.MethodRefresh, stun.RawAttribute{Type: stun.AttrLifetime, Value: []byte{0, 0, 0, 0}}); errorCode(res) != 0 {
		t.Fatalf("Refresh(0): code %d", errorCode(res))
	}
	for deadline := time.Now().Add(timeout); !bindable(port + 1); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("reserved port %d still held after its allocation ended", port+1)
		}
	}
}

func TestAllocationQuotaPerIdentity(t *testing.T) {
	s := startTURN(t)
	user, pass, _ := s.Issue("greedy", time.Hour)
	for range 12 {
		newRawClient(t, s, user, pass).allocate()
	}
	res := newRawClient(t, s, user, pass).request(stun.MethodAllocate, udpTransport)
	if code := errorCode(res); code != stun.CodeAllocQuotaReached {
		t.Fatalf("13th Allocate: %s code %d, want 486", res.Type, code)
	}
	// Another identity is not affected.
	u2, p2, _ := s.Issue("modest", time.Hour)
	newRawClient(t, s, u2, p2).allocate()
	if st := s.Stats(); st.QuotaHits != 1 || st.AllocationsActive != 13 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestRefreshAfterCredentialExpiry(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen, cfg.Sockets, cfg.Secrets, cfg.Realm = "127.0.0.1:0", 1, []string{testSecret}, testRealm
	s, listen, alt, err := newServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var skew atomic.Int64 // how far the server's clock is ahead
	s.auth.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	if err := s.start(listen, alt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	user, pass, _ := s.Issue("longcall", time.Minute)
	c := newRawClient(t, s, user, pass)
	c.allocate()
	skew.Store(int64(2 * time.Hour))
	if res := c.request(stun.MethodRefresh); res.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("Refresh after expiry: %s code %d", res.Type, errorCode(res))
	}
	if res := c.request(stun.MethodCreatePermission, xorPeer16{ip: netip.MustParseAddr("::ffff:8.8.8.8"), port: 53}); res.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("CreatePermission after expiry: %s code %d", res.Type, errorCode(res))
	}
	// A new allocation with the expired credential is refused.
	if res := newRawClient(t, s, user, pass).request(stun.MethodAllocate, udpTransport); errorCode(res) != stun.CodeUnauthorized {
		t.Fatalf("Allocate after expiry: %s code %d, want 401", res.Type, errorCode(res))
	}
}

func TestPermissionQuota(t *testing.T) {
	s := startTURN(t, func(c *Config) { c.MaxPermissionsPerAllocation = 2 })
	user, pass, _ := s.Issue("alice", time.Hour)
	c := newRawClient(t, s, user, pass)
	c.allocate()
	for i, peer := range []string{"::ffff:8.8.8.8", "::ffff:1.1.1.1", "::ffff:8.8.8.8"} {
		if res := c.request(stun.MethodCreatePermission, xorPeer16{ip: netip.MustParseAddr(peer), port: 53}); res.Type.Class != stun.ClassSuccessResponse {
			t.Fatalf("permission %d (%s): %s code %d", i, peer, res.Type, errorCode(res))
		}
	}
	res := c.request(stun.MethodCreatePermission, xorPeer16{ip: netip.MustParseAddr("::ffff:9.9.9.9"), port: 53})
	if code := errorCode(res); code != stun.CodeInsufficientCapacity {
		t.Fatalf("third peer: %s code %d, want 508", res.Type, code)
	}
}

func TestUnauthorizedRepliesRateLimited(t *testing.T) {
	s := startTURN(t)
	c := newRawClient(t, s, "", "")
	const sent = 100
	start := time.Now()
	for range sent {
		m := stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest), udpTransport)
		if _, err := c.conn.Write(m.Raw); err != nil {
			t.Fatal(err)
		}
	}
	answered := 0
	buf := make([]byte, 1500)
	_ = c.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			break
		}
		res := &stun.Message{Raw: buf[:n]}
		if res.Decode() == nil && errorCode(res) == stun.CodeUnauthorized {
			answered++
		}
	}
	refill := int(time.Since(start).Seconds()*unauthorizedRate) + 1
	if answered < unauthorizedBurst || answered > unauthorizedBurst+refill {
		t.Fatalf("%d of %d unauthenticated requests answered 401, want about the burst (%d)", answered, sent, unauthorizedBurst)
	}
	if s.Stats().Unauthorized == 0 || s.Stats().AllocationsActive != 0 {
		t.Fatalf("stats: %+v", s.Stats())
	}
}

// TestRelayBackstop: the relay socket itself refuses to send to a denied
// address, whatever pion's permissions say.
func TestRelayBackstop(t *testing.T) {
	s, _, _, err := newServer(func() Config {
		c := DefaultConfig()
		c.Secrets = []string{testSecret}
		return c
	}())
	if err != nil {
		t.Fatal(err)
	}
	open := func() net.PacketConn {
		pc, _, err := s.relays.AllocatePacketConn(pionturn.AllocateListenerConfig{Network: "udp4", UserID: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pc.Close() })
		return pc
	}
	a, b := open(), open()
	sink := udpSocket(t) // a real loopback socket that is not a relay
	for _, to := range []net.Addr{sink.LocalAddr(), &net.UDPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 9}, &net.UDPAddr{IP: net.IPv4(169, 254, 169, 254), Port: 80}} {
		if _, err := a.WriteTo([]byte("x"), to); !errors.Is(err, ErrDeniedPeer) {
			t.Errorf("WriteTo(%s) = %v, want ErrDeniedPeer", to, err)
		}
	}
	if _, err := a.WriteTo([]byte("relay to relay"), b.LocalAddr()); err != nil {
		t.Fatalf("WriteTo(another relay): %v", err)
	}
	if s.quota.byIdentity["alice"] != 2 {
		t.Fatalf("quota counts %d relays, want 2", s.quota.byIdentity["alice"])
	}
	_ = b.Close()
	if _, err := a.WriteTo([]byte("x"), b.LocalAddr()); !errors.Is(err, ErrDeniedPeer) {
		t.Fatalf("WriteTo(a closed relay's port) = %v, want ErrDeniedPeer", err)
	}
	if s.quota.byIdentity["alice"] != 1 {
		t.Fatalf("closing a relay did not free its quota slot")
	}
}

func TestStartRefusesBadConfig(t *testing.T) {
	for _, c := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.DenyPeers = []string{"10.0.0.0/40"} }, "deny-peer: "},
		{func(c *Config) { c.AllowPeers = []string{"intranet"} }, "allow-peer: "},
		{func(c *Config) { c.Listen = "0.0.0.0:3478" }, "public-ip: "},
		{func(c *Config) { c.RelayMinPort, c.RelayMaxPort = 60000, 50000 }, "relay-port-min: "},
		{func(c *Config) { c.CredentialTTL = 0 }, "credential-ttl: "},
		{func(c *Config) { c.Secrets = nil }, "secret"},
		{func(c *Config) { c.TLSListen = "127.0.0.1:0" }, "certificate"},
	} {
		cfg := DefaultConfig()
		cfg.Listen = "127.0.0.1:0"
		cfg.Secrets = []string{testSecret}
		c.mutate(&cfg)
		if _, err := Start(cfg); err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "turn-") {
			t.Errorf("Start = %v, want an error mentioning %q (a key, never a flag)", err, c.want)
		}
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		s, err := Start(func() Config {
			c := DefaultConfig()
			c.Listen, c.Sockets, c.Secrets = "127.0.0.1:0", 2, []string{testSecret}
			return c
		}())
		if err != nil {
			t.Fatal(err)
		}
		user, pass, _ := s.Issue("alice", time.Hour)
		newRawClient(t, s, user, pass).allocate()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	deadline := time.Now().Add(timeout)
	for runtime.NumGoroutine() > before+1 {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d before, %d after Close", before, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStreamsPerIPCap: a client address holds at most MaxStreamsPerIP
// TCP connections; one more is closed at once, and closing one makes room.
func TestStreamsPerIPCap(t *testing.T) {
	const limit = 3
	s := startTURN(t, func(c *Config) { c.MaxStreamsPerIP = limit })
	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", s.Addrs().TCP.String(), timeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	// closedByServer reports whether the server closed c (EOF) rather
	// than leaving it open (a read deadline expires).
	closedByServer := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
	held := make([]net.Conn, limit)
	for i := range held {
		held[i] = dial()
	}
	if over := dial(); !closedByServer(over) {
		t.Fatalf("connection %d of one address stayed open, cap %d", limit+1, limit)
	}
	if got := s.Stats().StreamsRefused; got != 1 {
		t.Fatalf("StreamsRefused = %d, want 1", got)
	}
	for _, c := range held {
		if closedByServer(c) {
			t.Fatal("a connection within the cap was closed")
		}
	}
	_ = held[0].Close()
	deadline := time.Now().Add(timeout)
	for {
		c := dial()
		if !closedByServer(c) {
			break // room again once the server saw the close
		}
		if time.Now().After(deadline) {
			t.Fatal("no room under the cap after a connection closed")
		}
	}
}

// TestFastPathRelaysChannelData: once a channel is bound, a peer's
// datagrams reach a UDP client as ChannelData sent by the relay socket's
// reader itself (fastPath), intact and in order; a TCP client's go through
// pion's loop, which frames them for the stream.
func TestFastPathRelaysChannelData(t *testing.T) {
	s := startTURN(t)
	ca, a := allocate(t, s, "alice")
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			conn, server := clientConn(t, s, transport, nil)
			cb := pionClient(t, s, conn, server, "bob-"+transport)
			b, err := cb.Allocate()
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			relayBetween(t, ca, cb, a, b) // permissions both ways; b binds a channel to a
			// pion's client binds that channel in the background: until the
			// server has it, a's datagrams go to b as Data indications (and
			// the TCP case below would pass for that reason alone).
			testkit.Eventually(t, "b's channel to a", func() bool {
				c := s.relays.conn(b.LocalAddr())
				if c == nil {
					return false
				}
				c.fast.mu.RLock()
				defer c.fast.mu.RUnlock()
				_, bound := c.fast.channels[addrPortOf(a.LocalAddr())]
				return bound
			})
			before := s.stats.fastRelayed.Load()
			const n = 200
			for i := range n {
				msg := fmt.Sprintf("datagram %03d", i)
				if _, err := a.WriteTo([]byte(msg), b.LocalAddr()); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 100)
				_ = b.SetReadDeadline(time.Now().Add(timeout))
				k, from, err := b.ReadFrom(buf)
				if err != nil || string(buf[:k]) != msg || from.String() != a.LocalAddr().String() {
					t.Fatalf("got %q from %v (%v), want %q from %s", buf[:k], from, err, msg, a.LocalAddr())
				}
			}
			fast := s.stats.fastRelayed.Load() - before
			if transport == "udp" && fast < n/2 {
				t.Errorf("fast path relayed %d of %d datagrams to a UDP client", fast, n)
			}
			if transport == "tcp" && fast != 0 {
				t.Errorf("fast path relayed %d datagrams to a TCP client", fast)
			}
		})
	}
}

// TestRelayRefusesItsOwnHost: with loopback allowed (as a production
// server's public range is), a relay still may not reach the server's own
// STUN/TURN listeners, another service on the host or any other address of
// it, in a CreatePermission or from the relay socket itself; the server's
// live relays stay reachable.
func TestRelayRefusesItsOwnHost(t *testing.T) {
	cert := testkit.SelfSigned(t)
	s := startTURN(t, func(c *Config) {
		c.AllowPeers = []string{"0.0.0.0/0", "::/0"}
		c.TLSListen, c.TLS = "127.0.0.1:0", cert.TLS
	})
	ca, a := allocate(t, s, "alice")
	cb, b := allocate(t, s, "bob")
	service := udpSocket(t) // any UDP service on the host
	own := []netip.AddrPort{s.Addrs().UDP, s.Addrs().TCP, s.Addrs().TLS, addrPortOf(service.LocalAddr()),
		netip.MustParseAddrPort("127.0.0.2:53"), netip.MustParseAddrPort("[::1]:53"), netip.MustParseAddrPort("0.0.0.0:53"),
		netip.AddrPortFrom(addrPortOf(a.LocalAddr()).Addr(), 22)} // a relay's IP on a port that is no relay
	ifaces, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifa := range ifaces { // this machine's other addresses (eth0's, say), where it has them
		if ip, ok := netip.AddrFromSlice(ifa.(*net.IPNet).IP); ok && !ip.IsLoopback() {
			own = append(own, netip.AddrPortFrom(ip.Unmap(), 53))
		}
	}
	denied := s.Stats().DeniedPeers
	for _, peer := range own {
		err := ca.CreatePermission(net.UDPAddrFromAddrPort(peer))
		if code := turnCode(err); code != stun.CodeForbidden {
			t.Errorf("CreatePermission(%s, this host) = %v, want 403", peer, err)
		}
	}
	if got := s.Stats().DeniedPeers - denied; got < uint64(len(own)) {
		t.Errorf("DeniedPeers grew by %d, want %d", got, len(own))
	}
	relayBetween(t, ca, cb, a, b) // relay↔relay stays allowed

	// The relay socket refuses too, whatever pion's permissions say.
	pc, _, err := s.relays.AllocatePacketConn(pionturn.AllocateListenerConfig{Network: "udp4", UserID: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, to := range []net.Addr{net.UDPAddrFromAddrPort(s.Addrs().UDP), service.LocalAddr()} {
		if _, err := pc.WriteTo([]byte("loop"), to); !errors.Is(err, ErrDeniedPeer) {
			t.Errorf("relay socket WriteTo(%s) = %v, want ErrDeniedPeer", to, err)
		}
	}
	if _, err := pc.WriteTo([]byte("to a relay"), b.LocalAddr()); err != nil {
		t.Errorf("relay socket WriteTo(a live relay) = %v", err)
	}
}

// TestLoopbackPeersSpareTheServer: a loopback-only server that admits
// loopback peers (a dev server: two local browsers, one forced to relay)
// lets a relay reach a loopback socket, but not its own STUN/TURN
// listener in any spelling, nor the host's other addresses.
func TestLoopbackPeersSpareTheServer(t *testing.T) {
	s := startTURN(t, func(c *Config) { c.LoopbackPeers = true })
	ca, a := allocate(t, s, "alice")
	service := udpSocket(t)
	if err := ca.CreatePermission(service.LocalAddr()); err != nil {
		t.Fatalf("CreatePermission(%s, a loopback peer): %v", service.LocalAddr(), err)
	}
	if _, err := a.WriteTo([]byte("hi"), service.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	_ = service.SetReadDeadline(time.Now().Add(timeout))
	if _, _, err := service.ReadFrom(make([]byte, 10)); err != nil {
		t.Fatalf("the loopback peer got nothing: %v", err)
	}
	udp := s.Addrs().UDP
	own := []netip.AddrPort{udp, netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), udp.Port()),
		netip.AddrPortFrom(netip.MustParseAddr("127.0.0.9"), udp.Port())}
	ifaces, _ := net.InterfaceAddrs()
	for _, ifa := range ifaces {
		if ip, ok := netip.AddrFromSlice(ifa.(*net.IPNet).IP); ok && !ip.IsLoopback() && ip.Unmap().Is4() {
			own = append(own, netip.AddrPortFrom(ip.Unmap(), 53))
		}
	}
	for _, peer := range own {
		if code := turnCode(ca.CreatePermission(net.UDPAddrFromAddrPort(peer))); code != stun.CodeForbidden {
			t.Errorf("CreatePermission(%s) = code %d, want 403", peer, code)
		}
	}
	pc, _, err := s.relays.AllocatePacketConn(pionturn.AllocateListenerConfig{Network: "udp4", UserID: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.WriteTo([]byte("loop"), net.UDPAddrFromAddrPort(udp)); !errors.Is(err, ErrDeniedPeer) {
		t.Errorf("relay socket WriteTo(its own listener) = %v, want ErrDeniedPeer", err)
	}
}
