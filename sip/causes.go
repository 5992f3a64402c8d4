package sip

// Hangup causes, spelled as FreeSWITCH spells its Q.850 causes, so the
// engine reads one vocabulary whichever gateway carried the call.
const (
	CauseNormalClearing          = "NORMAL_CLEARING"
	CauseUserBusy                = "USER_BUSY"
	CauseNoAnswer                = "NO_ANSWER"
	CauseUnallocatedNumber       = "UNALLOCATED_NUMBER"
	CauseInvalidNumberFormat     = "INVALID_NUMBER_FORMAT"
	CauseNormalTemporaryFailure  = "NORMAL_TEMPORARY_FAILURE"
	CauseCallRejected            = "CALL_REJECTED"
	CauseOriginatorCancel        = "ORIGINATOR_CANCEL"
	CauseNoRouteDestination      = "NO_ROUTE_DESTINATION"
	CauseRecoveryOnTimerExpire   = "RECOVERY_ON_TIMER_EXPIRE"
	CauseNumberChanged           = "NUMBER_CHANGED"
	CauseInterworking            = "INTERWORKING"
	CauseIncompatibleDestination = "INCOMPATIBLE_DESTINATION"
	CauseNetworkOutOfOrder       = "NETWORK_OUT_OF_ORDER"
	CauseServiceUnavailable      = "SERVICE_UNAVAILABLE"
	CauseServiceNotImplemented   = "SERVICE_NOT_IMPLEMENTED"
	CauseExchangeRoutingError    = "EXCHANGE_ROUTING_ERROR"
	CauseAllottedTimeout         = "ALLOTTED_TIMEOUT"
	CauseNormalUnspecified       = "NORMAL_UNSPECIFIED"
)

// causeForStatus maps a final SIP status to a hangup cause. It follows
// FreeSWITCH's mod_sofia table (sofia_glue_sip_cause_to_freeswitch) except
// for 408 and 480, which a dialer reads as "nobody answered" (NO_ANSWER)
// rather than a timer or a missing user, as FreeSWITCH itself reports an
// originate that rang out.
func causeForStatus(code int) string {
	switch {
	case code >= 200 && code < 300:
		return CauseNormalClearing
	}
	switch code {
	case 401, 402, 403, 407, 603, 608:
		return CauseCallRejected
	case 404:
		return CauseUnallocatedNumber
	case 485, 604:
		return CauseNoRouteDestination
	case 408, 480:
		return CauseNoAnswer
	case 504:
		return CauseRecoveryOnTimerExpire
	case 410:
		return CauseNumberChanged
	case 413, 414, 416, 420, 421, 423, 505, 513:
		return CauseInterworking
	case 400, 481, 500, 503:
		return CauseNormalTemporaryFailure
	case 486, 600:
		return CauseUserBusy
	case 484:
		return CauseInvalidNumberFormat
	case 488, 606:
		return CauseIncompatibleDestination
	case 502:
		return CauseNetworkOutOfOrder
	case 405:
		return CauseServiceUnavailable
	case 406, 415, 501:
		return CauseServiceNotImplemented
	case 482, 483:
		return CauseExchangeRoutingError
	case 487:
		return CauseOriginatorCancel
	}
	return CauseNormalUnspecified
}
