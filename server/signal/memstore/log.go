package memstore

import (
	"bytes"
	"errors"
	"strconv"
)

// replayLog is a session's log: its latest notification frames, kept for
// a resume, bounded by count and bytes and trimmed by the client's acks:
// frames[i] has seq first+i, and last is the session's latest seq.
type replayLog struct {
	frames    [][]byte
	first     int64
	last      int64
	bytes     int
	acked     int64 // the highest seq the client acknowledged (session.ack)
	maxFrames int
	maxBytes  int
}

// add appends the frame of seq last+1.
func (b *replayLog) add(frame []byte) {
	b.last++
	if len(b.frames) == 0 {
		b.first = b.last
	}
	b.frames = append(b.frames, frame)
	b.bytes += len(frame)
	for len(b.frames) > 0 && (len(b.frames) > b.maxFrames || b.bytes > b.maxBytes) {
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

// sharedFrame is a notification for several sessions, encoded once: their
// frames differ only in seq, which frame splices in. Encoding it per
// session cost a full JSON encoding per recipient (for room.updated, of
// the whole member list).
type sharedFrame struct {
	head, tail []byte // a session's frame is head, its seq, tail
}

// seqZero is where a generated event's frame, encoded with seq 0, has its
// seq: the generator makes seq every event's first member.
var seqZero = []byte(`,"params":{"seq":0`)

var errSeqNotFirst = errors.New("seq is not the first member of the event's params")

// split makes a sharedFrame of a frame encoded with seq 0.
func split(frame []byte) (sharedFrame, error) {
	i := bytes.Index(frame, seqZero)
	if i < 0 {
		return sharedFrame{}, errSeqNotFirst
	}
	end := i + len(seqZero)
	return sharedFrame{head: frame[:end-1], tail: frame[end:]}, nil
}

// frame is the event's frame for a session at seq.
func (e sharedFrame) frame(seq int64) []byte {
	var digits [20]byte
	n := strconv.AppendInt(digits[:0], seq, 10)
	frame := make([]byte, 0, len(e.head)+len(n)+len(e.tail))
	frame = append(frame, e.head...)
	frame = append(frame, n...)
	return append(frame, e.tail...)
}
