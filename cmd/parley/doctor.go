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

const doctorSynopsis = `Checks the network path to a Parley (or any STUN) server: the public address;
with a server that has a second address (RFC 5780, parley serve
--turn-alt-address), the NAT type in the classic terms (full cone,
restricted cone, port-restricted cone, symmetric) and hairpinning; with
--peer-nat, whether a peer behind that NAT can be reached directly or needs
TURN; and whether TURN allocations over every transport in session.connect's
iceServers work end to end (allocate, permission, a packet relayed back to
itself). Exits 1 when a check fails; what a server cannot tell (the NAT type
without a second address) is reported, not failed.

Without --server, the STUN server is the first stun: URL of --url's
iceServers; --url defaults to the dev server of 'make run'. With --server
alone, only STUN is checked. Without --token or --identity, doctor connects
as the identity "parley-doctor" (dev servers).

With --explain ROOM (and an admin --token), doctor checks nothing itself:
it asks the server why the connections of that room failed
(admin.diag.explain: both clients' reports joined with the TURN server's
record) and prints each pair's cause; exit 1 when a pair failed.`

// doctorIdentity is the session doctor opens when given no credentials.
const doctorIdentity = "parley-doctor"

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
	// StableMapping is set when the server has no second address: whether
	// two requests from one socket got the same public address.
	StableMapping *bool `json:"stableMapping,omitzero"`
	// Unknown says what could not be found out, and why (not a failure).
	Unknown string `json:"unknown,omitzero"`
	Error   string `json:"error,omitzero"`
}

type peerCheck struct {
	Type   nattype.Type `json:"type"`
	Direct bool         `json:"direct"`
}

// noSecondAddress is what a server without RFC 5780 cannot tell.
const noSecondAddress = "filtering and the NAT type need a STUN server with a second address (RFC 5780: parley serve --turn-alt-address)"

func runDoctor(args, _ []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("doctor", doctorSynopsis, stderr)
	server := fs.String("server", "", "STUN server HOST[:PORT] (default port 3478; default: the first stun: URL of --url's iceServers)")
	peerNAT := fs.String("peer-nat", "", "the peer's NAT type: open, full, rcone, prc, sym (says: direct or TURN)")
	var f rpcFlags
	f.add(fs, 30*time.Second, "give up after this long")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	explain := fs.String("explain", "", "ROOM: explain why connections in this room failed (admin.diag.explain; needs an admin --token)")
	explainPeer := fs.String("peer", "", "with --explain: only the pairs of this peer id")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("doctor: unexpected argument %q", fs.Arg(0))
	}
	if *explain != "" {
		if f.token == "" && f.identity == "" {
			return errors.New("doctor --explain needs an admin --token (parley token --admin)")
		}
		ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
		defer cancel()
		return runExplain(ctx, f, *explain, *explainPeer, *asJSON, stdout)
	}
	var peer nattype.Type
	if *peerNAT != "" {
		var err error
		if peer, err = nattype.ParseType(*peerNAT); err != nil {
			return fmt.Errorf("doctor: --peer-nat: %w", err)
		}
	}
	if f.token != "" && f.identity != "" {
		return errors.New("doctor: give --token or --identity, not both")
	}
	withTURN := *server == "" || fs.Changed("url")
	credentials := "--identity"
	if f.token == "" && f.identity == "" {
		f.identity, credentials = doctorIdentity, "--token (or --identity on a dev server)"
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()

	rep := doctorReport{OK: true}
	var ice *iceServers
	if withTURN {
		var err error
		if ice, err = fetchICEServers(ctx, f); err != nil {
			rep.OK = false
			rep.TURN = []turnTest{{URL: f.url, Error: fmt.Sprintf("%v (give %s)", err, credentials)}}
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
		rep.TURN = checkTURN(ctx, ice, f)
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

// checkNAT runs RFC 5780 discovery from a fresh UDP socket. Against a
// server without a second address it learns the public address and, from
// a second request, whether the mapping holds; the rest is reported as
// unknown, not as a failure.
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
	case errors.Is(err, nattype.ErrNoRFC5780):
		rep.Unknown = noSecondAddress
		again, err := nattype.Mapped(ctx, conn, addr, nattype.Options{})
		if err != nil {
			rep.Error = err.Error()
			break
		}
		stable := again == rep.Public
		rep.StableMapping = &stable
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
			if n.StableMapping != nil {
				held := "the same public address for two requests"
				if !*n.StableMapping {
					held = "a new public address for each request (a symmetric NAT, or several paths)"
				}
				fmt.Fprintf(w, "  mapping         %s\n", held)
			}
			if n.Unknown != "" {
				fmt.Fprintf(w, "  NAT type        unknown: %s\n", n.Unknown)
			}
		}
	}
	if p := rep.Peer; p != nil {
		verdict := "direct connection possible (UDP hole punching)"
		switch {
		case rep.NAT != nil && rep.NAT.Type == nattype.Unknown:
			verdict = "cannot tell without our NAT type"
		case !p.Direct:
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
