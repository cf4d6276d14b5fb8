package memstore

import (
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/server/signal"
)

// sampleSDP is a minimal valid offer; sampleCandidate a candidate line.
const (
	sampleSDP       = "v=0\r\no=- 4215775240449105457 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
	sampleCandidate = "candidate:842163049 1 udp 1677729535 192.0.2.10 46154 typ srflx raddr 10.0.0.2 rport 46154 generation 0"
)

// TestSharedEventFrames: for every notification, the frame a sharedFrame
// splices for a session is the one encoding the event for it would give.
func TestSharedEventFrames(t *testing.T) {
	mid, idx := "0", int64(0)
	peer := api.Peer{PeerID: "p1", Identity: "ann", DisplayName: "Ann \"A\"", Role: api.RoleOwner, Metadata: jsontext.Value(`{"a":[1]}`)}
	sends := map[string]func(api.Notifier) error{
		api.NotifyRoomPeerJoined: func(n api.Notifier) error {
			return api.SendRoomPeerJoined(n, &api.RoomPeerJoinedEvent{RoomID: "r", Peer: peer})
		},
		api.NotifyRoomPeerLeft: func(n api.Notifier) error {
			return api.SendRoomPeerLeft(n, &api.RoomPeerLeftEvent{RoomID: "r", PeerID: "p1", Reason: api.PeerLeftReasonKicked})
		},
		api.NotifyRoomUpdated: func(n api.Notifier) error {
			return api.SendRoomUpdated(n, &api.RoomUpdatedEvent{RoomID: "r", Room: api.RoomInfo{RoomID: "r", MaxPeers: 4, Peers: []api.Peer{peer, peer}}})
		},
		api.NotifyRoomClosed: func(n api.Notifier) error {
			return api.SendRoomClosed(n, &api.RoomClosedEvent{RoomID: "r", Reason: "shutdown"})
		},
		api.NotifySdpOffer: func(n api.Notifier) error {
			return api.SendSdpOffer(n, &api.SdpOfferEvent{RoomID: "r", From: "p1", SDP: sampleSDP})
		},
		api.NotifySdpAnswer: func(n api.Notifier) error {
			return api.SendSdpAnswer(n, &api.SdpAnswerEvent{RoomID: "r", From: "p1", SDP: sampleSDP})
		},
		api.NotifyIceCandidate: func(n api.Notifier) error {
			return api.SendIceCandidate(n, &api.IceCandidateEvent{RoomID: "r", From: "p1", Candidate: &api.IceCandidateInit{Candidate: sampleCandidate, SDPMid: &mid, SDPMLineIndex: &idx}})
		},
		api.NotifyMessageReceived: func(n api.Notifier) error {
			return api.SendMessageReceived(n, &api.MessageReceivedEvent{RoomID: "r", From: "p1", MessageID: "m", Data: jsontext.Value(`"x"`)})
		},
	}
	for method, send := range sends {
		var zero recorder
		if err := send(&zero); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		shared, err := split(zero.frame)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		for _, seq := range []int64{1, 10, 1 << 40} {
			var want recorder
			want.seq = seq
			if err := send(&want); err != nil {
				t.Fatal(err)
			}
			if got := shared.frame(seq); string(got) != string(want.frame) {
				t.Errorf("%s seq %d:\n got %s\nwant %s", method, seq, got, want.frame)
			}
		}
	}
}

// recorder encodes a notification as Tx.Notify does.
type recorder struct {
	seq   int64
	frame []byte
}

func (r *recorder) Notify(method string, params any) error {
	params.(signal.Event).SetSeq(r.seq)
	var err error
	r.frame, err = rpc.EncodeNotification(method, params)
	return err
}

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
	}{
		{name: "all kept", frames: 5, lastSeq: 2, want: "def", kept: 5},
		{name: "nothing new", frames: 5, lastSeq: 5, want: "", kept: 5},
		{name: "bounded by count", frames: 5, maxFrames: 3, lastSeq: 2, want: "def", kept: 3},
		{name: "past the bound", frames: 5, maxFrames: 3, lastSeq: 1, want: "gap", kept: 3},
		{name: "acked", frames: 5, ack: 3, lastSeq: 3, want: "ef", kept: 2},
		{name: "from before the ack", frames: 5, ack: 3, lastSeq: 2, want: "gap", kept: 2},
		{name: "all acked", frames: 5, ack: 5, lastSeq: 5, want: "", kept: 0},
		{name: "all acked, from before", frames: 5, ack: 5, lastSeq: 4, want: "gap", kept: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := replayLog{maxFrames: 100, maxBytes: 1 << 20}
			if tt.maxFrames > 0 {
				b.maxFrames = tt.maxFrames
			}
			for seq := int64(1); seq <= tt.frames; seq++ {
				b.add(frame(seq))
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
			b.add(frame(tt.frames + 1))
			if frames, ok := b.since(tt.frames); !ok || len(frames) != 1 || frames[0][0] != frame(tt.frames + 1)[0] {
				t.Fatalf("after one more frame, since(%d) = %q, %v", tt.frames, frames, ok)
			}
		})
	}
}
