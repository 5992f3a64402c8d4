package dialer

// ReportRow is one attempt of a campaign in its compliance record: a spool,
// or a transmission the do-not-call scrub ended without dialing (SpoolID
// 0, Suppressed set).
type ReportRow struct {
	SpoolID        int64  `json:"spool_id"`
	TransmissionID int64  `json:"transmission_id"`
	ContactID      int64  `json:"contact_id"`
	Number         string `json:"number"`
	TimeUTC        string `json:"time_utc"`   // RFC 3339; for a suppressed one, when it was scrubbed
	TimeLocal      string `json:"time_local"` // the same instant in the called party's zone
	TimeZone       string `json:"time_zone"`
	CallerID       string `json:"caller_id"` // as presented on the attempt: the number, "" the trunk's own identity, "anonymous"; "" when suppressed
	ProviderID     int64  `json:"provider_id"`
	Route          string `json:"route"`   // the provider's name, and the node for FreeSWITCH
	Outcome        string `json:"outcome"` // the spool's status: completed, failed, initiated; "suppressed"
	Cause          string `json:"cause"`
	SIPCode        string `json:"sip_code"`
	Answered       bool   `json:"answered"`
	Billsec        int64  `json:"billsec"`
	DTMF           string `json:"dtmf"`
	OptedOut       bool   `json:"opted_out"`
	Machine        string `json:"machine_detection"` // human, machine, unknown; "" when it did not run
	Suppressed     bool   `json:"suppressed"`
	SuppressedList int64  `json:"suppressed_list"`
}

// ReportColumns are the CSV columns of a report, in ReportRow order.
func ReportColumns() []string {
	return []string{"spool_id", "transmission_id", "contact_id", "number", "time_utc", "time_local", "time_zone", "caller_id",
		"provider_id", "route", "outcome", "cause", "sip_code", "answered", "billsec", "dtmf", "opted_out",
		"machine_detection", "suppressed", "suppressed_list"}
}

// ReportSummary totals a campaign's record.
type ReportSummary struct {
	CampaignID int64 `json:"campaign_id"`
	Attempts   int64 `json:"attempts"` // spools
	Answered   int64 `json:"answered"`
	Completed  int64 `json:"completed"` // delivered
	// Abandoned counts the calls answered that ended before the message
	// got through (the callee hung up, or the line dropped), not counting
	// opt-outs and on_machine hang-ups (nobody was left waiting). A broadcast
	// has no agents, so there are no calls abandoned for want of one.
	Abandoned  int64 `json:"abandoned"`
	Suppressed int64 `json:"suppressed"`
	OptedOut   int64 `json:"opted_out"`
	// Deferrals counts the times the calling window held work past its
	// due time; DeferredTransmissions how many transmissions it held.
	Deferrals             int64 `json:"outside_hours_deferrals"`
	DeferredTransmissions int64 `json:"deferred_transmissions"`
}
