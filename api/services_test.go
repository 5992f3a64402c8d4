package api

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

func testPlans() dialer.PlanCatalog {
	return dialer.PlanCatalog{Default: "basic", Plans: []dialer.Plan{
		{ID: "basic", Name: "Basic", Category: "dialer", Items: map[string]map[string]dialer.PlanItem{
			"users":        {"user": {Rate: 5}, "admin": {Rate: 7}},
			"call_seconds": {"answered": {Rate: 0.01}},
		}, Limits: dialer.PlanLimits{CPM: 30, Channels: 5}},
		{ID: "prepaid", Name: "Prepaid", Category: "dialer", Items: map[string]map[string]dialer.PlanItem{
			"call_seconds": {"answered": {Rate: 0.001}},
		}, Limits: dialer.PlanLimits{Prepaid: true, CPM: 60}},
	}}
}

func newServicesWorld(t *testing.T) *world {
	return newWorld(t, func(d *Deps) { d.Plans = testPlans() })
}

// daySummaries reads the whole-account audit summary: source → day → summary.
func (w *world) daySummaries(path string) map[string]map[string]daySummary {
	w.t.Helper()
	r := w.cb("GET", path, w.admin, nil, 200)
	var out []map[string]map[string]daySummary
	r.into(w.t, &out)
	if len(out) != 1 {
		w.t.Fatalf("audit summary %s", r.Data)
	}
	return out[0]
}

func (w *world) summary(token string) servicesSummary {
	w.t.Helper()
	var s servicesSummary
	w.cb("GET", w.cbPath(w.tenant, "/services/summary"), token, nil, 200).into(w.t, &s)
	return s
}

