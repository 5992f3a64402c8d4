package dialer

import "strings"

// Disposition is what an ended attempt means for its transmission.
type Disposition int

const (
	// Completed: the message got through (the call was answered).
	Completed Disposition = iota
	// Retry: worth another try while try_allowed permits (busy, no
	// answer, congestion, network trouble).
	Retry
	// Final: no retry can fix it (invalid number, rejection).
	Final
)

func (d Disposition) String() string {
	switch d {
	case Completed:
		return "completed"
	case Retry:
		return "retry"
	case Final:
		return "final"
	}
	return "unknown"
}

// Verdict is the engine's reading of an attempt's outcome.
type Verdict struct {
	Disposition Disposition
	// Cause is the Q.850 cause name as FreeSWITCH spells it, after the SIP
	// code is taken into account, or one of this package's Cause*
	// constants; it becomes the spool's response.
	Cause string
	// Invalid marks a final failure of the number itself: the transmission
	// ends as invalid rather than failed.
	Invalid bool
	// Fault says whom the failure is charged to (FaultNone when completed):
	// see Fault for what each means to the engine.
	Fault Fault
	// Field names what to fix for a content fault.
	Field string
}

// Causes the engine or a gateway writes for what the network has no
// Q.850 name for.
const (
	// CauseRestart closes an attempt that recovery found without a live
	// call and without an answer on record: the daemon stopped before it
	// learnt how the call ended. It is retried if tries remain.
	CauseRestart = "restart"
	// CauseAnsweredBeforeRestart closes an attempt whose answer is on
	// record but whose end and delivery are not: the callee was reached,
	// so it is never dialled again by itself.
	CauseAnsweredBeforeRestart = "ANSWERED_BEFORE_RESTART"
	// CauseInvalidNumber closes a transmission whose contact has no
	// number (or address) the gateway could use; nothing is dialled.
	CauseInvalidNumber = "INVALID_NUMBER_FORMAT"

	// Answered, but the message did not get through (Outcome.Failure).

	// CauseMediaError: the recording, document or text could not be
	// played or sent (file not found, speak failed). The content's.
	CauseMediaError = "MEDIA_ERROR"
	// CauseFaxFailed: the fax session failed (negotiation, line); the
	// fax result code is in the results. Retried.
	CauseFaxFailed = "FAX_FAILED"
	// CauseMessageCut: we ended the call before the whole message was
	// played (shutdown grace, maximum duration).
	CauseMessageCut = "MESSAGE_CUT"
	// CauseNotDelivered: the callee hung up before the message ended, or
	// the gateway could not read delivery.
	CauseNotDelivered = "NOT_DELIVERED"
	// CauseMachineHangUp: an answering machine answered and the program's
	// on_machine policy (hang_up) ended the call unplayed. Tried again
	// later, in case a person answers, as try_allowed permits.
	CauseMachineHangUp = "MACHINE_HANGUP"
	// CauseOptedOut: the callee pressed the opt-out key and the opt-out was
	// recorded; the message stopped. Never tried again.
	CauseOptedOut = "OPTED_OUT"

	// Message gateways (SMTP, Kannel): what the peer answered.

	// CauseSMTPTempFailure: the SMTP server answered 4xx (try later,
	// elsewhere). The route's.
	CauseSMTPTempFailure = "SMTP_TEMPORARY_FAILURE"
	// CauseSMTPRejected: the SMTP server answered 5xx for the recipient or
	// the message: a final failure of that recipient.
	CauseSMTPRejected = "SMTP_REJECTED"
	// CauseSMSRejected: the SMSC rejected the message (Kannel's delivery
	// report 16): final.
	CauseSMSRejected = "SMS_REJECTED"
)

type causeRule struct {
	disp    Disposition
	invalid bool
	fault   Fault
}

