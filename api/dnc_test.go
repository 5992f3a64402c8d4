package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
	"github.com/dialerd/dialerd/dialer/memgateway"
	"github.com/dialerd/dialerd/store"
	"golang.org/x/crypto/bcrypt"
)

func withCompliance(d *Deps) {
	if db, ok := d.Users.(*store.DB); ok {
		d.Compliance = db
	}
}

func TestDNCListsCRUDImportExport(t *testing.T) {
	e := newEnv(t, withCompliance)
	r := e.expect(e.do("POST", "/dnc", e.admin, map[string]any{"name": "internal", "is_default": true}), 200)
	var l dialer.DNCList
	r.json(t, &l)
	if l.ID == 0 || !l.Default || l.Platform {
		t.Fatalf("created %+v", l)
	}
	path := fmt.Sprintf("/dnc/%d", l.ID)

	// Bad input changes nothing: a platform list needs the platform admin
	// (the bootstrap admin is; another tenant's admin is not), a name is
	// required, a non-admin cannot write.
	e.expect(e.do("POST", "/dnc", e.otherTenantAdmin("reseller-not"), map[string]any{"name": "all", "platform": true}), 403)
	e.expect(e.do("POST", "/dnc", e.admin, map[string]any{"name": ""}), 412)
	_, user := e.createUser("agent", nil)
	e.expect(e.do("POST", path+"/numbers", user, map[string]any{"numbers": []map[string]any{{"number": "+14155550100"}}}), 403)
	bad := e.expect(e.do("POST", path+"/numbers", e.admin, map[string]any{"numbers": []map[string]any{{"number": "+14155550100"}, {"number": "12"}}}), 412).errorBody(t)
	if _, ok := bad.Fields["numbers[1].number"]; !ok {
		t.Fatalf("error fields %v", bad.Fields)
	}

	e.expect(e.do("POST", path+"/numbers", e.admin, map[string]any{"numbers": []map[string]any{
		{"number": "4155550100"}, {"number": "+442071234567", "expires_at": "2030-01-02"}}}), 200)
	csvBody := "Number,expires_at\n'+14155550101,\n(415) 555-0102,1893456000\nnot a number,\n+14155550100,2031-01-01T00:00:00Z\n"
	r = e.expect(e.do("POST", path+"/csv", e.admin, csvBody, "Content-Type", "text/csv"), 200)
	var res dialer.ImportResult
	r.json(t, &res)
	if res.Imported != 3 || res.Failed != 1 || len(res.Errors) != 1 || res.Errors[0].Line != 4 || res.Errors[0].Field != "number" {
		t.Fatalf("import %+v", res)
	}

	r = e.expect(e.do("GET", path+"/csv", user, nil), 200)
	recs, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"number", "expires_at"}, {"'+14155550100", "2031-01-01T00:00:00Z"}, {"'+14155550101", ""},
		{"'+14155550102", "2030-01-01T00:00:00Z"}, {"'+442071234567", "2030-01-02T00:00:00Z"}}
	if fmt.Sprint(recs) != fmt.Sprint(want) {
		t.Fatalf("export\n%v\nwant\n%v", recs, want)
	}
	// The export imports as it was.
	res = dialer.ImportResult{}
	e.expect(e.do("POST", path+"/csv", e.admin, string(r.Body), "Content-Type", "text/csv"), 200).json(t, &res)
	if res.Imported != 4 || res.Failed != 0 {
		t.Fatalf("re-import %+v", res)
	}

	var nums []dialer.DNCNumber
	e.expect(e.do("GET", path+"/numbers?limit=2&offset=1", e.admin, nil), 200).json(t, &nums)
	if len(nums) != 2 || nums[0].Number != "+14155550101" {
		t.Fatalf("page %+v", nums)
	}
	e.expect(e.do("DELETE", path+"/numbers/%2B14155550101", e.admin, nil), 200)
	e.expect(e.do("DELETE", path+"/numbers/%2B14155550101", e.admin, nil), 404)
	e.expect(e.do("GET", path, e.admin, nil), 200).json(t, &l)
	if l.Numbers != 3 {
		t.Fatalf("list has %d numbers, want 3", l.Numbers)
	}

	// Tenant B sees nothing of it.
	other := e.otherTenantAdmin("badmin")
	e.expect(e.do("GET", path, other, nil), 404)
	e.expect(e.do("GET", path+"/csv", other, nil), 404)
	e.expect(e.do("POST", path+"/numbers", other, map[string]any{"numbers": []map[string]any{{"number": "+14155550109"}}}), 404)
	var theirs []dialer.DNCList
	e.expect(e.do("GET", "/dnc", other, nil), 200).json(t, &theirs)
	if len(theirs) != 0 {
		t.Fatalf("tenant B lists %+v", theirs)
	}

	// The tenant's calling rules.
	var cv complianceView
	e.expect(e.do("GET", "/compliance", e.admin, nil), 200).json(t, &cv)
	if cv.WindowStart != 8*60 || cv.WindowEnd != 21*60 || cv.RedialLimit != 3 {
		t.Fatalf("defaults %+v", cv)
	}
	e.expect(e.do("PUT", "/compliance", e.admin, map[string]any{"redial_limit": 0}), 412)
	e.expect(e.do("PUT", "/compliance", e.admin, map[string]any{"window_start": "9:5"}), 412)
	e.expect(e.do("PUT", "/compliance", user, map[string]any{"redial_limit": 2}), 403)
	e.expect(e.do("PUT", "/compliance", e.admin, map[string]any{"window_start": "09:00", "window_days": "mon-fri", "redial_limit": 2}), 200)
	e.expect(e.do("GET", "/compliance", e.admin, nil), 200).json(t, &cv)
	if cv.WindowStart != 9*60 || cv.WindowEnd != 21*60 || cv.RedialLimit != 2 || cv.WindowDays != dialer.Weekdays(0b0111110) {
		t.Fatalf("after PUT %+v", cv)
	}
	e.expect(e.do("DELETE", path, e.admin, nil), 200)
	e.expect(e.do("GET", path, e.admin, nil), 404)
}