// Creating and deleting users, accounts and contacts moves the quantities,
// and the audit entries they write add up, per day, to what the records say.
func TestServicesQuantitiesAndAudit(t *testing.T) {
	w := newServicesWorld(t)
	sv := w.cbPath(w.tenant, "/services")
	q := w.summary(w.admin).Quantities.Account
	if q.Get("users", "admin") != 1 || q.Get("users", "user") != 2 {
		t.Fatalf("users %v", q["users"])
	}
	// Users, ICTCore accounts and contacts come and go through their own surfaces.
	dave, _ := w.createUser("dave", nil)
	w.createAccount(w.admin, map[string]any{"type": "did", "phone": "+15550100"})
	ext := w.createAccount(w.admin, map[string]any{"username": "2001"})
	var contacts []int64
	for i := range 3 {
		r := w.expect(w.do("POST", "/contacts", w.admin, map[string]any{"first_name": "c", "phone": fmt.Sprintf("+1415555020%d", i)}), 200)
		var out struct {
			ContactID int64 `json:"contact_id"`
		}
		r.json(t, &out)
		contacts = append(contacts, out.ContactID)
	}
	q = w.summary(w.admin).Quantities.Account
	if q.Get("users", "user") != 3 || q.Get("accounts", "did") != 1 || q.Get("accounts", "extension") != 1 || q.Get("contacts", "contact") != 3 {
		t.Fatalf("after creating: %v", q)
	}
	w.expect(w.do("DELETE", fmt.Sprintf("/users/%d", dave), w.admin, nil), 200)
	w.expect(w.do("DELETE", fmt.Sprintf("/accounts/%d", ext), w.admin, nil), 200)
	w.expect(w.do("DELETE", fmt.Sprintf("/contacts/%d", contacts[0]), w.admin, nil), 200)
	q = w.summary(w.admin).Quantities.Account
	if q.Get("users", "user") != 2 || q.Get("accounts", "extension") != 0 || q.Get("contacts", "contact") != 2 {
		t.Fatalf("after deleting: %v", q)
	}

	// Every entry has a YYYYMM-<32 hex> id, and the day's summary per source
	// is what the records say: additions − removals = the count (all today).
	idPattern := regexp.MustCompile(`^[0-9]{6}-[0-9a-f]{32}$`)
	r := w.cb("GET", sv+"/audit?paginate=false", w.admin, nil, 200)
	var rows []auditRow
	r.into(t, &rows)
	if len(rows) < 6 {
		t.Fatalf("audit rows %s", r.Data)
	}
	for _, row := range rows {
		if !idPattern.MatchString(row.ID) || row.Status != "completed" || row.Summary == "" {
			t.Errorf("audit row %+v", row)
		}
	}
	for _, path := range []string{sv + "/audit/summary", sv + "/audit_summary"} {
		days := w.daySummaries(path)
		for source, want := range map[string]int64{"users": 3, "accounts": 1, "contacts": 2} {
			if len(days[source]) != 1 {
				t.Fatalf("%s: %s days %v", path, source, days[source])
			}
			for _, d := range days[source] {
				if d.Quantity != want || d.Addition-d.Removal != want || d.Removal == 0 || d.SumQuantity || d.LastTimestamp < dialer.GregorianOffset {
					t.Errorf("%s: %s %+v, want quantity %d", path, source, d, want)
				}
			}
		}
	}
	// One source: [{day: …}] newest first, both spellings.
	for _, path := range []string{sv + "/audit/summary/contacts", sv + "/audit_summary/contacts"} {
		r := w.cb("GET", path, w.admin, nil, 200)
		var days []map[string]daySummary
		r.into(t, &days)
		if len(days) != 1 {
			t.Fatalf("%s: %s", path, r.Data)
		}
		for _, d := range days[0] {
			if d.Quantity != 2 || d.Addition != 3 || d.Removal != 1 {
				t.Errorf("%s: %+v", path, d)
			}
		}
	}
	// A range before any of it is empty; a malformed one is a validation error.
	if days := w.daySummaries(sv + "/audit/summary?created_from=63000000000&created_to=63000000001"); len(days) != 0 {
		t.Errorf("old range: %v", days)
	}
	w.cb("GET", sv+"/audit/summary?created_from=yesterday", w.admin, nil, 400)

	// Paging the audit log across pages, and one entry in full.
	var paged []string
	key := ""
	for pages := 0; ; pages++ {
		path := sv + "/audit?page_size=4"
		if key != "" {
			path += "&start_key=" + key
		}
		r := w.cb("GET", path, w.admin, nil, 200)
		var page []auditRow
		r.into(t, &page)
		for _, p := range page {
			paged = append(paged, p.ID)
		}
		if key = r.NextStartKey; key == "" || pages > 50 {
			break
		}
	}
	if len(paged) != len(rows) || paged[0] != rows[0].ID || paged[len(paged)-1] != rows[len(rows)-1].ID {
		t.Errorf("paged %d ids, listed %d", len(paged), len(rows))
	}
	var full auditDoc
	w.cb("GET", sv+"/audit/"+rows[0].ID, w.admin, nil, 200).into(t, &full)
	if full.ID != rows[0].ID || full.Authentication.Via == "" || full.Request.Method == "" || full.Timestamp < dialer.GregorianOffset {
		t.Errorf("audit entry %+v", full)
	}
	if r := w.cb("GET", sv+"/audit/202601-00000000000000000000000000000000", w.admin, nil, 404); r.Message != "bad_identifier" {
		t.Errorf("unknown audit id %+v", r)
	}

	// Reconciliation: a contact that appeared behind the API's back is a
	// drift, committed and audited as such.
	w.insert("contacts", w.tenant, w.adminID, map[string]any{"phone": "+14155550299"})
	var rec reconciliationAnswer
	w.cb("POST", sv+"/reconciliation", w.admin, nil, 200).into(t, &rec)
	if len(rec.Changes) != 1 || rec.Changes[0].Type != "reconciliation" || rec.Quantities.Get("contacts", "contact") != 3 {
		t.Errorf("reconciliation %+v", rec)
	}
	var again reconciliationAnswer
	w.cb("POST", sv+"/reconciliation", w.admin, nil, 200).into(t, &again)
	if len(again.Changes) != 0 {
		t.Errorf("a second reconciliation found %+v", again.Changes)
	}
	if d := w.daySummaries(sv + "/audit/summary")["contacts"]; len(d) != 1 {
		t.Errorf("contacts days %v", d)
	} else {
		for _, day := range d {
			if day.Quantity != 3 {
				t.Errorf("contacts after reconciliation %+v", day)
			}
		}
	}
}

