package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

func TestDecodeWAVVariants(t *testing.T) {
	tests := []struct {
		name     string
		codec    string
		fmt      chunk
		channels int
		rate     int
		tol      float64 // largest error allowed, in 16-bit units
	}{
		{"pcm 8-bit mono 8k", "pcm_u8", fmtChunk(wavePCM, 1, 8000, 8), 1, 8000, 256},
		{"pcm 16-bit mono 8k", "pcm_s16", fmtChunk(wavePCM, 1, 8000, 16), 1, 8000, 1},
		{"pcm 16-bit stereo 44.1k", "pcm_s16", fmtChunk(wavePCM, 2, 44100, 16), 2, 44100, 1},
		{"pcm 16-bit 6 channels 48k", "pcm_s16", fmtChunk(wavePCM, 6, 48000, 16), 6, 48000, 1},
		{"pcm 24-bit stereo 48k", "pcm_s24", fmtChunk(wavePCM, 2, 48000, 24), 2, 48000, 1},
		{"pcm 32-bit mono 96k", "pcm_s32", fmtChunk(wavePCM, 1, 96000, 32), 1, 96000, 1},
		{"float 32 stereo 44.1k", "float32", fmtChunk(waveFloat, 2, 44100, 32), 2, 44100, 1},
		{"float 64 mono 22.05k", "float64", fmtChunk(waveFloat, 1, 22050, 64), 1, 22050, 1},
		{"µ-law mono 8k", "ulaw", fmtChunk(waveULaw, 1, 8000, 8), 1, 8000, 600},
		{"A-law mono 8k", "alaw", fmtChunk(waveALaw, 1, 8000, 8), 1, 8000, 600},
		{"extensible pcm 16-bit stereo", "pcm_s16", extensibleChunk(wavePCM, 2, 16000, 16), 2, 16000, 1},
		{"extensible pcm 24-bit mono", "pcm_s24", extensibleChunk(wavePCM, 1, 48000, 24), 1, 48000, 1},
		{"extensible float 32", "float32", extensibleChunk(waveFloat, 2, 32000, 32), 2, 32000, 1},
		{"odd rate 11025", "pcm_s16", fmtChunk(wavePCM, 1, 11025, 16), 1, 11025, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames := tt.rate / 4 // 250 ms
			want := tone(tt.rate, tt.channels, 440, 0.5, frames)
			file := riff(tt.fmt, chunk{"data", encode(tt.codec, want)})
			p, info, err := decodeAudio(bytes.NewReader(file), int64(len(file)))
			if err != nil {
				t.Fatal(err)
			}
			if p.Rate != tt.rate || p.Channels != tt.channels || p.Frames() != frames {
				t.Fatalf("got %d Hz, %d channels, %d frames; want %d, %d, %d",
					p.Rate, p.Channels, p.Frames(), tt.rate, tt.channels, frames)
			}
			dur := time.Duration(frames) * time.Second / time.Duration(tt.rate)
			if d := p.Duration(); d != dur {
				t.Errorf("Duration = %v, want %v", d, dur)
			}
			wantInfo := AudioInfo{Format: "wav", Codec: tt.codec, Rate: tt.rate, Channels: tt.channels, Duration: dur}
			if info != wantInfo {
				t.Errorf("info = %+v, want %+v", info, wantInfo)
			}
			for i, v := range want {
				if e := math.Abs(float64(p.Samples[i]) - v*32767); e > tt.tol {
					t.Fatalf("sample %d = %d, want %.0f ± %.0f", i, p.Samples[i], v*32767, tt.tol)
				}
			}
		})
	}
}

