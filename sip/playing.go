package sip

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/emiago/sipgo"

	"github.com/dialerd/dialerd/dialer"
)

// How long an answered call waits on answering-machine detection (see
// doc.go, "Answering machines").
const (
	// amdWait bounds the wait for a verdict in wall-clock time: the
	// detector counts audio, and a callee may send none.
	amdWait = 6 * time.Second
	// beepWait is how long play_after_beep waits for the beep after a
	// machine's greeting was recognised; then it plays anyway.
	beepWait = 20 * time.Second
	// optOutTimeout bounds Attempt.OptOut: the callee is waiting in
	// silence meanwhile.
	optOutTimeout = 5 * time.Second
)

// errNoOptOut is an opt-out key pressed on an attempt the engine gave no
// Attempt.OptOut: it cannot be made durable, so it is not confirmed.
var errNoOptOut = errors.New("sip: the attempt has no opt-out recorder")

// callAudio is what an answered call may play.
type callAudio struct {
	message []int16
	confirm []int16 // the opt-out confirmation; nil for none
}

// playing is one answered call's media: the message, the opt-out key and
// answering-machine detection, until something ends the call.
type playing struct {
	g        *Gateway
	ctx      context.Context
	a        dialer.Attempt
	sess     *sipgo.DialogClientSession
	media    *mediaSession
	answer   mediaAnswer
	audio    callAudio
	progress func(dialer.Progress)
	out      *dialer.Outcome
	log      *slog.Logger
	limit    <-chan time.Time

	played      <-chan struct{} // nil until the message starts
	optOutTried bool
}

func (p *playing) addDigit(d string) {
	p.out.Results = append(p.out.Results, dialer.Result{Type: "dtmf", Name: "digit", Data: d})
	p.progress(dialer.Progress{Kind: dialer.ProgressDTMF, At: time.Now(), Digit: d})
}

// setMachine records the detection's verdict once.
func (p *playing) setMachine(verdict string) {
	if p.out.Machine == "" {
		p.out.Machine = verdict
		p.out.Results = append(p.out.Results, dialer.Result{Type: "amd", Name: "machine", Data: verdict})
	}
}

// startMessage plays the recording, once.
func (p *playing) startMessage() {
	if p.played == nil {
		p.played = p.media.play(p.answer, p.audio.message, true)
	}
}

// run plays the message as the program's on_machine policy says, and
// returns how the call ends: the cause, the delivery failure (cleared
// later if the whole message was sent) and whether we hang up.
func (p *playing) run() (cause, failure string, byUs bool) {
	policy := p.a.Media.OnMachine
	detect := policy != dialer.MachineIgnore
	digits, amd := p.media.listen(p.answer, detect)
	// play starts at once; play_after_beep and hang_up wait for a verdict
	// so a machine never records the start of the message.
	waiting := policy == dialer.MachinePlayAfterBeep || policy == dialer.MachineHangUp
	if !waiting {
		p.startMessage()
	}
	var deadline <-chan time.Time
	if detect {
		t := time.NewTimer(amdWait)
		defer t.Stop()
		deadline = t.C
	}
	for {
		select {
		case d := <-digits:
			p.addDigit(d)
			if p.a.Media.OptOutDigit != "" && d == p.a.Media.OptOutDigit {
				return p.optOut(d, digits)
			}
		case <-p.played:
			p.endDetection(detect) // a message shorter than the analysis
			return CauseNormalClearing, "", true
		case ev := <-amd:
			switch ev {
			case amdHuman, amdUnknown:
				verdict := dialer.MachineUnknown
				if ev == amdHuman {
					verdict = dialer.MachineHuman
				}
				p.setMachine(verdict)
				waiting = false
				deadline = nil
			case amdMachine, amdBeep:
				p.setMachine(dialer.MachineFound)
				switch {
				case !waiting:
				case policy == dialer.MachineHangUp:
					return CauseNormalClearing, dialer.CauseMachineHangUp, true
				case ev == amdBeep: // play_after_beep: the machine records now
					waiting, deadline = false, nil
				default: // the greeting is on: wait for its beep
					deadline = time.After(beepWait)
				}
			}
			if !waiting {
				p.startMessage()
				p.media.detecting.Store(false) // nothing more to learn
			}
		case <-deadline:
			// No verdict (or no beep) in time: play.
			p.setMachine(dialer.MachineUnknown)
			waiting, deadline = false, nil
			p.startMessage()
			p.media.detecting.Store(false)
		case <-p.limit:
			return CauseAllottedTimeout, dialer.CauseMessageCut, true
		case <-p.sess.Context().Done():
			p.endDetection(detect)
			return CauseNormalClearing, dialer.CauseNotDelivered, false // the far end sent BYE
		case <-p.ctx.Done():
			p.endDetection(detect)
			return CauseNormalClearing, dialer.CauseMessageCut, true // shutdown grace over
		}
	}
}

// endDetection records as unknown the verdict of a call that ended
// before detection decided.
func (p *playing) endDetection(detect bool) {
	if detect {
		p.setMachine(dialer.MachineUnknown)
	}
}

// recordOptOut calls Attempt.OptOut, once, and records what came of it.
func (p *playing) recordOptOut(digit string) bool {
	p.optOutTried = true
	err := errNoOptOut
	if p.a.OptOut != nil {
		// Not the call's context alone: a key pressed as the call ends
		// (shutdown included) must still be written.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), optOutTimeout)
		err = p.a.OptOut(ctx, digit)
		cancel()
	}
	if err != nil {
		p.log.Error("opt-out not recorded; not confirming it", "digit", digit, "err", err)
		p.out.Results = append(p.out.Results, dialer.Result{Type: "optout", Name: "error", Data: err.Error()})
		return false
	}
	p.out.OptedOut = true
	p.out.Results = append(p.out.Results, dialer.Result{Type: "optout", Name: "digit", Data: digit})
	return true
}

// lateOptOut is the opt-out key read after the call ended: recorded, not
// confirmed. It reports whether the number was opted out.
func (p *playing) lateOptOut(digit string) bool {
	if p.optOutTried || digit == "" {
		return false
	}
	return p.recordOptOut(digit)
}

// optOut handles the opt-out key: the message stops at once (it must not
// run on, or count as delivered, while the opt-out is written), then
// Attempt.OptOut is called and waited for. Only when it returned nil is
// the number durably suppressed: then the confirmation plays and the call
// ends OPTED_OUT. On an error the call ends without the confirmation, cut.
func (p *playing) optOut(digit string, digits <-chan string) (cause, failure string, byUs bool) {
	p.media.cut()
	ok := p.recordOptOut(digit)
	// The callee may have hung up while the opt-out was written.
	up := p.sess.Context().Err() == nil
	switch {
	case !ok:
		return CauseNormalClearing, dialer.CauseMessageCut, up
	case p.audio.confirm == nil || !up:
		return CauseNormalClearing, dialer.CauseOptedOut, up
	}
	confirmed := p.media.play(p.answer, p.audio.confirm, false)
	for {
		select {
		case d := <-digits:
			p.addDigit(d)
		case <-confirmed:
			return CauseNormalClearing, dialer.CauseOptedOut, true
		case <-p.limit:
			return CauseAllottedTimeout, dialer.CauseOptedOut, true
		case <-p.sess.Context().Done():
			return CauseNormalClearing, dialer.CauseOptedOut, false
		case <-p.ctx.Done():
			return CauseNormalClearing, dialer.CauseOptedOut, true
		}
	}
}
