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

	// Contact is the contact's own fields, for a template's placeholders.
	Contact ContactFields

	CallerIDNumber string // digits with optional leading +, validated
	CallerIDName   string // printable, validated

	Provider Route

	RingTimeout time.Duration // give up ringing (CANCEL / originate_timeout)
	MaxDuration time.Duration // hang up an answered call after this long

	Media Media

	// OptOut is set by the engine when Media.OptOutDigit is. The gateway
	// calls it as soon as the callee presses that digit and waits for it:
	// when it returns nil the number is durably on the tenant's do-not-call
	// list, and only then does the gateway play Media.OptOutConfirm* and end
	// the call. An error means the opt-out is not durable; the gateway ends
	// the call without the confirmation and reports the digit as usual.
	OptOut func(ctx context.Context, digit string) error `json:"-"`
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
	Gateway    int64  // the provider's gateway_flag: GatewayFreeSWITCH, GatewaySIP, …
	// TLS is an email provider's TLS mode (none, starttls, implicit) and
	// Sender the From address of its mail or the sender of a Kannel
	// provider's SMS; both come from the provider's settings object.
	TLS    string
	Sender string
}

// ContactFields are what a template may put in a message about its
// contact ({first_name}, …): free text, never trusted.
type ContactFields struct {
	FirstName, LastName, Phone, Email, Address string
	Custom1, Custom2, Custom3, Description     string
}

// Trunk is a provider a gateway watches (OPTIONS pings, REGISTER).
type Trunk struct {
	TenantID string
	Route    Route
	Register bool
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
	// AttachmentPath is a sendemail template's attachment on this host,
	// AttachmentType its type (pdf, txt, …); "" when it has none.
	AttachmentPath string
	AttachmentType string

	// OptOutDigit is the key (0-9 * #) that opts the callee out during a
	// voicemessage or voicetts call; "" offers no opt-out.
	OptOutDigit string
	// OptOutConfirmPath/URL: the recording played after an opt-out; "" none.
	OptOutConfirmPath string
	OptOutConfirmURL  string
	// OnMachine is what a voicemessage does when an answering machine
	// picks up; "" (MachineIgnore) plays without detection.
	OnMachine MachinePolicy
}

// MachinePolicy is a voicemessage program's on_machine option.
type MachinePolicy string

// Answering-machine policies.
const (
	MachineIgnore        MachinePolicy = ""                // no detection
	MachinePlay          MachinePolicy = "play"            // detect and record, play at once
	MachinePlayAfterBeep MachinePolicy = "play_after_beep" // wait for the beep, then play
	MachineHangUp        MachinePolicy = "hang_up"         // end the call on a machine
)

// Machine detection verdicts, reported as Outcome.Machine and as a result
// {Type: "amd", Name: "machine", Data: verdict}.
const (
	MachineHuman   = "human"
	MachineFound   = "machine"
	MachineUnknown = "unknown"
)

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
	// ProgressDelivered: the gateway read from the peer that the message
	// got through (playback or speak complete, fax pages confirmed, the
	// RTP sender sent the whole recording), before the call ends.
	ProgressDelivered ProgressKind = "delivered"
)

