package sip

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseRTP(t *testing.T) {
	hdr := make([]byte, rtpHeaderSize)
	putRTPHeader(hdr, 101, true, 0xfffe, 0xdeadbeef, 0x01020304)
	plain := append(slices.Clone(hdr), 1, 2, 3, 4)

	withCSRC := slices.Clone(plain)
	withCSRC[0] |= 2 // two CSRCs
	withCSRC = slices.Insert(withCSRC, rtpHeaderSize, make([]byte, 8)...)

	withExt := slices.Clone(plain)
	withExt[0] |= 0x10
	withExt = slices.Insert(withExt, rtpHeaderSize, 0xbe, 0xde, 0, 1, 9, 9, 9, 9) // one word

	withPad := slices.Clone(plain)
	withPad[0] |= 0x20
	withPad = append(withPad, 0, 0, 3)

	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"plain", plain, true},
		{"csrc", withCSRC, true},
		{"extension", withExt, true},
		{"padding", withPad, true},
		{"short", plain[:11], false},
		{"version 1", append([]byte{0x40}, plain[1:]...), false},
		{"extension past end", withExt[:rtpHeaderSize+2], false},
		{"padding past header", append(slices.Clone(hdr[:1]), append(slices.Clone(hdr[1:]), 200)...), false},
	}
	tests[len(tests)-1].in[0] |= 0x20
	for _, tt := range tests {
		p, ok := parseRTP(tt.in)
		if ok != tt.ok {
			t.Errorf("%s: ok %v", tt.name, ok)
			continue
		}
		if !ok {
			continue
		}
		if p.payloadType != 101 || !p.marker || p.seq != 0xfffe || p.timestamp != 0xdeadbeef || p.ssrc != 0x01020304 {
			t.Errorf("%s: header %+v", tt.name, p)
		}
		if !slices.Equal(p.payload, []byte{1, 2, 3, 4}) {
			t.Errorf("%s: payload %v", tt.name, p.payload)
		}
	}
}

func FuzzParseRTP(f *testing.F) {
	hdr := make([]byte, rtpHeaderSize+4)
	putRTPHeader(hdr, 0, false, 1, 2, 3)
	f.Add(hdr)
	f.Add([]byte{0xb3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ok := parseRTP(b)
		if ok && len(p.payload) > len(b)-rtpHeaderSize {
			t.Fatalf("payload of %d bytes from a %d byte packet", len(p.payload), len(b))
		}
	})
}

// event is one RFC 4733 packet's payload.
func event(code byte, end bool, duration uint16) []byte {
	flags := byte(10)
	if end {
		flags |= 0x80
	}
	return []byte{code, flags, byte(duration >> 8), byte(duration)}
}

