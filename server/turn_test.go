package server

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"

	"github.com/parley-rtc/parley/internal/testkit"
)

// iceServer is one entry of iceServers as a client receives it.
type iceServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username"`
	Credential string   `json:"credential"`
}

// turnAddr finds the host:port of the URL with the given prefix and suffix.
func turnAddr(t *testing.T, urls []string, prefix, suffix string) string {
	t.Helper()
	for _, u := range urls {
		if strings.HasPrefix(u, prefix) && strings.HasSuffix(u, suffix) {
			return strings.TrimSuffix(strings.TrimPrefix(u, prefix), suffix)
		}
	}
	t.Fatalf("no %s…%s URL in %q", prefix, suffix, urls)
	return ""
}

// turnClient is pion's TURN client over udp or tcp, listening.
func turnClient(t *testing.T, transport, addr, user, pass string) *pionturn.Client {
	t.Helper()
	var conn net.PacketConn
	if transport == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn = c
	} else {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn = pionturn.NewSTUNConn(c)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return testkit.TURNClient(t, conn, addr, user, pass)
}

// turnAllocate allocates with pion's client over udp or tcp.
func turnAllocate(t *testing.T, transport, addr, user, pass string) (*pionturn.Client, net.PacketConn) {
	t.Helper()
	c := turnClient(t, transport, addr, user, pass)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate over %s at %s: %v", transport, addr, err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	return c, relay
}

// iceServersOf is the co-hosted server's entry of p's session.connect iceServers.
func iceServersOf(t *testing.T, p *peer) iceServer {
	t.Helper()
	var servers []iceServer
	raw, _ := json.Marshal(p.session["iceServers"])
	if err := json.Unmarshal(raw, &servers); err != nil || len(servers) != 1 {
		t.Fatalf("session.connect iceServers = %s", raw)
	}
	return servers[0]
}

// relayOnce sends msg from relay a to relay b through their clients'
// permissions and checks it arrives.
func relayOnce(t *testing.T, ca, cb *pionturn.Client, a, b net.PacketConn, msg string) {
	t.Helper()
	if err := ca.CreatePermission(b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if err := cb.CreatePermission(a.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.WriteTo([]byte(msg), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := b.ReadFrom(buf)
	if err != nil || string(buf[:n]) != msg {
		t.Fatalf("relay: got %q (%v), want %q", buf[:n], err, msg)
	}
}

// TestICEServersWork: the iceServers of session.connect and ice.servers
// name this process's STUN/TURN server, and their credentials allocate over
// UDP and TCP; the two relays reach each other.
func TestICEServersWork(t *testing.T) {
	ts := startServer(t)
	alice := ts.connect(t, "alice")
	exp, _ := alice.session["iceServersExpiresAt"].(float64)
	if d := time.Until(time.Unix(int64(exp), 0)); d < 11*time.Hour || d > 13*time.Hour {
		t.Fatalf("iceServersExpiresAt is %v away, want the 12h default", d)
	}
	a := iceServersOf(t, alice)
	if !strings.HasSuffix(a.Username, ":alice") {
		t.Fatalf("username %q does not carry the identity", a.Username)
	}
	turnAddr(t, a.URLs, "stun:127.0.0.1:", "")
	udp := turnAddr(t, a.URLs, "turn:", "?transport=udp")
	tcp := turnAddr(t, a.URLs, "turn:", "?transport=tcp")

	bob := ts.connect(t, "bob")
	var fresh struct {
		ICEServers []iceServer `json:"iceServers"`
		ExpiresAt  int64       `json:"expiresAt"`
	}
	if err := json.Unmarshal(bob.must("ice.servers", nil), &fresh); err != nil || len(fresh.ICEServers) != 1 || fresh.ExpiresAt == 0 {
		t.Fatalf("ice.servers = %+v (%v)", fresh, err)
	}
	b := fresh.ICEServers[0]
	if !strings.HasSuffix(b.Username, ":bob") {
		t.Fatalf("ice.servers username %q is not bob's", b.Username)
	}

	ca, ra := turnAllocate(t, "udp", udp, a.Username, a.Credential)
	cb, rb := turnAllocate(t, "tcp", tcp, b.Username, b.Credential)
	relayOnce(t, ca, cb, ra, rb, "hello bob")
}

// TestTURNCredentialsEndpoint: GET /v1/turn-credentials answers app
// backends holding an API key in the TURN REST API draft's shape.
func TestTURNCredentialsEndpoint(t *testing.T) {
	ts := startServer(t)
	get := func(query string, auth func(*http.Request)) (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ts.base+"/v1/turn-credentials?"+query, nil)
		if auth != nil {
			auth(req)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%s: not JSON: %s", query, body)
		}
		return res, out
	}
	basic := func(r *http.Request) { r.SetBasicAuth(testKID, testSecret) }
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testKID+":"+testSecret) }
	wrong := func(r *http.Request) { r.SetBasicAuth(testKID, "wrong") }

	if res, _ := get("service=turn&username=carol", nil); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no key: %d", res.StatusCode)
	}
	if res, _ := get("service=turn&username=carol", wrong); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", res.StatusCode)
	}
	if res, _ := get("service=stun&username=carol", basic); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("service=stun: %d", res.StatusCode)
	}
	if res, _ := get("service=turn", basic); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("no username: %d", res.StatusCode)
	}
	for name, auth := range map[string]func(*http.Request){"basic": basic, "bearer": bearer} {
		res, body := get("service=turn&username=carol", auth)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %v", name, res.StatusCode, body)
		}
		user, _ := body["username"].(string)
		pass, _ := body["password"].(string)
		ttl, _ := body["ttl"].(float64)
		var uris []string
		for _, u := range body["uris"].([]any) {
			uris = append(uris, u.(string))
		}
		if !strings.HasSuffix(user, ":carol") || pass == "" || ttl != (12*time.Hour).Seconds() {
			t.Fatalf("%s: %v", name, body)
		}
		turnAllocate(t, "udp", turnAddr(t, uris, "turn:", "?transport=udp"), user, pass)
	}
}

