package media

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	mp3 "github.com/hajimehoshi/go-mp3"
)

// mp3DecoderDelay is the delay, in samples, of the MPEG audio synthesis
// filter bank. Gapless headers record the encoder's delay only; players add
// this to it.
const mp3DecoderDelay = 529

// mp3Frame is what we need of an MPEG audio Layer III frame header.
type mp3Frame struct {
	rate     int
	size     int // bytes, header included
	samples  int // per channel
	mono     bool
	sideInfo int // bytes of side information after the header and CRC
	crc      bool
}

// parseMP3Frame parses the Layer III frame header at the start of b. Free
// format and Layers I and II are refused: go-mp3 decodes neither.
func parseMP3Frame(b []byte) (mp3Frame, bool) {
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return mp3Frame{}, false
	}
	version := (b[1] >> 3) & 3 // 0: MPEG 2.5, 1: reserved, 2: MPEG 2, 3: MPEG 1
	layer := (b[1] >> 1) & 3   // 1: Layer III
	bitrateIndex := b[2] >> 4
	rateIndex := (b[2] >> 2) & 3
	emphasis := b[3] & 3
	if version == 1 || layer != 1 || bitrateIndex == 0 || bitrateIndex == 15 || rateIndex == 3 || emphasis == 2 {
		return mp3Frame{}, false
	}
	f := mp3Frame{
		rate: [3]int{44100, 48000, 32000}[rateIndex],
		mono: b[3]>>6 == 3,
		crc:  b[1]&1 == 0,
	}
	padding := int(b[2]>>1) & 1
	if version == 3 {
		kbps := [15]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}[bitrateIndex]
		f.samples = 1152
		f.size = 144000*kbps/f.rate + padding
		f.sideInfo = 32
		if f.mono {
			f.sideInfo = 17
		}
		return f, true
	}
	f.rate /= 2 // MPEG 2 halves the rates
	if version == 0 {
		f.rate /= 2 // and MPEG 2.5 quarters them
	}
	kbps := [15]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}[bitrateIndex]
	f.samples = 576
	f.size = 72000*kbps/f.rate + padding
	f.sideInfo = 17
	if f.mono {
		f.sideInfo = 9
	}
	return f, true
}

// mp3Start returns the offset of the first frame of an MP3 file: right after
// its ID3v2 tags, if any. It does not hunt for a frame further in, nor
// accept a lone frame header followed by something else, because a few
// bytes 0xFF 0xFx occur in any large enough binary file.
func mp3Start(data []byte) (int, bool) {
	p := 0
	for len(data)-p >= 10 && string(data[p:p+3]) == "ID3" {
		n, ok := id3v2Size(data[p:])
		if !ok || n > len(data)-p {
			return 0, false
		}
		p += n
	}
	f, ok := parseMP3Frame(data[p:])
	if !ok {
		return 0, false
	}
	if len(data)-p < f.size+4 {
		return p, true // a single frame: nothing to check it against
	}
	g, ok := parseMP3Frame(data[p+f.size:])
	return p, ok && g.rate == f.rate && g.samples == f.samples
}

func isMP3(data []byte) bool {
	_, ok := mp3Start(data)
	return ok
}

// id3v2Size returns the full size of the ID3v2 tag at the start of b.
func id3v2Size(b []byte) (int, bool) {
	if len(b) < 10 || b[3] == 0xFF || b[4] == 0xFF {
		return 0, false
	}
	size := 0
	for _, c := range b[6:10] { // "synchsafe": 7 bits a byte
		if c&0x80 != 0 {
			return 0, false
		}
		size = size<<7 | int(c)
	}
	n := 10 + size
	if b[5]&0x10 != 0 { // footer present
		n += 10
	}
	return n, true
}