// causeRules maps a Q.850 cause, as FreeSWITCH names it, to what it means
// for a call that was not answered, and each of this package's causes to
// what it means. Causes not listed are the callee's and retried, which
// try_allowed bounds. This is the one table: gateways report what the
// network said, and the engine acts on this table's reading of it.
var causeRules = map[string]causeRule{
	// The callee or their phone: try again later.
	"NORMAL_CLEARING":          {disp: Retry}, // unanswered yet "normal": the far end gave up ringing
	"USER_BUSY":                {disp: Retry},
	"NO_USER_RESPONSE":         {disp: Retry},
	"NO_ANSWER":                {disp: Retry},
	"SUBSCRIBER_ABSENT":        {disp: Retry},
	"USER_NOT_REGISTERED":      {disp: Retry},
	"DESTINATION_OUT_OF_ORDER": {disp: Retry},
	"NORMAL_UNSPECIFIED":       {disp: Retry},
	"NORMAL_TEMPORARY_FAILURE": {disp: Retry},
	"RECOVERY_ON_TIMER_EXPIRE": {disp: Retry}, // SIP 408/504: nobody answered the INVITE in time
	"ORIGINATOR_CANCEL":        {disp: Retry}, // we cancelled (ring timeout, shutdown)
	"ALLOTTED_TIMEOUT":         {disp: Retry},
	"PROGRESS_TIMEOUT":         {disp: Retry},
	"MEDIA_TIMEOUT":            {disp: Retry},
	"CHANNEL_UNACCEPTABLE":     {disp: Retry},
	"LOSE_RACE":                {disp: Retry},
	"MANAGER_REQUEST":          {disp: Retry},
	"SYSTEM_SHUTDOWN":          {disp: Retry},
	"CRASH":                    {disp: Retry},

	// The provider or the network between: back the provider off, route
	// the retry elsewhere.
	"NORMAL_CIRCUIT_CONGESTION": {disp: Retry, fault: FaultRoute},
	"SWITCH_CONGESTION":         {disp: Retry, fault: FaultRoute},
	"NETWORK_OUT_OF_ORDER":      {disp: Retry, fault: FaultRoute},
	"REQUESTED_CHAN_UNAVAIL":    {disp: Retry, fault: FaultRoute},
	"SERVICE_UNAVAILABLE":       {disp: Retry, fault: FaultRoute},
	"EXCHANGE_ROUTING_ERROR":    {disp: Retry, fault: FaultRoute},
	"GATEWAY_DOWN":              {disp: Retry, fault: FaultRoute},
	"BEARERCAPABILITY_NOTAVAIL": {disp: Retry, fault: FaultRoute},
	CauseGatewayError:           {disp: Retry, fault: FaultRoute},
	CauseAuthFailed:             {disp: Retry, fault: FaultRoute},
	CauseSMTPTempFailure:        {disp: Retry, fault: FaultRoute},

	// Configuration or content no route can carry: fail final, block the
	// campaign, blame no route.
	CauseContentError:  {disp: Final, fault: FaultContent},
	CauseNotConfigured: {disp: Final, fault: FaultContent},
	CauseMediaError:    {disp: Final, fault: FaultContent},

	// Answered but not delivered. The callee was reached: only a failed
	// fax is tried again by itself.
	CauseFaxFailed:             {disp: Retry},
	CauseMessageCut:            {disp: Final},
	CauseNotDelivered:          {disp: Final},
	CauseAnsweredBeforeRestart: {disp: Final},
	CauseMachineHangUp:         {disp: Retry},
	CauseOptedOut:              {disp: Final},
	CauseRestart:               {disp: Retry},

	// The number cannot be reached as written: the transmission is invalid.
	"UNALLOCATED_NUMBER":    {disp: Final, invalid: true},
	"NO_ROUTE_TRANSIT_NET":  {disp: Final, invalid: true},
	"NO_ROUTE_DESTINATION":  {disp: Final, invalid: true},
	"INVALID_NUMBER_FORMAT": {disp: Final, invalid: true},
	"NUMBER_CHANGED":        {disp: Final, invalid: true},

	// Refused for good: retrying would annoy or cost without result.
	"CALL_REJECTED":                  {disp: Final},
	"REDIRECTION_TO_NEW_DESTINATION": {disp: Final},
	"FACILITY_REJECTED":              {disp: Final},
	"OUTGOING_CALL_BARRED":           {disp: Final},
	"INCOMING_CALL_BARRED":           {disp: Final},
	"BEARERCAPABILITY_NOTAUTH":       {disp: Final},
	"BEARERCAPABILITY_NOTIMPL":       {disp: Final},
	"FACILITY_NOT_IMPLEMENTED":       {disp: Final},
	"SERVICE_NOT_IMPLEMENTED":        {disp: Final},
	"INCOMPATIBLE_DESTINATION":       {disp: Final},
	"INVALID_MSG_UNSPECIFIED":        {disp: Final},
	"MANDATORY_IE_MISSING":           {disp: Final},
	CauseSMTPRejected:                {disp: Final},
	CauseSMSRejected:                 {disp: Final},
}

