package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	pionturn "github.com/pion/turn/v5"

	"github.com/parley-rtc/parley/internal/rpctest"
	"github.com/parley-rtc/parley/internal/testkit"
)

// iceServersResult is session.connect's iceServers.
type iceServersResult struct {
	ICEServers []struct {
		URLs       []string `json:"urls"`
		Username   string   `json:"username"`
		Credential string   `json:"credential"`
	} `json:"iceServers"`
}

// TestOnePort: a TLS server carries TURN on its signaling port, plain and
// over TLS, and says so in iceServers; pion's TURN client allocates over
// both, and while relayed datagrams flow between the two allocations, two
// WSS sessions on the same port trade messages.
func TestOnePort(t *testing.T) {
	cert := testkit.SelfSigned(t)
	certFile, keyFile := cert.Files(t, t.TempDir())
	key := "main:" + strings.Repeat("k", 40)
	p := startParley(t, nil, "--dev", "--api-keys", key, "--listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile,
		"--turn-listen", "127.0.0.1:0", "--turn-tls-listen", "127.0.0.1:0")
	p.WaitTURN(t)
	dialer := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}}
	session := func(identity string) (*rpctest.Client, iceServersResult) {
		c := dialURL(t, "wss://"+p.Addr+"/rpc", dialer)
		var s iceServersResult
		mustCall(t, c, "session.connect", map[string]any{"token": testkit.SignHS256("main", strings.Repeat("k", 40),
			fmt.Sprintf(`{"sub":%q,"exp":%d,"admin":true}`, identity, time.Now().Add(time.Hour).Unix()))}, &s)
		return c, s
	}
	alice, ice := session("alice")
	bob, _ := session("bob")
	if len(ice.ICEServers) != 1 {
		t.Fatalf("iceServers %+v", ice.ICEServers)
	}
	creds := ice.ICEServers[0]
	onePort := "turns:" + p.Addr + "?transport=tcp"
	if !slices.Contains(creds.URLs, onePort) {
		t.Fatalf("iceServers URLs %q lack %s", creds.URLs, onePort)
	}

	// pion's client over TLS and over plain TCP, both to the signaling port.
	tlsConn, err := tls.Dial("tcp", p.Addr, &tls.Config{RootCAs: cert.Pool})
	if err != nil {
		t.Fatal(err)
	}
	tcpConn, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	var clients [2]*pionturn.Client
	var relays [2]net.PacketConn
	for i, c := range []net.Conn{tlsConn, tcpConn} {
		stream := pionturn.NewSTUNConn(c)
		t.Cleanup(func() { _ = stream.Close() })
		clients[i] = testkit.TURNClient(t, stream, p.Addr, creds.Username, creds.Credential)
		if relays[i], err = clients[i].Allocate(); err != nil {
			t.Fatalf("Allocate over %s on the signaling port: %v", []string{"TLS", "TCP"}[i], err)
		}
		t.Cleanup(func() { _ = relays[i].Close() })
	}
	for i := range 2 {
		if err := clients[i].CreatePermission(relays[1-i].LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	var listed struct {
		Allocations []struct {
			Transport string `json:"transport"`
		} `json:"allocations"`
	}
	mustCall(t, alice, "admin.turn.allocations.list", nil, &listed)
	var transports []string
	for _, a := range listed.Allocations {
		transports = append(transports, a.Transport)
	}
	slices.Sort(transports)
	if !slices.Equal(transports, []string{"tcp", "tls"}) {
		t.Fatalf("allocations' transports %q, want tcp and tls", transports)
	}

	// TURN traffic both ways for as long as the sessions talk, bounded.
	var sent, received atomic.Int64
	stop := make(chan struct{})
	var traffic sync.WaitGroup
	for i := range 2 {
		traffic.Go(func() {
			payload := make([]byte, 1000)
			for n := 0; n < 20000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := relays[i].WriteTo(payload, relays[1-i].LocalAddr()); err != nil {
					return
				}
				sent.Add(1)
				time.Sleep(time.Millisecond)
			}
		})
		traffic.Go(func() {
			buf := make([]byte, 1500)
			for {
				_ = relays[i].SetReadDeadline(time.Now().Add(time.Second))
				if _, _, err := relays[i].ReadFrom(buf); err != nil {
					select {
					case <-stop:
						return
					default:
						continue
					}
				}
				received.Add(1)
			}
		})
	}
	testkit.Eventually(t, "relayed datagrams", func() bool { return received.Load() > 50 })

	mustCall(t, alice, "room.join", map[string]any{"roomId": "oneport", "create": true}, nil)
	mustCall(t, bob, "room.join", map[string]any{"roomId": "oneport"}, nil)
	if err := alice.Expect("room.peerJoined", nil); err != nil {
		t.Fatal(err)
	}
	before := received.Load()
	const messages = 100
	for i := range messages {
		mustCall(t, alice, "message.send", map[string]any{"roomId": "oneport", "data": i}, nil)
	}
	for i := range messages {
		var got struct {
			Data int `json:"data"`
		}
		if err := bob.Expect("message.received", &got); err != nil || got.Data != i {
			t.Fatalf("message %d: %+v, %v", i, got, err)
		}
	}
	during := received.Load() - before
	testkit.Eventually(t, "relayed datagrams after the messages", func() bool { return received.Load() > before+during+50 })
	close(stop)
	traffic.Wait()
	t.Logf("relayed %d of %d datagrams over TLS and TCP on the signaling port, %d while the sessions traded %d messages", received.Load(), sent.Load(), during, messages)
}

// TestReloadCertificateOnHangup: SIGHUP (systemd's ExecReload) reads
// --tls-cert and --tls-key again; new handshakes get the new certificate,
// a broken file keeps the old one, and the server goes on either way.
func TestReloadCertificateOnHangup(t *testing.T) {
	dir := t.TempDir()
	first, second := testkit.SelfSigned(t), testkit.SelfSigned(t)
	certFile, keyFile := first.Files(t, dir)
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile, "--no-turn")
	served := func() []byte {
		t.Helper()
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(first.CertPEM)
		pool.AppendCertsFromPEM(second.CertPEM)
		c, err := tls.Dial("tcp", p.Addr, &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Raw
	}
	isPEM := func(raw []byte, cert testkit.Cert) bool {
		block, _ := pem.Decode(cert.CertPEM)
		return bytes.Equal(raw, block.Bytes)
	}
	if !isPEM(served(), first) {
		t.Fatal("not serving the first certificate")
	}
	second.Files(t, dir)
	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the second certificate served", func() bool { return isPEM(served(), second) })
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the signal handled
	if !isPEM(served(), second) {
		t.Fatal("a broken key file replaced the certificate served")
	}
}
