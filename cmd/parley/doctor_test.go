package main

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"

	"github.com/parley-rtc/parley/internal/testkit"
	"github.com/parley-rtc/parley/turn/binding"
)

// stunServer runs an RFC 5780 binding server on 127.0.0.1 + 127.0.0.2.
func stunServer(t *testing.T) *binding.Server {
	return testkit.STUNServer(t, netip.MustParseAddrPort("127.0.0.1:0"), netip.MustParseAddrPort("127.0.0.2:0"))
}

func TestDoctorNAT(t *testing.T) {
	s := stunServer(t)
	var out, errOut bytes.Buffer
	if code := run([]string{"doctor", "--server", s.Addr().String(), "--peer-nat", "sym", "--json"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	var rep struct {
		NAT struct {
			Type        string `json:"type"`
			Public      string `json:"public"`
			Hairpinning bool   `json:"hairpinning"`
		} `json:"nat"`
		Peer struct {
			Type   string `json:"type"`
			Direct bool   `json:"direct"`
		} `json:"peer"`
		OK bool `json:"ok"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v in %s", err, out.String())
	}
	// Loopback: no NAT, nothing filtered, so a symmetric peer is reachable.
	if !rep.OK || rep.NAT.Type != "open-internet" || !rep.NAT.Hairpinning || !strings.HasPrefix(rep.NAT.Public, "127.0.0.1:") ||
		rep.Peer.Type != "symmetric" || !rep.Peer.Direct {
		t.Errorf("report %s", out.String())
	}

	out.Reset()
	if code := run([]string{"doctor", "--server", s.Addr().String(), "--peer-nat", "full"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"NAT type        open internet", "hairpinning     yes", "peer behind full cone: direct connection possible", "all checks passed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDoctorFails(t *testing.T) {
	silent, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var out, errOut bytes.Buffer
	if code := run([]string{"doctor", "--server", silent.LocalAddr().String()}, nil, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, out.String())
	}
	if !strings.Contains(out.String(), "UDP blocked") || !strings.Contains(out.String(), "FAILED") {
		t.Errorf("output:\n%s", out.String())
	}
	for _, args := range [][]string{
		{"doctor", "--server", "127.0.0.1", "--peer-nat", "cone-ish"},
		{"doctor", "--url", "ws://127.0.0.1:1/rpc"},
	} {
		if code := run(args, nil, &out, &errOut); code != 1 {
			t.Errorf("%q: exit %d, want 1", args, code)
		}
	}
}

// TestDoctorTURN is doctor against the real binary: credentials from
// session.connect over WSS, then allocate, permission and a packet relayed
// back to itself over UDP, TCP and TLS (on the TURN-over-TLS listener and
// on the signaling port); NAT discovery through the same
// server's RFC 5780 addresses (127.0.0.1 and 127.0.0.2).
func TestDoctorTURN(t *testing.T) {
	certFile, keyFile := testkit.SelfSigned(t).Files(t, t.TempDir())
	p := startParley(t, nil, "--dev", "--listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile,
		"--turn-listen", "127.0.0.1:0", "--turn-tls-listen", "127.0.0.1:0", "--turn-alt-address", "127.0.0.2:0")
	var out, errOut bytes.Buffer
	code := run([]string{"doctor", "--url", "wss://" + p.Addr + "/rpc", "--identity", "doctor", "--insecure", "--peer-nat", "prc", "--json"}, nil, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	var rep struct {
		NAT struct {
			Type string `json:"type"`
		} `json:"nat"`
		TURN []struct {
			URL string `json:"url"`
			OK  bool   `json:"ok"`
		} `json:"turn"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep, json.RejectUnknownMembers(false)); err != nil {
		t.Fatal(err)
	}
	if rep.NAT.Type != "open-internet" {
		t.Errorf("NAT type %q", rep.NAT.Type)
	}
	var schemes []string
	for _, tt := range rep.TURN {
		if !tt.OK {
			t.Errorf("%s failed", tt.URL)
		}
		scheme, rest, _ := strings.Cut(tt.URL, ":")
		_, transport, _ := strings.Cut(rest, "transport=")
		schemes = append(schemes, scheme+"/"+transport)
	}
	// TLS twice: on the TURN-over-TLS listener and on the signaling port.
	if got := strings.Join(schemes, " "); got != "turn/udp turn/tcp turns/tcp turns/tcp" || rep.TURN[3].URL != "turns:"+p.Addr+"?transport=tcp" {
		t.Errorf("checked %q, want UDP, TCP and TLS, and TLS on the signaling port:\n%s", got, out.String())
	}
}

// TestDoctorWithoutSecondAddress: a default dev server has no RFC 5780
// second address. doctor reports what it can know (the public address, a
// mapping that held over two requests), says what needs a second address,
// and passes: every check it could make passed. No --identity: doctor
// connects to a dev server as parley-doctor.
func TestDoctorWithoutSecondAddress(t *testing.T) {
	p := startDevTURN(t)
	out, errOut, code := parleyCmd(t, "doctor", "--url", p.URL(), "--peer-nat", "sym")
	if code != 0 {
		t.Fatalf("exit %d (before: 1, FAIL nattype):\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"public address  127.0.0.1:",
		"mapping         the same public address for two requests",
		"NAT type        unknown: filtering and the NAT type need a STUN server with a second address",
		"peer behind symmetric: cannot tell without our NAT type",
		"ok    turn:127.0.0.1:",
		"all checks passed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("output:\n%s", out)
	}
}

// TestDoctorDefaults: --url defaults to the dev server, as for rpc and
// listen.
func TestDoctorDefaults(t *testing.T) {
	_, errOut, code := parleyCmd(t, "doctor", "--help")
	if code != 0 || !strings.Contains(errOut, `--url string`) || !strings.Contains(errOut, `(default "ws://127.0.0.1:7880/rpc")`) {
		t.Fatalf("doctor --help: exit %d:\n%s", code, errOut)
	}
}