func TestDecodeWAVChunks(t *testing.T) {
	samples := encode("pcm_s16", tone(8000, 1, 440, 0.5, 800))
	f := fmtChunk(wavePCM, 1, 8000, 16)
	data := chunk{"data", samples}
	oddList := chunk{"LIST", []byte("INFOISFT\x05\x00\x00\x00Lavf\x00")} // odd size, padded
	tests := []struct {
		name string
		file []byte
	}{
		{"plain", riff(f, data)},
		{"unknown chunks first", riff(chunk{"JUNK", make([]byte, 28)}, oddList, f, chunk{"fact", []byte{0, 0, 0, 0}}, data)},
		{"odd chunk between fmt and data", riff(f, oddList, data)},
		{"data before fmt", riff(data, f)},
		{"metadata after data", riff(f, data, oddList)},
		{"extended fmt chunk", riff(chunk{"fmt ", append(f.body, 0, 0)}, data)},
		{"RIFF size zero", func() []byte { b := riff(f, data); binary.LittleEndian.PutUint32(b[4:], 0); return b }()},
		{"trailing garbage", append(riff(f, data), 1, 2, 3)},
		{"truncated chunk after data", append(riff(f, data), []byte("LIST\xff\x00\x00\x00abc")...)},
		{"streaming data size", func() []byte {
			b := riff(f, data)
			binary.LittleEndian.PutUint32(b[len(b)-len(samples)-4:], wavStreamingSize)
			return b
		}()},
		{"partial last frame dropped", riff(f, chunk{"data", append(samples[:len(samples):len(samples)], 0x7f)})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DecodeAudio(bytes.NewReader(tt.file), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if p.Rate != 8000 || p.Channels != 1 || p.Frames() != 800 {
				t.Fatalf("got %d Hz, %d channels, %d frames", p.Rate, p.Channels, p.Frames())
			}
		})
	}
}

func TestDecodeAudioRejects(t *testing.T) {
	pcm := encode("pcm_s16", tone(8000, 1, 440, 0.5, 800))
	f := fmtChunk(wavePCM, 1, 8000, 16)
	good := riff(f, chunk{"data", pcm})
	badAlign := fmtChunk(wavePCM, 2, 8000, 16)
	binary.LittleEndian.PutUint16(badAlign.body[12:], 3)
	badGUID := extensibleChunk(wavePCM, 1, 8000, 16)
	badGUID.body[len(badGUID.body)-1] ^= 0xFF

	tests := []struct {
		name   string
		file   []byte
		kind   Error
		reason string
	}{
		{"empty", nil, ErrNotAudio, notAudio},
		{"text", []byte("hello, this is not a recording"), ErrNotAudio, notAudio},
		{"pdf", []byte("%PDF-1.4\n%âãÏÓ\n1 0 obj"), ErrNotAudio, notAudio},
		{"avi", append([]byte("RIFF\x10\x00\x00\x00AVI LIST"), make([]byte, 8)...), ErrNotAudio, notAudio},
		{"ogg", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"), ErrNotAudio, notAudio},
		{"riff header only", []byte("RIFF\x04\x00\x00\x00WAVE"), ErrBadAudio, "no fmt chunk"},
		{"truncated header", good[:40], ErrBadAudio, "truncated"},
		{"truncated data", good[:len(good)-100], ErrBadAudio, "truncated"},
		{"truncated fmt", good[:24], ErrBadAudio, "truncated"},
		{"no data chunk", riff(f), ErrBadAudio, "no data chunk"},
		{"no fmt chunk", riff(chunk{"data", pcm}), ErrBadAudio, "no fmt chunk"},
		{"empty data", riff(f, chunk{"data", nil}), ErrBadAudio, "no audio samples"},
		{"fmt too short", riff(chunk{"fmt ", f.body[:14]}, chunk{"data", pcm}), ErrBadAudio, "fmt chunk too short"},
		{"extensible too short", riff(chunk{"fmt ", extensibleChunk(wavePCM, 1, 8000, 16).body[:30]}, chunk{"data", pcm}), ErrBadAudio, "too short"},
		{"extensible unknown GUID", riff(badGUID, chunk{"data", pcm}), ErrBadAudio, "subformat"},
		{"adpcm", riff(fmtChunk(0x0011, 1, 8000, 4), chunk{"data", pcm}), ErrBadAudio, "unsupported encoding"},
		{"mp3 in wav", riff(fmtChunk(0x0055, 1, 8000, 0), chunk{"data", pcm}), ErrBadAudio, "unsupported encoding"},
		{"float 16", riff(fmtChunk(waveFloat, 1, 8000, 16), chunk{"data", pcm}), ErrBadAudio, "bits per sample"},
		{"µ-law 16", riff(fmtChunk(waveULaw, 1, 8000, 16), chunk{"data", pcm}), ErrBadAudio, "bits per sample"},
		{"pcm 0 bits", riff(fmtChunk(wavePCM, 1, 8000, 0), chunk{"data", pcm}), ErrBadAudio, "bits per sample"},
		{"pcm 40 bits", riff(fmtChunk(wavePCM, 1, 8000, 40), chunk{"data", pcm}), ErrBadAudio, "bits per sample"},
		{"0 channels", riff(fmtChunk(wavePCM, 0, 8000, 16), chunk{"data", pcm}), ErrBadAudio, "channels"},
		{"9 channels", riff(fmtChunk(wavePCM, 9, 8000, 16), chunk{"data", pcm}), ErrBadAudio, "channels"},
		{"rate 0", riff(fmtChunk(wavePCM, 1, 0, 16), chunk{"data", pcm}), ErrBadAudio, "sample rate"},
		{"rate absurd", riff(fmtChunk(wavePCM, 1, 1<<30, 16), chunk{"data", pcm}), ErrBadAudio, "sample rate"},
		{"block align", riff(badAlign, chunk{"data", pcm}), ErrBadAudio, "block align"},
		{"huge data size", func() []byte {
			b := riff(f, chunk{"data", pcm})
			binary.LittleEndian.PutUint32(b[len(b)-len(pcm)-4:], 0x7FFFFFFF)
			return b
		}(), ErrBadAudio, "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DecodeAudio(bytes.NewReader(tt.file), 1<<20)
			if p != nil {
				t.Errorf("got PCM with the error")
			}
			wantInvalid(t, err, tt.kind, tt.reason)
		})
	}
}

