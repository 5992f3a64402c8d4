package api

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

func TestTextFrameHeader(t *testing.T) {
	for _, tc := range []struct {
		size   int
		header []byte
	}{
		{0, []byte{0x81, 0}},
		{125, []byte{0x81, 125}},
		{126, []byte{0x81, 126, 0, 126}},
		{65535, []byte{0x81, 126, 0xff, 0xff}},
		{65536, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		payload := bytes.Repeat([]byte("x"), tc.size)
		frame := textFrame(payload)
		if !bytes.HasPrefix(frame, tc.header) || !bytes.Equal(frame[len(tc.header):], payload) {
			t.Errorf("%d bytes: frame starts % x, want % x then the payload", tc.size, frame[:min(len(frame), 10)], tc.header)
		}
	}
}

// A client reads events of every frame length the server writes.
func TestLiveFramesEveryLength(t *testing.T) {
	e := newLiveEnv(t, LiveConfig{}, MetricsConfig{})
	tid := e.tenant()
	c := e.mustDial(e.admin)
	for _, pad := range []int{0, 200, 70000} {
		e.bus.Publish(dialer.Event{Type: dialer.EventSpoolEnded, TenantID: tid, SpoolID: int64(pad + 1), OwnerID: 1,
			Response: strings.Repeat("x", pad), At: time.Now()})
		if ev := next(t, c); ev.SpoolID != int64(pad+1) || len(ev.Response) != pad {
			t.Errorf("padded %d: got spool %d with a %d-byte response", pad, ev.SpoolID, len(ev.Response))
		}
	}
}
