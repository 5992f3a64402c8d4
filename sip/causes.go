package sip

// Hangup causes, spelled as FreeSWITCH spells its Q.850 causes, so the
// engine reads one vocabulary whichever gateway carried the call. A final
// SIP response is mapped by dialer.SIPCause, the one SIP mapping.
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
