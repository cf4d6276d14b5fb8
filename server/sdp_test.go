package server

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/pion/sdp/v3"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/rpc/wire"
)

// chromeOffer is an offer of the shape Chrome sends (audio, video and a
// data channel), trimmed.
const chromeOffer = "v=0\r\no=- 3305279262455373913 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"a=group:BUNDLE 0 1 2\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS 8a5c2f8b-4b8e-4f2b-9c49-5f3bd0f2d9f1\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:sXP5\r\na=ice-pwd:6ctEoBJCGzg+M2ZuKPfRaNce\r\na=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 75:74:5A:A6:A4:E5:52:F4:A7:67:4C:01:C7:EE:91:3F:21:3D:A2:E3:53:7B:6F:30:86:F2:30:AA:65:FB:04:24\r\n" +
	"a=setup:actpass\r\na=mid:0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=sendrecv\r\n" +
	"a=msid:8a5c2f8b-4b8e-4f2b-9c49-5f3bd0f2d9f1 0f4b3c1e-7d6a-4e59-8f0e-2b1c5d7a9e3f\r\na=rtcp-mux\r\n" +
	"a=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n" +
	"a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\na=ssrc:1001 cname:4TOk42mSjXCkVIa6\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\nb=AS:2500\r\na=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:sXP5\r\na=ice-pwd:6ctEoBJCGzg+M2ZuKPfRaNce\r\na=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 75:74:5A:A6:A4:E5:52:F4:A7:67:4C:01:C7:EE:91:3F:21:3D:A2:E3:53:7B:6F:30:86:F2:30:AA:65:FB:04:24\r\n" +
	"a=setup:actpass\r\na=mid:1\r\na=sendrecv\r\na=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:96 VP8/90000\r\n" +
	"a=rtcp-fb:96 goog-remb\r\na=rtcp-fb:96 nack pli\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n" +
	"a=ssrc-group:FID 2231627014 632943048\r\na=ssrc:2231627014 cname:4TOk42mSjXCkVIa6\r\n" +
	"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:sXP5\r\n" +
	"a=ice-pwd:6ctEoBJCGzg+M2ZuKPfRaNce\r\na=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 75:74:5A:A6:A4:E5:52:F4:A7:67:4C:01:C7:EE:91:3F:21:3D:A2:E3:53:7B:6F:30:86:F2:30:AA:65:FB:04:24\r\n" +
	"a=setup:actpass\r\na=mid:2\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n"

// offer4K is chromeOffer with the ssrc lines of more tracks: 4 KB, the size
// of a usual offer.
var offer4K = chromeOffer + strings.Repeat("a=ssrc:2231627014 msid:8a5c2f8b-4b8e-4f2b-9c49-5f3bd0f2d9f1 0f4b3c1e-7d6a-4e59-8f0e-2b1c5d7a9e3f\r\n", 12)

// firefoxAnswer is an answer of the shape Firefox sends: session-level
// fingerprint and ICE, LF-only lines are not its habit but are allowed.
const firefoxAnswer = "v=0\no=mozilla...THIS_IS_SDPARTA-99.0 6304416467339612049 0 IN IP4 0.0.0.0\ns=-\nt=0 0\n" +
	"a=fingerprint:sha-256 24:54:B1:5B:1B:0C:2A:0F:BA:91:05:A2:31:8A:DD:4B:2E:5F:54:4A:37:3F:D7:7C:9B:71:1E:AF:B6:FD:8D:24\n" +
	"a=group:BUNDLE 0\na=ice-options:trickle\na=msid-semantic:WMS *\n" +
	"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\nc=IN IP4 0.0.0.0\na=sendrecv\na=ice-pwd:3ba0b5a3e1ef5a1b95a1f1e4a0d5d3c1\n" +
	"a=ice-ufrag:0f1c2d3e\na=mid:0\na=setup:active\na=sctp-port:5000\na=max-message-size:1073741823\n"

// Descriptions that take the fast path.
var plainSDPs = []string{
	sampleSDP,
	chromeOffer,
	firefoxAnswer,
	"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n",
	"v=0\r\no=- 1 1 IN IP6 ::1\r\ns=\r\nc=IN IP6 ::\r\nb=X-YZ:100\r\nt=0 0\r\nm=audio 49170/2 RTP/AVP 0\r\nb=TIAS:64000\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=a session\r\nt=0 0\r\n",
}

