package server

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/parley-rtc/parley/api"
	"github.com/parley-rtc/parley/rpc"
	"github.com/parley-rtc/parley/rpc/wire"
)

func BenchmarkScratch(b *testing.B) {
	offer := chromeOffer + strings.Repeat("a=ssrc:2231627014 msid:8a5c2f8b-4b8e-4f2b-9c49-5f3bd0f2d9f1 0f4b3c1e-7d6a-4e59-8f0e-2b1c5d7a9e3f\r\n", 12)
	q, _ := json.Marshal(offer)
	sdpParams := jsontext.Value(`{"roomId":"bench-room-0001","to":"p1b2c3d4e5f6a7b8","sdp":` + string(q) + `}`)
	iceParams := jsontext.Value(`{"roomId":"bench-room-0001","to":"p1b2c3d4e5f6a7b8","candidate":{"candidate":"` + sampleCandidate + `","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}`)
	b.Logf("offer %d bytes", len(offer))
	b.Run("decode-sdp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := wire.DecodeParams[api.SdpOfferParams](sdpParams); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("check-sdp", func(b *testing.B) {
		for b.Loop() {
			_ = checkSDP(offer, 1<<16)
		}
	})
	b.Run("encode-sdp", func(b *testing.B) {
		b.ReportAllocs()
		ev := &api.SdpOfferEvent{Seq: 12, RoomID: "bench-room-0001", From: "p1b2c3d4e5f6a7b8", SDP: offer}
		for b.Loop() {
			_, _ = rpc.EncodeNotification("sdp.offer", ev)
		}
	})
	b.Run("decode-ice", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := wire.DecodeParams[api.IceCandidateParams](iceParams); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("check-ice", func(b *testing.B) {
		p, _ := wire.DecodeParams[api.IceCandidateParams](iceParams)
		for b.Loop() {
			_ = checkCandidate(p.Candidate, 1024)
		}
	})
	b.Run("encode-ice", func(b *testing.B) {
		b.ReportAllocs()
		p, _ := wire.DecodeParams[api.IceCandidateParams](iceParams)
		ev := &api.IceCandidateEvent{Seq: 12, RoomID: "bench-room-0001", From: "p1b2c3d4e5f6a7b8", Candidate: p.Candidate}
		for b.Loop() {
			_, _ = rpc.EncodeNotification("ice.candidate", ev)
		}
	})
}

func BenchmarkScratch2(b *testing.B) {
	offer := chromeOffer + strings.Repeat("a=ssrc:2231627014 msid:8a5c2f8b-4b8e-4f2b-9c49-5f3bd0f2d9f1 0f4b3c1e-7d6a-4e59-8f0e-2b1c5d7a9e3f\r\n", 12)
	q, _ := json.Marshal(offer)
	b.Logf("literal %d bytes, text %d", len(q), len(offer))
	b.Run("readvalue", func(b *testing.B) {
		for b.Loop() {
			d := wire.GetDecoder()
			dec := d.Reset(q)
			v, _ := dec.ReadValue()
			_ = v
			d.Release()
		}
	})
	b.Run("readtoken-string", func(b *testing.B) {
		for b.Loop() {
			d := wire.GetDecoder()
			dec := d.Reset(q)
			v, _ := dec.ReadToken()
			_ = v.String()
			d.Release()
		}
	})
	b.Run("isvalid", func(b *testing.B) {
		for b.Loop() {
			_ = jsontext.Value(q).IsValid()
		}
	})
	b.Run("appendquote", func(b *testing.B) {
		buf := make([]byte, 0, 8192)
		for b.Loop() {
			buf, _ = jsontext.AppendQuote(buf[:0], offer)
		}
	})
	b.Run("appendunquote", func(b *testing.B) {
		buf := make([]byte, 0, 8192)
		for b.Loop() {
			buf, _ = jsontext.AppendUnquote(buf[:0], q)
		}
	})
}

type iceEv api.IceCandidateEvent

func (e *iceEv) MarshalJSONTo(enc *jsontext.Encoder) error {
	enc.WriteToken(jsontext.BeginObject)
	enc.WriteToken(jsontext.String("seq"))
	enc.WriteToken(jsontext.Int(e.Seq))
	enc.WriteToken(jsontext.String("roomId"))
	enc.WriteToken(jsontext.String(e.RoomID))
	enc.WriteToken(jsontext.String("from"))
	enc.WriteToken(jsontext.String(e.From))
	enc.WriteToken(jsontext.String("candidate"))
	c := e.Candidate
	enc.WriteToken(jsontext.BeginObject)
	enc.WriteToken(jsontext.String("candidate"))
	enc.WriteToken(jsontext.String(c.Candidate))
	if c.SDPMid != nil {
		enc.WriteToken(jsontext.String("sdpMid"))
		enc.WriteToken(jsontext.String(*c.SDPMid))
	}
	if c.SDPMLineIndex != nil {
		enc.WriteToken(jsontext.String("sdpMLineIndex"))
		enc.WriteToken(jsontext.Int(*c.SDPMLineIndex))
	}
	if c.UsernameFragment != nil {
		enc.WriteToken(jsontext.String("usernameFragment"))
		enc.WriteToken(jsontext.String(*c.UsernameFragment))
	}
	enc.WriteToken(jsontext.EndObject)
	return enc.WriteToken(jsontext.EndObject)
}