// gapless reads the Xing/Info header that LAME and FFmpeg put in the first
// frame. info reports whether there is one (that frame then decodes to
// silence); delay and padding are the encoder's, from the LAME extension,
// or 0.
func gapless(body []byte, f mp3Frame) (info bool, delay, padding int) {
	if len(body) < f.size {
		return false, 0, 0
	}
	frame := body[:f.size]
	p := 4 + f.sideInfo
	if f.crc {
		p += 2
	}
	if len(frame) < p+8 {
		return false, 0, 0
	}
	if tag := string(frame[p : p+4]); tag != "Xing" && tag != "Info" {
		return false, 0, 0
	}
	flags := binary.BigEndian.Uint32(frame[p+4:])
	q := p + 8
	for _, field := range [...]struct {
		flag uint32
		size int
	}{{1, 4}, {2, 4}, {4, 100}, {8, 4}} { // frames, bytes, TOC, quality
		if flags&field.flag != 0 {
			q += field.size
		}
	}
	if len(frame) < q+24 {
		return true, 0, 0
	}
	switch string(frame[q : q+4]) {
	case "LAME", "Lavf", "Lavc":
	default:
		return true, 0, 0
	}
	d := frame[q+21:] // 12 bits of delay, 12 of padding
	return true, int(d[0])<<4 | int(d[1])>>4, int(d[1]&0x0F)<<8 | int(d[2])
}

// decodeMP3 decodes an MP3 file already recognised by isMP3.
func decodeMP3(data []byte) (*PCM, AudioInfo, error) {
	start, _ := mp3Start(data)
	body := data[start:]
	first, _ := parseMP3Frame(body)
	if n := len(body); n >= 128 && string(body[n-128:n-125]) == "TAG" {
		body = body[:n-128] // ID3v1 tag: not audio, and may contain a false sync
	}
	channels := 2
	if first.mono {
		channels = 1
	}
	samples, err := runMP3(body, channels, first.rate)
	if err != nil {
		return nil, AudioInfo{}, err
	}

	// Drop the silent header frame and the encoder's delay and padding, as
	// gapless players do; without a LAME header the file keeps up to a
	// few tens of milliseconds of extra silence at both ends.
	info, delay, padding := gapless(body, first)
	head, tail := 0, 0
	if info {
		head = first.samples
		if delay+padding > 0 {
			head += delay + mp3DecoderDelay
			tail = max(padding-mp3DecoderDelay, 0)
		}
	}
	frames := len(samples) / channels
	from := min(head, frames)
	to := max(frames-tail, from)
	samples = samples[from*channels : to*channels]
	if len(samples) == 0 {
		return nil, AudioInfo{}, invalid(ErrBadAudio, nil, "MP3: no audio")
	}
	p := &PCM{Rate: first.rate, Channels: channels, Samples: samples}
	return p, AudioInfo{Format: "mp3", Codec: "mp3"}, nil
}

// runMP3 decodes body with go-mp3, keeping one channel of its always-stereo
// output when the stream is mono.
func runMP3(body []byte, channels, rate int) (samples []int16, err error) {
	defer func() {
		// go-mp3 indexes its tables with values read from the stream; a
		// crafted upload must not take the daemon down with it.
		if r := recover(); r != nil {
			samples, err = nil, invalid(ErrBadAudio, fmt.Errorf("go-mp3 panicked: %v", r), "MP3: cannot decode")
		}
	}()
	// Hiding Seek keeps go-mp3 from scanning the whole stream up front to
	// compute a length we do not use.
	dec, err := mp3.NewDecoder(struct{ io.Reader }{bytes.NewReader(body)})
	if err != nil {
		return nil, invalid(ErrBadAudio, err, "MP3: cannot decode")
	}
	maxFrames := min(MaxSamples/channels, int(MaxDuration/time.Second)*rate)
	buf := make([]byte, 4*1152*8)
	for {
		n, rerr := io.ReadFull(dec, buf)
		for i := 0; i+4 <= n; i += 4 {
			samples = append(samples, int16(binary.LittleEndian.Uint16(buf[i:])))
			if channels == 2 {
				samples = append(samples, int16(binary.LittleEndian.Uint16(buf[i+2:])))
			}
		}
		if len(samples)/channels > maxFrames {
			return nil, invalid(ErrTooLarge, nil, "longer than %v or more than %d decoded samples", MaxDuration, MaxSamples)
		}
		switch {
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			return samples, nil
		case rerr != nil && len(samples) > 0:
			// Like players, stop at the first frame that cannot be decoded
			// and keep what came before: trailing junk is common.
			return samples, nil
		case rerr != nil:
			return nil, invalid(ErrBadAudio, rerr, "MP3: cannot decode")
		}
	}
}
