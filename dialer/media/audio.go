package media

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Limits on decoded audio. MaxSamples bounds memory (128 MiB of samples:
// 11 minutes of 48 kHz stereo, 70 minutes of 16 kHz mono); MaxDuration
// bounds what a low sample rate could otherwise blow up into at 8 kHz.
const (
	MaxSamples  = 1 << 26 // int16 values, all channels together
	MaxDuration = time.Hour
	MaxChannels = 8
	MinRate     = 4000
	MaxRate     = 384000
)

// notAudio is what a client is told about a file that is neither WAV nor MP3.
const notAudio = "not audio: expected WAV (PCM) or MP3"

// PCM is decoded audio.
type PCM struct {
	Rate     int // frames per second
	Channels int
	// Samples are interleaved: frame i is Samples[i*Channels : (i+1)*Channels].
	Samples []int16
}

// Frames returns the number of sample frames (samples per channel).
func (p *PCM) Frames() int {
	if p.Channels <= 0 {
		return 0
	}
	return len(p.Samples) / p.Channels
}

// Duration returns how long p plays.
func (p *PCM) Duration() time.Duration {
	if p.Rate <= 0 {
		return 0
	}
	return time.Duration(int64(p.Frames()) * int64(time.Second) / int64(p.Rate))
}

// AudioInfo describes a decoded upload.
type AudioInfo struct {
	Format string // "wav" or "mp3"
	// Codec is how the samples were stored: "pcm_u8", "pcm_s16", "pcm_s24",
	// "pcm_s32", "float32", "float64", "ulaw", "alaw" or "mp3".
	Codec    string
	Rate     int
	Channels int
	Duration time.Duration
}

// DecodeAudio reads a WAV or MP3 file of at most maxBytes from r and decodes
// it. The format is told by content, not by name. Bad input gives a
// *dialer.Error with CodeInvalid wrapping ErrNotAudio, ErrBadAudio or
// ErrTooLarge; a failing r gives its error, wrapped.
//
// WAV may hold 8-32 bit integer PCM, 32 or 64 bit IEEE float, or G.711
// µ-law/A-law, in 1 to MaxChannels channels at MinRate to MaxRate; samples
// are scaled to 16 bits. MP3 comes out as the stream's channels (mono or
// stereo), with the encoder delay and padding that a LAME or FFmpeg header
// records trimmed off. An MP3 is read up to its first undecodable frame, as
// players do, so a cut-off upload yields the audio before the cut; a WAV
// whose data chunk is shorter than it says is refused.
func DecodeAudio(r io.Reader, maxBytes int64) (*PCM, error) {
	p, _, err := decodeAudio(r, maxBytes)
	return p, err
}

func decodeAudio(r io.Reader, maxBytes int64) (*PCM, AudioInfo, error) {
	data, err := readAtMost(r, maxBytes)
	if err != nil {
		return nil, AudioInfo{}, err
	}
	var (
		p    *PCM
		info AudioInfo
	)
	switch {
	case isWAV(data):
		p, info, err = decodeWAV(data)
	case isMP3(data):
		p, info, err = decodeMP3(data)
	case len(data) == 0:
		return nil, AudioInfo{}, invalid(ErrNotAudio, nil, "empty file: "+notAudio)
	default:
		return nil, AudioInfo{}, invalid(ErrNotAudio, nil, notAudio)
	}
	if err != nil {
		return nil, AudioInfo{}, err
	}
	info.Rate, info.Channels, info.Duration = p.Rate, p.Channels, p.Duration()
	return p, info, nil
}

// readAtMost reads all of r, refusing more than maxBytes.
func readAtMost(r io.Reader, maxBytes int64) ([]byte, error) {
	if maxBytes <= 0 {
		return nil, errors.New("media: maxBytes must be positive")
	}
	limit := maxBytes
	if limit < math.MaxInt64 {
		limit++ // one more byte tells "exactly maxBytes" from "more"
	}
	data, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		return nil, fmt.Errorf("media: reading upload: %w", err)
	}
	if int64(len(data)) > maxBytes {
		return nil, invalid(ErrTooLarge, nil, "larger than %d bytes", maxBytes)
	}
	return data, nil
}

// checkSize refuses decoded audio over MaxSamples or MaxDuration before it
// is allocated.
func checkSize(frames int64, channels, rate int) error {
	if frames > MaxSamples/int64(channels) {
		return invalid(ErrTooLarge, nil, "more than %d decoded samples", MaxSamples)
	}
	if frames > int64(MaxDuration/time.Second)*int64(rate) {
		return invalid(ErrTooLarge, nil, "longer than %v", MaxDuration)
	}
	return nil
}

// ConvertToTelephonyWAV decodes the audio file in r (as DecodeAudio, at most
// maxBytes) and writes it to w as 8 kHz 16-bit mono WAV, the format the
// media server plays. info describes the source. Nothing is written when
// the input is rejected.
func ConvertToTelephonyWAV(r io.Reader, w io.Writer, maxBytes int64) (info AudioInfo, err error) {
	p, info, err := decodeAudio(r, maxBytes)
	if err != nil {
		return AudioInfo{}, err
	}
	if err := WriteWAV(w, TelephonyRate, ToTelephony(p)); err != nil {
		return AudioInfo{}, err
	}
	return info, nil
}

// isWAV reports whether data starts like a RIFF WAVE file.
func isWAV(data []byte) bool {
	return len(data) >= 12 && bytes.Equal(data[:4], []byte("RIFF")) && bytes.Equal(data[8:12], []byte("WAVE"))
}
