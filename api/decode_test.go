package api

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/rpc/wire"
)

func TestDecodeParamsRejects(t *testing.T) {
	cand := func(extra string) string {
		return `{"roomId":"r1","to":"p1","candidate":{"candidate":"candidate:1 1 udp 1 192.0.2.1 9 typ host"` + extra + `}}`
	}
	tests := []struct {
		name, params  string
		field, reason string // want; field "" is the params object itself
	}{
		{"array params", `["r1"]`, "", "params must be an object (by-name)"},
		{"unknown member", `{"roomId":"r1","rooomId":"r2"}`, "rooomId", "unknown member"},
		{"missing required", `{}`, "roomId", "required"},
		{"wrong type", `{"roomId":7}`, "roomId", "must be a string, not a number"},
		{"null not allowed", `{"roomId":null}`, "roomId", "must be a string, not null"},
		{"pattern", `{"roomId":"has space"}`, "roomId", "does not match ^[A-Za-z0-9_-]{1,64}$"},
		{"bool wanted", `{"roomId":"r1","create":"yes"}`, "create", "must be a boolean, not a string"},
		{"max length in characters", `{"roomId":"r1","displayName":"` + strings.Repeat("é", 129) + `"}`, "displayName", "longer than 128 characters"},
		{"metadata not an object", `{"roomId":"r1","metadata":[1]}`, "metadata", "must be an object, not an array"},
		{"nested unknown", cand(`,"sdpMid":"0","bogus":1`), "candidate.bogus", "unknown member"},
		{"nested type", cand(`,"sdpMid":0`), "candidate.sdpMid", "must be a string, not a number"},
		{"nested range", cand(`,"sdpMLineIndex":70000`), "candidate.sdpMLineIndex", "must be between 0 and 65535"},
		{"fractional", cand(`,"sdpMLineIndex":1.5`), "candidate.sdpMLineIndex", "must be an integer"},
		{"anyOf: neither", cand(``), "candidate", "sdpMid or sdpMLineIndex is required"},
		{"anyOf: both null", cand(`,"sdpMid":null,"sdpMLineIndex":null`), "candidate", "sdpMid or sdpMLineIndex is required"},
		{"beyond 2^53", `{"roomId":"r1","maxPeers":9007199254740992}`, "maxPeers", "outside ±(2^53-1)"},
		{"below minimum", `{"roomId":"r1","maxPeers":0}`, "maxPeers", "must be between 1 and 10000"},
		{"trailing data", `{"roomId":"r1"} {}`, "", "params must be a single JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			switch {
			case strings.Contains(tt.params, "candidate"):
				_, err = wire.DecodeParams[IceCandidateParams](jsontext.Value(tt.params))
			case strings.Contains(tt.params, "maxPeers"):
				_, err = wire.DecodeParams[RoomUpdateParams](jsontext.Value(tt.params))
			default:
				_, err = wire.DecodeParams[RoomJoinParams](jsontext.Value(tt.params))
			}
			var fe *wire.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || fe.Reason != tt.reason {
				t.Fatalf("got %v, want field %q reason %q", err, tt.field, tt.reason)
			}
		})
	}
}

func TestDecodeIntegers(t *testing.T) {
	tests := []struct {
		num    string
		want   int64
		reason string
	}{
		{"5", 5, ""},
		{"5.0", 5, ""},
		{"1e3", 1000, ""},
		{"9007199254740991", 9007199254740991, ""},
		{"9007199254740992", 0, "outside ±(2^53-1)"},
		{"-9007199254740993", 0, "outside ±(2^53-1)"},
		{"1e400", 0, "outside ±(2^53-1)"},
		{"0.5", 0, "must be an integer"},
	}
	for _, tt := range tests {
		got, err := decodeInt(jsontext.NewDecoder(strings.NewReader(tt.num)), -maxSafeInt, maxSafeInt)
		var fe *wire.FieldError
		switch {
		case tt.reason == "" && (err != nil || got != tt.want):
			t.Errorf("%s: got %d, %v", tt.num, got, err)
		case tt.reason != "" && (!errors.As(err, &fe) || fe.Reason != tt.reason):
			t.Errorf("%s: got %v, want %q", tt.num, err, tt.reason)
		}
	}
}

