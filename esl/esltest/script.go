package esltest

import "time"

// Outcome is what the far end of a scripted call does.
type Outcome int

const (
	// OutcomeAnswer: the peer rings, answers after Delay, keeps the call up
	// for Talk and hangs up (NORMAL_CLEARING). Events: CHANNEL_CREATE,
	// CHANNEL_PROGRESS, CHANNEL_ANSWER, BACKGROUND_JOB "+OK <uuid>",
	// CHANNEL_EXECUTE, DTMF..., then CHANNEL_EXECUTE_COMPLETE and
	// CHANNEL_HANGUP in the order the application gives (playback and
	// speak end first; park, txfax and a hangup from this side hang up
	// first), CHANNEL_HANGUP_COMPLETE (answered.txt, dtmf.txt, playback_*.txt,
	// speak*.txt, fax_*.txt, uuid_exists_live.txt). The application runs as
	// FreeSWITCH's would: playback opens its file as FreeSWITCH does
	// (FILE NOT FOUND at once, and the call hung up, when it cannot), txfax
	// reads its TIFF (spandsp's result 41 for anything else, no result at
	// all for a missing file). If Delay reaches the originate timeout the
	// call ends as OutcomeNoAnswer would.
	OutcomeAnswer Outcome = iota
	// OutcomeReject: the peer refuses with a final SIP error after Delay.
	// Events: CHANNEL_CREATE, [CHANNEL_PROGRESS if Ring], CHANNEL_HANGUP,
	// CHANNEL_HANGUP_COMPLETE, BACKGROUND_JOB "-ERR <Cause>" (busy.txt,
	// unreachable.txt).
	OutcomeReject
	// OutcomeNoAnswer: the peer rings until RingFor (or the originate
	// timeout) and FreeSWITCH cancels. Events: CHANNEL_CREATE,
	// CHANNEL_PROGRESS, CHANNEL_HANGUP, BACKGROUND_JOB "-ERR NO_ANSWER",
	// CHANNEL_HANGUP_COMPLETE (noanswer.txt).
	OutcomeNoAnswer
	// OutcomeStall: the bgapi is acknowledged ("+OK Job-UUID") and then
	// nothing ever happens: no channel, no events, no BACKGROUND_JOB. A
	// synchronous "api originate" never gets its api/response.
	OutcomeStall
	// OutcomeStallConnection: from the originate command on, the connection
	// that sent it goes silent: no reply to it, no further replies or
	// events, though it keeps reading (and recording) commands.
	OutcomeStallConnection
)

// DropPoint is when the connection that sent an originate is cut (the
// server closes the socket without a disconnect notice). The call itself
// carries on, as it does in FreeSWITCH: the channel and its events are not
// tied to the event socket that asked for them.
type DropPoint int

const (
	// NoDrop keeps the connection.
	NoDrop DropPoint = iota
	// DropOnCommand closes the connection right after reading the
	// originate, before replying; the job still runs. The client cannot
	// tell whether the call was placed.
	DropOnCommand
	// DropAfterCreate closes it after CHANNEL_CREATE has been written.
	DropAfterCreate
	// DropAfterAnswer closes it after CHANNEL_ANSWER and BACKGROUND_JOB.
	DropAfterAnswer
	// DropAfterHangup closes it once the call is over: after
	// CHANNEL_HANGUP_COMPLETE and BACKGROUND_JOB, whichever comes last.
	DropAfterHangup
)

// Behaviour scripts the far end of the calls to one destination. Build one
// with Answer, Busy, Reject, Unreachable, NoAnswer or Stall and refine it
// with the With methods; the zero value answers at once and stays up until
// it is hung up (uuid_kill, Server.Hangup or Server.Close).
type Behaviour struct {
	Outcome Outcome
	// Delay is the time from CHANNEL_CREATE to the far end's final
	// response: 200 OK for OutcomeAnswer, the error for OutcomeReject.
	Delay time.Duration
	// Talk is how long an answered call lasts (NORMAL_CLEARING after it):
	// how long the recording, the speech or the fax session takes; zero or
	// less keeps it up until it is hung up from this side. With
	// park or an extension the far end hangs up (recv_bye); with any other
	// application the application is taken to end and FreeSWITCH hangs up
	// (send_bye), as in answered.txt.
	Talk time.Duration
	// RingFor is how long OutcomeNoAnswer rings; zero means until the
	// originate timeout (originate_timeout, default 60 s), which is what
	// FreeSWITCH does.
	RingFor time.Duration
	// Ring makes OutcomeReject send 180 Ringing (CHANNEL_PROGRESS) first.
	Ring bool
	// Cause is the hangup cause of OutcomeReject (default USER_BUSY).
	Cause string
	// SIPStatus and SIPPhrase are the peer's final response for
	// OutcomeReject (variable_sip_term_status); by default the response
	// FreeSWITCH maps to Cause.
	SIPStatus int
	SIPPhrase string
	// Unreachable marks a rejection generated locally because nothing
	// answered at the SIP level (no network address of the peer), as in
	// unreachable.txt.
	Unreachable bool
	// DTMF is sent by the far end after the answer, one DTMF event per
	// digit, DTMFGap apart (default 100 ms). The call is not hung up by
	// the far end before the last digit.
	DTMF    string
	DTMFGap time.Duration
	// Drop cuts the connection that sent the originate at that point.
	Drop DropPoint
	// TelephoneEvent makes the peer offer RFC 2833 telephone-event in its
	// SDP even without DTMF to send (sipp's answer.xml does).
	TelephoneEvent bool
	// Beep is when, after the answer, the far end (an answering machine)
	// beeps: with mod_avmd loaded (Options.Modules) and avmd started on the
	// channel (avmd_start run by an execute_on_answer variable), mod_avmd
	// sets avmd_detect=TRUE and fires CUSTOM avmd::beep then. Zero: no beep.
	Beep time.Duration
	// FaxFailure, when not zero, is the receiving fax machine failing a
	// txfax of a readable TIFF: spandsp's txfaxresult says fax_success 0
	// with this code and text (fax_bad_file.txt's receiver reported 35
	// "Unexpected DCN while waiting for DCS or DIS"), no page sent.
	FaxFailure int
	FaxText    string
}

