package memstore

import "encoding/binary"

// replayLog is a session's log: its latest notification frames, kept for
// a resume, bounded by count and bytes (the store's bounds, given to add:
// not copied into every session) and trimmed by the client's acks.
// It holds seqs first..last (n frames; first is last+1 when empty).
//
// The frames are packed, each after its 4-byte length, into a few large
// chunks (a frame never spans two), rather than kept as a slice each: a
// relay's logs hold a few hundred frames per session, and the garbage
// collector marked each of them every cycle (93% of a paced relay's heap
// objects, whose mark phases made its p99). A log of a few frames (an
// idle session's) has a chunk per frame, as small as before; past
// smallLog a chunk grows with what the log holds, up to maxChunk, and one
// the log has let go of waits past the end of chunks (in its array) to be
// reused for the next, so a full log that keeps turning over allocates
// nothing.
type replayLog struct {
	chunks [][]byte // the kept frames in seq order; chunks[0][head:] starts with frame first
	head   int
	n      int
	first  int64
	last   int64
	bytes  int   // the frames' bytes (not their length prefixes)
	acked  int64 // the highest seq the client acknowledged (session.ack)
}

// A log holding less than smallLog bytes gives each frame a chunk of its
// size; maxChunk is the size chunks grow to (a larger frame has a chunk
// of its own size).
const (
	smallLog = 2 << 10
	maxChunk = 8 << 10
)

// lenPrefix is the size of the length before each packed frame.
const lenPrefix = 4

// add appends a copy of the frame of seq last+1, then drops the oldest
// frames over maxFrames or maxBytes.
func (b *replayLog) add(frame []byte, maxFrames, maxBytes int) {
	b.last++
	if b.n == 0 {
		b.first = b.last
	}
	need := lenPrefix + len(frame)
	tail := len(b.chunks) - 1
	if tail < 0 || cap(b.chunks[tail])-len(b.chunks[tail]) < need {
		b.chunks = append(b.chunks, b.newChunk(need))
		tail++
	}
	c := binary.LittleEndian.AppendUint32(b.chunks[tail], uint32(len(frame)))
	b.chunks[tail] = append(c, frame...)
	b.n++
	b.bytes += len(frame)
	for b.n > 0 && (b.n > maxFrames || b.bytes > maxBytes) {
		b.dropFirst()
	}
}

// newChunk returns an empty chunk with room for need bytes, for add to
// append to chunks: past smallLog, as large as what the log holds (a log
// of k bytes is in about log2(k) chunks) within maxChunk, and the chunk
// let go of last if it is large enough.
func (b *replayLog) newChunk(need int) []byte {
	held := b.bytes + b.n*lenPrefix
	if held < smallLog {
		return make([]byte, 0, need)
	}
	size := max(need, min(held, maxChunk))
	if k := len(b.chunks); k < cap(b.chunks) {
		if spare := b.chunks[:k+1][k]; cap(spare) >= size {
			return spare[:0]
		}
	}
	return make([]byte, 0, size)
}

// ack drops the frames up to seq: the client has processed them, so no
// resume of its will ask for them.
func (b *replayLog) ack(seq int64) {
	if seq <= b.acked {
		return
	}
	b.acked = seq
	for b.n > 0 && b.first <= seq {
		b.dropFirst()
	}
}

func (b *replayLog) dropFirst() {
	c := b.chunks[0]
	size := int(binary.LittleEndian.Uint32(c[b.head:]))
	b.head += lenPrefix + size
	b.bytes -= size
	b.n--
	b.first++
	switch {
	case b.n == 0: // an empty log holds no memory
		b.chunks, b.head = nil, 0
	case b.head == len(c):
		last := copy(b.chunks, b.chunks[1:])
		clear(b.chunks[last:cap(b.chunks)]) // an older chunk past the end is let go
		b.chunks[last] = c                  // past the end: newChunk's to reuse
		b.chunks, b.head = b.chunks[:last], 0
	}
}

// since returns the frames with seq > lastSeq, and false if some of them
// are no longer kept. They are the log's own bytes, valid until it next
// changes (Attach delivers them at once, under the store's lock).
func (b *replayLog) since(lastSeq int64) ([][]byte, bool) {
	if lastSeq >= b.last {
		return nil, true
	}
	if b.n == 0 || lastSeq+1 < b.first {
		return nil, false
	}
	out := make([][]byte, 0, b.last-lastSeq)
	b.each(lastSeq+1, func(f []byte) { out = append(out, f) })
	return out, true
}

// each calls fn with the kept frames from seq from on, in order.
func (b *replayLog) each(from int64, fn func([]byte)) {
	seq, off := b.first, b.head
	for _, c := range b.chunks {
		for ; off < len(c); seq++ {
			size := int(binary.LittleEndian.Uint32(c[off:]))
			if seq >= from {
				fn(c[off+lenPrefix : off+lenPrefix+size])
			}
			off += lenPrefix + size
		}
		off = 0
	}
}