// TestTURNConfigAsRun: the TURN section as the server runs it: TURN over
// TLS on port 5349 of the TURN IP when there is a certificate, and the
// HTTP listeners' addresses among those relays must not reach.
func TestTURNConfigAsRun(t *testing.T) {
	c := DefaultConfig()
	c.Listen, c.MetricsListen, c.TURN.Listen = "198.51.100.5:443", "127.0.0.1:9090", "198.51.100.6:3478"
	plain := c.turnConfig(nil)
	if plain.TLSListen != "" || plain.TLS != nil {
		t.Errorf("without a certificate: TLS listen %q", plain.TLSListen)
	}
	got := c.turnConfig(&tls.Config{})
	if got.TLSListen != "198.51.100.6:5349" || got.TLS == nil {
		t.Errorf("with a certificate: TLS listen %q", got.TLSListen)
	}
	want := []netip.Addr{netip.MustParseAddr("198.51.100.5"), netip.MustParseAddr("127.0.0.1")}
	if !slices.Equal(got.HostAddresses, want) {
		t.Errorf("host addresses %v, want %v", got.HostAddresses, want)
	}
	c.Listen = "localhost:7880" // a name: the host's interface addresses cover it
	if got := c.turnConfig(nil); len(got.HostAddresses) != 1 {
		t.Errorf("host addresses %v, want only the metrics listener's", got.HostAddresses)
	}
}

// TestLoopbackPeersOnlyForALoopbackDevServer: relays reach loopback peers
// only in dev mode with every TURN listener on loopback.
func TestLoopbackPeersOnlyForALoopbackDevServer(t *testing.T) {
	for _, tc := range []struct {
		name              string
		dev               bool
		listen, alt, tlsl string
		want              bool
	}{
		{"dev on 127.0.0.1", true, "127.0.0.1:3478", "", "", true},
		{"dev on ::1", true, "[::1]:3478", "", "", true},
		{"dev with a loopback alternate", true, "127.0.0.1:3478", "127.0.0.2:3479", "", true},
		{"dev with a public alternate", true, "127.0.0.1:3478", "203.0.113.11:3479", "", false},
		{"dev with TLS beyond loopback", true, "127.0.0.1:3478", "", "0.0.0.0:5349", false},
		{"dev on every address", true, "0.0.0.0:3478", "", "", false},
		{"dev on a host name", true, "localhost:3478", "", "", false},
		{"production on loopback", false, "127.0.0.1:3478", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Dev, c.TURN.Listen, c.TURN.Alternate, c.TURN.TLSListen = tc.dev, tc.listen, tc.alt, tc.tlsl
			if got := c.turnConfig(nil).LoopbackPeers; got != tc.want {
				t.Fatalf("LoopbackPeers = %v, want %v", got, tc.want)
			}
		})
	}
}
