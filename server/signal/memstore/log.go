package memstore

// replayLog is a session's log: its latest notification frames, kept for
// a resume, bounded by count and bytes and trimmed by the client's acks:
// frames[i] has seq first+i, and last is the session's latest seq. The
// bounds are the store's, given to add: not copied into every session.
type replayLog struct {
	frames [][]byte
	first  int64
	last   int64
	bytes  int
	acked  int64 // the highest seq the client acknowledged (session.ack)
}

// add appends the frame of seq last+1, then drops the oldest frames over
// maxFrames or maxBytes.
func (b *replayLog) add(frame []byte, maxFrames, maxBytes int) {
	b.last++
	if len(b.frames) == 0 {
		b.first = b.last
	}
	b.frames = append(b.frames, frame)
	b.bytes += len(frame)
	for len(b.frames) > 0 && (len(b.frames) > maxFrames || b.bytes > maxBytes) {
		b.dropFirst()
	}
}

// ack drops the frames up to seq: the client has processed them, so no
// resume of its will ask for them.
func (b *replayLog) ack(seq int64) {
	if seq <= b.acked {
		return
	}
	b.acked = seq
	for len(b.frames) > 0 && b.first <= seq {
		b.dropFirst()
	}
}

func (b *replayLog) dropFirst() {
	b.bytes -= len(b.frames[0])
	b.frames[0] = nil
	b.frames = b.frames[1:]
	b.first++
}

// since returns the frames with seq > lastSeq, and false if some of them
// are no longer kept.
func (b *replayLog) since(lastSeq int64) ([][]byte, bool) {
	if lastSeq >= b.last {
		return nil, true
	}
	if len(b.frames) == 0 || lastSeq+1 < b.first {
		return nil, false
	}
	return b.frames[lastSeq+1-b.first:], true
}
