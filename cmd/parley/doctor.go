package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/turn/nattype"
)

const doctorSynopsis = `Checks the network path to a Parley (or any RFC 5780 STUN) server: the NAT
type in the classic terms (full cone, restricted cone, port-restricted cone,
symmetric), the public address, hairpinning; with --peer-nat, whether a peer
behind that NAT can be reached directly or needs TURN; with --url and
--identity (dev) or --token, whether TURN allocations over every transport in
session.connect's iceServers work end to end (allocate, permission, a packet
relayed back to itself). Exits 1 when a check fails.`

// doctorReport is what doctor found; --json prints it as is.
type doctorReport struct {
	Server string     `json:"server,omitzero"`
	NAT    *natReport `json:"nat,omitzero"`
	Peer   *peerCheck `json:"peer,omitzero"`
	TURN   []turnTest `json:"turn,omitzero"`
	OK     bool       `json:"ok"`
}

type natReport struct {
	nattype.Result
	Error string `json:"error,omitzero"`
}

type peerCheck struct {
	Type   nattype.Type `json:"type"`
	Direct bool         `json:"direct"`
}

func runDoctor(args, _ []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("doctor", doctorSynopsis, stderr)
	server := fs.String("server", "", "STUN server HOST[:PORT] (default port 3478; default: the first stun: URL of --url's iceServers)")
	peerNAT := fs.String("peer-nat", "", "the peer's NAT type: open, full, rcone, prc, sym (says: direct or TURN)")
	url := fs.String("url", "", "Parley WebSocket endpoint ws(s)://HOST/rpc, to test TURN with credentials from session.connect")
	identity := fs.String("identity", "", "identity for session.connect on a dev server")
	token := fs.String("token", "", "JWT for session.connect (see parley token)")
	insecure := fs.Bool("insecure", false, "skip TLS certificate checks for wss: and turns: (self-signed test servers only)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var peer nattype.Type
	if *peerNAT != "" {
		var err error
		if peer, err = nattype.ParseType(*peerNAT); err != nil {
			return fmt.Errorf("doctor: --peer-nat: %w", err)
		}
	}
	if *server == "" && *url == "" {
		return errors.New("doctor: give --server HOST[:PORT] or --url ws(s)://HOST/rpc")
	}
	if *url != "" && (*identity == "") == (*token == "") {
		return errors.New("doctor: --url needs exactly one of --identity or --token")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	rep := doctorReport{OK: true}
	var ice *iceServers
	if *url != "" {
		var err error
		if ice, err = fetchICEServers(ctx, *url, *identity, *token, *insecure); err != nil {
			rep.OK = false
			rep.TURN = []turnTest{{URL: *url, Error: err.Error()}}
		}
		if *server == "" && ice != nil {
			*server = ice.stunHostPort()
		}
	}
	if *server != "" {
		rep.Server = *server
		rep.NAT = checkNAT(ctx, *server)
		if rep.NAT.Error != "" {
			rep.OK = false
		}
		if *peerNAT != "" {
			rep.Peer = &peerCheck{Type: peer, Direct: nattype.Direct(rep.NAT.Type, peer)}
		}
	}
	if ice != nil {
		rep.TURN = checkTURN(ctx, ice, *insecure)
		for _, t := range rep.TURN {
			rep.OK = rep.OK && t.OK
		}
	}

	if *asJSON {
		if err := json.MarshalWrite(stdout, rep, jsontext.WithIndent("  ")); err != nil {
			return err
		}
		fmt.Fprintln(stdout)
	} else {
		printReport(stdout, rep)
	}
	if !rep.OK {
		return errors.New("doctor: some checks failed")
	}
	return nil
}

// checkNAT runs RFC 5780 discovery from a fresh UDP socket.
func checkNAT(ctx context.Context, server string) *natReport {
	rep := &natReport{}
	addr, err := resolveSTUN(ctx, server)
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	conn, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	defer conn.Close()
	rep.Result, err = nattype.Discover(ctx, conn, addr, nattype.Options{})
	switch {
	case err != nil:
		rep.Error = err.Error()
	case rep.Type == nattype.UDPBlocked:
		rep.Error = "no STUN answer over UDP from " + addr.String()
	}
	return rep
}

// resolveSTUN turns HOST[:PORT] into an IPv4 address (the NAT tests run
// over IPv4, where NATs are).
func resolveSTUN(ctx context.Context, hostport string) (netip.AddrPort, error) {
	host, port := hostport, "3478"
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("server %q: bad port: %w", hostport, err)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("server %q: no IPv4 address: %w", hostport, err)
	}
	return netip.AddrPortFrom(ips[0].Unmap(), uint16(n)), nil
}

func printReport(w io.Writer, rep doctorReport) {
	yesNo := map[bool]string{true: "yes", false: "no"}
	if n := rep.NAT; n != nil {
		fmt.Fprintf(w, "STUN server %s\n", rep.Server)
		switch {
		case n.Type == nattype.UDPBlocked:
			fmt.Fprintf(w, "  NAT type        UDP blocked: %s; only TURN over TCP or TLS can work\n", n.Error)
		case n.Error != "" && !n.Public.IsValid():
			fmt.Fprintf(w, "  FAIL            %s\n", n.Error)
		default:
			if n.Error != "" {
				fmt.Fprintf(w, "  FAIL            %s\n", n.Error)
			}
			if n.Type != nattype.Unknown {
				fmt.Fprintf(w, "  NAT type        %s (mapping %s, filtering %s)\n", n.Type, n.Mapping, n.Filtering)
			}
			fmt.Fprintf(w, "  public address  %s (behind NAT: %s)\n", n.Public, yesNo[n.NAT])
			if n.Type != nattype.Unknown {
				fmt.Fprintf(w, "  hairpinning     %s\n", yesNo[n.Hairpinning])
			}
		}
	}
	if p := rep.Peer; p != nil {
		verdict := "direct connection possible (UDP hole punching)"
		if !p.Direct {
			verdict = "needs TURN (hole punching cannot connect these NAT types)"
		}
		fmt.Fprintf(w, "  peer behind %s: %s\n", p.Type, verdict)
	}
	if len(rep.TURN) > 0 {
		fmt.Fprintln(w, "TURN (credentials from session.connect)")
	}
	for _, t := range rep.TURN {
		if t.OK {
			fmt.Fprintf(w, "  ok    %-48s relayed %s, echo in %s\n", t.URL, t.Relayed, time.Duration(t.RTTMillis*float64(time.Millisecond)).Round(100*time.Microsecond))
		} else {
			fmt.Fprintf(w, "  FAIL  %-48s %s\n", t.URL, t.Error)
		}
	}
	fmt.Fprintln(w, strings.Repeat("-", 8))
	if rep.OK {
		fmt.Fprintln(w, "all checks passed")
	} else {
		fmt.Fprintln(w, "some checks FAILED")
	}
}
