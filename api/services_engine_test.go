package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
	"github.com/dialerd/dialerd/dialer/memgateway"
	"github.com/dialerd/dialerd/store"
)

// Through the HTTP API and a running engine: a prepaid account at zero
// credit cannot start a campaign (402); a crossbar topup lets it, the
// engine stops when the credit is spent (blocked "no credit"), and the
// next topup resumes it at once. The summary's ledger holds the spools'
// seconds. Creating contacts or campaigns beyond the plan's limits is
// refused (403 in the ICTCore shape).
func TestCrossbarCreditThroughTheEngine(t *testing.T) {
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
	cat := dialer.PlanCatalog{Default: "pp", Plans: []dialer.Plan{{ID: "pp",
		Items:  map[string]map[string]dialer.PlanItem{"call_seconds": {"answered": {Rate: 0.01}}},
		Limits: dialer.PlanLimits{Prepaid: true, Channels: 1, Contacts: 12, Campaigns: 2}}}}
	es := store.NewEngineStore(db)
	clk := dialertest.NewClock(time.Date(2025, 3, 5, 12, 0, 0, 0, time.UTC))
	gw := memgateway.New(clk, memgateway.Script{Kind: memgateway.Answer, Ring: time.Second, Talk: 5 * time.Second})
	cfg := dialer.DefaultEngineConfig()
	eng, err := dialer.NewEngine(cfg, dialer.EngineDeps{Store: es, Routes: es, Gateway: gw, Clock: clk, Plans: db.PlanSource(cat)})
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
	srv, err := New(Config{TokenKey: bytes.Repeat([]byte("k"), 32), TokenTTL: time.Hour, MaxBodyBytes: 64 << 10, PasswordCost: bcrypt.MinCost},
		slog.New(slog.NewTextHandler(io.Discard, nil)),
		Deps{Users: db, Contacts: db, Checks: []ReadyCheck{{Name: "store", Check: db.Ping}}, Transmissions: db, Campaigns: db, Engine: eng,
			Crossbar: db, Centrex: db, Services: db, Plans: cat})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &env{t: t, srv: srv, http: hs, db: db, clock: &testClock{now: time.Now()}}
	e.admin = e.login("admin", adminPassword)
	w := &world{env: e, tenant: tenant.ID}
	f := dialertest.NewFixtures(t, path)
	f.Provider(tenant.ID, 1, "trunk", dialer.ServiceVoice, 10, 0, "")
	program := f.Program(tenant.ID, 1, dialer.ProgramVoiceMessage)
	group := f.Group(tenant.ID, 1, f.Contacts(tenant.ID, 1, 10, 100)...)
	id := f.Campaign(tenant.ID, 1, program, group, 60, 1, 60)
	start := fmt.Sprintf("/campaigns/%d/start", id)
	sv := w.cbPath(tenant.ID, "/services")

	// Zero credit: the start is refused, 402 in the ICTCore shape.
	if r := e.do("PUT", start, e.admin, nil); r.Status != 402 || r.errorBody(t).Message == "" {
		t.Fatalf("start at zero credit: %d %s", r.Status, r.Body)
	}
	w.cb("POST", sv+"/topup", e.admin, cbData(map[string]any{"amount": 0.1}), 200) // 10 s
	e.expect(e.do("PUT", start, e.admin, nil), 200)
	clk.Advance(5 * time.Minute)
	if n := len(gw.Records()); n != 2 {
		t.Fatalf("%d calls with 10 s of credit (5 s each), want 2", n)
	}
	if b := eng.CampaignBlocked(tenant.ID, id); b == nil || b.Reason != dialer.BlockedNoCredit {
		t.Fatalf("blocked %+v", b)
	}
	var st servicesStatus
	w.cb("GET", sv+"/status", e.admin, nil, 200).into(t, &st)
	if st.InGoodStanding || st.ReasonCode != 402 {
		t.Errorf("status %+v", st)
	}
	// The topup reaches the engine at once: a call starts with no time passing.
	w.cb("POST", sv+"/topup", e.admin, cbData(map[string]any{"amount": 1}), 200)
	clk.WaitSettled()
	if n := len(gw.Records()); n != 3 {
		t.Fatalf("after the topup: %d calls, want 3", n)
	}
	clk.Advance(10 * time.Minute)
	if n := len(gw.Records()); n != 10 {
		t.Fatalf("%d calls, want 10", n)
	}
	if err := es.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	var sum servicesSummary
	w.cb("GET", sv+"/summary", e.admin, nil, 200).into(t, &sum)
	if spools := f.Int(`SELECT SUM(time_end - time_connect) FROM spools WHERE time_connect > 0`); sum.Ledger.Seconds != spools ||
		spools != 50 || sum.Quantities.Account.Get("call_seconds", "answered") != 50 || sum.Ledger.Balance != 1.1-0.5 {
		t.Errorf("spools %d s; ledger %+v; usage %v", spools, sum.Ledger, sum.Quantities.Account["call_seconds"])
	}
	// The audit summary's usage days add up to the same seconds.
	var audited int64
	for day, d := range w.daySummaries(sv + "/audit/summary")["call_seconds"] {
		if !d.SumQuantity || d.Unit != "seconds" {
			t.Errorf("call_seconds on %s: %+v", day, d)
		}
		audited += d.Quantity
	}
	if spools := f.Int(`SELECT SUM(time_end - time_connect) FROM spools WHERE time_connect > 0`); audited != spools {
		t.Errorf("audit summary: %d call seconds, spools %d", audited, spools)
	}

	// Campaigns: 1 exists, the plan allows 2.
	for _, want := range []int{200, 403} {
		if r := e.do("POST", "/campaigns", e.admin, map[string]any{"program_id": program, "group_id": group, "cpm": 60}); r.Status != want {
			t.Errorf("campaign: %d %s", r.Status, r.Body)
		}
	}
	// Contacts: 10 exist, the plan allows 12.
	for i, want := range []int{200, 200, 403} {
		r := e.do("POST", "/contacts", e.admin, map[string]any{"first_name": "c", "phone": fmt.Sprintf("+1415555030%d", i)})
		if r.Status != want {
			t.Errorf("contact %d: %d %s", 11+i, r.Status, r.Body)
		}
	}
}
