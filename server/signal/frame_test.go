package signal_test

import (
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/rpc/wire"
	"github.com/parley-rtc/parley/server/signal"
)

// rawSampleSDP is sampleSDP as a relay holds it.
var rawSampleSDP, _ = wire.Quote(sampleSDP)

// sampleSDP is a minimal valid offer; sampleCandidate a candidate line.
const (
	sampleSDP       = "v=0\r\no=- 4215775240449105457 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
	sampleCandidate = "candidate:842163049 1 udp 1677729535 192.0.2.10 46154 typ srflx raddr 10.0.0.2 rport 46154 generation 0"
)

// TestSharedEventFrames: for every notification, the frame a SharedFrame
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
			return api.SendSdpOffer(n, &api.SdpOfferEvent{RoomID: "r", From: "p1", SDP: rawSampleSDP})
		},
		api.NotifySdpAnswer: func(n api.Notifier) error {
			return api.SendSdpAnswer(n, &api.SdpAnswerEvent{RoomID: "r", From: "p1", SDP: rawSampleSDP})
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
		shared, err := signal.SplitFrame(zero.frame)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		for _, seq := range []int64{1, 10, 1 << 40} {
			var want recorder
			want.seq = seq
			if err := send(&want); err != nil {
				t.Fatal(err)
			}
			if got := shared.At(seq); string(got) != string(want.frame) {
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