// WithBeep returns b with an answering machine's beep at after.
func (b Behaviour) WithBeep(after time.Duration) Behaviour {
	b.Beep = after
	return b
}

// Answer answers after delay and hangs up after talk (see Behaviour.Talk).
func Answer(delay, talk time.Duration) Behaviour {
	return Behaviour{Outcome: OutcomeAnswer, Delay: delay, Talk: talk}
}

// Busy refuses at once with 486 Busy Here: USER_BUSY, Q.850 17.
func Busy() Behaviour {
	return Reject(CauseUserBusy)
}

// Reject refuses at once with cause (e.g. NO_ROUTE_DESTINATION,
// NORMAL_TEMPORARY_FAILURE, CALL_REJECTED) and the SIP response that maps
// to it.
func Reject(cause string) Behaviour {
	return Behaviour{Outcome: OutcomeReject, Cause: cause}
}

// Unreachable fails as a gateway nobody listens on does:
// NORMAL_TEMPORARY_FAILURE with a locally generated 503.
func Unreachable() Behaviour {
	return Behaviour{Outcome: OutcomeReject, Cause: CauseNormalTemporaryFailure, Unreachable: true}
}

// NoAnswer rings for ringFor (zero: until the originate timeout) and ends
// as NO_ANSWER.
func NoAnswer(ringFor time.Duration) Behaviour {
	return Behaviour{Outcome: OutcomeNoAnswer, RingFor: ringFor}
}

// Stall acknowledges the originate and then never does anything.
func Stall() Behaviour { return Behaviour{Outcome: OutcomeStall} }

// StallConnection silences the connection that sends the originate.
func StallConnection() Behaviour { return Behaviour{Outcome: OutcomeStallConnection} }

// WithDTMF returns b with the far end sending digits after the answer.
func (b Behaviour) WithDTMF(digits string, gap time.Duration) Behaviour {
	b.DTMF, b.DTMFGap = digits, gap
	return b
}

// WithTelephoneEvent returns b with the peer offering telephone-event.
func (b Behaviour) WithTelephoneEvent() Behaviour {
	b.TelephoneEvent = true
	return b
}

// WithFaxFailure returns b with the far fax machine failing the session.
func (b Behaviour) WithFaxFailure(code int, text string) Behaviour {
	b.FaxFailure, b.FaxText = code, text
	return b
}

// WithDrop returns b with the originating connection cut at p.
func (b Behaviour) WithDrop(p DropPoint) Behaviour {
	b.Drop = p
	return b
}

// WithDelay returns b with Delay set.
func (b Behaviour) WithDelay(d time.Duration) Behaviour {
	b.Delay = d
	return b
}

// WithRing returns b with a 180 Ringing before a rejection.
func (b Behaviour) WithRing() Behaviour {
	b.Ring = true
	return b
}

// WithSIPStatus returns b with the peer's final SIP response overridden.
func (b Behaviour) WithSIPStatus(status int, phrase string) Behaviour {
	b.SIPStatus, b.SIPPhrase = status, phrase
	return b
}

// rejectCause returns the cause and SIP response of a rejection.
func (b Behaviour) rejectCause() (name string, status int, phrase string) {
	name = b.Cause
	if name == "" {
		name = CauseUserBusy
	}
	info, _ := cause(name)
	status, phrase = info.sip, info.phrase
	if status == 0 {
		status, phrase = 500, "Server Internal Error"
	}
	if b.SIPStatus != 0 {
		status, phrase = b.SIPStatus, b.SIPPhrase
	}
	return name, status, phrase
}

func (b Behaviour) dtmfGap() time.Duration {
	if b.DTMFGap > 0 {
		return b.DTMFGap
	}
	return 100 * time.Millisecond
}
