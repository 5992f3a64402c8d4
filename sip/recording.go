package sip

import (
	"errors"
	"fmt"
	"os"

	"github.com/dialerd/dialerd/dialer/media"
)

// maxRecordingBytes bounds what a recording may weigh: an hour of 8 kHz
// 16-bit mono is 57.6 MB.
const maxRecordingBytes = 64 << 20

// readRecording loads a voicemessage recording as 8 kHz mono samples. The
// engine hands us telephony WAVs (8 kHz 16-bit mono), played as they are;
// anything else dialer/media can decode is converted rather than refused.
func readRecording(path string) ([]int16, error) {
	if path == "" {
		return nil, errors.New("sip: voicemessage without a recording")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sip: recording: %w", err)
	}
	defer f.Close()
	pcm, err := media.DecodeAudio(f, maxRecordingBytes)
	if err != nil {
		return nil, fmt.Errorf("sip: recording %s: %w", path, err)
	}
	if pcm.Rate == media.TelephonyRate && pcm.Channels == 1 {
		return pcm.Samples, nil
	}
	return media.ToTelephony(pcm), nil
}

// encoderFor returns the frame encoder of the codec chosen from the answer.
func encoderFor(name string) func(dst []byte, pcm []int16) {
	encode := media.EncodeULaw
	if name == "PCMA" {
		encode = media.EncodeALaw
	}
	return func(dst []byte, pcm []int16) {
		for i, s := range pcm {
			dst[i] = encode(s)
		}
	}
}