func TestDecodeParamsAccepts(t *testing.T) {
	p, err := wire.DecodeParams[IceCandidateParams](jsontext.Value(
		`{"roomId":"r1","to":"p1","candidate":{"candidate":"x","sdpMid":null,"sdpMLineIndex":0,"usernameFragment":"u"}}`))
	if err != nil {
		t.Fatal(err)
	}
	idx, ufrag := int64(0), "u"
	want := &IceCandidateParams{RoomID: "r1", To: "p1", Candidate: &IceCandidateInit{Candidate: "x", SDPMLineIndex: &idx, UsernameFragment: &ufrag}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got %+v", p)
	}
	if _, err := wire.DecodeParams[IceCandidateParams](jsontext.Value(`{"roomId":"r1","to":"p1","candidate":{"candidate":"","sdpMid":"0"}}`)); err != nil {
		t.Fatalf("sdpMid alone satisfies the anyOf: %v", err)
	}
	end, err := wire.DecodeParams[IceCandidateParams](jsontext.Value(`{"roomId":"r1","to":"p1","candidate":null}`))
	if err != nil || end.Candidate != nil {
		t.Fatalf("end-of-candidates: %+v, %v", end, err)
	}
	if _, err := wire.DecodeParams[AdminRoomsListParams](nil); err != nil {
		t.Fatalf("absent params: %v", err)
	}
	for _, id := range []string{"a", "A-z_09", strings.Repeat("x", 64)} {
		if !ValidRoomID(id) {
			t.Errorf("ValidRoomID(%q) = false", id)
		}
	}
	for _, id := range []string{"", "a b", strings.Repeat("x", 65), "é"} {
		if ValidRoomID(id) {
			t.Errorf("ValidRoomID(%q) = true", id)
		}
	}
}

// TestDecodeObjects decodes component types through json.Unmarshal, as a
// client would, to check the generated decoders are what json v2 calls.
func TestDecodeObjects(t *testing.T) {
	peer := func(role string) string {
		return `{"peerId":"p1","identity":"ann","role":"` + role + `"}`
	}
	join := func(peers ...string) string {
		return `{"roomId":"r1","self":` + peer("owner") + `,"peers":[` + strings.Join(peers, ",") + `]}`
	}
	tests := []struct {
		name, in      string
		field, reason string
	}{
		{"enum", join(peer("admin")), "peers.0.role", "must be one of owner, moderator, participant"},
		{"array element path", join(peer("moderator"), peer("participant"), peer("boss")), "peers.2.role", "must be one of owner, moderator, participant"},
		{"nested object", `{"roomId":"r1","self":{"peerId":"p1","role":"owner"},"peers":[]}`, "self.identity", "required"},
		{"array wanted", `{"roomId":"r1","self":` + peer("owner") + `,"peers":{}}`, "peers", "must be an array, not an object"},
		{"not an object", `[]`, "", "must be an object, not an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got RoomJoinResult
			err := json.Unmarshal([]byte(tt.in), &got)
			var fe *wire.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || fe.Reason != tt.reason {
				t.Fatalf("got %v, want field %q reason %q", err, tt.field, tt.reason)
			}
		})
	}
	var ok RoomJoinResult
	if err := json.Unmarshal([]byte(join(peer("moderator"))), &ok); err != nil || ok.Peers[0].Role != RoleModerator {
		t.Fatalf("valid result: %+v, %v", ok, err)
	}
}

// TestDecodeMalformed checks what jsontext itself refuses still surfaces
// as an error through the generated decoders.
func TestDecodeMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"duplicate member":  `{"roomId":"r1","roomId":"r2"}`,
		"nested duplicate":  `{"roomId":"r1","metadata":{"a":1,"a":2}}`,
		"invalid UTF-8":     "{\"roomId\":\"r1\",\"displayName\":\"\xff\"}",
		"lone surrogate":    `{"roomId":"r1","displayName":"\ud800"}`,
		"truncated":         `{"roomId":"r1"`,
		"bad token":         `{"roomId":r1}`,
		"invalid in member": "{\"room\xffId\":\"r1\"}",
	} {
		if _, err := wire.DecodeParams[RoomJoinParams](jsontext.Value(in)); err == nil {
			t.Errorf("%s: accepted %q", name, in)
		}
	}
}

