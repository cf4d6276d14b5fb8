package rpc

import (
	"bytes"
	"sync"
)

// buffers recycles the scratch buffers inbound frames are read into and
// outbound frames are assembled in, so neither costs an allocation that
// dies with the frame.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer is the largest buffer worth keeping: signaling frames are
// small, and a rare large one (a long room.list, a big SDP) should not keep
// its buffer alive in the pool.
const maxPooledBuffer = 64 << 10

// getBuffer returns an empty buffer; hand it back with putBuffer once
// nothing refers to its bytes.
func getBuffer() *bytes.Buffer {
	buf := buffers.Get().(*bytes.Buffer)
	buf.Reset()
	return buf
}

func putBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBuffer {
		buffers.Put(buf)
	}
}