// complianceEngineEnv is an API with the compliance routes over a store
// and an engine with the compliance rules, on a fake clock.
func complianceEngineEnv(t *testing.T, script memgateway.Script) *engineEnv {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dialerd.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := dialer.HashPassword(adminPassword, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Bootstrap(ctx, "admin", hash); err != nil {
		t.Fatal(err)
	}
	tenant, err := db.DefaultTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	es := store.NewEngineStore(db)
	clk := dialertest.NewClock(time.Date(2025, 3, 5, 12, 0, 0, 0, time.UTC))
	gw := memgateway.New(clk, script)
	comp, dnc, err := es.Compliance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := dialer.DefaultEngineConfig()
	cfg.SendWait = 2 * time.Second
	eng, err := dialer.NewEngine(cfg, dialer.EngineDeps{Store: es, Routes: es, Gateway: gw, Clock: clk, Compliance: comp, DNC: dnc})
	if err != nil {
		t.Fatal(err)
	}
	clk.SetSettled(func() bool { return eng.Tasks() == int64(clk.Blocked()) })
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopped, cancel := context.WithCancel(ctx)
		cancel()
		_ = eng.Stop(stopped)
		es.Close()
		db.Close()
	})
	apiClock := &testClock{now: time.Now()}
	srv, err := New(Config{TokenKey: bytes.Repeat([]byte("k"), 32), TokenTTL: time.Hour, MaxBodyBytes: 64 << 10, PasswordCost: bcrypt.MinCost, Now: apiClock.Now},
		slog.New(slog.NewTextHandler(io.Discard, nil)),
		Deps{Users: db, Checks: []ReadyCheck{{Name: "store", Check: db.Ping}}, Transmissions: db, Campaigns: db, Engine: eng, Compliance: db})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &env{t: t, srv: srv, http: hs, db: db, clock: apiClock}
	e.admin = e.login("admin", adminPassword)
	ee := &engineEnv{env: e, es: es, eng: eng, clk: clk, gw: gw, f: dialertest.NewFixtures(t, path), tenant: tenant.ID}
	ee.f.Provider(tenant.ID, 1, "trunk", dialer.ServiceVoice, 10, 0, "")
	return ee
}