// TestDecodeRawString: an x-go-raw string keeps its literal as written,
// escapes and all; its maximum length counts the characters of its text,
// not the bytes of its literal.
func TestDecodeRawString(t *testing.T) {
	tests := []struct {
		json, text, reason string
	}{
		{`"v=0\n"`, "v=0\n", ""},
		{`"\u0041\/\"\\"`, `A/"\`, ""},
		{`"` + strings.Repeat(`\u00e9`, 4) + `"`, strings.Repeat("é", 4), ""},
		{`"` + strings.Repeat(`\u00e9`, 5) + `"`, "", "longer than 4 characters"},
		{`"` + strings.Repeat("é", 5) + `"`, "", "longer than 4 characters"},
		{`""`, "", ""},
		{`7`, "", "must be a string, not a number"},
		{`null`, "", "must be a string, not null"},
	}
	for _, tt := range tests {
		got, err := decodeRawString(jsontext.NewDecoder(strings.NewReader(tt.json)), 4)
		var fe *wire.FieldError
		if tt.reason != "" {
			if !errors.As(err, &fe) || fe.Reason != tt.reason {
				t.Errorf("%s: got %v, want %q", tt.json, err, tt.reason)
			}
			continue
		}
		text, terr := got.Text()
		if err != nil || terr != nil || got.Literal() != tt.json || text != tt.text {
			t.Errorf("%s: got literal %s text %q (%v, %v), want the literal as written and text %q", tt.json, got.Literal(), text, err, terr, tt.text)
		}
	}
}

// TestRawStringRelayed: an sdp.offer's SDP goes from the params to the
// event's frame as its client wrote it (escaped as JSON escapes it at
// least; an encoder writes other escapes the shortest way).
func TestRawStringRelayed(t *testing.T) {
	const lit = `"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=\"\\\"\r\nt=0 0\r\n"`
	p, err := wire.DecodeParams[SdpOfferParams](jsontext.Value(`{"roomId":"r1","to":"p1","sdp":` + lit + `}`))
	if err != nil {
		t.Fatal(err)
	}
	frame, err := json.Marshal(&SdpOfferEvent{Seq: 1, RoomID: "r1", From: "p2", SDP: p.SDP})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"seq":1,"roomId":"r1","from":"p2","sdp":` + lit + `}`; string(frame) != want {
		t.Fatalf("got  %s\nwant %s", frame, want)
	}
}

// TestDecodeValid: DecodeValid is sure of the params clients send, and
// decodes them as the checked decoder does; of anything it would have to
// refuse or cannot read plainly it is not sure.
func TestDecodeValid(t *testing.T) {
	cand := `{"roomId":"r1","to":"p1","candidate":{"candidate":"candidate:1 1 udp 1 192.0.2.1 9 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null}}`
	tests := []struct {
		name, params string
		decode       func([]byte) (sure bool, got, want any, err error)
		sure         bool
	}{
		{"candidate", cand, decodeBoth[IceCandidateParams], true},
		{"candidate, spaced", " {\n\"roomId\" : \"r1\" ,\t\"to\":\"p1\", \"candidate\" : {\"candidate\":\"c\", \"sdpMLineIndex\" : 65535 } } ", decodeBoth[IceCandidateParams], true},
		{"offer with escapes", `{"roomId":"r1","to":"p1","sdp":"v=0\r\no=- 1 1 IN IP4 \"x\"\\\r\n"}`, decodeBoth[SdpOfferParams], true},
		{"join with metadata", `{"roomId":"r1","create":true,"displayName":"Ann","metadata":{"a":[1,{"b":"}"}]}}`, decodeBoth[RoomJoinParams], true},
		{"identities", `{"identities":["alice","bob"]}`, decodeBoth[PresenceSubscribeParams], true},
		{"enum", `{"status":"away","note":"back soon"}`, decodeBoth[PresenceSetParams], true},
		{"absent params", ``, decodeBoth[IceServersParams], true},
		{"128 characters", `{"roomId":"r1","displayName":"` + strings.Repeat("é", 128) + `"}`, decodeBoth[RoomJoinParams], true},
		{"129 characters", `{"roomId":"r1","displayName":"` + strings.Repeat("é", 129) + `"}`, decodeBoth[RoomJoinParams], false},
		{"negative integer", `{"roomId":"r1","maxPeers":-1}`, decodeBoth[RoomUpdateParams], false},
		{"escaped name", `{"\u0072oomId":"r1"}`, decodeBoth[RoomJoinParams], false},
		{"escaped value", `{"roomId":"r\u0031"}`, decodeBoth[RoomJoinParams], false},
		{"integer as 1.0", `{"roomId":"r1","to":"p1","candidate":{"candidate":"c","sdpMLineIndex":1.0}}`, decodeBoth[IceCandidateParams], false},
		{"out of range", `{"roomId":"r1","to":"p1","candidate":{"candidate":"c","sdpMLineIndex":65536}}`, decodeBoth[IceCandidateParams], false},
		{"anyOf unmet", `{"roomId":"r1","to":"p1","candidate":{"candidate":"c","sdpMid":null}}`, decodeBoth[IceCandidateParams], false},
		{"unknown member", `{"roomId":"r1","x":1}`, decodeBoth[RoomJoinParams], false},
		{"missing member", `{"create":true}`, decodeBoth[RoomJoinParams], false},
		{"pattern", `{"roomId":"r 1"}`, decodeBoth[RoomJoinParams], false},
		{"wrong kind", `{"roomId":1}`, decodeBoth[RoomJoinParams], false},
		{"too many items", `{"identities":[` + strings.Repeat(`"a",`, 1000) + `"a"]}`, decodeBoth[PresenceSubscribeParams], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sure, got, want, err := tt.decode([]byte(tt.params))
			if sure != tt.sure {
				t.Fatalf("sure %v, want %v (the checked decoder: %v)", sure, tt.sure, err)
			}
			if sure && (err != nil || !reflect.DeepEqual(got, want)) {
				t.Fatalf("decoded %+v, the checked decoder %+v, %v", got, want, err)
			}
		})
	}
}

// decodeBoth decodes params with DecodeValid and with the checked decoder.
func decodeBoth[T any, P wire.Params[T]](params []byte) (sure bool, got, want any, err error) {
	v := new(T)
	sure = any(P(v)).(wire.ValidParams).DecodeValid(params)
	w, err := wire.DecodeParams[T, P](params)
	return sure, v, w, err
}
