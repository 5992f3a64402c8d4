package esl

import (
	"strconv"
	"strings"
	"time"

	"github.com/dialerd/dialerd/esl/internal/eslgo"
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
// listener goroutine so that calls never hold eslgo's objects.
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
}

func parseEvent(ev *eslgo.Event, now time.Time) event {
	e := event{
		name:     ev.GetName(),
		received: now,
		uuid:     ev.GetHeader(headerUniqueID),
		job:      ev.GetHeader(headerJobUUID),
	}
	e.seq, _ = strconv.ParseUint(ev.GetHeader(headerEventSeq), 10, 64)
	e.at = micros(ev.GetHeader(headerEventMicros))
	switch e.name {
	case evBackgroundJob:
		e.body = strings.TrimSpace(string(ev.Body))
	case evDTMF:
		e.digit = ev.GetHeader("DTMF-Digit")
	case evHangup, evHangupComplete:
		e.cause = ev.GetHeader("Hangup-Cause")
		e.sipStatus, _ = strconv.Atoi(ev.GetHeader("variable_sip_term_status"))
		if b, err := strconv.Atoi(ev.GetHeader("variable_billsec")); err == nil {
			e.billsec, e.hasBill = b, true
		}
		e.startAt = micros(ev.GetHeader("variable_start_uepoch"))
		e.answerAt = micros(ev.GetHeader("variable_answer_uepoch"))
		e.endAt = micros(ev.GetHeader("variable_end_uepoch"))
	}
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
