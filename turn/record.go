package turn

import (
	"container/list"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// The record: what the server did for each identity lately, so that a
// failed call can be explained with the TURN side's half of the story
// (admin.diag.explain): whether its client ever got a relay, whether its
// credentials were refused and why, which peer address the relay policy
// refused, whether a quota was hit. It is bounded: the latest
// RecordEvents events of the RecordIdentities identities seen last.

// Bounds of the record.
const (
	RecordIdentities = 4096
	RecordEvents     = 32
)

// EventKind is what happened.
type EventKind uint8

const (
	// EventAllocated: an allocation was made (Addr: its relay address).
	EventAllocated EventKind = iota + 1
	// EventAuthExpired: an Allocate was refused (401) because the
	// credentials' expiry had passed.
	EventAuthExpired
	// EventAuthWrong: a request was refused (401) because its
	// MESSAGE-INTEGRITY did not verify: a wrong password, or a secret the
	// server does not have (rotated out), or the wrong realm.
	EventAuthWrong
	// EventPeerDenied: the relay policy refused a permission or channel
	// to a peer (403; Addr: the peer).
	EventPeerDenied
	// EventAllocationQuota: an Allocate was refused by a quota (486).
	EventAllocationQuota
	// EventPermissionQuota: a permission or channel beyond the
	// allocation's cap was refused (508).
	EventPermissionQuota
)

var eventKindNames = [...]string{
	EventAllocated:       "allocated",
	EventAuthExpired:     "authExpired",
	EventAuthWrong:       "authWrong",
	EventPeerDenied:      "peerDenied",
	EventAllocationQuota: "allocationQuota",
	EventPermissionQuota: "permissionQuota",
}

// String is the kind's name in the protocol (api.TurnEventKind).
func (k EventKind) String() string {
	if int(k) < len(eventKindNames) && eventKindNames[k] != "" {
		return eventKindNames[k]
	}
	return "unknown"
}

// Event is one entry of an identity's record. Repeats of the same kind
// and address fold into one entry: Count says how many, At the latest.
type Event struct {
	At    time.Time
	Kind  EventKind
	Addr  netip.AddrPort
	Count int
}

// record keeps the events by identity, least recently touched dropped
// first.
type record struct {
	now     func() time.Time
	onEvent func(identity string, e Event) // Config.OnEvent, or nil

	mu      sync.Mutex
	entries map[string]*list.Element // of *identityRecord
	recent  list.List                // most recently touched at the front
}

type identityRecord struct {
	identity string
	events   []Event // oldest first, at most RecordEvents
}

func newRecord(now func() time.Time, onEvent func(string, Event)) *record {
	return &record{now: now, onEvent: onEvent, entries: make(map[string]*list.Element)}
}

// add records kind (at addr) for identity, and tells onEvent.
func (r *record) add(identity string, kind EventKind, addr netip.AddrPort) {
	now := r.now()
	if r.onEvent != nil {
		r.onEvent(identity, Event{At: now, Kind: kind, Addr: addr, Count: 1})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	el, ok := r.entries[identity]
	if ok {
		r.recent.MoveToFront(el)
	} else {
		if r.recent.Len() >= RecordIdentities {
			oldest := r.recent.Back()
			delete(r.entries, oldest.Value.(*identityRecord).identity)
			r.recent.Remove(oldest)
		}
		el = r.recent.PushFront(&identityRecord{identity: identity})
		r.entries[identity] = el
	}
	ir := el.Value.(*identityRecord)
	if n := len(ir.events); n > 0 && ir.events[n-1].Kind == kind && ir.events[n-1].Addr == addr {
		ir.events[n-1].At = now
		ir.events[n-1].Count++
		return
	}
	if len(ir.events) == RecordEvents {
		ir.events = slices.Delete(ir.events, 0, 1)
	}
	ir.events = append(ir.events, Event{At: now, Kind: kind, Addr: addr, Count: 1})
}

// of returns identity's events, oldest first.
func (r *record) of(identity string) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.entries[identity]; ok {
		return slices.Clone(el.Value.(*identityRecord).events)
	}
	return nil
}

// Events returns what the server did for identity lately, oldest first
// (see EventKind): nil for an identity it has no record of.
func (s *Server) Events(identity string) []Event { return s.record.of(identity) }

// recordUsername adds kind to the record of the identity in a TURN REST
// username; a username that names none is not recorded.
func (s *Server) recordUsername(username string, kind EventKind, addr netip.AddrPort) {
	if _, identity, err := ParseUsername(username); err == nil {
		s.record.add(identity, kind, addr)
	}
}
