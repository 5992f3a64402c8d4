package esl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// optOutTimeout bounds Attempt.OptOut: the callee hears the message go on
// meanwhile.
const optOutTimeout = 5 * time.Second

// errNoOptOut is an opt-out key pressed on an attempt the engine gave no
// Attempt.OptOut (a recovered call): it cannot be made durable, so it is
// not confirmed.
var errNoOptOut = errors.New("esl: the attempt has no opt-out recorder")

// withConfirmURL gives an attempt bound for a node on another host the URL
// of its opt-out confirmation, as withRecordingURL does for the message.
func withConfirmURL(a *dialer.Attempt, local bool, mediaURL func(string) (string, error)) error {
	if local || a.Media.OptOutConfirmURL != "" || a.Media.OptOutConfirmPath == "" || mediaURL == nil {
		return nil
	}
	u, err := mediaURL(a.Media.OptOutConfirmPath)
	if err != nil {
		return err
	}
	a.Media.OptOutConfirmURL = u
	return nil
}

// checkCallOptions refuses an opt-out key that is not one, and a
// confirmation a node could not play: it goes into an api command line,
// so it must pass the same alphabet as the message's file, and be a .wav.
func checkCallOptions(a dialer.Attempt, local bool) error {
	m := a.Media
	if m.OptOutDigit != "" && !dialer.ValidOptOutDigit(m.OptOutDigit) {
		return dialer.ContentFault("opt_out_digit", dialer.InvalidField("opt_out_digit", "one of 0-9, * or #"))
	}
	if m.OptOutConfirmPath == "" && m.OptOutConfirmURL == "" {
		return nil
	}
	if !local && m.OptOutConfirmURL == "" {
		return dialer.ContentFault("opt_out_recording_id", errors.New("esl: a node on another host needs Options.MediaURL to fetch recordings"))
	}
	ref := confirmRef(a, local)
	if ref == a.Media.RecordingPath || ref == a.Media.RecordingURL {
		// The gateway tells the two playbacks apart by their file.
		return dialer.ContentFault("opt_out_recording_id", errors.New("esl: the opt-out confirmation must be another recording than the message"))
	}
	if err := mediaRefAllowed(ref, local); err != nil || !hasExt(ref, ".wav") {
		return dialer.ContentFault("opt_out_recording_id", fmt.Errorf("esl: the opt-out confirmation must be a .wav file a node can open, got %q", ref))
	}
	if local {
		if st, err := os.Stat(ref); err != nil || !st.Mode().IsRegular() || st.Size() == 0 {
			return dialer.ContentFault("opt_out_recording_id", fmt.Errorf("esl: opt-out confirmation %s is missing or empty", ref))
		}
	}
	return nil
}

// confirmRef is the confirmation as the node reads it: a path on this
// host, the URL otherwise.
func confirmRef(a dialer.Attempt, local bool) string {
	if local {
		return a.Media.OptOutConfirmPath
	}
	return a.Media.OptOutConfirmURL
}

// isConfirmation reports whether e is about the opt-out confirmation's
// playback, which is never the message's delivery.
func isConfirmation(a dialer.Attempt, e event) bool {
	return e.appData != "" && (e.appData == a.Media.OptOutConfirmPath || e.appData == a.Media.OptOutConfirmURL)
}

// optOutState is what a follower did about the opt-out key.
type optOutState struct {
	tried bool
	digit string
	err   error
}

// pendingOptOut returns the opt-out key among the call's digits, once.
func (f *follower) pendingOptOut(fs facts) (string, bool) {
	want := f.a.Media.OptOutDigit
	if want == "" || f.optOut.tried || (fs.answer == nil && f.knownAnswer.IsZero()) {
		return "", false
	}
	for _, e := range fs.dtmf {
		if e.digit == want {
			return want, true
		}
	}
	return "", false
}

// doOptOut calls Attempt.OptOut and waits for it; only when it returned nil
// (the number is durably suppressed) does the confirmation play. With the
// call still up, the confirmation is broadcast with a hangup after it
// (uuid_broadcast <uuid> playback!NORMAL_CLEARING::<file>): FreeSWITCH runs
// it inside the message's playback, which is paused meanwhile and ends
// under the hangup; without a confirmation, or when the opt-out failed,
// the call is killed. A key pressed as the callee hung up still opts out.
func (f *follower) doOptOut(ctx context.Context, cur *conn, digit string, fs facts) {
	f.optOut = optOutState{tried: true, digit: digit, err: errNoOptOut}
	if f.a.OptOut != nil {
		// Not ctx alone: a stop of the daemon must not lose an opt-out
		// the callee asked for; the wait stays bounded.
		octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), optOutTimeout)
		f.optOut.err = f.a.OptOut(octx, digit)
		cancel()
	}
	if f.optOut.err != nil {
		f.g.log.Error("esl: opt-out not recorded; ending the call without confirming it", "node", f.n.id, "uuid", f.c.uuid,
			"err", f.optOut.err)
	}
	if fs.hangup != nil || fs.complete != nil || cur == nil {
		return
	}
	ref := confirmRef(f.a, f.n.local)
	if f.optOut.err != nil || ref == "" {
		f.kill(ctx, cur, "NORMAL_CLEARING")
		return
	}
	out, err := cur.api(ctx, "uuid_broadcast "+f.c.uuid+" playback!NORMAL_CLEARING::"+ref+" aleg")
	if err != nil || len(out) < 3 || out[:3] != "+OK" {
		f.g.log.Warn("esl: opt-out confirmation not played; hanging up", "node", f.n.id, "uuid", f.c.uuid, "reply", out, "err", err)
		f.kill(ctx, cur, "NORMAL_CLEARING")
	}
}

// optOutOutcome writes what the opt-out key did into the outcome of an
// answered call: opted out (OPTED_OUT) or, when the opt-out failed, cut
// (MESSAGE_CUT), unless the whole message had been played already.
func (f *follower) optOutOutcome(o *dialer.Outcome) {
	if !f.optOut.tried || o.Connect.IsZero() {
		return
	}
	if f.optOut.err != nil {
		o.Results = append(o.Results, dialer.Result{Type: "optout", Name: "error", Data: f.optOut.err.Error()})
		if !o.Delivered {
			o.Failure = dialer.CauseMessageCut
		}
		return
	}
	o.OptedOut = true
	o.Results = append(o.Results, dialer.Result{Type: "optout", Name: "digit", Data: f.optOut.digit})
	if !o.Delivered {
		o.Failure = dialer.CauseOptedOut
	}
}
