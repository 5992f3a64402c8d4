package media

import (
	"bytes"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// The fixture is 1.5 s of a 1 kHz sine at half scale, 44.1 kHz mono, 64
// kbit/s CBR with a LAME gapless header (see testdata/README).
const (
	mp3Fixture         = "testdata/tone-1khz-44k1-mono.mp3"
	mp3FixtureDuration = 1500 * time.Millisecond
)

func testdataMP3() ([]byte, error) { return os.ReadFile(mp3Fixture) }

func readMP3(t *testing.T) []byte {
	t.Helper()
	b, err := testdataMP3()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeMP3(t *testing.T) {
	file := readMP3(t)
	p, info, err := decodeAudio(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Rate != 44100 || p.Channels != 1 {
		t.Errorf("got %d Hz, %d channels; want 44100 Hz mono", p.Rate, p.Channels)
	}
	if d := p.Duration() - mp3FixtureDuration; d < -50*time.Millisecond || d > 50*time.Millisecond {
		t.Errorf("duration %v, want %v ± 50ms", p.Duration(), mp3FixtureDuration)
	}
	if info.Format != "mp3" || info.Codec != "mp3" || info.Duration != p.Duration() {
		t.Errorf("info = %+v", info)
	}

	// With the encoder delay trimmed, the decoded tone is in phase with the
	// one that was encoded.
	var errSum, sigSum float64
	for i := 1000; i < p.Frames()-1000; i++ {
		want := 16000 * math.Sin(2*math.Pi*1000*float64(i)/44100)
		errSum += (float64(p.Samples[i]) - want) * (float64(p.Samples[i]) - want)
		sigSum += want * want
	}
	if snr := 10 * math.Log10(sigSum/errSum); snr < 20 {
		t.Errorf("decoded tone is %.1f dB off the original: delay not trimmed right?", snr)
	}

	tel := ToTelephony(p)
	if a := amplitude(tel, TelephonyRate, 1000); math.Abs(dB(a/16000)) > 1 {
		t.Errorf("1 kHz at %.0f after conversion, want about 16000", a)
	}
}

func TestDecodeMP3Tags(t *testing.T) {
	file := readMP3(t)
	want, err := DecodeAudio(bytes.NewReader(file), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	// ID3v2.4 with one text frame, 2 bytes of padding and a footer.
	frame := "TIT2\x00\x00\x00\x05\x00\x00\x03Hi!\x00"
	body := frame + "\x00\x00"
	id3 := "ID3\x04\x00\x10\x00\x00\x00" + string(rune(len(body))) + body + "3DI\x04\x00\x10\x00\x00\x00" + string(rune(len(body)))
	id3v1 := "TAG" + strings.Repeat("\xff\xfb", 62) + "\x00"
	for name, f := range map[string][]byte{
		"ID3v2":          append([]byte(id3), file...),
		"two ID3v2 tags": append([]byte(id3+id3), file...),
		"ID3v1":          append(bytes.Clone(file), id3v1...),
	} {
		p, err := DecodeAudio(bytes.NewReader(f), 1<<20)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if p.Frames() != want.Frames() {
			t.Errorf("%s: %d frames, want %d", name, p.Frames(), want.Frames())
		}
	}
}

func TestDecodeMP3Damaged(t *testing.T) {
	file := readMP3(t)

	// Frames are independent enough that a cut-off upload still plays, as
	// far as it goes.
	p, err := DecodeAudio(bytes.NewReader(file[:len(file)/2]), 1<<20)
	if err != nil {
		t.Fatalf("first half: %v", err)
	}
	if d := p.Duration(); d < 500*time.Millisecond || d > 900*time.Millisecond {
		t.Errorf("first half lasts %v", d)
	}

	first, _ := parseMP3Frame(file)
	tests := []struct {
		name   string
		file   []byte
		kind   Error
		reason string
	}{
		// One frame and a bit: the header frame carries no audio.
		{"header frame only", file[:first.size+100], ErrBadAudio, "MP3"},
		{"half a frame", file[:100], ErrBadAudio, "MP3"},
		// A frame header followed by anything but another frame.
		{"lone sync", append(bytes.Clone(file[:4]), bytes.Repeat([]byte{0x55}, 1000)...), ErrNotAudio, notAudio},
		{"layer II", append([]byte{0xFF, 0xFD, 0x90, 0x00}, make([]byte, 1000)...), ErrNotAudio, notAudio},
		{"free format", append([]byte{0xFF, 0xFB, 0x00, 0x00}, make([]byte, 1000)...), ErrNotAudio, notAudio},
		{"ID3 then text", append([]byte("ID3\x03\x00\x00\x00\x00\x00\x02ab"), "not audio at all"...), ErrNotAudio, notAudio},
		{"ID3 truncated", append([]byte("ID3\x03\x00\x00\x00\x00\x7f\x7f"), file...), ErrNotAudio, notAudio},
		{"ID3 bad size", append([]byte("ID3\x03\x00\x00\x80\x00\x00\x00"), file...), ErrNotAudio, notAudio},
		{"garbage frames", func() []byte {
			b := bytes.Clone(file)
			for i := 8; i < len(b); i += 3 {
				b[i] ^= 0xA5
			}
			return b
		}(), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DecodeAudio(bytes.NewReader(tt.file), 1<<20)
			if tt.kind == "" { // anything goes but a panic or an unbounded result
				if err == nil && p.Duration() > 2*mp3FixtureDuration {
					t.Errorf("decoded %v from garbage", p.Duration())
				}
				return
			}
			wantInvalid(t, err, tt.kind, tt.reason)
		})
	}
}

func TestParseMP3Frame(t *testing.T) {
	tests := []struct {
		header          []byte
		rate, size, spf int
		mono            bool
	}{
		{[]byte{0xFF, 0xFB, 0x50, 0xC4}, 44100, 208, 1152, true},  // MPEG 1, 64 kbit/s
		{[]byte{0xFF, 0xFB, 0x92, 0x64}, 44100, 418, 1152, false}, // 128 kbit/s, padded
		{[]byte{0xFF, 0xF3, 0x40, 0xC4}, 22050, 104, 576, true},   // MPEG 2, 32 kbit/s
		{[]byte{0xFF, 0xE3, 0x18, 0xC4}, 8000, 72, 576, true},     // MPEG 2.5, 8 kbit/s
	}
	for _, tt := range tests {
		f, ok := parseMP3Frame(tt.header)
		if !ok || f.rate != tt.rate || f.size != tt.size || f.samples != tt.spf || f.mono != tt.mono {
			t.Errorf("parseMP3Frame(% x) = %+v, %v", tt.header, f, ok)
		}
	}
	for _, h := range [][]byte{
		{0xFF, 0xFB, 0xF0, 0x00}, // bitrate index 15
		{0xFF, 0xFB, 0x0C, 0x00}, // sample rate index 3
		{0xFF, 0xEB, 0x90, 0x00}, // reserved version
		{0xFF, 0xFB, 0x90, 0x02}, // reserved emphasis
		{0xFF, 0xFF, 0x90, 0x00}, // layer I
		{0xFE, 0xFB, 0x90, 0x00},
		{0xFF, 0xFB, 0x90},
	} {
		if f, ok := parseMP3Frame(h); ok {
			t.Errorf("parseMP3Frame(% x) = %+v, want not ok", h, f)
		}
	}
}
