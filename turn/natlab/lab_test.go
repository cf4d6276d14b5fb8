package natlab

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The lab's addresses are documentation ranges (RFC 5737) that exist only
// inside the namespaces the test creates; no namespace has a link to the
// host's network.
//
//	client A 192.0.2.10 ── router A ── 203.0.113.1 ┐
//	                                                ├ br0 in "pub": Parley on 203.0.113.10 and .11
//	client B 198.51.100.10 ─ router B ── 203.0.113.2 ┘  (.12: another address of Parley's host)
const (
	srvIP   = "203.0.113.10"
	altIP   = "203.0.113.11"
	otherIP = "203.0.113.12" // configured nowhere in Parley: only the interface list names it
	srvPort = 3478
	altPort = 3479
)

var routerSide = map[string]struct{ wan, lanRouter, lanClient string }{
	"a": {"203.0.113.1", "192.0.2.1", "192.0.2.10"},
	"b": {"203.0.113.2", "198.51.100.1", "198.51.100.10"},
}

// lab is one set of namespaces; every name carries the test's PID so a lab
// never collides with another run's.
type lab struct {
	t      *testing.T
	prefix string
	dir    string
}

func (l *lab) ns(name string) string { return l.prefix + name }

// run runs a command and fails the test with its output on error.
func (l *lab) run(name string, args ...string) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		l.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (l *lab) in(ns string, args ...string) {
	l.t.Helper()
	l.run("ip", append([]string{"netns", "exec", l.ns(ns)}, args...)...)
}

// up builds the namespaces and links; down (registered with t.Cleanup
// before the first namespace exists) removes them whatever happened.
func newLab(t *testing.T) *lab {
	l := &lab{t: t, prefix: fmt.Sprintf("plab%d-", os.Getpid()), dir: t.TempDir()}
	t.Cleanup(l.down)
	for _, ns := range []string{"pub", "ra", "rb", "ca", "cb"} {
		l.run("ip", "netns", "add", l.ns(ns))
		l.in(ns, "ip", "link", "set", "lo", "up")
	}
	l.in("pub", "ip", "link", "add", "br0", "type", "bridge")
	l.in("pub", "ip", "addr", "add", srvIP+"/24", "dev", "br0")
	l.in("pub", "ip", "addr", "add", altIP+"/24", "dev", "br0")
	l.in("pub", "ip", "addr", "add", otherIP+"/24", "dev", "br0")
	l.in("pub", "ip", "link", "set", "br0", "up")
	for _, side := range []string{"a", "b"} {
		r, c, a := "r"+side, "c"+side, routerSide[side]
		// veth ends are created inside their namespaces: nothing ever
		// appears in the host's namespace.
		l.run("ip", "link", "add", "wan", "netns", l.ns(r), "type", "veth", "peer", "name", "p"+side, "netns", l.ns("pub"))
		l.run("ip", "link", "add", "lan", "netns", l.ns(r), "type", "veth", "peer", "name", "eth0", "netns", l.ns(c))
		l.in("pub", "ip", "link", "set", "p"+side, "master", "br0")
		l.in("pub", "ip", "link", "set", "p"+side, "up")
		l.in(r, "ip", "addr", "add", a.wan+"/24", "dev", "wan")
		l.in(r, "ip", "addr", "add", a.lanRouter+"/24", "dev", "lan")
		l.in(r, "ip", "link", "set", "wan", "up")
		l.in(r, "ip", "link", "set", "lan", "up")
		l.in(r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
		l.in(c, "ip", "addr", "add", a.lanClient+"/24", "dev", "eth0")
		l.in(c, "ip", "link", "set", "eth0", "up")
		l.in(c, "ip", "route", "add", "default", "via", a.lanRouter)
	}
	return l
}

func (l *lab) down() {
	for _, ns := range []string{"ca", "cb", "ra", "rb", "pub"} {
		_ = exec.Command("ip", "netns", "del", l.ns(ns)).Run()
	}
}

// setNAT gives router side ("a" or "b") one of the NAT types, as one
// atomic nftables ruleset. port is the client's UDP port (full and
// restricted cone map exactly that port).
//
// Every type also drops new inbound connections addressed to the router
// itself: without that, the peer's early punch creates a conntrack entry on
// the router that takes the port the client's own first packet to that peer
// needs, Linux picks another port, and a cone NAT turns symmetric (measured
// by shared/reference/natlab.sh).
func (l *lab) setNAT(t *testing.T, side, typ string, port int) {
	t.Helper()
	a := routerSide[side]
	var pre, post, fwd string
	switch typ {
	case "full", "rcone": // static 1:1 mapping of the client's port: endpoint-independent
		post = fmt.Sprintf("oifname \"wan\" ip saddr %s udp sport %d snat to %s:%d\n    oifname \"wan\" masquerade", a.lanClient, port, a.wan, port)
		pre = fmt.Sprintf("iifname \"wan\" udp dport %d dnat to %s:%d", port, a.lanClient, port)
		if typ == "rcone" { // inbound only from IPs the client has sent to
			fwd = "iifname \"lan\" update @contacted { ip daddr }\n    iifname \"wan\" ip saddr @contacted accept\n    iifname \"wan\" drop"
		}
	case "prc", "sym": // conntrack lets in replies from the exact ip:port only
		post = "oifname \"wan\" masquerade"
		if typ == "sym" { // a random port per destination
			post += " fully-random"
		}
		fwd = "iifname \"wan\" ct state established,related accept\n    iifname \"wan\" drop"
	default:
		t.Fatalf("unknown NAT type %q", typ)
	}
	rules := fmt.Sprintf(`flush ruleset
table ip natlab {
  set contacted { type ipv4_addr; flags dynamic,timeout; timeout 2m; }
  chain prerouting { type nat hook prerouting priority dstnat; policy accept;
    %s
  }
  chain postrouting { type nat hook postrouting priority srcnat; policy accept;
    %s
  }
  chain forward { type filter hook forward priority filter; policy accept;
    %s
  }
  chain input { type filter hook input priority filter; policy accept;
    iifname "wan" ct state new drop
  }
}
`, pre, post, fwd)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", l.ns("r"+side), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft on router %s (%s): %v\n%s\n%s", side, typ, err, out, rules)
	}
}

// start runs a long-lived process in a namespace; it is killed (by its own
// PID) when the test ends.
func (l *lab) start(ns string, logName string, args ...string) *exec.Cmd {
	l.t.Helper()
	logf, err := os.Create(filepath.Join(l.dir, logName))
	if err != nil {
		l.t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.ns(ns)}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logf.Close()
		if l.t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			l.t.Logf("%s:\n%s", logName, b)
		}
	})
	return cmd
}

// helper runs this test binary as a probe in a namespace (see
// TestMain) and returns its stdout.
func (l *lab) helper(ctx context.Context, ns string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.ns(ns), os.Args[0]}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %v: %w: %s", ns, args, err, errOut.String())
	}
	return strings.TrimSpace(out.String()), err
}

var srvAddr = netip.AddrPortFrom(netip.MustParseAddr(srvIP), srvPort)
