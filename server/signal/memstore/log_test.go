package memstore

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"testing"
)

// TestReplayLog: the log keeps the latest frames within its bounds,
// an ack lets go of everything up to it, and since answers a resume from
// any lastSeq: the frames after it, or false when some are gone.
func TestReplayLog(t *testing.T) {
	frame := func(seq int64) []byte { return []byte{byte('a' + seq)} }
	tests := []struct {
		name      string
		frames    int64 // seqs 1..frames added
		ack       int64
		lastSeq   int64
		want      string // the frames since lastSeq; "gap" when some are gone
		kept      int
		maxFrames int
		maxBytes  int
	}{
		{name: "all kept", frames: 5, lastSeq: 2, want: "def", kept: 5},
		{name: "nothing new", frames: 5, lastSeq: 5, want: "", kept: 5},
		{name: "bounded by count", frames: 5, maxFrames: 3, lastSeq: 2, want: "def", kept: 3},
		{name: "past the bound", frames: 5, maxFrames: 3, lastSeq: 1, want: "gap", kept: 3},
		{name: "bounded by bytes", frames: 5, maxBytes: 2, lastSeq: 3, want: "ef", kept: 2},
		{name: "past the bytes", frames: 5, maxBytes: 2, lastSeq: 2, want: "gap", kept: 2},
		{name: "acked", frames: 5, ack: 3, lastSeq: 3, want: "ef", kept: 2},
		{name: "from before the ack", frames: 5, ack: 3, lastSeq: 2, want: "gap", kept: 2},
		{name: "all acked", frames: 5, ack: 5, lastSeq: 5, want: "", kept: 0},
		{name: "all acked, from before", frames: 5, ack: 5, lastSeq: 4, want: "gap", kept: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b replayLog
			maxFrames, maxBytes := cmp.Or(tt.maxFrames, 100), cmp.Or(tt.maxBytes, 1<<20)
			for seq := int64(1); seq <= tt.frames; seq++ {
				b.add(frame(seq), maxFrames, maxBytes)
			}
			b.ack(tt.ack)
			b.ack(tt.ack - 1) // an older ack changes nothing
			got := "gap"
			if frames, ok := b.since(tt.lastSeq); ok {
				got = ""
				for _, f := range frames {
					got += string(f)
				}
			}
			if got != tt.want || b.n != tt.kept || b.bytes != tt.kept {
				t.Fatalf("since(%d) = %q with %d frames, %d bytes kept; want %q and %d", tt.lastSeq, got, b.n, b.bytes, tt.want, tt.kept)
			}
			// What comes after an ack of everything is kept from its own seq.
			b.add(frame(tt.frames+1), maxFrames, maxBytes)
			if frames, ok := b.since(tt.frames); !ok || len(frames) != 1 || frames[0][0] != frame(tt.frames + 1)[0] {
				t.Fatalf("after one more frame, since(%d) = %q, %v", tt.frames, frames, ok)
			}
		})
	}
}

// modelLog is what replayLog keeps, as plainly as it can be put: a frame
// per seq, dropped from the front by the bounds and acks.
type modelLog struct {
	frames          [][]byte
	first, last     int64
	acked           int64
	bytes           int
	maxFrames, maxB int
}

func (m *modelLog) add(f []byte) {
	m.last++
	if len(m.frames) == 0 {
		m.first = m.last
	}
	m.frames = append(m.frames, f)
	m.bytes += len(f)
	for len(m.frames) > 0 && (len(m.frames) > m.maxFrames || m.bytes > m.maxB) {
		m.drop()
	}
}

func (m *modelLog) drop() {
	m.bytes -= len(m.frames[0])
	m.frames = m.frames[1:]
	m.first++
}

func (m *modelLog) ack(seq int64) {
	if seq > m.acked {
		m.acked = seq
		for len(m.frames) > 0 && m.first <= seq {
			m.drop()
		}
	}
}

