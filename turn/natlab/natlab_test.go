// Package natlab is the NAT lab: network namespaces with nftables NAT
// routers between two clients and Parley, reproducing the classic NAT
// types and checking turn/nattype, UDP hole punching and TURN against the
// direct-connection table, and that admin.diag.explain names the cause
// when two WebRTC peers behind those NATs cannot connect (explain_test.go). Tests only; it needs root, iproute2 and nftables
// (scripts/install-deps.sh), and scripts/natlab.sh runs it.
package natlab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/parley-rtc/parley/turn/nattype"
)

// labTypes are the router setups and the type nattype must name for each.
var labTypes = map[string]nattype.Type{
	"full":  nattype.FullCone,
	"rcone": nattype.RestrictedCone,
	"prc":   nattype.PortRestrictedCone,
	"sym":   nattype.Symmetric,
}

func TestNATLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the NAT lab needs root (network namespaces, nftables); `make test` runs it as root, or: sudo scripts/natlab.sh")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: run scripts/install-deps.sh (make deps)", tool)
		}
	}
	began := time.Now()
	parley := buildParley(t)
	l := newLab(t)
	startParley(t, l, parley)
	user, pass := turnCredentials(t, l)
	t.Logf("lab up with Parley in %s", time.Since(began).Round(time.Millisecond))

	port := 41000 // bumped for every case, so no conntrack entry of one case meets the next
	next := func() int { port++; return port }

	t.Run("nattype", func(t *testing.T) {
		for _, pair := range [][2]string{{"full", "rcone"}, {"prc", "sym"}} {
			p := next()
			l.setNAT(t, "a", pair[0], p)
			l.setNAT(t, "b", pair[1], p)
			results := both(t, func(side string) (string, error) {
				return l.helper(context.Background(), "c"+side, "discover", fmt.Sprint("-port=", p))
			})
			for i, side := range []string{"a", "b"} {
				var res nattype.Result
				if err := json.Unmarshal([]byte(results[i]), &res); err != nil {
					t.Fatalf("router %s (%s): %v: %q", side, pair[i], err, results[i])
				}
				want := labTypes[pair[i]]
				if res.Type != want || !res.NAT || res.Public.Addr().String() != routerSide[side].wan || res.Hairpinning {
					t.Errorf("router %s %s: got %s (mapping %s, filtering %s) public %s NAT %v hairpinning %v; want %s behind %s, no hairpinning",
						side, pair[i], res.Type, res.Mapping, res.Filtering, res.Public, res.NAT, res.Hairpinning, want, routerSide[side].wan)
				}
			}
		}
	})

	// The seeds' table: nattype.Direct says which pairs punch through.
	cases := [][2]string{
		{"full", "sym"}, {"rcone", "rcone"}, {"rcone", "prc"}, {"rcone", "sym"},
		{"prc", "prc"}, {"prc", "sym"}, {"sym", "sym"},
	}
	t.Run("punch", func(t *testing.T) {
		for _, c := range cases {
			want := nattype.Direct(labTypes[c[0]], labTypes[c[1]])
			p := next()
			l.setNAT(t, "a", c[0], p)
			l.setNAT(t, "b", c[1], p)
			rdv := rendezvousDir(t, "punch", c)
			start := time.Now()
			errs := bothErr(func(side, peer string) error {
				_, err := l.helper(context.Background(), "c"+side, "punch", "-name="+side, "-peer="+peer, "-rdv="+rdv, fmt.Sprint("-port=", p), "-window=3s")
				return err
			})
			got := errs[0] == nil && errs[1] == nil
			t.Logf("punch %-5s ↔ %-5s direct=%v (want %v) in %s", c[0], c[1], got, want, time.Since(start).Round(time.Millisecond))
			if got != want {
				t.Errorf("punch %s ↔ %s: direct=%v, the table says %v (%v)", c[0], c[1], got, want, errs)
			}
		}
	})

	t.Run("turn", func(t *testing.T) {
		for _, c := range cases {
			if nattype.Direct(labTypes[c[0]], labTypes[c[1]]) {
				continue // TURN is for the pairs punching cannot connect
			}
			p := next()
			l.setNAT(t, "a", c[0], p)
			l.setNAT(t, "b", c[1], p)
			rdv := rendezvousDir(t, "relay", c)
			start := time.Now()
			errs := bothErr(func(side, peer string) error {
				_, err := l.helper(context.Background(), "c"+side, "relay", "-name="+side, "-peer="+peer, "-rdv="+rdv, "-user="+user, "-pass="+pass, "-window=5s")
				return err
			})
			t.Logf("relay %-5s ↔ %-5s in %s", c[0], c[1], time.Since(start).Round(time.Millisecond))
			if errs[0] != nil || errs[1] != nil {
				t.Errorf("TURN relay %s ↔ %s through Parley: %v", c[0], c[1], errs)
			}
		}
	})
	// The relay loop (issue 16.12): the lab's "Internet" is allowed with
	// --turn-allow-peer, as a production server's public range effectively
	// is, yet a relay reaches none of Parley's own addresses: neither its
	// STUN/TURN listener and alternate address, nor another UDP service on
	// its host, on a listener address or on one Parley was never told
	// about. A peer elsewhere in the allowed range answers through the
	// relay; relay to relay works (the turn cases above).
	t.Run("loop", func(t *testing.T) {
		p := next()
		l.setNAT(t, "a", "prc", p)
		l.setNAT(t, "b", "full", p)
		ctx, cancel := context.WithCancel(context.Background())
		var services sync.WaitGroup
		for _, svc := range []struct{ ns, port string }{{"pub", "5300"}, {"cb", fmt.Sprint(p)}} {
			services.Go(func() { _, _ = l.helper(ctx, svc.ns, "echo", "-port="+svc.port) })
		}
		defer func() { cancel(); services.Wait() }()
		time.Sleep(200 * time.Millisecond) // the echo services bind
		peer := fmt.Sprintf("%s:%d", routerSide["b"].wan, p)
		own := []string{srvAddr.String(), fmt.Sprintf("%s:%d", altIP, altPort), srvIP + ":5300", otherIP + ":5300", "127.0.0.1:7880"}
		out, err := l.helper(context.Background(), "ca", "loop", "-user="+user, "-pass="+pass, "-targets="+strings.Join(append(own, peer), ","))
		if err != nil {
			t.Fatal(err)
		}
		var verdicts map[string]string
		if err := json.Unmarshal([]byte(out), &verdicts); err != nil {
			t.Fatalf("loop probe: %v: %q", err, out)
		}
		t.Logf("through a relay: %v", verdicts)
		for _, target := range own {
			if verdicts[target] != "refused" {
				t.Errorf("%s (Parley's own host): %s, want refused", target, verdicts[target])
			}
		}
		if verdicts[peer] != "answered" {
			t.Errorf("%s (a peer in the allowed range): %s, want answered", peer, verdicts[peer])
		}
	})
	t.Run("explain", func(t *testing.T) { testExplain(t, l, next()) })
	t.Logf("whole lab %s", time.Since(began).Round(time.Millisecond))
}

