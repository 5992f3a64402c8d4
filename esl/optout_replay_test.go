package esl

import (
	"context"
	"slices"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// TestOptOutReplayDTMF plays the real capture dtmf.txt (digits 1, 5 and #,
// the # URL-encoded as %23, as FreeSWITCH 1.10.12 sends them) with # as
// the opt-out key: the gateway reads the key from the real framing, calls
// Attempt.OptOut with "#" once, and the call is opted out.
func TestOptOutReplayDTMF(t *testing.T) {
	g, rs, _ := replayGateway(t, "dtmf.txt")
	a := replayAttempt(captureUUIDs(rs)[0], dialer.ProgramVoiceMessage)
	a.Media.OptOutDigit = "#"
	a.Media.OptOutConfirmPath = writeMedia(testMedia.dir, "cf/replay-confirm.wav", wavBytes(800))
	rec := &optOutRecorder{}
	a.OptOut = rec.optOut
	o, err := g.Deliver(context.Background(), a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.digits, []string{"#"}) || !o.OptedOut {
		t.Errorf("OptOut got %v, opted out %v", rec.digits, o.OptedOut)
	}
	if d := resultData(o, "dtmf", "digit"); !slices.Equal(d, []string{"1", "5", "#"}) {
		t.Errorf("digits %v", d)
	}
	// The capture's call hangs up right after its digits: whether the
	// confirmation was still asked for depends on when the hangup is read.
}