// TestReplayLogChunks runs the packed log and the model through the same
// long random mix of frames (small ones, ones larger than a chunk, ones
// over the byte bound), acks and resumes: they keep the same frames.
func TestReplayLogChunks(t *testing.T) {
	for _, bounds := range []struct{ frames, bytes int }{{256, 256 << 10}, {16, 1 << 20}, {1024, 40 << 10}} {
		rng := rand.New(rand.NewPCG(1, uint64(bounds.frames)))
		var b replayLog
		m := modelLog{maxFrames: bounds.frames, maxB: bounds.bytes}
		for i := range 20_000 {
			switch r := rng.IntN(100); {
			case r < 85:
				size := 1 + rng.IntN(600)
				if rng.IntN(200) == 0 {
					size = maxChunk + rng.IntN(bounds.bytes)
				}
				f := make([]byte, size)
				for j := range f {
					f[j] = byte(rng.Uint32())
				}
				b.add(f, bounds.frames, bounds.bytes)
				m.add(f)
			case r < 95:
				seq := m.last - int64(rng.IntN(40))
				b.ack(seq)
				m.ack(seq)
			default:
				lastSeq := m.last - int64(rng.IntN(300))
				got, ok := b.since(lastSeq)
				wantOK := lastSeq >= m.last || (len(m.frames) > 0 && lastSeq+1 >= m.first)
				if ok != wantOK {
					t.Fatalf("op %d: since(%d) ok = %v, want %v (first %d, last %d)", i, lastSeq, ok, wantOK, m.first, m.last)
				}
				if ok && lastSeq < m.last {
					if !equalFrames(got, m.frames[lastSeq+1-m.first:]) {
						t.Fatalf("op %d: since(%d) returned other frames", i, lastSeq)
					}
				}
			}
			if b.n != len(m.frames) || b.bytes != m.bytes || b.last != m.last || (b.n > 0 && b.first != m.first) {
				t.Fatalf("op %d: log holds %d frames (%d bytes) from %d to %d; the model %d (%d) from %d to %d", i, b.n, b.bytes, b.first, b.last, len(m.frames), m.bytes, m.first, m.last)
			}
		}
	}
}

func equalFrames(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestReplayLogTurnsOverWithoutAllocating: a full log that keeps taking
// frames reuses the chunks it lets go of.
func TestReplayLogTurnsOverWithoutAllocating(t *testing.T) {
	var b replayLog
	frame := bytes.Repeat([]byte("x"), 380)
	for range 1000 {
		b.add(frame, 256, 256<<10)
	}
	turnOver := func() { // AllocsPerRun rounds down: count over many adds
		for range 1000 {
			b.add(frame, 256, 256<<10)
		}
	}
	if n := testing.AllocsPerRun(10, turnOver); n != 0 {
		t.Fatalf("1000 frames added to a full log allocate %v times", n)
	}
}

// BenchmarkReplayLogGC measures what full replay logs cost each garbage
// collection: 100 sessions' logs of 256 relayed candidates (what a paced
// relay's receivers hold when their clients do not ack), the heap objects
// they keep and the CPU time of a collection with them live.
func BenchmarkReplayLogGC(b *testing.B) {
	frame := bytes.Repeat([]byte("x"), 380)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	logs := make([]replayLog, 100)
	for i := range logs {
		for range 1000 {
			logs[i].add(bytes.Clone(frame), 256, 256<<10) // each frame encoded on its own, as Notify's are
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	gcCPU := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(gcCPU)
	cpu0 := gcCPU[0].Value.Float64()
	b.ResetTimer()
	for range b.N {
		runtime.GC()
	}
	b.StopTimer()
	metrics.Read(gcCPU)
	b.ReportMetric((gcCPU[0].Value.Float64()-cpu0)*1e6/float64(b.N), "gc-cpu-us/op")
	b.ReportMetric(float64(after.HeapObjects-before.HeapObjects), "objects")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(logs)), "B/session")
	runtime.KeepAlive(logs)
}

// TestReplayLogSmallIsCompact: an idle session's few frames cost what
// they did as a slice each (conns-10k's memory per connection), a chunk
// of its own size each rather than chunks that grow ahead of them.
func TestReplayLogSmallIsCompact(t *testing.T) {
	var b replayLog
	frame := bytes.Repeat([]byte("y"), 230)
	for range 5 {
		b.add(frame, 256, 256<<10)
	}
	for i, c := range b.chunks {
		if cap(c) != lenPrefix+len(frame) || len(c) != cap(c) {
			t.Fatalf("chunk %d of 5 small frames: %d bytes of %d; want one frame's %d", i, len(c), cap(c), lenPrefix+len(frame))
		}
	}
}
