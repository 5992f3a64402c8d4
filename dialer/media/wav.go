package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// WAVE format tags.
const (
	wavePCM        = 0x0001
	waveFloat      = 0x0003
	waveALaw       = 0x0006
	waveULaw       = 0x0007
	waveExtensible = 0xFFFE
)

// ksSubformatTail is what follows the format tag in the subformat GUID of
// WAVE_FORMAT_EXTENSIBLE for every tag-derived subtype
// (XXXXXXXX-0000-0010-8000-00AA00389B71, little-endian fields).
const ksSubformatTail = "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"

// wavStreamingSize is the data size that writers which cannot seek back
// (FFmpeg to a pipe, for one) leave in the header: "until the end".
const wavStreamingSize = 0xFFFFFFFF

// wavFormat is what decoding needs of a fmt chunk.
type wavFormat struct {
	codec    string
	channels int
	rate     int
	width    int // bytes per sample in the file
}

// decodeWAV decodes a RIFF WAVE file already known to start with RIFF/WAVE.
func decodeWAV(data []byte) (*PCM, AudioInfo, error) {
	// Writers often get the RIFF size wrong (0, or the size before a final
	// chunk was added), so the chunks are walked to the end of the data and
	// only their own sizes are trusted. The walk stops once it has fmt and
	// data: whatever metadata follows, damaged or not, is of no interest.
	var fmtChunk, dataChunk []byte
	haveFmt, haveData := false, false
	for p := 12; p < len(data) && !(haveFmt && haveData); {
		if len(data)-p < 8 {
			return nil, AudioInfo{}, invalid(ErrBadAudio, nil, "WAV: truncated: %d bytes where a chunk header should be", len(data)-p)
		}
		id := string(data[p : p+4])
		size := binary.LittleEndian.Uint32(data[p+4:])
		body := p + 8
		if uint64(size) > uint64(len(data)-body) {
			switch {
			case id == "data" && size == wavStreamingSize:
				size = uint32(len(data) - body)
			case id == "data":
				return nil, AudioInfo{}, invalid(ErrBadAudio, nil, "WAV: truncated: the data chunk declares %d bytes, %d are present", size, len(data)-body)
			default:
				return nil, AudioInfo{}, invalid(ErrBadAudio, nil, "WAV: truncated: the %q chunk declares %d bytes, %d are present", id, size, len(data)-body)
			}
		}
		chunk := data[body : body+int(size)]
		switch id {
		case "fmt ":
			if !haveFmt {
				fmtChunk, haveFmt = chunk, true
			}
		case "data":
			if !haveData {
				dataChunk, haveData = chunk, true
			}
		}
		// Chunks are padded to even sizes; the pad byte is not counted.
		p = body + int(size) + int(size&1)
	}
	switch {
	case !haveFmt:
		return nil, AudioInfo{}, invalid(ErrBadAudio, nil, "WAV: no fmt chunk")
	case !haveData:
		return nil, AudioInfo{}, invalid(ErrBadAudio, nil, "WAV: no data chunk")
	}
	f, err := parseWAVFormat(fmtChunk)
	if err != nil {
		return nil, AudioInfo{}, err
	}

	block := f.channels * f.width
	frames := len(dataChunk) / block // a partial last frame is dropped
	if frames == 0 {
		return nil, AudioInfo{}, invalid(ErrBadAudio, nil, "WAV: no audio samples")
	}
	if err := checkSize(int64(frames), f.channels, f.rate); err != nil {
		return nil, AudioInfo{}, err
	}
	samples := make([]int16, frames*f.channels)
	convertWAVSamples(samples, dataChunk[:frames*block], f)
	p := &PCM{Rate: f.rate, Channels: f.channels, Samples: samples}
	return p, AudioInfo{Format: "wav", Codec: f.codec}, nil
}

