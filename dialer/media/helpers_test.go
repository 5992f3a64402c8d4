package media

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// chunk is one RIFF chunk for building test files.
type chunk struct {
	id   string
	body []byte
}

// riff builds a RIFF WAVE file of chunks, padding odd ones as writers must.
func riff(chunks ...chunk) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WAVE")
	for _, c := range chunks {
		b = append(b, c.id...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(c.body)))
		b = append(b, c.body...)
		if len(c.body)%2 == 1 {
			b = append(b, 0)
		}
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

// fmtChunk is a plain fmt chunk; width is bytes per sample.
func fmtChunk(tag uint16, channels, rate, bits int) chunk {
	width := (bits + 7) / 8
	var b []byte
	le := binary.LittleEndian
	b = le.AppendUint16(b, tag)
	b = le.AppendUint16(b, uint16(channels))
	b = le.AppendUint32(b, uint32(rate))
	b = le.AppendUint32(b, uint32(rate*channels*width))
	b = le.AppendUint16(b, uint16(channels*width))
	b = le.AppendUint16(b, uint16(bits))
	return chunk{"fmt ", b}
}

// extensibleChunk is a WAVE_FORMAT_EXTENSIBLE fmt chunk of subformat tag.
func extensibleChunk(tag uint16, channels, rate, bits int) chunk {
	c := fmtChunk(waveExtensible, channels, rate, bits)
	le := binary.LittleEndian
	c.body = le.AppendUint16(c.body, 22)           // cbSize
	c.body = le.AppendUint16(c.body, uint16(bits)) // valid bits
	c.body = le.AppendUint32(c.body, 0)            // channel mask
	c.body = le.AppendUint16(c.body, tag)
	c.body = append(c.body, ksSubformatTail...)
	return c
}

// tone returns frames of a sine of freq Hz at amplitude amp (full scale 1),
// with each channel c at amplitude amp/(c+1) so that interleaving shows.
func tone(rate, channels int, freq, amp float64, frames int) []float64 {
	out := make([]float64, frames*channels)
	for i := range frames {
		s := amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))
		for c := range channels {
			out[i*channels+c] = s / float64(c+1)
		}
	}
	return out
}

// encode stores samples (full scale 1) in the given WAV codec.
func encode(codec string, samples []float64) []byte {
	le := binary.LittleEndian
	var b []byte
	for _, v := range samples {
		i16 := int16(math.Round(v * 32767))
		switch codec {
		case "pcm_u8":
			b = append(b, byte(math.Round(v*127)+128))
		case "pcm_s16":
			b = le.AppendUint16(b, uint16(i16))
		case "pcm_s24":
			x := int32(math.Round(v * (1<<23 - 1)))
			b = append(b, byte(x), byte(x>>8), byte(x>>16))
		case "pcm_s32":
			b = le.AppendUint32(b, uint32(int32(math.Round(v*(1<<31-1)))))
		case "float32":
			b = le.AppendUint32(b, math.Float32bits(float32(v)))
		case "float64":
			b = le.AppendUint64(b, math.Float64bits(v))
		case "ulaw":
			b = append(b, EncodeULaw(i16))
		case "alaw":
			b = append(b, EncodeALaw(i16))
		default:
			panic("unknown codec " + codec)
		}
	}
	return b
}

// amplitude measures the amplitude (full scale 32767) of the freq Hz
// component of x with the Goertzel algorithm.
func amplitude(x []int16, rate int, freq float64) float64 {
	w := 2 * math.Pi * freq / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = float64(v)+coeff*s1-s2, s1
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * math.Sqrt(max(power, 0)) / float64(len(x))
}

func rms(x []int16) float64 {
	var sum float64
	for _, v := range x {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(x)))
}

func dB(ratio float64) float64 { return 20 * math.Log10(ratio) }

// wantInvalid fails t unless err is a validation error on "file" of the
// given kind whose reason contains substr.
func wantInvalid(t *testing.T, err error, kind Error, substr string) {
	t.Helper()
	var e *dialer.Error
	switch {
	case err == nil:
		t.Fatalf("got no error, want %q", kind)
	case !errors.As(err, &e) || e.Code != dialer.CodeInvalid:
		t.Fatalf("error %v is not a validation error", err)
	case !errors.Is(err, kind):
		t.Fatalf("error %v is not %q", err, kind)
	case !strings.Contains(e.Fields["file"], substr):
		t.Fatalf("reason %q does not contain %q", e.Fields["file"], substr)
	}
}