func TestDecodeAudioLimits(t *testing.T) {
	file := riff(fmtChunk(wavePCM, 1, 8000, 16), chunk{"data", encode("pcm_s16", tone(8000, 1, 440, 0.5, 800))})
	n := int64(len(file))
	if _, err := DecodeAudio(bytes.NewReader(file), n); err != nil {
		t.Errorf("file of exactly maxBytes: %v", err)
	}
	_, err := DecodeAudio(bytes.NewReader(file), n-1)
	wantInvalid(t, err, ErrTooLarge, "larger than")
	if _, err := DecodeAudio(bytes.NewReader(file), math.MaxInt64); err != nil {
		t.Errorf("maxBytes = MaxInt64: %v", err)
	}
	if _, err := DecodeAudio(bytes.NewReader(file), 0); err == nil || dialer.ErrorCode(err) != dialer.CodeInternal {
		t.Errorf("maxBytes = 0: got %v, want a programming error", err)
	}

	boom := errors.New("connection reset")
	_, err = DecodeAudio(iotest.ErrReader(boom), 1<<20)
	if !errors.Is(err, boom) || dialer.ErrorCode(err) != dialer.CodeInternal {
		t.Errorf("read failure: got %v, want the reader's error, not a validation error", err)
	}

	// The caps apply before allocation; checking them directly avoids
	// building hour-long files.
	wantInvalid(t, checkSize(MaxSamples/2+1, 2, 48000), ErrTooLarge, "decoded samples")
	wantInvalid(t, checkSize(3600*4000+1, 1, 4000), ErrTooLarge, "longer than")
	if err := checkSize(3600*4000, 1, 4000); err != nil {
		t.Errorf("an hour at 4 kHz: %v", err)
	}
}

