package dialer

import (
	"context"
	"errors"
	"time"
)

// Attempt is one delivery the engine asks a gateway to make: everything the
// gateway needs, already validated and resolved, so gateways never read the
// store. Phone numbers are E.164 ("+" and digits only).
type Attempt struct {
	SpoolID        int64
	CallUUID       string // committed with the spool before Deliver is called
	TransmissionID int64
	CampaignID     int64 // 0 for a single transmission
	TenantID       string

	Program ProgramType
	Phone   string // E.164 destination
	Email   string // sendemail destination

	CallerIDNumber string // digits with optional leading +, validated
	CallerIDName   string // printable, validated

	Provider Route

	RingTimeout time.Duration // give up ringing (CANCEL / originate_timeout)
	MaxDuration time.Duration // hang up an answered call after this long

	Media Media
}

// Route is the resolved provider an attempt goes through.
type Route struct {
	ProviderID int64
	Name       string
	Host       string
	Port       int
	Username   string
	Password   string // unsealed for the gateway only; never logged
	Prefix     string // digits dialled before the number
	DialString string // template; see the gateway packages for placeholders
	Node       string // FreeSWITCH node (PBX profile id) or "" for direct SIP
	Transport  string // udp or tcp for SIP
}

// Media is the content of an attempt, by program type.
type Media struct {
	RecordingPath string // voicemessage: 8 kHz 16-bit mono WAV on this host
	RecordingURL  string // voicemessage: the same file over HTTP, for remote nodes
	TTSText       string // voicetts
	TTSVoice      string
	TTSLanguage   string
	DocumentPath  string // sendfax: TIFF on this host
	DocumentURL   string
	Text          string   // sendsms: the whole text
	Segments      []string // sendsms: the text split as its segment count says
	Subject       string   // sendemail
	Body          string
	BodyAlt       string
}

// ProgramType names what a program does.
type ProgramType string

// Program types, as the ICTCore document names them.
const (
	ProgramSendSMS      ProgramType = "sendsms"
	ProgramSendEmail    ProgramType = "sendemail"
	ProgramSendFax      ProgramType = "sendfax"
	ProgramVoiceMessage ProgramType = "voicemessage"
	ProgramVoiceTTS     ProgramType = "voicetts"
	ProgramReceiveSMS   ProgramType = "receivesms"
	ProgramReceiveEmail ProgramType = "receiveemail"
	ProgramReceiveFax   ProgramType = "receivefax"
	ProgramEmailToFax   ProgramType = "emailtofax"
	ProgramFaxToEmail   ProgramType = "faxtoemail"
)

// ProgressKind is a step of a live attempt.
type ProgressKind string

const (
	ProgressRinging  ProgressKind = "ringing"
	ProgressAnswered ProgressKind = "answered"
	ProgressDTMF     ProgressKind = "dtmf"
)

// Progress is reported by a gateway while an attempt is live.
type Progress struct {
	Kind  ProgressKind
	At    time.Time
	Digit string // ProgressDTMF: one of 0-9 * # A-D
}

// Outcome is how an attempt ended, in the terms of the network.
type Outcome struct {
	// Cause is the Q.850 hangup cause name as FreeSWITCH spells it
	// (NORMAL_CLEARING, USER_BUSY, NO_ANSWER, …). SIP gateways map their
	// final response to the same names.
	Cause   string
	SIPCode int // final SIP status when known, else 0

	Start, Connect, End time.Time // Connect is zero when never answered
	Billsec             int

	// Results are what the attempt produced, in order (dtmf digits, …).
	Results []Result
}

// Result is one thing an attempt produced.
type Result struct {
	Type string // dtmf, hangup, sip, smtp, sms, …
	Name string
	Data string
}

// Gateway delivers attempts. A gateway never decides about retries or
// pacing; it reports what the network said.
type Gateway interface {
	// Deliver makes one attempt and returns when it has ended, calling
	// progress on the way (from any goroutine, in order). An error means
	// the gateway could not try at all (no connection, provider down): the
	// attempt did not reach the network.
	//
	// When ctx is cancelled (the daemon stops and its grace period is
	// over), Deliver stops following the call and returns ctx.Err(); it
	// need not hang up. The spool stays initiated and the next start
	// reconciles it (CallChecker, Reattacher). A gateway that did deliver
	// something (SMS, email, fax) reports it as answered: Connect set,
	// Cause NORMAL_CLEARING.
	Deliver(ctx context.Context, a Attempt, progress func(Progress)) (Outcome, error)
}

// CallChecker is what recovery asks a gateway on start-up: does the call
// with this UUID still exist?
type CallChecker interface {
	CallExists(ctx context.Context, node, callUUID string) (bool, error)
}

// Reattacher follows a call that a previous run of the daemon started and
// that is still live (CallExists said so), until it ends, as Deliver would
// have. Recovery needs it: without it a live call could only be waited out
// blind, and how it ended (answered or not, its digits) would be lost, so
// the attempt would be guessed rather than recorded. Attempt carries the
// spool's CallUUID and Provider.Node; progress reports only what happens
// from now on. It returns ErrCallGone when the call has already ended.
type Reattacher interface {
	Reattach(ctx context.Context, a Attempt, progress func(Progress)) (Outcome, error)
}

// ErrCallGone is returned by Reattach for a call that no longer exists.
var ErrCallGone = errors.New("call no longer exists")
