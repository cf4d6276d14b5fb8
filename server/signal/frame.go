package signal

import (
	"bytes"
	"errors"
	"strconv"
)

// SharedFrame is a notification's frame encoded once for any recipient:
// recipients' frames differ only in seq, which At splices in. A store
// encodes a Broadcast once this way (encoding it per recipient cost a full
// JSON encoding each, for room.updated of the whole member list), and the
// Redis store every notification, whose seq only its commit assigns.
type SharedFrame struct {
	Head, Tail []byte // a recipient's frame is Head, its seq, Tail
}

// seqZero is where a generated event's frame, encoded with seq 0, has its
// seq: the generator makes seq every event's first member.
var seqZero = []byte(`,"params":{"seq":0`)

var errSeqNotFirst = errors.New("seq is not the first member of the event's params")

// SplitFrame makes a SharedFrame of a frame encoded with seq 0.
func SplitFrame(frame []byte) (SharedFrame, error) {
	i := bytes.Index(frame, seqZero)
	if i < 0 {
		return SharedFrame{}, errSeqNotFirst
	}
	end := i + len(seqZero)
	return SharedFrame{Head: frame[:end-1], Tail: frame[end:]}, nil
}

// EncodeShared encodes n with seq 0 and splits it.
func EncodeShared(encode Encoder, n Note) (SharedFrame, error) {
	n.Event.SetSeq(0)
	frame, err := encode(nil, n.Method, n.Event)
	if err != nil {
		return SharedFrame{}, err
	}
	return SplitFrame(frame)
}

// At is the frame for a recipient at seq.
func (e SharedFrame) At(seq int64) []byte {
	return e.AppendAt(make([]byte, 0, len(e.Head)+20+len(e.Tail)), seq)
}

// AppendAt appends the frame for a recipient at seq to dst.
func (e SharedFrame) AppendAt(dst []byte, seq int64) []byte {
	dst = append(dst, e.Head...)
	dst = strconv.AppendInt(dst, seq, 10)
	return append(dst, e.Tail...)
}