// Descriptions pion accepts that are left to it, and some it refuses.
var unplainSDPs = []string{
	"",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\ni=about\r\nt=0 0\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nr=7d 1h 0 25h\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nk=clear:x\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\ni=voice\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0  0\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0 \r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0\t0\r\n",
	"v=0\r\n\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=mid:0",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=x\ry\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=tool:caf\u00e9\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9/2/3 RTP/AVP 0\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio +9 RTP/AVP 0\r\n",
	"v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nt=0 0\r\n",
	"v=1\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
	"v=0\r\no=- 1 1 IN IP5 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0 extra\r\ns=-\r\nt=0 0\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=foo 9 RTP/AVP 0\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 70000 RTP/AVP 0\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/XYZ 0\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0  8\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0 8 \r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP  0\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP \r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nb=XYZ:1\r\nt=0 0\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nb=AS:1:2\r\nt=0 0\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nb=AS:99999999999999999999\r\nt=0 0\r\n",
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\nc=IN IP4 0.0.0.0\r\n",
	"o=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
	"v=0\r\ns=-\r\nt=0 0\r\n",
	"hello",
}

// sdpFastPath is plainSDP, held to pion/sdp.
var sdpFastPath = fastPath{
	plain:   plainSDP,
	parse:   func(text string) error { var d sdp.SessionDescription; return d.UnmarshalString(text) },
	taken:   plainSDPs,
	refused: unplainSDPs,
}

func TestPlainSDP(t *testing.T) { sdpFastPath.check(t) }

// sdpLiteralFastPath is plainSDPLiteral, held to plainSDP of the text the
// literal denotes (and so, by sdpFastPath, to pion/sdp). Its inputs are
// literals without their quotes; plainSDPLiteral is only ever given valid
// ones.
var sdpLiteralFastPath = fastPath{
	plain: func(body string) bool { return jsontext.Value(`"`+body+`"`).IsValid() && plainSDPLiteral(body) },
	parse: func(body string) error {
		text, err := jsontext.AppendUnquote(nil, `"`+body+`"`)
		if err != nil {
			return err
		}
		if !plainSDP(string(text)) {
			return errors.New("plainSDP refuses the text")
		}
		return sdpFastPath.parse(string(text))
	},
	taken: literalBodies(plainSDPs),
	refused: append(literalBodies(unplainSDPs),
		`v=0\u000d\u000ao=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n`,    // escapes other than the line ends
		`v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=\u002d\r\nt=0 0\r\n`,       // one inside a line
		`v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=x\\r\n`,    // a backslash before the line end
		`v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=x\\\n`,     // an escaped backslash, then LF
		`v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=\"x\"\r\n`, // escaped quotes
		`v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0\t0\r\n`,           // a tab
		`v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=\/\r\n`,    // an escaped solidus
		`v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=mid:0\r`,   // no LF at the end
	),
}

// literalBodies are texts as JSON string literals, without the quotes.
func literalBodies(texts []string) []string {
	bodies := make([]string, len(texts))
	for i, text := range texts {
		lit, _ := jsontext.AppendQuote(nil, text) // the tables are UTF-8
		bodies[i] = string(lit[1 : len(lit)-1])
	}
	return bodies
}

func TestPlainSDPLiteral(t *testing.T) { sdpLiteralFastPath.check(t) }

// FuzzSDPLiteral: whatever literal takes the fast path denotes a text
// plainSDP takes.
func FuzzSDPLiteral(f *testing.F) { sdpLiteralFastPath.fuzz(f) }

// TestLineStop: the eight-bytes-at-a-time search for the end of a line
// stops where a byte loop does, for every byte value at every position,
// in a text and in a literal.
func TestLineStop(t *testing.T) {
	for _, escaped := range []bool{false, true} {
		for c := range 256 {
			for at := range 17 {
				b := []byte(strings.Repeat("a", 17))
				b[at] = byte(c)
				want := len(b)
				if c < ' ' || c > '~' || c == '\\' && escaped {
					want = at
				}
				s := sdpLines{text: string(b), escaped: escaped}
				if got := s.stop(0); got != want {
					t.Fatalf("escaped %v, byte %#x at %d: stops at %d, want %d", escaped, c, at, got, want)
				}
			}
		}
	}
}