func TestServicesPlansManualOverridesAndCredit(t *testing.T) {
	w := newServicesWorld(t)
	sv := w.cbPath(w.tenant, "/services")
	theirs := w.cbPath(w.otherTenant, "/services")

	// Reads: the account's admins and the platform admin; not a plain user,
	// not another tenant.
	w.cb("GET", sv, w.bob, nil, 403)
	w.cb("GET", sv, w.stranger, nil, 403)
	var plans map[string]dialer.PlanAssignment
	w.cb("GET", sv, w.admin, nil, 200).into(t, resetPlans(&plans))
	if _, ok := plans["basic"]; !ok || len(plans) != 1 {
		t.Errorf("default plan %v", plans)
	}
	w.cb("GET", theirs, w.stranger, nil, 200)
	// Writes of plans, manual quantities, overrides, reconciliation and
	// synchronization are the platform admin's alone.
	for _, tc := range []struct{ method, path string }{
		{"POST", "/prepaid"}, {"DELETE", "/basic"}, {"POST", ""}, {"POST", "/manual"}, {"PATCH", "/manual"},
		{"POST", "/overrides"}, {"PATCH", "/overrides"}, {"POST", "/reconciliation"}, {"POST", "/synchronization"},
	} {
		if r := w.cb(tc.method, theirs+tc.path, w.stranger, cbData(map[string]any{"add": []string{"prepaid"}}), 403); r.Message != "forbidden" {
			t.Errorf("%s %s: %+v", tc.method, tc.path, r)
		}
	}

	// Plans: assign, unknown, bulk, the billing id.
	w.cb("POST", sv+"/nosuch", w.admin, nil, 404)
	w.cb("DELETE", sv+"/prepaid", w.admin, nil, 404) // not assigned
	w.cb("POST", sv+"/prepaid", w.admin, nil, 200).into(t, resetPlans(&plans))
	if _, ok := plans["prepaid"]; !ok || len(plans) != 1 {
		t.Errorf("assigned %v", plans)
	}
	r := w.cb("POST", sv, w.admin, cbData(map[string]any{"add": []string{"nosuch"}}), 400)
	if validationRule(t, r, "add") != "not_found" {
		t.Errorf("bulk unknown %s", r.Data)
	}
	w.cb("POST", sv, w.admin, cbData(map[string]any{"add": []string{"basic"}, "delete": []string{"prepaid"}}), 200).into(t, resetPlans(&plans))
	if _, ok := plans["basic"]; !ok || len(plans) != 1 {
		t.Errorf("bulk %v", plans)
	}
	w.cb("POST", sv, w.admin, cbData(map[string]any{"billing_id": "acct-77"}), 200)
	w.cb("POST", sv, w.admin, cbData(map[string]any{}), 400)

	// Manual quantities win over counted ones, and are priced.
	if s := w.summary(w.admin); s.Invoices[0].Summary.Recurring != 2*5+7 {
		t.Errorf("recurring %v: %+v", s.Invoices[0].Summary, s.Invoices[0].Items)
	}
	r = w.cb("POST", sv+"/manual", w.admin, cbData(map[string]any{"users": map[string]any{"user": -1}}), 400)
	if validationRule(t, r, "users.user") != "minimum" {
		t.Errorf("negative manual %s", r.Data)
	}
	r = w.cb("POST", sv+"/manual", w.admin, cbData(map[string]any{"users": map[string]any{"user": 10}, "extra": map[string]any{"thing": 1}}), 200)
	rev := r.Revision
	if s := w.summary(w.admin); s.Invoices[0].Summary.Recurring != 10*5+7 || s.Quantities.Manual.Get("users", "user") != 10 {
		t.Errorf("manual: %+v", s.Invoices[0])
	}
	w.cb("PATCH", sv+"/manual", w.admin, cbData(map[string]any{"extra": nil}), 200, "If-Match", rev)
	if r := w.cb("PATCH", sv+"/manual", w.admin, cbData(map[string]any{"users": nil}), 409, "If-Match", rev); r.Message != "datastore_conflict" {
		t.Errorf("stale manual %+v", r)
	}
	var manual dialer.Quantities
	w.cb("GET", sv+"/manual", w.admin, nil, 200).into(t, &manual)
	if len(manual) != 1 || manual.Get("users", "user") != 10 {
		t.Errorf("manual %v", manual)
	}
	w.cb("PATCH", sv+"/manual", w.admin, cbData(map[string]any{"users": nil}), 200)

	// Overrides change rates; PATCH null removes them.
	w.cb("POST", sv+"/overrides", w.admin, cbData(map[string]any{"users": map[string]any{"user": map[string]any{"rate": "free"}}}), 400)
	w.cb("POST", sv+"/overrides", w.admin, cbData(map[string]any{"users": map[string]any{"user": map[string]any{"rate": 1}},
		"limits": map[string]any{"cpm": map[string]any{"value": 12}}}), 200)
	s := w.summary(w.admin)
	if s.Invoices[0].Summary.Recurring != 2*1+7 || s.Limits.CPM != 12 {
		t.Errorf("override: %+v limits %+v", s.Invoices[0], s.Limits)
	}
	w.cb("PATCH", sv+"/overrides", w.admin, cbData(map[string]any{"users": nil}), 200)
	if s := w.summary(w.admin); s.Invoices[0].Summary.Recurring != 2*5+7 {
		t.Errorf("override removed: %+v", s.Invoices[0])
	}

	// CSV flattens the invoice items.
	csvResp := w.do("GET", sv+"/summary", "", nil, "X-Auth-Token", w.admin, "Accept", "text/csv")
	if csvResp.Status != 200 || !strings.HasPrefix(string(csvResp.Body), "category,item,quantity,billable,rate,total\n") ||
		!strings.Contains(string(csvResp.Body), "users,user,2,2,5,10\n") {
		t.Errorf("csv %d %q", csvResp.Status, csvResp.Body)
	}

	// A quote changes nothing.
	var quote servicesSummary
	w.cb("POST", sv+"/quote", w.admin, cbData(map[string]any{"plans": []string{"prepaid"}}), 200).into(t, &quote)
	if !quote.Limits.Prepaid || quote.Status.Acceptable || len(quote.Invoices[0].Items) != 0 {
		t.Errorf("quote %+v", quote)
	}
	w.cb("POST", sv+"/quote", w.admin, cbData(map[string]any{"plans": []string{"nosuch"}}), 400)
	w.cb("GET", sv, w.admin, nil, 200).into(t, resetPlans(&plans))
	if _, ok := plans["basic"]; !ok || len(plans) != 1 {
		t.Errorf("the quote changed the plans: %v", plans)
	}

	// Prepaid: no credit is not good standing; a topup (by the tenant's own
	// admin, too) restores it. amount ≤ 0 is a 400.
	w.cb("POST", sv, w.admin, cbData(map[string]any{"add": []string{"prepaid"}, "delete": []string{"basic"}}), 200)
	var st servicesStatus
	w.cb("GET", sv+"/status", w.admin, nil, 200).into(t, &st)
	if st.InGoodStanding || st.ReasonCode != 402 || st.Reason == "" {
		t.Errorf("status without credit %+v", st)
	}
	for _, body := range []map[string]any{{}, {"amount": 0}, {"amount": -5}, {"amount": "ten"}} {
		r := w.cb("POST", sv+"/topup", w.admin, cbData(body), 400)
		if r.Message != "validation error" {
			t.Errorf("topup %v: %+v", body, r)
		}
	}
	w.cb("POST", sv+"/topup", w.bob, cbData(map[string]any{"amount": 10}), 403)
	var top topupAnswer
	w.cb("POST", sv+"/topup", w.admin, cbData(map[string]any{"amount": 10.5}), 200).into(t, &top)
	if top.Ledger.Balance != 10.5 || top.AuditID == "" {
		t.Errorf("topup %+v", top)
	}
	w.cb("POST", theirs+"/topup", w.stranger, cbData(map[string]any{"amount": 1}), 200)
	w.cb("GET", sv+"/status", w.admin, nil, 200).into(t, &st)
	if !st.InGoodStanding {
		t.Errorf("status after topup %+v", st)
	}
	var entry auditDoc
	w.cb("GET", sv+"/audit/"+top.AuditID, w.admin, nil, 200).into(t, &entry)
	if entry.Type != "topup" || entry.Changes["amount"] != 10.5 {
		t.Errorf("topup audit %+v", entry)
	}

	// The catalogue, what is editable, a synchronization.
	var avail []availablePlan
	w.cb("GET", sv+"/available", w.admin, nil, 200).into(t, &avail)
	if len(avail) != 2 || avail[0].ID != "basic" || !avail[0].Default || avail[1].Limits.CPM != 60 {
		t.Errorf("available %+v", avail)
	}
	var editable map[string]map[string]any
	w.cb("GET", sv+"/editable", w.admin, nil, 200).into(t, &editable)
	if editable["users"]["user"] == nil || editable["limits"]["cpm"] == nil {
		t.Errorf("editable %v", editable)
	}
	w.cb("POST", sv+"/synchronization", w.admin, nil, 200)
	r = w.cb("GET", sv+"/audit?paginate=false", w.admin, nil, 200)
	var rows []auditRow
	r.into(t, &rows)
	kinds := map[string]int{}
	for _, row := range rows {
		kinds[row.Type]++
	}
	for _, k := range []string{"plan", "billing", "manual", "overrides", "topup", "synchronization", "quantity"} {
		if kinds[k] == 0 {
			t.Errorf("no %s audit entry: %v", k, kinds)
		}
	}
	// Wrong methods.
	w.cb("DELETE", sv+"/manual", w.admin, nil, 405)
	w.cb("PUT", sv+"/topup", w.admin, nil, 405)
}

// resetPlans empties a map before JSON is decoded into it (decoding merges).
func resetPlans(p *map[string]dialer.PlanAssignment) *map[string]dialer.PlanAssignment {
	*p = nil
	return p
}