func rendezvousDir(t *testing.T, kind string, c [2]string) string {
	dir := filepath.Join(t.TempDir(), kind+"-"+c[0]+"-"+c[1])
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// both runs f for sides a and b at the same time and fails on an error.
func both(t *testing.T, f func(side string) (string, error)) [2]string {
	t.Helper()
	var out [2]string
	errs := bothErr(func(side, _ string) error {
		var err error
		out[map[string]int{"a": 0, "b": 1}[side]], err = f(side)
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func bothErr(f func(side, peer string) error) [2]error {
	var errs [2]error
	var wg sync.WaitGroup
	for i, side := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(side, map[string]string{"a": "b", "b": "a"}[side])
		}()
	}
	wg.Wait()
	return errs
}

// buildParley builds the binary the lab runs, from this module.
func buildParley(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "parley")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/parley-rtc/parley/cmd/parley").CombinedOutput(); err != nil {
		t.Fatalf("go build parley: %v\n%s", err, out)
	}
	return bin
}

// parleyFlags are the serve flags the lab needs. The lab's "Internet" is
// allowed as relay peers, as a production server's public range in effect
// is (its documentation range is denied by default). Signaling listens on
// every address (the lab's clients reach it on the "Internet", with
// tokens signed by labKey; the lab's own helpers on loopback) without TLS.
var parleyFlags = []string{
	"--dev",
	"--listen=0.0.0.0:7880",
	"--insecure",
	"--api-keys=" + labKey,
	"--public-url=http://" + srvIP + ":7880",
	"--turn-listen=" + srvAddr.String(),
	fmt.Sprintf("--turn-alt-address=%s:%d", altIP, altPort),
	"--turn-allow-peer=203.0.113.0/24",
}

func startParley(t *testing.T, l *lab, bin string) {
	t.Helper()
	help, _ := exec.Command(bin, "serve", "--help").CombinedOutput()
	for _, f := range parleyFlags {
		name, _, _ := strings.Cut(f, "=")
		if !strings.Contains(string(help), name+" ") && !strings.Contains(string(help), name+"[") {
			t.Fatalf("parley serve has no %s flag; the lab runs: parley serve %s", name, strings.Join(parleyFlags, " "))
		}
	}
	l.start("pub", "parley.log", append([]string{bin, "serve"}, parleyFlags...)...)
}

// turnCredentials waits (at most 5 s) for Parley to come up and takes TURN
// credentials from session.connect, as every client does.
func turnCredentials(t *testing.T, l *lab) (user, pass string) {
	t.Helper()
	var err error
	for range 50 {
		var out string
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		out, err = l.helper(ctx, "pub", "creds", "-url=ws://127.0.0.1:7880/rpc")
		cancel()
		if err == nil {
			user, pass, _ = strings.Cut(out, " ")
			return user, pass
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no TURN credentials from Parley's session.connect: %v", err)
	return "", ""
}