// sipCauses maps a final SIP response to the cause it means here. It
// follows FreeSWITCH's mapping except where the engine must act
// differently: 503 is congestion (back the trunk off), and 408/480 are no
// answer.
var sipCauses = map[int]string{
	400: "NORMAL_TEMPORARY_FAILURE",
	401: CauseAuthFailed, // the trunk refused our credentials: the route's fault
	402: "CALL_REJECTED",
	403: "CALL_REJECTED",
	404: "UNALLOCATED_NUMBER",
	405: "SERVICE_UNAVAILABLE",
	407: CauseAuthFailed,
	408: "NO_ANSWER",
	410: "NUMBER_CHANGED",
	413: "INVALID_NUMBER_FORMAT",
	414: "INVALID_NUMBER_FORMAT",
	416: "INVALID_NUMBER_FORMAT",
	420: "BEARERCAPABILITY_NOTIMPL",
	421: "BEARERCAPABILITY_NOTIMPL",
	480: "NO_ANSWER",
	481: "NORMAL_TEMPORARY_FAILURE",
	482: "EXCHANGE_ROUTING_ERROR",
	483: "EXCHANGE_ROUTING_ERROR",
	484: "INVALID_NUMBER_FORMAT",
	485: "NO_ROUTE_DESTINATION",
	486: "USER_BUSY",
	487: "ORIGINATOR_CANCEL",
	488: "INCOMPATIBLE_DESTINATION",
	500: "NORMAL_TEMPORARY_FAILURE",
	501: "SERVICE_NOT_IMPLEMENTED",
	502: "NETWORK_OUT_OF_ORDER",
	503: "NORMAL_CIRCUIT_CONGESTION",
	504: "RECOVERY_ON_TIMER_EXPIRE",
	505: "SERVICE_NOT_IMPLEMENTED",
	513: "INTERWORKING",
	600: "USER_BUSY",
	603: "CALL_REJECTED",
	604: "UNALLOCATED_NUMBER",
	606: "INCOMPATIBLE_DESTINATION",
}

// SIPCause is the cause a final SIP response means, by the table above or
// by class for a code it does not list. It is the one SIP mapping: the SIP
// gateway uses it too.
func SIPCause(code int) string {
	if c, ok := sipCauses[code]; ok {
		return c
	}
	switch {
	case code >= 600:
		return "CALL_REJECTED"
	case code >= 500:
		return "NETWORK_OUT_OF_ORDER"
	default:
		return "NORMAL_UNSPECIFIED"
	}
}

// Classify reads an attempt's outcome. An answered call is completed only
// when the gateway read delivery from the peer (Outcome.Delivered); else it
// failed with Outcome.Failure (CauseNotDelivered when the gateway gave
// none), and the table decides the rest. An unanswered call is judged by
// its SIP code when the gateway reported one (it is more precise:
// FreeSWITCH reports 503 as NORMAL_TEMPORARY_FAILURE), else by its Q.850
// cause. A 487 answering our own CANCEL keeps the gateway's cause (the ring
// timeout is NO_ANSWER on every gateway).
func Classify(o Outcome) Verdict {
	cause := strings.ToUpper(strings.TrimSpace(o.Cause))
	if !o.Connect.IsZero() {
		if o.Delivered {
			if cause == "" {
				cause = "NORMAL_CLEARING"
			}
			return Verdict{Disposition: Completed, Cause: cause}
		}
		failure := strings.ToUpper(strings.TrimSpace(o.Failure))
		if failure == "" {
			failure = CauseNotDelivered
		}
		return verdictOf(failure, "")
	}
	if o.SIPCode >= 300 && !(o.SIPCode == 487 && cause != "") {
		cause = SIPCause(o.SIPCode)
	}
	if cause == "" {
		cause = "NORMAL_UNSPECIFIED"
	}
	return verdictOf(cause, "")
}

func verdictOf(cause, field string) Verdict {
	r, ok := causeRules[cause]
	if !ok {
		r = causeRule{disp: Retry}
	}
	f := r.fault
	if f == FaultNone {
		f = FaultCallee
	}
	return Verdict{Disposition: r.disp, Cause: cause, Invalid: r.invalid, Fault: f, Field: field}
}

// ClassifyError is the verdict on an attempt the gateway could not make
// (Deliver or Place returned an error): by the error's fault (FaultOf). A
// route fault is retried elsewhere without spending the try; a content
// fault fails final and names its field.
func ClassifyError(err error) Verdict {
	fe := FaultOf(err)
	switch fe.Fault {
	case FaultContent:
		return Verdict{Disposition: Final, Cause: fe.Cause, Fault: FaultContent, Field: fe.Field}
	case FaultRoute:
		return Verdict{Disposition: Retry, Cause: fe.Cause, Fault: FaultRoute}
	}
	return verdictOf(fe.Cause, fe.Field)
}
