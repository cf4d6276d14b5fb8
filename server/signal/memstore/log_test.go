package memstore

import (
	"cmp"
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
			if got != tt.want || len(b.frames) != tt.kept || b.bytes != tt.kept {
				t.Fatalf("since(%d) = %q with %d frames, %d bytes kept; want %q and %d", tt.lastSeq, got, len(b.frames), b.bytes, tt.want, tt.kept)
			}
			// What comes after an ack of everything is kept from its own seq.
			b.add(frame(tt.frames+1), maxFrames, maxBytes)
			if frames, ok := b.since(tt.frames); !ok || len(frames) != 1 || frames[0][0] != frame(tt.frames + 1)[0] {
				t.Fatalf("after one more frame, since(%d) = %q, %v", tt.frames, frames, ok)
			}
		})
	}
}
