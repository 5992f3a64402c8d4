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
	// code is taken into account; it becomes the spool's response.
	Cause string
	// Invalid marks a final failure of the number itself: the transmission
	// ends as invalid rather than failed.
	Invalid bool
	// ProviderFault blames the provider rather than the callee: it is
	// skipped for a back-off period and the retry goes elsewhere at once.
	ProviderFault bool
}

// Causes the engine writes itself.
const (
	// CauseRestart closes an attempt that recovery found without a live
	// call: the daemon stopped before it learnt how the call ended.
	CauseRestart = "restart"
	// CauseGatewayError closes an attempt the gateway could not make at all.
	CauseGatewayError = "GATEWAY_ERROR"
	// CauseInvalidNumber closes a transmission whose contact has no
	// number (or address) the gateway could use; nothing is dialled.
	CauseInvalidNumber = "INVALID_NUMBER_FORMAT"
)

type causeRule struct {
	disp     Disposition
	invalid  bool
	provider bool
}

// causeRules maps a Q.850 cause, as FreeSWITCH names it, to what it means
// for a call that was not answered. Answered calls are completed whatever
// the hangup cause; causes not listed are retried, which try_allowed bounds.
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
	"NORMAL_CIRCUIT_CONGESTION": {disp: Retry, provider: true},
	"SWITCH_CONGESTION":         {disp: Retry, provider: true},
	"NETWORK_OUT_OF_ORDER":      {disp: Retry, provider: true},
	"REQUESTED_CHAN_UNAVAIL":    {disp: Retry, provider: true},
	"SERVICE_UNAVAILABLE":       {disp: Retry, provider: true},
	"EXCHANGE_ROUTING_ERROR":    {disp: Retry, provider: true},
	"GATEWAY_DOWN":              {disp: Retry, provider: true},
	"BEARERCAPABILITY_NOTAVAIL": {disp: Retry, provider: true},
	CauseGatewayError:           {disp: Retry, provider: true},

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
}

// sipCauses maps a final SIP response to the cause it means here. It
// follows FreeSWITCH's mapping except where the engine must act
// differently: 503 is congestion (back the trunk off), and 408/480 are no
// answer.
var sipCauses = map[int]string{
	400: "NORMAL_TEMPORARY_FAILURE",
	401: "SERVICE_UNAVAILABLE", // the trunk refused our credentials: the provider's fault
	402: "CALL_REJECTED",
	403: "CALL_REJECTED",
	404: "UNALLOCATED_NUMBER",
	405: "SERVICE_UNAVAILABLE",
	407: "SERVICE_UNAVAILABLE",
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

// sipCause is the cause of a final SIP code the table does not list, by class.
func sipCause(code int) string {
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

// Classify reads an attempt's outcome. An answered call is completed; an
// unanswered one is judged by its SIP code when the gateway reported one
// (it is more precise: FreeSWITCH reports 503 as NORMAL_TEMPORARY_FAILURE),
// else by its Q.850 cause.
func Classify(o Outcome) Verdict {
	cause := strings.ToUpper(strings.TrimSpace(o.Cause))
	if !o.Connect.IsZero() {
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		return Verdict{Disposition: Completed, Cause: cause}
	}
	if o.SIPCode >= 300 {
		cause = sipCause(o.SIPCode)
	}
	if cause == "" {
		cause = "NORMAL_UNSPECIFIED"
	}
	r, ok := causeRules[cause]
	if !ok {
		r = causeRule{disp: Retry}
	}
	return Verdict{Disposition: r.disp, Cause: cause, Invalid: r.invalid, ProviderFault: r.provider}
}

// ClassifyGatewayError is the verdict on an attempt the gateway could not
// make at all (Deliver returned an error): the provider is at fault.
func ClassifyGatewayError() Verdict {
	return Verdict{Disposition: Retry, Cause: CauseGatewayError, ProviderFault: true}
}