func TestCampaignReportMatchesSpools(t *testing.T) {
	ee := complianceEngineEnv(t, memgateway.Script{Kind: memgateway.Answer, Ring: time.Second, Talk: 5 * time.Second, DTMF: "7"})
	ee.gw.Script("+14155550102", memgateway.Script{Kind: memgateway.Busy, Ring: time.Second})
	// The whole day open, so the report is about the record only.
	ee.expect(ee.do("PUT", "/compliance", ee.admin, map[string]any{"window_start": "00:00", "window_end": "24:00"}), 200)
	var l dialer.DNCList
	ee.expect(ee.do("POST", "/dnc", ee.admin, map[string]any{"name": "never, =cmd()"}), 200).json(t, &l)
	ee.expect(ee.do("POST", fmt.Sprintf("/dnc/%d/numbers", l.ID), ee.admin, map[string]any{"numbers": []map[string]any{{"number": "+14155550103"}}}), 200)
	var contacts []int64
	for i := range 4 {
		contacts = append(contacts, ee.f.Exec(`INSERT INTO contacts (tenant_id, created_by, first_name, phone, created_at, updated_at)
			VALUES (?, 1, 'c', ?, 0, 0)`, ee.tenant, fmt.Sprintf("+1415555010%d", i)))
	}
	g := ee.f.Group(ee.tenant, 1, contacts...)
	prog := ee.f.Program(ee.tenant, 1, dialer.ProgramVoiceMessage)
	// A list of another tenant is refused by name.
	otherTenant, _, otherToken := ee.otherTenant()
	_ = otherTenant
	var ol dialer.DNCList
	ee.expect(ee.do("POST", "/dnc", otherToken, map[string]any{"name": "theirs"}), 200).json(t, &ol)
	ee.expect(ee.do("POST", "/campaigns", ee.admin, map[string]any{"program_id": prog, "group_id": g, "dnc_lists": []int64{ol.ID}}), 412)
	r := ee.expect(ee.do("POST", "/campaigns", ee.admin, map[string]any{"program_id": prog, "group_id": g, "try_allowed": 2, "retry_delay": 60,
		"cpm": 600, "dnc_lists": []int64{l.ID}}), 200)
	id := ee.id(r, "campaign_id")
	var camp dialer.Campaign
	ee.expect(ee.do("GET", fmt.Sprintf("/campaigns/%d", id), ee.admin, nil), 200).json(t, &camp)
	if len(camp.DNCLists) != 1 || camp.DNCLists[0] != l.ID {
		t.Fatalf("campaign names lists %v", camp.DNCLists)
	}
	ee.expect(ee.do("PUT", fmt.Sprintf("/campaigns/%d/start", id), ee.admin, nil), 200)
	ee.clk.WaitSettled()
	ee.run(10 * time.Minute)
	ee.sync()
	// A machine detection result, as the gateways record one.
	spool := ee.f.Int(`SELECT MIN(s.spool_id) FROM spools s JOIN transmissions t USING (transmission_id) WHERE t.campaign_id = ?`, id)
	ee.f.Exec(`INSERT INTO spool_results (tenant_id, spool_id, type, name, data, created_at) VALUES (?, ?, 'amd', 'result', 'human', 0)`, ee.tenant, spool)

	var rep reportAnswer
	ee.expect(ee.do("GET", fmt.Sprintf("/campaigns/%d/report", id), ee.admin, nil), 200).json(t, &rep)
	spools := ee.f.Pairs(`SELECT s.spool_id, s.status || '|' || s.response || '|' || c.phone || '|' || (s.time_connect > 0) FROM spools s
		JOIN transmissions t USING (transmission_id) JOIN contacts c ON c.contact_id = t.contact_id WHERE t.campaign_id = ?`, id)
	var fromReport = map[int64]string{}
	var suppressed []dialer.ReportRow
	for _, row := range rep.Rows {
		if row.Suppressed {
			suppressed = append(suppressed, row)
			continue
		}
		answered := 0
		if row.Answered {
			answered = 1
		}
		fromReport[row.SpoolID] = fmt.Sprintf("%s|%s|%s|%d", row.Outcome, row.Cause, row.Number, answered)
	}
	if len(spools) != 4 || fmt.Sprint(fromReport) != fmt.Sprint(spools) {
		t.Fatalf("report rows\n%v\nspools\n%v", fromReport, spools)
	}
	if len(suppressed) != 1 || suppressed[0].Number != "+14155550103" || suppressed[0].SuppressedList != l.ID || suppressed[0].SpoolID != 0 {
		t.Fatalf("suppressed rows %+v", suppressed)
	}
	for _, row := range rep.Rows {
		if row.Suppressed {
			continue
		}
		if row.TimeZone != "America/Los_Angeles" || !strings.HasSuffix(row.TimeLocal, "-08:00") || !strings.HasSuffix(row.TimeUTC, "Z") || row.Route != "trunk" {
			t.Fatalf("row %+v", row)
		}
		switch {
		case row.Number == "+14155550102" && (row.Answered || row.Billsec != 0 || row.SIPCode != ""):
			t.Fatalf("busy row %+v", row)
		case row.Number != "+14155550102" && (!row.Answered || row.Billsec != 5 || row.DTMF != "7"):
			t.Fatalf("answered row %+v", row)
		}
		if (row.SpoolID == spool) != (row.Machine == "human") {
			t.Fatalf("machine detection on row %+v", row)
		}
	}
	want := dialer.ReportSummary{CampaignID: id, Attempts: 4, Answered: 2, Completed: 2, Suppressed: 1}
	if rep.Summary != want {
		t.Fatalf("summary %+v, want %+v", rep.Summary, want)
	}

	// CSV: the same rows, guarded cells, then the summary.
	r = ee.expect(ee.do("GET", fmt.Sprintf("/campaigns/%d/report?format=csv", id), ee.admin, nil), 200)
	cr := csv.NewReader(bytes.NewReader(r.Body))
	recs, err := cr.ReadAll() // every record as wide as the header

	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != strings.Join(dialer.ReportColumns(), ",") || len(recs) != 1+5+8 {
		t.Fatalf("csv has %d records, header %v", len(recs), recs[0])
	}
	for _, rec := range recs[1:6] {
		if !strings.HasPrefix(rec[3], "'+1") {
			t.Fatalf("unguarded number cell %q", rec[3])
		}
	}
	if got := recs[len(recs)-8]; strings.Join(got[:3], ",") != "#summary,attempts,4" || strings.Join(got[3:], "") != "" {
		t.Fatalf("summary row %v", got)
	}
	// Another tenant cannot read it.
	ee.expect(ee.do("GET", fmt.Sprintf("/campaigns/%d/report", id), otherToken, nil), 404)
}