// Progress is reported by a gateway while an attempt is live. The engine
// makes ringing, answer and delivery durable as they happen (within the
// store writer's next group commit), so a crash cannot make an answered
// call look unanswered.
type Progress struct {
	Kind  ProgressKind
	At    time.Time
	Digit string // ProgressDTMF: one of 0-9 * # A-D
	// Dialog is what the gateway needs to end the call from another
	// process after a crash (ProgressAnswered; the SIP gateway's dialog:
	// Call-ID, tags, CSeq, remote target, route set, transport). It is
	// stored with the answer and handed back in RecoverSpool.Dialog.
	Dialog []byte
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

	// Delivered is set only when the gateway read from the peer that the
	// message got through: FreeSWITCH's execute-complete of playback or
	// speak, its fax result, the RTP sender having sent the whole
	// recording, an SMTP 2xx, a delivery report. An answered call that is
	// not Delivered failed, with Failure saying why.
	Delivered bool
	// Failure is the cause when the call was answered but not delivered:
	// CauseMediaError, CauseFaxFailed, CauseMessageCut, CauseNotDelivered.
	Failure string

	// Results are what the attempt produced, in order (dtmf digits, …).
	Results []Result

	// Machine is the answering-machine verdict when detection ran
	// (MachineHuman, MachineFound, MachineUnknown); "" when it did not.
	Machine string
	// OptedOut: the callee pressed the opt-out digit and Attempt.OptOut
	// returned nil.
	OptedOut bool
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
	// over), a gateway whose calls outlive the process (FreeSWITCH) stops
	// following the call and returns ctx.Err(): the spool stays initiated
	// and the next start recovers it (Recoverer). A gateway that carries
	// the media itself (SIP) ends the call and returns its Outcome
	// (CauseMessageCut when the message was cut); it returns ctx.Err()
	// only when nothing was heard of the call yet. A gateway that did
	// deliver something (SMS, email, fax) reports it as answered and
	// delivered: Connect set, Delivered true.
	Deliver(ctx context.Context, a Attempt, progress func(Progress)) (Outcome, error)
}

// ErrCallGone is returned by Recover for a call that is over with nothing
// known of its end.
var ErrCallGone = errors.New("call no longer exists")

// ErrCallUnknown is returned by Recover when the gateway cannot tell now
// whether the call exists (its node is unreachable). The engine keeps the
// spool in flight, never redials it, and asks again until the call must be
// over (ring timeout plus maximum duration); then it closes the spool from
// what the store knew.
var ErrCallUnknown = errors.New("the gateway cannot tell whether the call exists")

// Placer is implemented by gateways that choose where an attempt goes. The
// engine calls Place on its loop, before the write-ahead commit, so it must
// not wait on the network: it picks the FreeSWITCH node (returned in
// Route.Node, which the spool records for recovery) and refuses a route it
// knows is down with a RouteFault, so nothing is spent on it.
type Placer interface {
	Place(a Attempt) (Route, error)
}

// AttemptChecker is a gateway's own validation of an attempt: the route's
// fields it would dial with and the content it would carry. It does no I/O
// but may look at local files. The API calls it when a provider, program or
// message is written, so what the gateway cannot carry is refused there; the
// error is a ContentFault naming the field.
type AttemptChecker interface {
	CheckAttempt(a Attempt) error
}

// RecoverSpool is an attempt a previous process left open, with what the
// store knew of its progress.
type RecoverSpool struct {
	Attempt Attempt // CallUUID, Provider (Gateway, Node, …), Program, Phone
	Spooled time.Time
	// Ringing, Answered and Delivered are when each was recorded; zero
	// when it was not.
	Ringing, Answered, Delivered time.Time
	Dialog                       []byte // from ProgressAnswered
}

// Recoverer finds again, through the gateway that placed it, a call that a
// previous process started. Recover returns:
//   - the call's outcome, when the call was live and has been followed to
//     its end, or when the gateway kept a record of how it ended;
//   - ErrCallGone when the call is over and nothing is known of its end:
//     the engine closes the spool from what the store knew;
//   - ErrCallUnknown when the gateway cannot tell now.
//
// A gateway that cannot continue a live call it finds (the SIP gateway:
// the process that held the dialog is gone) ends it (BYE, CANCEL) and
// returns ErrCallGone, so no callee is left connected.
type Recoverer interface {
	Recover(ctx context.Context, s RecoverSpool, progress func(Progress)) (Outcome, error)
}

// RouteUp tells the engine that a route was seen healthy (a FreeSWITCH node
// reconnected, a trunk answered): its back-off ends at once. ProviderID 0
// with a Node means every provider on that node.
type RouteUp struct {
	ProviderID int64
	Node       string
}
