package api

import (
	"reflect"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/rpc/wire"
)

// roundTrip decodes params as T; whatever is accepted must encode to params
// that are accepted again. On valid JSON, DecodeValid must decode what it
// is sure of as the checked decoder does.
func roundTrip[T any, P wire.Params[T]](t *testing.T, in []byte) {
	v, err := wire.DecodeParams[T, P](in)
	sameWhenValid[T, P](t, in, v, err)
	if err != nil {
		return
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("accepted %q but cannot encode it: %v", in, err)
	}
	if _, err := wire.DecodeParams[T, P](out); err != nil {
		t.Fatalf("accepted %q, encoded %s, refused that: %v", in, out, err)
	}
}

// paramsDecoders covers every method's params (TestFuzzCoversEveryMethod).
var paramsDecoders = map[string]func(*testing.T, []byte){
	MethodSessionConnect: roundTrip[SessionConnectParams],
	MethodSessionAck:     roundTrip[SessionAckParams],
	MethodRoomCreate:     roundTrip[RoomCreateParams],
	MethodRoomJoin:       roundTrip[RoomJoinParams],
	MethodRoomLeave:      roundTrip[RoomLeaveParams],
	MethodRoomGet:        roundTrip[RoomGetParams],
	MethodRoomUpdate:     roundTrip[RoomUpdateParams],
	MethodRoomKick:       roundTrip[RoomKickParams],
	MethodSdpOffer:       roundTrip[SdpOfferParams],
	MethodSdpAnswer:      roundTrip[SdpAnswerParams],
	MethodIceCandidate:   roundTrip[IceCandidateParams],
	MethodIceServers:     roundTrip[IceServersParams],
	MethodIceRestart:     roundTrip[IceRestartParams],
	MethodMessageSend:    roundTrip[MessageSendParams],

	MethodCallInvite:          roundTrip[CallInviteParams],
	MethodCallRinging:         roundTrip[CallRingingParams],
	MethodCallAccept:          roundTrip[CallAcceptParams],
	MethodCallReject:          roundTrip[CallRejectParams],
	MethodCallCancel:          roundTrip[CallCancelParams],
	MethodCallHangup:          roundTrip[CallHangupParams],
	MethodPresenceSet:         roundTrip[PresenceSetParams],
	MethodPresenceSubscribe:   roundTrip[PresenceSubscribeParams],
	MethodPresenceUnsubscribe: roundTrip[PresenceUnsubscribeParams],
	MethodPresenceGet:         roundTrip[PresenceGetParams],

	MethodAdminRoomsList:            roundTrip[AdminRoomsListParams],
	MethodAdminRoomsGet:             roundTrip[AdminRoomsGetParams],
	MethodAdminRoomsClose:           roundTrip[AdminRoomsCloseParams],
	MethodAdminSessionsList:         roundTrip[AdminSessionsListParams],
	MethodAdminSessionsGet:          roundTrip[AdminSessionsGetParams],
	MethodAdminPeersKick:            roundTrip[AdminPeersKickParams],
	MethodAdminNodeStatus:           roundTrip[AdminNodeStatusParams],
	MethodAdminNodeDrain:            roundTrip[AdminNodeDrainParams],
	MethodAdminTurnAllocationsList:  roundTrip[AdminTurnAllocationsListParams],
	MethodAdminTurnAllocationsClose: roundTrip[AdminTurnAllocationsCloseParams],
	MethodDiagReport:                roundTrip[DiagReportParams],
	MethodAdminDiagExplain:          roundTrip[AdminDiagExplainParams],
	MethodAdminEventsList:           roundTrip[AdminEventsListParams],
	MethodAdminRoomsWatch:           roundTrip[AdminRoomsWatchParams],
	MethodAdminRoomsUnwatch:         roundTrip[AdminRoomsUnwatchParams],
}

// sameWhenValid checks that DecodeValid, sure of valid JSON in, decodes it
// to want, what the checked decoder decoded (or refused with err).
func sameWhenValid[T any, P wire.Params[T]](t *testing.T, in []byte, want *T, err error) {
	if !jsontext.Value(in).IsValid() {
		return // the rpc layer refuses it before any decoder
	}
	got := new(T)
	if !any(P(got)).(wire.ValidParams).DecodeValid(in) {
		return // not sure: the checked decoder decides
	}
	if err != nil {
		t.Fatalf("DecodeValid accepted %q, the checked decoder refused it: %v", in, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeValid decoded %q as %+v, the checked decoder as %+v", in, got, want)
	}
}

func TestFuzzCoversEveryMethod(t *testing.T) {
	if n := reflect.TypeFor[Handler]().NumMethod(); len(paramsDecoders) != n {
		t.Fatalf("paramsDecoders has %d methods, Handler %d", len(paramsDecoders), n)
	}
}

// FuzzDecodeParams feeds arbitrary bytes to every params decoder: none may
// panic, and what one accepts must survive a round trip.
func FuzzDecodeParams(f *testing.F) {
	f.Add([]byte(`{"roomId":"r1","to":"p1","candidate":{"candidate":"candidate:1 1 udp 1 192.0.2.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}`))
	f.Add([]byte(`{"roomId":"r1","create":true,"displayName":"Ann","metadata":{"a":[1,{"b":null}]}}`))
	f.Add([]byte(`{"roomId":"r1","locked":null,"maxPeers":9007199254740991}`))
	f.Add([]byte(`{"roomId":"r1","data":"\ud83d\ude00","to":"p"}`))
	methods := make([]string, 0, len(paramsDecoders))
	for m := range paramsDecoders {
		methods = append(methods, m)
	}
	f.Fuzz(func(t *testing.T, params []byte) {
		for _, m := range methods {
			paramsDecoders[m](t, params)
		}
	})
}
