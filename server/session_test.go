package server

import (
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
)

// TestSharedEventFrames: for every notification, the frame a sharedEvent
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
		var shared sharedEvent
		if err := send(&shared); err != nil {
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

// recorder encodes a notification as session.Notify does.
type recorder struct {
	seq   int64
	frame []byte
}

func (r *recorder) Notify(method string, params any) error {
	params.(event).SetSeq(r.seq)
	var err error
	r.frame, err = rpc.EncodeNotification(method, params)
	return err
}