func TestDTMFDetector(t *testing.T) {
	type pkt struct {
		ts      uint32
		payload []byte
	}
	// What SIPp's play_dtmf sends for one key: duration 0 first, growing,
	// then the end packet three times.
	sippKey := func(ts uint32, code byte) []pkt {
		var ps []pkt
		for d := uint16(0); d < 1600; d += 160 {
			ps = append(ps, pkt{ts, event(code, false, d)})
		}
		for range 3 {
			ps = append(ps, pkt{ts, event(code, true, 1600)})
		}
		return ps
	}
	tests := []struct {
		name string
		pkts []pkt
		want []string
	}{
		{"sipp keys", slices.Concat(sippKey(24400, 1), sippKey(24800, 2), sippKey(25200, 11)), []string{"1", "2", "#"}},
		{"only end packets", []pkt{{100, event(4, true, 800)}, {100, event(4, true, 800)}}, []string{"4"}},
		{"same key twice", []pkt{{100, event(4, true, 800)}, {900, event(4, false, 0)}}, []string{"4", "4"}},
		{"late packet of an earlier key", []pkt{{100, event(1, false, 0)}, {900, event(2, false, 0)}, {100, event(1, true, 800)}}, []string{"1", "2"}},
		{"timestamp wraps", []pkt{{0xffffff00, event(3, false, 0)}, {0x00000010, event(3, false, 0)}}, []string{"3", "3"}},
		{"letters", []pkt{{1, event(12, false, 0)}, {2, event(15, false, 0)}}, []string{"A", "D"}},
		{"not keys", []pkt{{1, event(16, false, 0)}, {2, event(255, true, 0)}}, nil},
		{"short payload", []pkt{{1, []byte{1, 0, 0}}}, nil},
	}
	for _, tt := range tests {
		var d dtmfDetector
		var got []string
		for _, p := range tt.pkts {
			if digit, ok := d.feed(p.ts, p.payload); ok {
				got = append(got, digit)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSDPOffer(t *testing.T) {
	offer := string(sdpOffer(net.IPv4(127, 0, 0, 1), 40000, 42))
	for _, line := range []string{
		"c=IN IP4 127.0.0.1", "m=audio 40000 RTP/AVP 0 8 101", "a=rtpmap:0 PCMU/8000",
		"a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=ptime:20",
	} {
		if !strings.Contains(offer, line+"\r\n") {
			t.Errorf("offer lacks %q:\n%s", line, offer)
		}
	}
	// Our own offer, read back as an answer, picks PCMU and event type 101.
	ans, err := parseSDPAnswer([]byte(offer))
	if err != nil || ans.audio != (codec{"PCMU", 0}) || ans.eventPT != 101 || ans.addr.String() != "127.0.0.1:40000" {
		t.Errorf("offer as answer: %+v, %v", ans, err)
	}
	if v6 := string(sdpOffer(net.ParseIP("::1"), 40000, 42)); !strings.Contains(v6, "c=IN IP6 ::1\r\n") {
		t.Errorf("IPv6 offer:\n%s", v6)
	}
}

func TestParseSDPAnswer(t *testing.T) {
	tests := []struct {
		name    string
		sdp     string
		addr    string
		audio   codec
		eventPT int
		ok      bool
	}{
		{"pcma preferred", "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 8 0 101\na=rtpmap:101 telephone-event/8000\n",
			"10.0.0.1:4000", codec{"PCMA", 8}, 101, true},
		{"media level c= wins", "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 10.0.0.2\r\n",
			"10.0.0.2:4000", codec{"PCMU", 0}, -1, true},
		{"dynamic pcmu, renumbered events", "c=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 96 97\na=rtpmap:96 PCMU/8000\na=rtpmap:97 telephone-event/8000\n",
			"10.0.0.1:4000", codec{"PCMU", 96}, 97, true},
		{"video first", "c=IN IP4 10.0.0.1\nm=video 5000 RTP/AVP 31\nm=audio 4000 RTP/AVP 0\n",
			"10.0.0.1:4000", codec{"PCMU", 0}, -1, true},
		{"second audio stream ignored", "c=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 18\nm=audio 4002 RTP/AVP 0\n", "", codec{}, 0, false},
		{"rejected stream", "c=IN IP4 10.0.0.1\nm=audio 0 RTP/AVP 0\n", "", codec{}, 0, false},
		{"no common codec", "c=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 18 9\n", "", codec{}, 0, false},
		{"srtp", "c=IN IP4 10.0.0.1\nm=audio 4000 RTP/SAVP 0\n", "", codec{}, 0, false},
		{"no address", "m=audio 4000 RTP/AVP 0\n", "", codec{}, 0, false},
		{"hold address", "c=IN IP4 0.0.0.0\nm=audio 4000 RTP/AVP 0\n", "", codec{}, 0, false},
		{"empty", "", "", codec{}, 0, false},
		{"pcmu at 16k is not pcmu", "c=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 96\na=rtpmap:96 PCMU/16000\n", "", codec{}, 0, false},
	}
	for _, tt := range tests {
		ans, err := parseSDPAnswer([]byte(tt.sdp))
		if tt.ok != (err == nil) {
			t.Errorf("%s: error %v", tt.name, err)
			continue
		}
		if !tt.ok {
			continue
		}
		if ans.addr.String() != tt.addr || ans.audio != tt.audio || ans.eventPT != tt.eventPT {
			t.Errorf("%s: got %s %+v %d", tt.name, ans.addr, ans.audio, ans.eventPT)
		}
	}
}

func FuzzParseSDPAnswer(f *testing.F) {
	f.Add([]byte(sdpOffer(net.IPv4(127, 0, 0, 1), 4000, 1)))
	f.Add([]byte("c=IN IP6 ::1/127\nm=audio 4000/2 RTP/AVPF 96\na=rtpmap:96 PCMA/8000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ans, err := parseSDPAnswer(b)
		if err != nil {
			return
		}
		if ans.addr == nil || ans.addr.Port <= 0 || ans.addr.Port > 65535 || ans.addr.IP.IsUnspecified() {
			t.Fatalf("accepted address %v", ans.addr)
		}
		if ans.audio.name != "PCMU" && ans.audio.name != "PCMA" || ans.audio.pt > 127 {
			t.Fatalf("accepted codec %+v", ans.audio)
		}
	})
}

// BenchmarkRTPFrame measures building one 20 ms PCMU packet: what every
// live call costs the gateway 50 times a second.
func BenchmarkRTPFrame(b *testing.B) {
	encode := encoderFor("PCMU")
	pkt := make([]byte, rtpHeaderSize+samplesPerPacket)
	frame := tone(20 * time.Millisecond)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		putRTPHeader(pkt, ptPCMU, false, uint16(i), uint32(i*samplesPerPacket), 42)
		encode(pkt[rtpHeaderSize:], frame)
	}
}

func BenchmarkDTMFDetector(b *testing.B) {
	var d dtmfDetector
	payload := event(5, false, 160)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.feed(uint32(i/8), payload) // eight packets per event
	}
}

func BenchmarkParseSDPAnswer(b *testing.B) {
	offer := sdpOffer(net.IPv4(127, 0, 0, 1), 40000, 42)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseSDPAnswer(offer); err != nil {
			b.Fatal(err)
		}
	}
}
