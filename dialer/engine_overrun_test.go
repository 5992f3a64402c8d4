package dialer_test

import (
	"context"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// Calls in flight when a prepaid tenant's credit runs out are not cut
// short: they finish and are debited in full, so the balance ends below
// zero by exactly their overrun, recorded as usage like any call — never
// hidden, and bounded by what was in flight (at most the plan's channels,
// each at most engine.max_duration). No new attempt starts below zero.
func TestPrepaidOverrunOfCallsInFlight(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, testConfig(), answering()) // 2 s ringing, 5 s answered
	const channels = 3
	cat := dialer.PlanCatalog{Default: "pp", Plans: []dialer.Plan{{ID: "pp",
		Items:  map[string]map[string]dialer.PlanItem{"call_seconds": {"answered": {Rate: 0.01}}},
		Limits: dialer.PlanLimits{Prepaid: true, Channels: channels}}}}
	h.plans = h.db.PlanSource(cat)
	h.provider("trunk", 1, 0, "")
	who := dialer.AuditWho{Via: "test"}
	if _, _, err := h.db.Topup(ctx, h.tenant, dialer.MicroDollars(0.07), who, dialer.AuditRequest{}); err != nil { // 7 s
		t.Fatal(err)
	}
	h.start()
	id, _ := h.campaign(10, 0, 600, 1, 60) // one call every 100 ms: three in flight before the first ends
	h.startCampaign(id)
	h.advance(10 * time.Minute)
	if n := len(h.gw.Records()); n != channels {
		t.Fatalf("%d calls placed, want the %d that were in flight when the credit ran out", n, channels)
	}
	if b := h.eng.CampaignBlocked(h.tenant, id); b == nil || b.Reason != dialer.BlockedNoCredit {
		t.Fatalf("blocked %+v, want no credit", b)
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
	rate := dialer.MicroDollars(0.01)
	overrun := spoolSeconds*rate - dialer.MicroDollars(0.07)
	if spoolSeconds != 15 || l.Seconds != spoolSeconds || l.Debited != spoolSeconds*rate || l.Balance != -overrun || overrun != 8*rate {
		t.Errorf("spools %d s, overrun %d µ$; ledger %+v", spoolSeconds, overrun, l)
	}
	if bound := int64(channels) * int64(testConfig().MaxDuration/time.Second) * rate; overrun > bound {
		t.Errorf("overrun %d µ$ beyond the bound of the calls in flight %d µ$", overrun, bound)
	}
	entries, err := h.db.SyncQuantities(ctx, h.tenant, "quantity", who, dialer.AuditRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var usage int64
	for _, e := range entries {
		if e.Category == "call_seconds" {
			usage += e.Quantity
		}
	}
	if usage != spoolSeconds {
		t.Errorf("audited %d call seconds, spools have %d (the overrun is usage too)", usage, spoolSeconds)
	}
}