// TestCheckSDP: a description the fast path leaves is still judged by
// pion: accepted when pion takes it, refused naming the field when not.
// Written with other escapes than its line ends, it is judged by its text,
// and so is its size.
func TestCheckSDP(t *testing.T) {
	escaped := wire.RawLiteral([]byte(`"v=0\u000d\u000ao=- 1 1 IN IP4 0.0.0.0\r\ns=\u002d\r\nt=0 0\r\n"`))
	text, err := escaped.Text()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		sdp     wire.RawString
		max     int
		problem string // "" when accepted
	}{
		{quoted(t, chromeOffer), 64 << 10, ""},
		{quoted(t, "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\ni=about\r\nt=0 0\r\n"), 64 << 10, ""},
		{quoted(t, "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=foo 9 RTP/AVP 0\r\n"), 64 << 10, "not a valid session description"},
		{quoted(t, "hello"), 64 << 10, "not a valid session description"},
		{quoted(t, sampleSDP), 64, "over this server's limit of 64"},
		{escaped, 64 << 10, ""},
		{escaped, len(text), ""}, // its literal is longer
		{escaped, len(text) - 1, fmt.Sprintf("sdp is %d bytes, over this server's limit of %d", len(text), len(text)-1)},
		{wire.RawLiteral([]byte(`"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0\t0\r\n"`)), 64 << 10, ""},
		{wire.RawLiteral([]byte(`"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=foo 9 RTP/AVP 0\r\n"`)), 64 << 10, "not a valid session description"},
	} {
		err := checkSDP(tt.sdp, tt.max)
		if tt.problem == "" {
			if err != nil {
				t.Errorf("%.30s: %v", tt.sdp.Literal(), err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.problem) {
			t.Errorf("%.30s: %v, want an error saying %q", tt.sdp.Literal(), err, tt.problem)
		}
	}
}

func quoted(t testing.TB, text string) wire.RawString {
	t.Helper()
	r, err := wire.Quote(text)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// FuzzSDP: whatever takes the fast path, pion accepts.
func FuzzSDP(f *testing.F) { sdpFastPath.fuzz(f) }

// BenchmarkCheckSDP is the check of a 4 KB offer, on the fast path and by
// pion/sdp; and on the fast path, of one of 4 KB in many media sections
// (siglab's relay-sdp sends Chrome's audio section over and over).
func BenchmarkCheckSDP(b *testing.B) {
	offer := offer4K
	audio, video := strings.Index(chromeOffer, "m=audio"), strings.Index(chromeOffer, "m=video")
	for _, bc := range []struct{ name, sdp string }{
		{"plain", offer},
		{"media", chromeOffer[:audio] + strings.Repeat(chromeOffer[audio:video], 4096/(video-audio))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			raw := quoted(b, bc.sdp)
			b.SetBytes(int64(len(bc.sdp)))
			b.ReportAllocs()
			for b.Loop() {
				if err := checkSDP(raw, 64<<10); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("pion", func(b *testing.B) {
		b.SetBytes(int64(len(offer)))
		b.ReportAllocs()
		for b.Loop() {
			var d sdp.SessionDescription
			if err := d.UnmarshalString(offer); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSDPPath is what the server does with a 4 KB sdp.answer's SDP
// besides routing it: decode the params (as the rpc layer decodes
// validated params: DecodeValid), check the SDP, encode the event.
func BenchmarkSDPPath(b *testing.B) {
	lit, _ := jsontext.AppendQuote(nil, offer4K)
	params := jsontext.Value(`{"roomId":"bench-room-0001","to":"p1b2c3d4e5f6a7b8","sdp":` + string(lit) + `}`)
	b.SetBytes(int64(len(offer4K)))
	b.ReportAllocs()
	for b.Loop() {
		p := new(api.SdpAnswerParams)
		if !p.DecodeValid(params) {
			b.Fatal("not sure")
		}
		if err := checkSDP(p.SDP, 64<<10); err != nil {
			b.Fatal(err)
		}
		if _, err := rpc.EncodeNotification(api.NotifySdpAnswer, &api.SdpAnswerEvent{Seq: 12, RoomID: p.RoomID, From: "p0a1b2c3d4e5f6a7", SDP: p.SDP}); err != nil {
			b.Fatal(err)
		}
	}
}
