package api

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/memgateway"
)

// The report is the record of each attempt, read from its spool: every
// column matches the spool row for row, the caller id is the one the
// attempt presented (not the account's phone now), CSV and JSON carry the
// same rows, and the summary counts them.
func TestCampaignReportIsTheRecordOfEachAttempt(t *testing.T) {
	ee := complianceEngineEnv(t, memgateway.Script{Kind: memgateway.Answer, Ring: time.Second, Talk: 5 * time.Second, DTMF: "7"})
	ee.gw.Script("+14155550101", memgateway.Script{Kind: memgateway.Busy, Ring: time.Second})
	ee.gw.Script("+14155550102", memgateway.Script{Kind: memgateway.Answer, Ring: time.Second, Talk: 2 * time.Second, Failure: dialer.CauseMessageCut})
	ee.expect(ee.do("PUT", "/compliance", ee.admin, map[string]any{"window_start": "00:00", "window_end": "24:00"}), 200)
	var l dialer.DNCList
	ee.expect(ee.do("POST", "/dnc", ee.admin, map[string]any{"name": "never", "is_default": true}), 200).json(t, &l)
	ee.expect(ee.do("POST", fmt.Sprintf("/dnc/%d/numbers", l.ID), ee.admin, map[string]any{"numbers": []map[string]any{{"number": "+14155550103"}}}), 200)
	did := ee.f.Exec(`INSERT INTO accounts (tenant_id, created_by, type, username, phone, created_at, updated_at)
		VALUES (?, 1, ?, 'main-line', '+14155550900', 0, 0)`, ee.tenant, dialer.AccountDID)
	var contacts []int64
	for i := range 4 {
		contacts = append(contacts, ee.f.Exec(`INSERT INTO contacts (tenant_id, created_by, first_name, phone, created_at, updated_at)
			VALUES (?, 1, 'c', ?, 0, 0)`, ee.tenant, fmt.Sprintf("+1415555010%d", i)))
	}
	g := ee.f.Group(ee.tenant, 1, contacts...)
	prog := ee.f.Program(ee.tenant, 1, dialer.ProgramVoiceMessage)
	id := ee.id(ee.expect(ee.do("POST", "/campaigns", ee.admin, map[string]any{"program_id": prog, "group_id": g, "account_id": did, "cpm": 600}), 200), "campaign_id")
	ee.expect(ee.do("PUT", fmt.Sprintf("/campaigns/%d/start", id), ee.admin, nil), 200)
	ee.clk.WaitSettled()
	ee.run(10 * time.Minute)
	ee.sync()
	// The account's number changes after the calls: the record keeps what
	// the callees were shown.
	ee.f.Exec(`UPDATE accounts SET phone = '+14155550999' WHERE account_id = ?`, did)

	var rep reportAnswer
	ee.expect(ee.do("GET", fmt.Sprintf("/campaigns/%d/report", id), ee.admin, nil), 200).json(t, &rep)
	// What the spools say, column by column, in the report's order.
	want := ee.f.Pairs(`SELECT s.spool_id, t.transmission_id || '|' || c.contact_id || '|' || c.phone || '|' || s.time_spool || '|' || s.caller_id || '|' ||
			s.provider_id || '|' || p.name || '|' || s.status || '|' || s.response || '|' || (s.time_connect > 0) || '|' ||
			CASE WHEN s.time_connect > 0 THEN s.time_end - s.time_connect ELSE 0 END
		FROM spools s JOIN transmissions t USING (transmission_id) JOIN contacts c ON c.contact_id = t.contact_id
		JOIN providers p ON p.provider_id = s.provider_id WHERE t.campaign_id = ?`, id)
	got := map[int64]string{}
	var suppressed []dialer.ReportRow
	for _, r := range rep.Rows {
		if r.Suppressed {
			suppressed = append(suppressed, r)
			continue
		}
		at, err := time.Parse(time.RFC3339, r.TimeUTC)
		if err != nil {
			t.Fatal(err)
		}
		local, err := time.Parse(time.RFC3339, r.TimeLocal)
		if err != nil || !local.Equal(at) || r.TimeZone != "America/Los_Angeles" {
			t.Fatalf("row %+v: local time %v is not the UTC time in the callee's zone", r, err)
		}
		answered := 0
		if r.Answered {
			answered = 1
		}
		got[r.SpoolID] = fmt.Sprintf("%d|%d|%s|%d|%s|%d|%s|%s|%s|%d|%d", r.TransmissionID, r.ContactID, r.Number, at.Unix(), r.CallerID,
			r.ProviderID, r.Route, r.Outcome, r.Cause, answered, r.Billsec)
		if r.CallerID != "+14155550900" {
			t.Errorf("row %d caller id %q, want the one presented, +14155550900", r.SpoolID, r.CallerID)
		}
	}
	if len(want) != 3 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("report rows\n%v\nspools\n%v", got, want)
	}
	if len(suppressed) != 1 || suppressed[0].Number != "+14155550103" || suppressed[0].SuppressedList != l.ID || suppressed[0].CallerID != "" {
		t.Fatalf("suppressed rows %+v", suppressed)
	}
	wantSum := dialer.ReportSummary{CampaignID: id, Attempts: 3, Answered: 2, Completed: 1, Abandoned: 1, Suppressed: 1}
	if rep.Summary != wantSum {
		t.Fatalf("summary %+v, want %+v", rep.Summary, wantSum)
	}

	// CSV: the same rows in the same order, then the summary.
	r := ee.expect(ee.do("GET", fmt.Sprintf("/campaigns/%d/report?format=csv", id), ee.admin, nil), 200)
	recs, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+len(rep.Rows)+8 {
		t.Fatalf("%d csv records, want header, %d rows and 8 summary rows", len(recs), len(rep.Rows))
	}
	for i, row := range rep.Rows {
		if !slices.Equal(recs[1+i], reportRecord(row)) {
			t.Fatalf("csv row %d %v, json row %v", i, recs[1+i], reportRecord(row))
		}
	}
	if got := recs[1+len(rep.Rows)+3]; got[1] != "abandoned" || got[2] != "1" {
		t.Fatalf("summary row %v, want abandoned 1", got)
	}
}
