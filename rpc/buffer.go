package rpc

import "sync"

// maxPooledBuffer is the largest buffer worth keeping: signaling frames are
// small, and a rare large one (a long room.list, a big SDP) should not keep
// its buffer alive in the pool.
const maxPooledBuffer = 64 << 10

// Byte slices in three size classes, for the bytes read from and written
// to sockets: a connection holds one only while bytes are in it, so an
// idle connection holds none, and a busy one reads and writes in large
// chunks. Slices travel as *[]byte so that handing one back allocates
// nothing.
var slabClasses = [...]int{4 << 10, 16 << 10, maxPooledBuffer}

var slabs [len(slabClasses)]sync.Pool

// getSlab returns an empty slice with room for at least n bytes: pooled up
// to maxPooledBuffer, allocated beyond.
func getSlab(n int) *[]byte {
	for i, size := range slabClasses {
		if n <= size {
			if p, ok := slabs[i].Get().(*[]byte); ok {
				*p = (*p)[:0]
				return p
			}
			b := make([]byte, 0, size)
			return &b
		}
	}
	b := make([]byte, 0, n)
	return &b
}

// putSlab hands back a slice from getSlab; nothing may refer to it after.
func putSlab(p *[]byte) {
	for i, size := range slabClasses {
		if cap(*p) == size {
			slabs[i].Put(p)
			return
		}
	}
}
