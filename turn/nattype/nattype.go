// Package nattype finds out what NAT a UDP socket is behind, by running the
// RFC 5780 behaviour discovery tests against a STUN server that has a
// second address (OTHER-ADDRESS), and names the result in the classic
// (RFC 3489) terms that say which peers a host can reach directly: full
// cone, restricted cone, port-restricted cone, symmetric.
//
// It is a client library: it imports no Parley server package, so tools
// such as `parley doctor` and any Go client can use it.
package nattype

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Type is a NAT type in the classic terms.
type Type int

// The NAT types, ordered from the most to the least permissive; Direct
// relies on that order.
const (
	Unknown            Type = iota // not found out (the server lacks RFC 5780, or an error)
	OpenInternet                   // no NAT and no filtering: the mapped address is the local one
	FullCone                       // endpoint-independent mapping and filtering
	RestrictedCone                 // endpoint-independent mapping, address-dependent filtering
	PortRestrictedCone             // endpoint-independent mapping, address-and-port-dependent filtering
	Symmetric                      // address- or address-and-port-dependent mapping
	UDPBlocked                     // no answer from the server over UDP: TURN over TCP/TLS is the only way
)

var typeNames = [...]string{
	Unknown:            "unknown",
	OpenInternet:       "open internet",
	FullCone:           "full cone",
	RestrictedCone:     "restricted cone",
	PortRestrictedCone: "port-restricted cone",
	Symmetric:          "symmetric",
	UDPBlocked:         "UDP blocked",
}

func (t Type) String() string {
	if t < 0 || int(t) >= len(typeNames) {
		return fmt.Sprintf("Type(%d)", int(t))
	}
	return typeNames[t]
}

// MarshalText gives the name with dashes for spaces ("port-restricted-cone"),
// which ParseType reads back.
func (t Type) MarshalText() ([]byte, error) {
	return []byte(strings.ReplaceAll(strings.ToLower(t.String()), " ", "-")), nil
}

// UnmarshalText reads what MarshalText wrote (and every ParseType name).
func (t *Type) UnmarshalText(b []byte) error {
	if string(b) == "unknown" {
		*t = Unknown
		return nil
	}
	v, err := ParseType(string(b))
	*t = v
	return err
}

// ParseType reads a type by name; it accepts the names String and
// MarshalText give and the short names of the NAT lab (full, rcone, prc, sym).
func ParseType(s string) (Type, error) {
	k := strings.NewReplacer(" ", "", "-", "", "_", "").Replace(strings.ToLower(s))
	switch k {
	case "open", "openinternet", "none":
		return OpenInternet, nil
	case "full", "fullcone":
		return FullCone, nil
	case "rcone", "restricted", "restrictedcone":
		return RestrictedCone, nil
	case "prc", "portrestricted", "portrestrictedcone":
		return PortRestrictedCone, nil
	case "sym", "symmetric":
		return Symmetric, nil
	case "udpblocked", "blocked":
		return UDPBlocked, nil
	}
	return Unknown, fmt.Errorf("nattype: unknown NAT type %q (want open, full, rcone, prc, sym or blocked)", s)
}

// Behavior is an RFC 4787 mapping or filtering behaviour.
type Behavior int

// The behaviours (RFC 4787 §4.1 and §5).
const (
	BehaviorUnknown Behavior = iota
	EndpointIndependent
	AddressDependent
	AddressAndPortDependent
)

func (b Behavior) String() string {
	switch b {
	case EndpointIndependent:
		return "endpoint-independent"
	case AddressDependent:
		return "address-dependent"
	case AddressAndPortDependent:
		return "address-and-port-dependent"
	}
	return "unknown"
}

// MarshalText gives String.
func (b Behavior) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText reads String's names.
func (b *Behavior) UnmarshalText(text []byte) error {
	for v := BehaviorUnknown; v <= AddressAndPortDependent; v++ {
		if v.String() == string(text) {
			*b = v
			return nil
		}
	}
	return fmt.Errorf("nattype: unknown behaviour %q", text)
}

// Result is what Discover found out.
type Result struct {
	Type      Type     `json:"type"`
	Mapping   Behavior `json:"mapping"`
	Filtering Behavior `json:"filtering"`
	// Public is the mapped (server-reflexive) address: XOR-MAPPED-ADDRESS
	// of the first test.
	Public netip.AddrPort `json:"public"`
	// NAT says whether the address is translated at all (Public is not the
	// socket's own address). A firewall without NAT still filters: it then
	// has a cone Type with NAT false.
	NAT bool `json:"nat"`
	// Hairpinning says whether a packet sent to Public from behind the NAT
	// comes back (RFC 5780 §4.5), so two hosts behind the same NAT can use
	// their public addresses to reach each other.
	Hairpinning bool `json:"hairpinning"`
	// Other is the server's OTHER-ADDRESS (zero if it has none).
	Other netip.AddrPort `json:"otherAddress"`
}

// ErrNoRFC5780 means the server answered Binding but cannot do behaviour
// discovery (no OTHER-ADDRESS, or a 420 to CHANGE-REQUEST): the Result has
// Public and NAT only.
var ErrNoRFC5780 = errors.New("nattype: the STUN server does not support RFC 5780 behaviour discovery (no alternate address)")

// classify names the NAT from the two behaviours.
func classify(nat bool, mapping, filtering Behavior) Type {
	switch {
	case mapping != EndpointIndependent:
		return Symmetric
	case filtering == EndpointIndependent && !nat:
		return OpenInternet
	case filtering == EndpointIndependent:
		return FullCone
	case filtering == AddressDependent:
		return RestrictedCone
	default:
		return PortRestrictedCone
	}
}

// Direct says whether UDP hole punching can connect a host behind NAT type
// a with one behind b, or whether they need TURN. The table is the classic
// one the NAT lab reproduces (turn/natlab):
//
//	full cone / open    ↔ any         direct
//	restricted cone     ↔ any         direct
//	port-restricted     ↔ port-restr. direct
//	port-restricted     ↔ symmetric   TURN
//	symmetric           ↔ symmetric   TURN
//
// Why: a symmetric NAT gives the peer a new public port, not the one STUN
// saw, so the peer's first packets go to a port that leads nowhere and the
// peer must accept the symmetric side's packets from a port it never sent
// to. A full or restricted cone filter accepts that (it checks the address
// at most); a port-restricted one does not, nor does a second symmetric NAT,
// whose own port is unknown too. UDP blocked and unknown never go direct.
func Direct(a, b Type) bool {
	if a == Unknown || b == Unknown || a == UDPBlocked || b == UDPBlocked {
		return false
	}
	if a > b {
		a, b = b, a
	}
	return a <= RestrictedCone || b != Symmetric
}
