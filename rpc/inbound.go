package rpc

// smallRead is the buffer a reader that blocks in Read takes (on a socket
// Conn cannot use directly, such as TLS): it holds it while it waits.
const smallRead = 4 << 10

// inbound is a reader's buffer: the bytes read and not yet handled, and a
// fragmented message being put together.
type inbound struct {
	slab   *[]byte // pooled; nil when nothing is buffered
	r, w   int     // the unread bytes are (*slab)[r:w]
	need   int     // once the header of the frame at r is in: the bytes it needs in all (else 0)
	frag   []byte  // the payload so far of a fragmented message
	fragOp byte    // its opcode; 0 when none is under way
}

// unread is what was read and not yet handled.
func (in *inbound) unread() []byte {
	if in.slab == nil {
		return nil
	}
	return (*in.slab)[in.r:in.w]
}

// free returns room to read into, taking a slab of size bytes if none is
// held, and making room for the whole of the frame at r (whose size the
// read limit bounds before it is asked for).
func (in *inbound) free(size int) []byte {
	want := max(in.need, maxClientHeader)
	if in.slab == nil {
		in.slab, in.r, in.w = getSlab(max(size, want)), 0, 0
	}
	if in.r == in.w {
		in.r, in.w = 0, 0
	}
	b := (*in.slab)[:cap(*in.slab)]
	if in.r > 0 && (in.r+want > len(b) || in.w == len(b)) {
		in.w = copy(b, b[in.r:in.w])
		in.r = 0
	}
	if want > len(b) {
		grown := getSlab(want)
		*grown = append((*grown)[:0], b[:in.w]...)
		putSlab(in.slab)
		in.slab = grown
		b = (*grown)[:cap(*grown)]
	}
	return b[in.w:]
}

// releaseIfEmpty gives the slab back when it holds nothing unread: a
// reader waiting for bytes holds no buffer.
func (in *inbound) releaseIfEmpty() {
	if in.slab != nil && in.r == in.w {
		putSlab(in.slab)
		in.slab = nil
	}
}

// shrink keeps only the unread bytes (part of a frame), in a slice of
// their size: a connection parks holding no more than its client sent.
func (in *inbound) shrink() {
	if in.slab == nil || in.r == in.w {
		in.releaseIfEmpty()
		return
	}
	kept := append([]byte(nil), (*in.slab)[in.r:in.w]...)
	putSlab(in.slab)
	in.slab, in.r, in.w = &kept, 0, len(kept)
}

// release gives everything back: the connection has ended.
func (in *inbound) release() {
	if in.slab != nil {
		putSlab(in.slab)
	}
	*in = inbound{}
}
