package sip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// maxRecordingBytes bounds what a recording may weigh: an hour of 8 kHz
// 16-bit mono is 57.6 MB.
const maxRecordingBytes = 64 << 20

var errWAVFormat = errors.New("wav: want PCM, 8000 Hz, 16-bit, mono")

// readWAV loads a voicemessage recording: a RIFF WAVE file of 16-bit
// signed little-endian PCM, 8000 Hz, one channel. Nothing is resampled.
func readWAV(path string) ([]int16, error) {
	if path == "" {
		return nil, errors.New("sip: voicemessage without a recording")
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("sip: recording: %w", err)
	}
	if info.Size() > maxRecordingBytes {
		return nil, fmt.Errorf("sip: recording %s is larger than %d bytes", path, maxRecordingBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sip: recording: %w", err)
	}
	samples, err := parseWAV(data)
	if err != nil {
		return nil, fmt.Errorf("sip: recording %s: %w", path, err)
	}
	return samples, nil
}

// parseWAV walks the RIFF chunks for "fmt " and "data".
func parseWAV(data []byte) ([]int16, error) {
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return nil, errors.New("wav: not a RIFF WAVE file")
	}
	var formatOK, sawFormat bool
	rest := data[12:]
	for len(rest) >= 8 {
		id := string(rest[0:4])
		size := uint64(binary.LittleEndian.Uint32(rest[4:8]))
		body := rest[8:]
		// A writer that streamed the file may leave the size too large
		// (0xFFFFFFFF); take what is there.
		if size > uint64(len(body)) {
			size = uint64(len(body))
		}
		chunk := body[:size]
		switch id {
		case "fmt ":
			sawFormat = true
			formatOK = pcm8kMono16(chunk)
			if !formatOK {
				return nil, errWAVFormat
			}
		case "data":
			if !sawFormat {
				return nil, errors.New("wav: data before fmt chunk")
			}
			samples := make([]int16, len(chunk)/2)
			for i := range samples {
				samples[i] = int16(binary.LittleEndian.Uint16(chunk[2*i:]))
			}
			return samples, nil
		}
		// Chunks are padded to an even size.
		next := size + size&1
		if next >= uint64(len(body)) {
			break
		}
		rest = body[next:]
	}
	if !sawFormat {
		return nil, errors.New("wav: no fmt chunk")
	}
	return nil, errors.New("wav: no data chunk")
}

// pcm8kMono16 checks a "fmt " chunk: PCM (or WAVE_FORMAT_EXTENSIBLE with a
// PCM subformat), 1 channel, 8000 Hz, 16 bits.
func pcm8kMono16(f []byte) bool {
	if len(f) < 16 {
		return false
	}
	format := binary.LittleEndian.Uint16(f[0:2])
	channels := binary.LittleEndian.Uint16(f[2:4])
	rate := binary.LittleEndian.Uint32(f[4:8])
	bits := binary.LittleEndian.Uint16(f[14:16])
	const pcm, extensible = 1, 0xFFFE
	if format == extensible {
		// cbSize(2) validBits(2) channelMask(4) subFormat GUID(16)
		if len(f) < 40 || binary.LittleEndian.Uint16(f[24:26]) != pcm {
			return false
		}
		format = pcm
	}
	return format == pcm && channels == 1 && rate == 8000 && bits == 16
}
