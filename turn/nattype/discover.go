package nattype

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/pion/stun/v4"
)

// Options bound the time Discover may take. A test that gets no answer (as
// filtering tests behind restrictive NATs do by design) costs
// RTO·(2^Attempts − 1): 1.75 s with the defaults.
type Options struct {
	// RTO is the first retransmission timeout, doubled on every
	// retransmission as RFC 8489 §6.2.1 says (default 250ms).
	RTO time.Duration
	// Attempts is the number of transmissions per test (default 3; RFC 8489
	// uses 7, which would make an unanswered test take ~40 s).
	Attempts int
}

func (o Options) withDefaults() Options {
	if o.RTO <= 0 {
		o.RTO = 250 * time.Millisecond
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	return o
}

// CHANGE-REQUEST flags (RFC 5780 §7.2).
const (
	changeIP   = 0x4
	changePort = 0x2
)

// errNoAnswer is a test that timed out: a result, not a failure.
var errNoAnswer = errors.New("no answer")

// Discover runs the RFC 5780 tests from conn (a UDP socket; it must not be
// read by anyone else meanwhile) against server and returns the NAT type,
// the public address and whether hairpinning works. A server that never
// answers gives Type UDPBlocked and no error; one without an alternate
// address gives the public address and ErrNoRFC5780.
//
// The filtering tests run before the mapping tests II and III: those send
// to the server's alternate IP, which would open the very hole the
// filtering tests look for.
func Discover(ctx context.Context, conn net.PacketConn, server netip.AddrPort, opts Options) (Result, error) {
	p, server := newProber(conn, server, opts)
	defer p.done()
	var res Result

	// Mapping test I (RFC 5780 §4.3): a plain Binding request.
	r1, err := p.binding(ctx, server, server, 0)
	if errors.Is(err, errNoAnswer) {
		res.Type = UDPBlocked
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("nattype: test I to %s: %w", server, err)
	}
	res.Public = r1.mapped
	res.NAT = !isLocal(conn.LocalAddr(), r1.mapped)
	res.Other = r1.other
	if !r1.other.IsValid() {
		return res, ErrNoRFC5780
	}
	other := r1.other
	altPort := netip.AddrPortFrom(server.Addr(), other.Port())

	// Filtering test II (§4.4): ask for the answer from the alternate IP
	// and port. It gets through only an endpoint-independent filter.
	switch _, err := p.binding(ctx, server, other, changeIP|changePort); {
	case err == nil:
		res.Filtering = EndpointIndependent
	case errors.Is(err, errNoAnswer):
		// Filtering test III: the answer from the same IP, another port.
		switch _, err := p.binding(ctx, server, altPort, changePort); {
		case err == nil:
			res.Filtering = AddressDependent
		case errors.Is(err, errNoAnswer):
			res.Filtering = AddressAndPortDependent
		default:
			return res, fmt.Errorf("nattype: filtering test III: %w", err)
		}
	default:
		return res, fmt.Errorf("nattype: filtering test II: %w", err)
	}

	// Mapping tests II and III: is the mapping the same towards the
	// alternate IP, and towards the alternate IP and port?
	res.Mapping = EndpointIndependent
	if res.NAT {
		altIP := netip.AddrPortFrom(other.Addr(), server.Port())
		r2, err := p.binding(ctx, altIP, altIP, 0)
		if err != nil {
			return res, fmt.Errorf("nattype: mapping test II to %s: %w", altIP, err)
		}
		if r2.mapped != r1.mapped {
			r3, err := p.binding(ctx, other, other, 0)
			if err != nil {
				return res, fmt.Errorf("nattype: mapping test III to %s: %w", other, err)
			}
			res.Mapping = AddressDependent
			if r3.mapped != r2.mapped {
				res.Mapping = AddressAndPortDependent
			}
		}
	}
	res.Type = classify(res.NAT, res.Mapping, res.Filtering)

	// Hairpinning (§4.5): a request sent to our own public address.
	if res.Hairpinning, err = p.hairpin(ctx, res.Public); err != nil {
		return res, fmt.Errorf("nattype: hairpinning test: %w", err)
	}
	return res, nil
}

// Mapped does RFC 5780 test I alone, a plain Binding request: the public
// (server-reflexive) address of conn as server sees it.
func Mapped(ctx context.Context, conn net.PacketConn, server netip.AddrPort, opts Options) (netip.AddrPort, error) {
	p, server := newProber(conn, server, opts)
	defer p.done()
	r, err := p.binding(ctx, server, server, 0)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("nattype: Binding to %s: %w", server, err)
	}
	return r.mapped, nil
}

// isLocal reports whether mapped is the socket's own address, i.e. there is
// no NAT. A wildcard-bound socket is compared against the host's addresses.
func isLocal(local net.Addr, mapped netip.AddrPort) bool {
	ua, ok := local.(*net.UDPAddr)
	if !ok || ua.Port != int(mapped.Port()) {
		return false
	}
	ip, _ := netip.AddrFromSlice(ua.IP)
	if !ip.Unmap().IsUnspecified() {
		return ip.Unmap() == mapped.Addr()
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == mapped.Addr() {
				return true
			}
		}
	}
	return false
}

