package esl

import (
	"strconv"
	"strings"
	"time"
)

// Event names the gateway acts on.
const (
	evBackgroundJob   = "BACKGROUND_JOB"
	evCreate          = "CHANNEL_CREATE"
	evProgress        = "CHANNEL_PROGRESS"
	evProgressMedia   = "CHANNEL_PROGRESS_MEDIA"
	evAnswer          = "CHANNEL_ANSWER"
	evHangup          = "CHANNEL_HANGUP"
	evHangupComplete  = "CHANNEL_HANGUP_COMPLETE"
	evDTMF            = "DTMF"
	headerJobUUID     = "Job-UUID"
	headerUniqueID    = "Unique-ID"
	headerEventSeq    = "Event-Sequence"
	headerEventMicros = "Event-Date-Timestamp"
)

// event is the part of an ESL event a call needs, read once in the
// connection's dispatcher so that calls never hold the frame.
type event struct {
	name     string
	seq      uint64
	at       time.Time // Event-Date-Timestamp
	received time.Time // when the gateway got it
	uuid     string    // Unique-ID (channel events)
	job      string    // Job-UUID (BACKGROUND_JOB)
	body     string    // BACKGROUND_JOB result: "+OK <uuid>" or "-ERR CAUSE"

	digit     string // DTMF
	cause     string // Hangup-Cause
	sipStatus int    // variable_sip_term_status
	billsec   int    // variable_billsec
	hasBill   bool
	// CDR times of CHANNEL_HANGUP_COMPLETE (variable_*_uepoch), zero when
	// unset: they fill in for events missed while a connection was down.
	startAt, answerAt, endAt time.Time

	// --- Delivery and node state (filled by parseDelivery, delivery.go) ---
	app         string    // Application (CHANNEL_EXECUTE_COMPLETE)
	appData     string    // Application-Data, expanded
	appResponse string    // Application-Response, else variable_current_application_response
	subclass    string    // Event-Subclass of CUSTOM events
	info        string    // Event-Info (SHUTDOWN, SHUTDOWN_REQUESTED)
	fax         faxResult // spandsp result event, or the fax_* variables
	avmdDetect  bool      // variable_avmd_detect=TRUE of HANGUP_COMPLETE (amd.go)
	terminator  string    // variable_playback_terminator_used: a key ended playback or speak
	// CHANNEL_PARK of an inbound call (inbound.go): variable_dialerd_inbound,
	// Caller-Destination-Number, Caller-Caller-ID-Number.
	inbound, dest, caller string
	// --- end of delivery fields ---
}

// parseEvent reads an event frame (values already URL-decoded). The
// strings it keeps are copies: the frame's values are slices of the whole
// event, which a call would otherwise hold for as long as it lives.
func parseEvent(ev *frame, now time.Time) event {
	e := event{
		name:     strings.Clone(ev.get("Event-Name")),
		received: now,
		uuid:     strings.Clone(ev.get(headerUniqueID)),
		job:      strings.Clone(ev.get(headerJobUUID)),
	}
	e.seq, _ = strconv.ParseUint(ev.get(headerEventSeq), 10, 64)
	e.at = micros(ev.get(headerEventMicros))
	switch e.name {
	case evBackgroundJob:
		e.body = strings.TrimSpace(string(ev.body))
	case evDTMF:
		e.digit = strings.Clone(ev.get("DTMF-Digit"))
	case evHangup, evHangupComplete:
		e.cause = strings.Clone(ev.get("Hangup-Cause"))
		e.sipStatus, _ = strconv.Atoi(ev.get("variable_sip_term_status"))
		if b, err := strconv.Atoi(ev.get("variable_billsec")); err == nil {
			e.billsec, e.hasBill = b, true
		}
		e.startAt = micros(ev.get("variable_start_uepoch"))
		e.answerAt = micros(ev.get("variable_answer_uepoch"))
		e.endAt = micros(ev.get("variable_end_uepoch"))
	}
	parseDelivery(func(k string) string { return strings.Clone(ev.get(k)) }, &e)
	return e
}

// micros reads FreeSWITCH's microseconds since the epoch; "0", empty or
// garbage is the zero time.
func micros(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.UnixMicro(n)
}

// channelEvent reports whether e is about a channel (not a job).
func (e event) channelEvent() bool { return e.name != evBackgroundJob }

// jobFailed returns the cause of a failed BACKGROUND_JOB ("-ERR CAUSE").
func (e event) jobFailed() (cause string, failed bool) {
	rest, ok := strings.CutPrefix(e.body, "-ERR")
	if !ok {
		return "", false
	}
	cause = strings.TrimSpace(rest)
	if i := strings.IndexAny(cause, " \n"); i >= 0 {
		cause = cause[:i]
	}
	return cause, true
}