func TestCallerIDPolicyAtCreation(t *testing.T) {
	ee := complianceEngineEnv(t, memgateway.Script{Kind: memgateway.Answer, Talk: time.Second})
	contact := ee.f.Exec(`INSERT INTO contacts (tenant_id, created_by, first_name, phone, created_at, updated_at)
		VALUES (?, 1, 'c', '+14155550100', 0, 0)`, ee.tenant)
	g := ee.f.Group(ee.tenant, 1, contact)
	prog := ee.f.Program(ee.tenant, 1, dialer.ProgramVoiceMessage)
	account := func(typ, phone string) int64 {
		return ee.f.Exec(`INSERT INTO accounts (tenant_id, created_by, type, username, phone, created_at, updated_at)
			VALUES (?, 1, ?, ?, ?, 0, 0)`, ee.tenant, typ, "a"+phone, phone)
	}
	did := account("did", "+14155550900")
	ext := account("extension", "+14155550901")
	extOfDID := account("extension", "+14155550900") // presents the tenant's DID
	noPhone := account("extension", "")
	campaign := func(acc int64) resp {
		return ee.do("POST", "/campaigns", ee.admin, map[string]any{"program_id": prog, "group_id": g, "account_id": acc})
	}
	for _, ok := range []int64{0, did, extOfDID, noPhone} {
		ee.expect(campaign(ok), 200)
	}
	before := ee.f.Int(`SELECT COUNT(*) FROM campaigns`)
	eb := ee.expect(campaign(ext), 412).errorBody(t)
	if !strings.Contains(eb.Fields["account_id"], "+14155550901") || !strings.Contains(eb.Fields["account_id"], "caller_ids") {
		t.Fatalf("error %+v", eb)
	}
	tx := ee.do("POST", "/transmissions", ee.admin, map[string]any{"contact_id": contact, "program_id": prog, "account_id": ext})
	ee.expect(tx, 412)
	if n := ee.f.Int(`SELECT COUNT(*) FROM campaigns`); n != before {
		t.Fatalf("a refused campaign was written")
	}
	// On a provider's allow-list it may be presented.
	ee.f.Exec(`UPDATE providers SET settings = ? WHERE tenant_id = ?`, `{"caller_ids": ["+14155550901"]}`, ee.tenant)
	ee.expect(campaign(ext), 200)
	r := ee.expect(ee.do("POST", "/transmissions", ee.admin, map[string]any{"contact_id": contact, "program_id": prog, "account_id": ext}), 200)
	var l dialer.DNCList
	ee.expect(ee.do("POST", "/dnc", ee.admin, map[string]any{"name": "named"}), 200).json(t, &l)
	ee.expect(ee.do("POST", "/transmissions", ee.admin, map[string]any{"contact_id": contact, "program_id": prog, "dnc_lists": []int64{l.ID + 100}}), 412)
	r = ee.expect(ee.do("POST", "/transmissions", ee.admin, map[string]any{"contact_id": contact, "program_id": prog, "dnc_lists": []int64{l.ID}}), 200)
	var tr dialer.Transmission
	ee.expect(ee.do("GET", fmt.Sprintf("/transmissions/%d", ee.id(r, "transmission_id")), ee.admin, nil), 200).json(t, &tr)
	if len(tr.DNCLists) != 1 || tr.DNCLists[0] != l.ID {
		t.Fatalf("transmission names %v", tr.DNCLists)
	}
}