type prober struct {
	conn net.PacketConn
	opts Options
	buf  []byte
}

func newProber(conn net.PacketConn, server netip.AddrPort, opts Options) (*prober, netip.AddrPort) {
	p := &prober{conn: conn, opts: opts.withDefaults(), buf: make([]byte, 1500)}
	return p, netip.AddrPortFrom(server.Addr().Unmap(), server.Port())
}

// done leaves the socket without the prober's read deadline.
func (p *prober) done() { _ = p.conn.SetReadDeadline(time.Time{}) }

type answer struct {
	mapped, other netip.AddrPort
}

// binding sends a Binding request (with CHANGE-REQUEST flags if change is
// set) to dst and waits for the success response, which must come from
// from. Retransmits with a doubling timeout; errNoAnswer when all time out.
func (p *prober) binding(ctx context.Context, dst, from netip.AddrPort, change byte) (answer, error) {
	setters := []stun.Setter{stun.TransactionID, stun.BindingRequest}
	if change != 0 {
		setters = append(setters, stun.RawAttribute{Type: stun.AttrChangeRequest, Value: []byte{0, 0, 0, change}})
	}
	req, err := stun.Build(append(setters, stun.Fingerprint)...)
	if err != nil {
		return answer{}, err
	}
	var got answer
	err = p.transact(ctx, req.Raw, dst, func(pkt []byte, src netip.AddrPort) (bool, error) {
		res := &stun.Message{Raw: pkt}
		if res.Decode() != nil || res.TransactionID != req.TransactionID {
			return false, nil // not ours: a late answer to an earlier test
		}
		if res.Type.Class == stun.ClassErrorResponse {
			var ec stun.ErrorCodeAttribute
			if ec.GetFrom(res) == nil && ec.Code == stun.CodeUnknownAttribute {
				return true, ErrNoRFC5780
			}
			return true, fmt.Errorf("error response from %s: %v", src, ec)
		}
		if res.Type != stun.BindingSuccess {
			return false, nil
		}
		if src != from {
			return true, fmt.Errorf("answer came from %s, not %s: the server does not honour CHANGE-REQUEST", src, from)
		}
		var xa stun.XORMappedAddress
		if err := xa.GetFrom(res); err != nil {
			return true, fmt.Errorf("XOR-MAPPED-ADDRESS from %s: %w", src, err)
		}
		got.mapped = addrPort(xa.IP, xa.Port)
		var oa stun.OtherAddress
		if oa.GetFrom(res) == nil {
			got.other = addrPort(oa.IP, oa.Port)
		}
		return true, nil
	})
	return got, err
}

// hairpin sends a Binding request to our own public address and reports
// whether it comes back to us.
func (p *prober) hairpin(ctx context.Context, public netip.AddrPort) (bool, error) {
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		return false, err
	}
	err = p.transact(ctx, req.Raw, public, func(pkt []byte, _ netip.AddrPort) (bool, error) {
		m := &stun.Message{Raw: pkt}
		return m.Decode() == nil && m.TransactionID == req.TransactionID && m.Type == stun.BindingRequest, nil
	})
	if errors.Is(err, errNoAnswer) {
		return false, nil
	}
	return err == nil, err
}

// transact sends pkt to dst up to Attempts times, waiting RTO, 2·RTO, …
// for a datagram that match accepts. Bounded by the attempts, by the
// context and by maxSkips unrelated datagrams per wait.
func (p *prober) transact(ctx context.Context, pkt []byte, dst netip.AddrPort, match func([]byte, netip.AddrPort) (bool, error)) error {
	const maxSkips = 256
	to := net.UDPAddrFromAddrPort(dst)
	rto := p.opts.RTO
	for range p.opts.Attempts {
		if err := expired(ctx); err != nil {
			return err
		}
		if _, err := p.conn.WriteTo(pkt, to); err != nil {
			return fmt.Errorf("send to %s: %w", dst, err)
		}
		deadline := time.Now().Add(rto)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		if err := p.conn.SetReadDeadline(deadline); err != nil {
			return err
		}
		for range maxSkips {
			n, from, err := p.conn.ReadFrom(p.buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return fmt.Errorf("read: %w", err)
			}
			ua, ok := from.(*net.UDPAddr)
			if !ok {
				continue
			}
			if done, err := match(p.buf[:n], addrPort(ua.IP, ua.Port)); done || err != nil {
				return err
			}
		}
		rto *= 2
	}
	if err := expired(ctx); err != nil {
		return err
	}
	return errNoAnswer
}

// expired is ctx.Err, also when the deadline has passed but the context's
// timer has not fired yet: a read deadline set to the same instant can
// return first, and the wait must not count as "no answer".
func expired(ctx context.Context) error {
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return ctx.Err()
}

func addrPort(ip net.IP, port int) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), uint16(port))
}