// parseWAVFormat reads a fmt chunk and checks that its numbers make sense
// together before anything is sized from them.
func parseWAVFormat(c []byte) (wavFormat, error) {
	if len(c) < 16 {
		return wavFormat{}, invalid(ErrBadAudio, nil, "WAV: fmt chunk too short (%d bytes)", len(c))
	}
	le := binary.LittleEndian
	tag := le.Uint16(c[0:])
	channels := int(le.Uint16(c[2:]))
	rate := le.Uint32(c[4:])
	blockAlign := int(le.Uint16(c[12:]))
	bits := int(le.Uint16(c[14:]))
	if tag == waveExtensible {
		if len(c) < 40 {
			return wavFormat{}, invalid(ErrBadAudio, nil, "WAV: extensible fmt chunk too short (%d bytes)", len(c))
		}
		sub := c[24:40]
		if string(sub[2:]) != ksSubformatTail {
			return wavFormat{}, invalid(ErrBadAudio, nil, "WAV: unsupported extensible subformat")
		}
		tag = le.Uint16(sub)
	}

	f := wavFormat{channels: channels, rate: int(rate), width: (bits + 7) / 8}
	switch {
	case tag == wavePCM && bits >= 1 && bits <= 32:
		f.codec = [...]string{"pcm_u8", "pcm_s16", "pcm_s24", "pcm_s32"}[f.width-1]
	case tag == waveFloat && (bits == 32 || bits == 64):
		f.codec = fmt.Sprintf("float%d", bits)
	case tag == waveULaw && bits == 8:
		f.codec = "ulaw"
	case tag == waveALaw && bits == 8:
		f.codec = "alaw"
	case tag == wavePCM, tag == waveFloat, tag == waveULaw, tag == waveALaw:
		return wavFormat{}, invalid(ErrBadAudio, nil, "WAV: %d bits per sample is not valid for format %#04x", bits, tag)
	default:
		return wavFormat{}, invalid(ErrBadAudio, nil, "WAV: unsupported encoding (format %#04x): use PCM, float, µ-law or A-law", tag)
	}
	switch {
	case channels < 1 || channels > MaxChannels:
		return wavFormat{}, invalid(ErrBadAudio, nil, "WAV: %d channels: 1 to %d are supported", channels, MaxChannels)
	case rate < MinRate || rate > MaxRate:
		return wavFormat{}, invalid(ErrBadAudio, nil, "WAV: sample rate %d Hz: %d to %d are supported", rate, MinRate, MaxRate)
	case blockAlign != channels*f.width:
		return wavFormat{}, invalid(ErrBadAudio, nil, "WAV: block align %d does not match %d channels of %d bytes", blockAlign, channels, f.width)
	}
	return f, nil
}

// convertWAVSamples scales the samples of src, in format f, to 16 bits into
// dst, which holds exactly len(src)/f.width values.
func convertWAVSamples(dst []int16, src []byte, f wavFormat) {
	le := binary.LittleEndian
	switch f.codec {
	case "pcm_u8":
		for i, b := range src {
			dst[i] = int16(int(b)-128) << 8
		}
	case "pcm_s16":
		for i := range dst {
			dst[i] = int16(le.Uint16(src[2*i:]))
		}
	case "pcm_s24":
		for i := range dst {
			b := src[3*i:]
			// Place the 24 bits at the top of an int32 so the shift keeps the sign.
			dst[i] = roundShift(int64(int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24)>>8), 8)
		}
	case "pcm_s32":
		for i := range dst {
			dst[i] = roundShift(int64(int32(le.Uint32(src[4*i:]))), 16)
		}
	case "float32":
		for i := range dst {
			dst[i] = floatToInt16(float64(math.Float32frombits(le.Uint32(src[4*i:]))))
		}
	case "float64":
		for i := range dst {
			dst[i] = floatToInt16(math.Float64frombits(le.Uint64(src[8*i:])))
		}
	case "ulaw":
		for i, b := range src {
			dst[i] = DecodeULaw(b)
		}
	case "alaw":
		for i, b := range src {
			dst[i] = DecodeALaw(b)
		}
	}
}

// roundShift drops the low n bits of v, rounding to nearest rather than
// down, which would bias every sample by half a step.
func roundShift(v int64, n uint) int16 {
	return int16(min((v+1<<(n-1))>>n, math.MaxInt16))
}

// floatToInt16 maps full scale [-1, 1] to 16 bits, clipping what is louder
// and silencing NaN.
func floatToInt16(v float64) int16 {
	switch {
	case v != v:
		return 0
	case v >= 1:
		return math.MaxInt16
	case v <= -1:
		return -math.MaxInt16
	}
	return int16(math.Round(v * math.MaxInt16))
}

// WriteWAV writes samples as a 16-bit mono PCM WAV file at rate.
func WriteWAV(w io.Writer, rate int, samples []int16) error {
	if rate <= 0 || rate > MaxRate {
		return fmt.Errorf("media: WriteWAV: invalid sample rate %d", rate)
	}
	const headerSize = 44
	dataSize := uint64(len(samples)) * 2
	if dataSize > math.MaxUint32-(headerSize-8) {
		return errors.New("media: WriteWAV: too many samples for a WAV file")
	}
	var h [headerSize]byte
	le := binary.LittleEndian
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], uint32(dataSize)+headerSize-8)
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)      // fmt chunk size
	le.PutUint16(h[20:], wavePCM) // format
	le.PutUint16(h[22:], 1)       // channels
	le.PutUint32(h[24:], uint32(rate))
	le.PutUint32(h[28:], uint32(rate)*2) // byte rate
	le.PutUint16(h[32:], 2)              // block align
	le.PutUint16(h[34:], 16)             // bits per sample
	copy(h[36:], "data")
	le.PutUint32(h[40:], uint32(dataSize))
	if _, err := w.Write(h[:]); err != nil {
		return fmt.Errorf("media: writing WAV: %w", err)
	}

	buf := make([]byte, 0, 16<<10)
	for len(samples) > 0 {
		n := min(len(samples), cap(buf)/2)
		buf = buf[:0]
		for _, s := range samples[:n] {
			buf = le.AppendUint16(buf, uint16(s))
		}
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("media: writing WAV: %w", err)
		}
		samples = samples[n:]
	}
	return nil
}