type iceEv2 api.IceCandidateEvent

func (e *iceEv2) MarshalJSONTo(enc *jsontext.Encoder) error {
	b := enc.AvailableBuffer()
	b = append(b, `{"seq":`...)
	b = strconvAppendInt(b, e.Seq)
	b = append(b, `,"roomId":`...)
	b, _ = jsontext.AppendQuote(b, e.RoomID)
	b = append(b, `,"from":`...)
	b, _ = jsontext.AppendQuote(b, e.From)
	b = append(b, `,"candidate":{"candidate":`...)
	c := e.Candidate
	b, _ = jsontext.AppendQuote(b, c.Candidate)
	if c.SDPMid != nil {
		b = append(b, `,"sdpMid":`...)
		b, _ = jsontext.AppendQuote(b, *c.SDPMid)
	}
	if c.SDPMLineIndex != nil {
		b = append(b, `,"sdpMLineIndex":`...)
		b = strconvAppendInt(b, *c.SDPMLineIndex)
	}
	if c.UsernameFragment != nil {
		b = append(b, `,"usernameFragment":`...)
		b, _ = jsontext.AppendQuote(b, *c.UsernameFragment)
	}
	b = append(b, "}}"...)
	return enc.WriteValue(b)
}

func strconvAppendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

func BenchmarkScratch3(b *testing.B) {
	iceParams := jsontext.Value(`{"roomId":"bench-room-0001","to":"p1b2c3d4e5f6a7b8","candidate":{"candidate":"` + sampleCandidate + `","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}`)
	p, _ := wire.DecodeParams[api.IceCandidateParams](iceParams)
	ev := api.IceCandidateEvent{Seq: 12, RoomID: "bench-room-0001", From: "p1b2c3d4e5f6a7b8", Candidate: p.Candidate}
	b.Run("reflect", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = rpc.EncodeNotification("ice.candidate", &ev)
		}
	})
	b.Run("tokens", func(b *testing.B) {
		b.ReportAllocs()
		e := iceEv(ev)
		x, _ := rpc.EncodeNotification("ice.candidate", &e)
		y, _ := rpc.EncodeNotification("ice.candidate", &ev)
		if string(x) != string(y) {
			b.Fatalf("%s\n%s", x, y)
		}
		for b.Loop() {
			_, _ = rpc.EncodeNotification("ice.candidate", &e)
		}
	})
	b.Run("append-writevalue", func(b *testing.B) {
		b.ReportAllocs()
		e := iceEv2(ev)
		x, _ := rpc.EncodeNotification("ice.candidate", &e)
		y, _ := rpc.EncodeNotification("ice.candidate", &ev)
		if string(x) != string(y) {
			b.Fatalf("%s\n%s", x, y)
		}
		for b.Loop() {
			_, _ = rpc.EncodeNotification("ice.candidate", &e)
		}
	})
	b.Run("append-only", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			buf = buf[:0]
			buf = append(buf, `{"jsonrpc":"2.0","method":"ice.candidate","params":`...)
			buf = append(buf, `{"seq":`...)
			buf = strconvAppendInt(buf, ev.Seq)
			buf = append(buf, `,"roomId":`...)
			buf, _ = jsontext.AppendQuote(buf, ev.RoomID)
			buf = append(buf, `,"from":`...)
			buf, _ = jsontext.AppendQuote(buf, ev.From)
			buf = append(buf, `,"candidate":{"candidate":`...)
			c := ev.Candidate
			buf, _ = jsontext.AppendQuote(buf, c.Candidate)
			buf = append(buf, `,"sdpMid":`...)
			buf, _ = jsontext.AppendQuote(buf, *c.SDPMid)
			buf = append(buf, `,"sdpMLineIndex":`...)
			buf = strconvAppendInt(buf, *c.SDPMLineIndex)
			buf = append(buf, `,"usernameFragment":`...)
			buf, _ = jsontext.AppendQuote(buf, *c.UsernameFragment)
			buf = append(buf, "}}}"...)
			_ = bytes.Clone(buf)
		}
	})
}
