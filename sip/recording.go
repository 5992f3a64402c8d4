package sip

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

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

// recordingCache keeps decoded recordings for the calls that play them.
//
// A campaign plays one recording on every call: reading and decoding its
// file per call cost a file read, a decode and two copies of the audio in
// garbage per call (about 1 MB a call for a 30 s message, 100 MB/s at 100
// calls a second), and the collections that follow delay the engine's
// timers. The samples are shared read-only by the calls. An entry is
// valid while the file keeps its size and modification time (dialerd names
// media files by content, so they do not change, but a path may come from
// elsewhere).
type recordingCache struct {
	mu      sync.Mutex
	entries map[string]cachedRecording
	bytes   int64 // of samples held
	limit   int64
}

type cachedRecording struct {
	samples []int16
	size    int64
	modTime time.Time
}

// recordingCacheBytes bounds the samples kept: about 70 minutes of audio.
const recordingCacheBytes = 64 << 20

func newRecordingCache(limit int64) *recordingCache {
	return &recordingCache{entries: map[string]cachedRecording{}, limit: limit}
}

// load returns the recording at path, decoded once per version of the
// file.
func (c *recordingCache) load(path string) ([]int16, error) {
	if path == "" {
		return nil, errors.New("sip: voicemessage without a recording")
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("sip: recording: %w", err)
	}
	c.mu.Lock()
	e, ok := c.entries[path]
	c.mu.Unlock()
	if ok && e.size == fi.Size() && e.modTime.Equal(fi.ModTime()) {
		return e.samples, nil
	}
	samples, err := readRecording(path)
	if err != nil {
		return nil, err
	}
	c.store(path, cachedRecording{samples: samples, size: fi.Size(), modTime: fi.ModTime()})
	return samples, nil
}

func (c *recordingCache) store(path string, e cachedRecording) {
	n := int64(2 * len(e.samples))
	if n > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[path]; ok {
		c.bytes -= int64(2 * len(old.samples))
		delete(c.entries, path)
	}
	// Any entry may go: a recording in use stays with its calls, and the
	// next call reads it again.
	for k, old := range c.entries {
		if c.bytes+n <= c.limit {
			break
		}
		c.bytes -= int64(2 * len(old.samples))
		delete(c.entries, k)
	}
	c.entries[path] = e
	c.bytes += n
}
