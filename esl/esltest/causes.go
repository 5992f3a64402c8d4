package esltest

import (
	"strconv"
	"strings"
)

// Hangup causes used by the fake's default scripts and replies.
const (
	CauseNormalClearing         = "NORMAL_CLEARING"
	CauseUserBusy               = "USER_BUSY"
	CauseNoAnswer               = "NO_ANSWER"
	CauseNormalTemporaryFailure = "NORMAL_TEMPORARY_FAILURE"
	CauseCallRejected           = "CALL_REJECTED"
	CauseNoRouteDestination     = "NO_ROUTE_DESTINATION"
	// CauseDestinationOutOfOrder is what an originate gets when the switch
	// refuses to create the session: over max-sessions or over
	// sessions-per-second (switch_core_session_request_uuid returns NULL and
	// mod_sofia's sofia_outgoing_channel reports its initial cause).
	CauseDestinationOutOfOrder = "DESTINATION_OUT_OF_ORDER"
)

// causeInfo is what FreeSWITCH knows about a hangup cause: its Q.850 code
// (switch_channel_cause2str) and, for the fake, the SIP final response a
// peer sends to produce it (the inverse of mod_sofia's sip->cause mapping).
type causeInfo struct {
	q850   int
	sip    int
	phrase string
}

// cause returns the table entry for name (case-insensitive); ok is false for
// names FreeSWITCH does not know.
func cause(name string) (causeInfo, bool) {
	switch strings.ToUpper(name) {
	case "UNSPECIFIED":
		return causeInfo{0, 0, ""}, true
	case "UNALLOCATED_NUMBER":
		return causeInfo{1, 404, "Not Found"}, true
	case "NO_ROUTE_TRANSIT_NET":
		return causeInfo{2, 404, "Not Found"}, true
	case CauseNoRouteDestination:
		return causeInfo{3, 604, "Does Not Exist Anywhere"}, true
	case "CHANNEL_UNACCEPTABLE":
		return causeInfo{6, 0, ""}, true
	case CauseNormalClearing:
		return causeInfo{16, 0, ""}, true
	case CauseUserBusy:
		return causeInfo{17, 486, "Busy Here"}, true
	case "NO_USER_RESPONSE":
		return causeInfo{18, 408, "Request Timeout"}, true
	case CauseNoAnswer:
		return causeInfo{19, 480, "Temporarily Unavailable"}, true
	case "SUBSCRIBER_ABSENT":
		return causeInfo{20, 480, "Temporarily Unavailable"}, true
	case CauseCallRejected:
		return causeInfo{21, 603, "Decline"}, true
	case "NUMBER_CHANGED":
		return causeInfo{22, 410, "Gone"}, true
	case "REDIRECTION_TO_NEW_DESTINATION":
		return causeInfo{23, 0, ""}, true
	case "EXCHANGE_ROUTING_ERROR":
		return causeInfo{25, 483, "Too Many Hops"}, true
	case CauseDestinationOutOfOrder:
		return causeInfo{27, 502, "Bad Gateway"}, true
	case "INVALID_NUMBER_FORMAT":
		return causeInfo{28, 484, "Address Incomplete"}, true
	case "FACILITY_REJECTED":
		return causeInfo{29, 501, "Not Implemented"}, true
	case "NORMAL_UNSPECIFIED":
		return causeInfo{31, 480, "Temporarily Unavailable"}, true
	case "NORMAL_CIRCUIT_CONGESTION":
		return causeInfo{34, 503, "Service Unavailable"}, true
	case "NETWORK_OUT_OF_ORDER":
		return causeInfo{38, 502, "Bad Gateway"}, true
	case CauseNormalTemporaryFailure:
		return causeInfo{41, 503, "Service Unavailable"}, true
	case "SWITCH_CONGESTION":
		return causeInfo{42, 503, "Service Unavailable"}, true
	case "REQUESTED_CHAN_UNAVAIL":
		return causeInfo{44, 503, "Service Unavailable"}, true
	case "OUTGOING_CALL_BARRED":
		return causeInfo{52, 403, "Forbidden"}, true
	case "BEARERCAPABILITY_NOTAVAIL":
		return causeInfo{58, 488, "Not Acceptable Here"}, true
	case "SERVICE_UNAVAILABLE":
		return causeInfo{63, 503, "Service Unavailable"}, true
	case "CHAN_NOT_IMPLEMENTED":
		return causeInfo{66, 0, ""}, true
	case "INCOMPATIBLE_DESTINATION":
		return causeInfo{88, 488, "Not Acceptable Here"}, true
	case "RECOVERY_ON_TIMER_EXPIRE":
		return causeInfo{102, 504, "Server Time-out"}, true
	case "INTERWORKING":
		return causeInfo{127, 500, "Server Internal Error"}, true
	case "ORIGINATOR_CANCEL":
		return causeInfo{487, 487, "Request Terminated"}, true
	case "MANAGER_REQUEST":
		return causeInfo{503, 0, ""}, true
	case "SYSTEM_SHUTDOWN":
		return causeInfo{701, 503, "Service Unavailable"}, true
	case "ALLOTTED_TIMEOUT":
		return causeInfo{602, 0, ""}, true
	case "MEDIA_TIMEOUT":
		return causeInfo{604, 0, ""}, true
	case "PROGRESS_TIMEOUT":
		return causeInfo{607, 0, ""}, true
	case "GATEWAY_DOWN":
		return causeInfo{609, 0, ""}, true
	case "INVALID_GATEWAY":
		return causeInfo{608, 0, ""}, true
	case "USER_NOT_REGISTERED":
		return causeInfo{606, 404, "Not Found"}, true
	}
	return causeInfo{}, false
}

