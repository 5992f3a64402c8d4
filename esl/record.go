package esl

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Call records: how a call ended, kept by FreeSWITCH itself so that a call
// that ends while dialerd is down keeps its real outcome (see doc.go).
//
// Every originate carries
//
//	origination_nested_vars=true,api_reporting_hook=hash insert/dialerd/<uuid>/<record>
//
// where <record> is recordFields below, ';'-separated, with ${...}
// references that FreeSWITCH expands when the hook runs, in CS_REPORTING,
// just before CHANNEL_HANGUP_COMPLETE: the hangup cause, billsec, the CDR
// times, the SIP status, the last application and its response, and
// spandsp's fax result. Recovery reads it back with "hash select" and
// removes it with "hash delete"; a call followed to its end removes it too.
const (
	recordRealm   = "dialerd"
	recordVersion = "v1"
)

// recordFields are the values of a record after its version, in order.
// current_application_response is last: it is the only free text.
var recordFields = []string{
	"hangup_cause", "billsec", "start_uepoch", "answer_uepoch", "end_uepoch", "sip_term_status",
	"fax_success", "fax_result_code", "fax_document_transferred_pages",
	"current_application", "current_application_response",
}

// reportingHook is the api_reporting_hook of the call uuid.
func reportingHook(uuid string) string {
	var b strings.Builder
	b.WriteString("hash insert/" + recordRealm + "/" + uuid + "/" + recordVersion)
	for _, f := range recordFields {
		b.WriteString(";${" + f + "}")
	}
	return b.String()
}

// record is a call record read back.
type record struct {
	values map[string]string
}

// parseRecord reads what "hash select" returned; ok is false when there is
// no record (an empty answer) or it is not one of ours.
func parseRecord(s string) (record, bool) {
	s = strings.TrimRight(s, "\n")
	parts := strings.SplitN(s, ";", len(recordFields)+1)
	if len(parts) != len(recordFields)+1 || parts[0] != recordVersion {
		return record{}, false
	}
	r := record{values: make(map[string]string, len(recordFields))}
	for i, f := range recordFields {
		r.values[f] = parts[i+1]
	}
	return r, true
}

// event turns the record into the CHANNEL_HANGUP_COMPLETE it stands for, so
// that the outcome is built exactly as from the real event.
func (r record) event(uuid string, now time.Time) event {
	v := r.values
	e := event{name: evHangupComplete, uuid: uuid, received: now, cause: v["hangup_cause"]}
	e.sipStatus, _ = strconv.Atoi(v["sip_term_status"])
	if b, err := strconv.Atoi(v["billsec"]); err == nil {
		e.billsec, e.hasBill = b, true
	}
	e.startAt = micros(v["start_uepoch"])
	e.answerAt = micros(v["answer_uepoch"])
	e.endAt = micros(v["end_uepoch"])
	e.at = e.endAt
	// The record holds the variables HANGUP_COMPLETE would carry.
	parseDelivery(func(name string) string {
		f, _ := strings.CutPrefix(name, "variable_")
		return v[f]
	}, &e)
	return e
}

// recordClient is the part of a connection records need.
type recordClient interface {
	api(ctx context.Context, cmd string) (string, error)
}

// readRecord asks the node for the record of uuid.
func readRecord(ctx context.Context, c recordClient, uuid string) (record, bool, error) {
	out, err := c.api(ctx, "hash select/"+recordRealm+"/"+uuid)
	if err != nil {
		return record{}, false, fmt.Errorf("esl: hash select: %w", err)
	}
	r, ok := parseRecord(out)
	return r, ok, nil
}

// deleteRecord removes the record of uuid; a missing one is no error.
func deleteRecord(ctx context.Context, c recordClient, uuid string) error {
	if _, err := c.api(ctx, "hash delete/"+recordRealm+"/"+uuid); err != nil {
		return fmt.Errorf("esl: hash delete: %w", err)
	}
	return nil
}
