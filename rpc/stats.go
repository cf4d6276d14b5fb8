package rpc

import "sync/atomic"

// Stats are counters that the connections of one server share and that a
// metrics scrape reads; the send path only adds to atomics. A Conn counts
// into the Stats of its ConnConfig, if any.
type Stats struct {
	// Notifications counts server notifications queued for writing.
	Notifications atomic.Uint64
	// DroppedQueueFull counts notifications refused because the queue was at
	// its bound (the connection is then closed as slow_consumer).
	DroppedQueueFull atomic.Uint64
	// DroppedClosed counts notifications for a connection already closing.
	DroppedClosed atomic.Uint64
	// PreAuthBytesIn and PreAuthBytesOut count the bytes read from and
	// queued to connections not yet authenticated (ConnConfig.PreAuth).
	PreAuthBytesIn, PreAuthBytesOut atomic.Uint64

	closes [numCloseReasons]atomic.Uint64
}

// Closes is how many connections ended with reason.
func (s *Stats) Closes(reason CloseReason) uint64 {
	if reason >= numCloseReasons {
		return 0
	}
	return s.closes[reason].Load()
}

func (s *Stats) preAuthIn(n int) {
	if s != nil {
		s.PreAuthBytesIn.Add(uint64(n))
	}
}

func (s *Stats) preAuthOut(n int) {
	if s != nil {
		s.PreAuthBytesOut.Add(uint64(n))
	}
}

func (s *Stats) closed(reason CloseReason) {
	if s != nil && reason < numCloseReasons {
		s.closes[reason].Add(1)
	}
}
