package dialer_test

import (
	"context"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// A prepaid tenant with credit for 25 answered seconds places calls (one
// at a time: the plan's channels) until the credit is spent, then stops,
// its campaign blocked "no credit" and a new one refused; a topup resumes
// it at once. The ledger's seconds and debits, and the usage the audit
// records, agree with the spools to the second.
func TestPrepaidCreditIsEnforced(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, testConfig(), answering()) // 2 s ringing, 5 s answered
	cat := dialer.PlanCatalog{Default: "pp", Plans: []dialer.Plan{{ID: "pp",
		Items:  map[string]map[string]dialer.PlanItem{"call_seconds": {"answered": {Rate: 0.01}}},
		Limits: dialer.PlanLimits{Prepaid: true, Channels: 1, CPM: 30}}}}
	h.plans = h.db.PlanSource(cat)
	h.provider("trunk", 1, 0, "")
	who := dialer.AuditWho{Via: "test"}
	if _, _, err := h.db.Topup(ctx, h.tenant, dialer.MicroDollars(0.25), who, dialer.AuditRequest{}); err != nil {
		t.Fatal(err)
	}
	h.start()
	id, _ := h.campaign(10, 0, 600, 1, 60)
	h.startCampaign(id)
	// The plan's CPM, not the campaign's, and it says so.
	if cpm, capped, ok, err := h.eng.CampaignCPM(ctx, h.tenant, id); err != nil || !ok || !capped || cpm != 30 {
		t.Errorf("cpm %d capped %v running %v: %v", cpm, capped, ok, err)
	}
	h.advance(10 * time.Minute)
	// 25 s of credit: 5 s, 5 s, … the fifth call takes it to 0 and the
	// sixth never starts.
	if n := len(h.gw.Records()); n != 5 {
		t.Fatalf("%d calls placed with credit for 25 s (5 s each), want 5", n)
	}
	if maxConcurrent(h.gw.Records()) != 1 {
		t.Errorf("the plan's single channel was exceeded")
	}
	b := h.eng.CampaignBlocked(h.tenant, id)
	if b == nil || b.Reason != dialer.BlockedNoCredit {
		t.Fatalf("blocked %+v, want no credit", b)
	}
	other, contacts := h.campaign(1, 100, 60, 1, 60)
	if err := h.eng.StartCampaign(ctx, h.tenant, other); dialer.ErrorCode(err) != dialer.CodeNoCredit {
		t.Errorf("start at zero credit: %v", err)
	}
	single := h.f.Transmission(h.tenant, h.owner, contacts[0], h.voice, 1, time.Time{})
	if _, err := h.eng.Send(ctx, h.tenant, single); dialer.ErrorCode(err) != dialer.CodeNoCredit {
		t.Errorf("send at zero credit: %v", err)
	}
	// A topup resumes it at once, with no timer to wait for.
	if _, _, err := h.db.Topup(ctx, h.tenant, dialer.MicroDollars(1), who, dialer.AuditRequest{}); err != nil {
		t.Fatal(err)
	}
	h.eng.ServicesChanged(h.tenant)
	h.clk.WaitSettled()
	if n := len(h.gw.Records()); n != 6 {
		t.Fatalf("after the topup, before any time passed: %d calls, want 6", n)
	}
	h.advance(10 * time.Minute)
	if n := len(h.gw.Records()); n != 10 {
		t.Fatalf("%d calls after the topup, want 10", n)
	}
	if b := h.eng.CampaignBlocked(h.tenant, id); b != nil {
		t.Errorf("still blocked: %+v", b)
	}
	if err := h.eng.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	h.eng = nil

	spoolSeconds := h.count(`SELECT SUM(time_end - time_connect) FROM spools WHERE time_connect > 0`)
	l, err := h.db.Ledger(ctx, h.tenant)
	if err != nil {
		t.Fatal(err)
	}
	if spoolSeconds != 50 || l.Seconds != spoolSeconds || l.Debited != spoolSeconds*dialer.MicroDollars(0.01) ||
		l.Balance != dialer.MicroDollars(1.25)-l.Debited {
		t.Errorf("spools %d s; ledger %+v", spoolSeconds, l)
	}
	entries, err := h.db.SyncQuantities(ctx, h.tenant, "quantity", who, dialer.AuditRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var usage int64
	for _, e := range entries {
		if e.Category == "call_seconds" {
			usage += e.Quantity
			if !e.SumQuantity || e.Unit != "seconds" || e.Type != "usage" {
				t.Errorf("usage entry %+v", e)
			}
		}
	}
	if usage != spoolSeconds {
		t.Errorf("audited %d call seconds, spools have %d", usage, spoolSeconds)
	}
}

// Without a plan source, or on a postpaid plan, nothing changes.
func TestPostpaidPlanLeavesCreditAlone(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, testConfig(), answering())
	h.plans = h.db.PlanSource(dialer.DefaultPlans())
	h.provider("trunk", 1, 0, "")
	h.start()
	id, _ := h.campaign(3, 0, 60, 1, 60)
	h.startCampaign(id)
	h.advance(5 * time.Minute)
	if n := len(h.gw.Records()); n != 3 {
		t.Fatalf("%d calls", n)
	}
	if l, err := h.db.Ledger(ctx, h.tenant); err != nil || l.Debited != 0 {
		t.Errorf("postpaid ledger %+v %v", l, err)
	}
	if _, _, ok, err := h.eng.CampaignCPM(ctx, h.tenant, id); err != nil || ok {
		t.Errorf("a completed campaign still runs: %v %v", ok, err)
	}
}

// A plan's monthly call seconds stop a campaign once used up, and its
// running-campaigns limit refuses one more.
func TestPlanMonthlySecondsAndRunningCampaigns(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, testConfig(), answering()) // 5 s answered
	cat := dialer.PlanCatalog{Default: "small", Plans: []dialer.Plan{{ID: "small",
		Limits: dialer.PlanLimits{Channels: 1, MonthlyCallSeconds: 12, CampaignsRunning: 1}}}}
	h.plans = h.db.PlanSource(cat)
	h.provider("trunk", 1, 0, "")
	h.start()
	id, _ := h.campaign(10, 0, 60, 1, 60)
	h.startCampaign(id)
	other, _ := h.campaign(1, 100, 60, 1, 60)
	if err := h.eng.StartCampaign(ctx, h.tenant, other); dialer.ErrorCode(err) != dialer.CodeConflict {
		t.Errorf("a second running campaign: %v", err)
	}
	h.advance(10 * time.Minute)
	// 5 + 5 + 5 ≥ 12: the fourth call never starts.
	if n := len(h.gw.Records()); n != 3 {
		t.Fatalf("%d calls with 12 s a month, want 3", n)
	}
	if b := h.eng.CampaignBlocked(h.tenant, id); b == nil || b.Field != "limits.monthly_call_seconds" {
		t.Errorf("blocked %+v", b)
	}
}