// q850 is the value of variable_hangup_cause_q850: the cause code when it is
// a Q.850 code, NORMAL_CLEARING for FreeSWITCH's own causes above 127
// (switch_channel_cause_q850).
func q850(name string) int {
	c, _ := cause(name)
	if c.q850 > 127 {
		return 16
	}
	return c.q850
}

// parseCause turns the argument of uuid_kill into a cause name the way
// switch_channel_str2cause does: a number is a Q.850 code, a known name is
// upper-cased, anything else is NONE.
func parseCause(s string) string {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		for _, name := range knownCauses() {
			if c, _ := cause(name); c.q850 == n {
				return name
			}
		}
		return "NONE"
	}
	if _, ok := cause(s); ok {
		return strings.ToUpper(s)
	}
	return "NONE"
}

// knownCauses lists the names cause() knows, lowest code first, so that a
// numeric lookup is deterministic.
func knownCauses() []string {
	return []string{
		"UNSPECIFIED", "UNALLOCATED_NUMBER", "NO_ROUTE_TRANSIT_NET", CauseNoRouteDestination,
		"CHANNEL_UNACCEPTABLE", CauseNormalClearing, CauseUserBusy, "NO_USER_RESPONSE", CauseNoAnswer,
		"SUBSCRIBER_ABSENT", CauseCallRejected, "NUMBER_CHANGED", "REDIRECTION_TO_NEW_DESTINATION",
		"EXCHANGE_ROUTING_ERROR", CauseDestinationOutOfOrder, "INVALID_NUMBER_FORMAT", "FACILITY_REJECTED",
		"NORMAL_UNSPECIFIED", "NORMAL_CIRCUIT_CONGESTION", "NETWORK_OUT_OF_ORDER", CauseNormalTemporaryFailure,
		"SWITCH_CONGESTION", "REQUESTED_CHAN_UNAVAIL", "OUTGOING_CALL_BARRED", "BEARERCAPABILITY_NOTAVAIL",
		"SERVICE_UNAVAILABLE", "CHAN_NOT_IMPLEMENTED", "INCOMPATIBLE_DESTINATION", "RECOVERY_ON_TIMER_EXPIRE",
		"INTERWORKING", "ORIGINATOR_CANCEL", "MANAGER_REQUEST", "ALLOTTED_TIMEOUT", "MEDIA_TIMEOUT",
		"USER_NOT_REGISTERED", "PROGRESS_TIMEOUT", "INVALID_GATEWAY", "GATEWAY_DOWN", "SYSTEM_SHUTDOWN",
	}
}