func TestWriteWAV(t *testing.T) {
	samples := []int16{0, 1, -1, math.MaxInt16, math.MinInt16, 1234}
	var buf bytes.Buffer
	if err := WriteWAV(&buf, 8000, samples); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if len(b) != 44+2*len(samples) {
		t.Fatalf("file is %d bytes, want %d", len(b), 44+2*len(samples))
	}
	if !strings.HasPrefix(string(b), "RIFF") || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		t.Fatalf("bad header % x", b[:44])
	}
	if got := binary.LittleEndian.Uint32(b[4:]); got != uint32(len(b)-8) {
		t.Errorf("RIFF size %d, want %d", got, len(b)-8)
	}
	p, info, err := decodeAudio(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if info.Codec != "pcm_s16" || p.Rate != 8000 || p.Channels != 1 {
		t.Errorf("read back %+v", info)
	}
	for i, s := range samples {
		if p.Samples[i] != s {
			t.Errorf("sample %d = %d, want %d", i, p.Samples[i], s)
		}
	}

	// Big enough to take several buffers.
	long := make([]int16, 40000)
	for i := range long {
		long[i] = int16(i)
	}
	buf.Reset()
	if err := WriteWAV(&buf, 16000, long); err != nil {
		t.Fatal(err)
	}
	p, err = DecodeAudio(&buf, 1<<20)
	if err != nil || p.Rate != 16000 || len(p.Samples) != len(long) || p.Samples[39999] != long[39999] {
		t.Errorf("long file read back wrong: %v", err)
	}

	for _, rate := range []int{0, -8000, MaxRate + 1} {
		if err := WriteWAV(&buf, rate, samples); err == nil {
			t.Errorf("WriteWAV(rate %d) succeeded", rate)
		}
	}
	boom := errors.New("disk full")
	if err := WriteWAV(failWriter{boom}, 8000, samples); !errors.Is(err, boom) {
		t.Errorf("WriteWAV to a failing writer: %v", err)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestConvertToTelephonyWAV(t *testing.T) {
	src := riff(fmtChunk(wavePCM, 2, 44100, 16), chunk{"data", encode("pcm_s16", tone(44100, 2, 1000, 0.5, 44100))})
	var out bytes.Buffer
	info, err := ConvertToTelephonyWAV(bytes.NewReader(src), &out, int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	want := AudioInfo{Format: "wav", Codec: "pcm_s16", Rate: 44100, Channels: 2, Duration: time.Second}
	if info != want {
		t.Errorf("info = %+v, want %+v", info, want)
	}
	p, err := DecodeAudio(&out, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if p.Rate != TelephonyRate || p.Channels != 1 || p.Frames() != 8000 {
		t.Errorf("output is %d Hz, %d channels, %d frames", p.Rate, p.Channels, p.Frames())
	}

	out.Reset()
	_, err = ConvertToTelephonyWAV(strings.NewReader("not audio"), &out, 1<<20)
	wantInvalid(t, err, ErrNotAudio, notAudio)
	if out.Len() != 0 {
		t.Errorf("wrote %d bytes for rejected input", out.Len())
	}
}

func FuzzDecodeAudio(f *testing.F) {
	pcm := encode("pcm_s16", tone(8000, 1, 440, 0.5, 64))
	f.Add(riff(fmtChunk(wavePCM, 1, 8000, 16), chunk{"data", pcm}))
	f.Add(riff(extensibleChunk(waveFloat, 2, 44100, 32), chunk{"data", encode("float32", tone(44100, 2, 440, 0.5, 32))}))
	f.Add(riff(fmtChunk(waveULaw, 1, 8000, 8), chunk{"LIST", []byte("abc")}, chunk{"data", encode("ulaw", tone(8000, 1, 440, 0.5, 64))}))
	f.Add(riff(fmtChunk(wavePCM, 1, 4000, 8), chunk{"data", encode("pcm_u8", tone(4000, 1, 440, 0.5, 64))}))
	if mp3, err := testdataMP3(); err == nil {
		f.Add(mp3[:min(len(mp3), 2000)])
		f.Add(append([]byte("ID3\x04\x00\x00\x00\x00\x00\x0a"+strings.Repeat("\x00", 10)), mp3[:1000]...))
	}
	f.Add([]byte("\xff\xfb\x90\x00"))
	f.Add([]byte("RIFF"))
	const maxBytes = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodeAudio(bytes.NewReader(data), maxBytes)
		if err != nil {
			if len(data) > maxBytes && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("input over the limit: %v", err)
			}
			if dialer.ErrorCode(err) != dialer.CodeInvalid {
				t.Fatalf("error %v is not a validation error", err)
			}
			return
		}
		if p.Channels < 1 || p.Channels > MaxChannels || p.Rate < MinRate || p.Rate > MaxRate {
			t.Fatalf("decoded %d channels at %d Hz", p.Channels, p.Rate)
		}
		if len(p.Samples) == 0 || len(p.Samples)%p.Channels != 0 || len(p.Samples) > MaxSamples {
			t.Fatalf("decoded %d samples in %d channels", len(p.Samples), p.Channels)
		}
		if p.Duration() > MaxDuration {
			t.Fatalf("decoded %v", p.Duration())
		}
		// Whatever decodes must convert; the output is bounded by duration.
		out := ToTelephony(p)
		if want := int64(p.Frames())*TelephonyRate/int64(p.Rate) + 1; int64(len(out)) > want {
			t.Fatalf("ToTelephony made %d samples of %d frames at %d Hz", len(out), p.Frames(), p.Rate)
		}
	})
}
