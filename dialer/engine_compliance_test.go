package dialer_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/memgateway"
	"github.com/dialerd/dialerd/store"
)

// optOutStore gives every program the opt-out digit 9, as a program with
// opt_out_digit set reads (the program field is the detect branch's).
type optOutStore struct{ *store.EngineStore }

func (s optOutStore) ProgramMedia(ctx context.Context, tenantID string, id int64) (dialer.ProgramType, dialer.Media, error) {
	t, m, err := s.EngineStore.ProgramMedia(ctx, tenantID, id)
	m.OptOutDigit = "9"
	return t, m, err
}

// startCompliant starts an engine with the compliance rules over the
// store's do-not-call set; optOut gives programs the opt-out digit 9.
func (h *harness) startCompliant(optOut bool) {
	h.t.Helper()
	if err := h.db.LoadDNC(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	var es dialer.EngineStore = h.es
	if optOut {
		es = optOutStore{h.es}
	}
	eng, err := dialer.NewEngine(h.cfg, dialer.EngineDeps{Store: es, Routes: h.es, Gateway: h.gw, Clock: h.clk, Events: h.bus,
		Compliance: h.db, DNC: h.db.DNC()})
	if err != nil {
		h.t.Fatal(err)
	}
	h.eng = eng
	h.clk.SetSettled(func() bool { return eng.Tasks() == int64(h.clk.Blocked()) })
	if err := eng.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.clk.WaitSettled()
}

func (h *harness) admin() dialer.Actor {
	return dialer.Actor{TenantID: h.tenant, UserID: h.owner, Admin: true}
}

// alwaysOpen lifts the tenant's default calling window, for tests about
// something else.
func (h *harness) alwaysOpen(redial int) {
	h.t.Helper()
	tc := dialer.TenantCompliance{Window: dialer.AlwaysOpen, RedialLimit: redial}
	if err := h.db.SetTenantCompliance(context.Background(), h.admin(), tc); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) dncList(name string, def bool, numbers ...string) int64 {
	h.t.Helper()
	l, err := h.db.CreateDNCList(context.Background(), h.admin(), dialer.DNCList{Name: name, Default: def})
	if err != nil {
		h.t.Fatal(err)
	}
	h.addDNC(l.ID, numbers...)
	return l.ID
}

func (h *harness) addDNC(list int64, numbers ...string) {
	h.t.Helper()
	var ns []dialer.DNCNumber
	for _, n := range numbers {
		ns = append(ns, dialer.DNCNumber{Number: n})
	}
	if err := h.db.AddDNCNumbers(context.Background(), h.admin(), list, ns); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) dialed() map[string]int {
	out := map[string]int{}
	for _, r := range h.gw.Records() {
		out[r.Phone]++
	}
	return out
}

func phoneOf(i int64) string { return fmt.Sprintf("+1555%07d", i) }

func TestComplianceListedNumberNeverDialed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		named bool // on a list the campaign names rather than a default one
	}{{"default list", false}, {"named list", true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Answer, Talk: 10 * time.Second})
			h.provider("p", 1, 0, "")
			h.alwaysOpen(3)
			list := h.dncList("blocked", !tc.named, phoneOf(2))
			// Another tenant's list naming the same number never applies.
			other := h.f.Tenant("tenant-b")
			if _, err := h.db.CreateDNCList(context.Background(), dialer.Actor{TenantID: other, Admin: true}, dialer.DNCList{Name: "b", Default: true}); err != nil {
				t.Fatal(err)
			}
			id, _ := h.campaign(4, 1, 1, 1, 60) // 1 cpm: one call a minute
			if tc.named {
				if err := h.db.SetDNCUses(context.Background(), h.tenant, id, 0, []int64{list}); err != nil {
					t.Fatal(err)
				}
			}
			h.startCompliant(false)
			h.startCampaign(id)
			// Number 4 goes on the list while the campaign runs, after the
			// first call and before its turn.
			h.advance(time.Second)
			h.addDNC(list, phoneOf(4))
			h.advance(10 * time.Minute)
			got := h.dialed()
			if got[phoneOf(2)] != 0 || got[phoneOf(4)] != 0 {
				t.Fatalf("listed numbers dialed: %v", got)
			}
			if got[phoneOf(1)] != 1 || got[phoneOf(3)] != 1 {
				t.Fatalf("unlisted numbers not dialed once: %v", got)
			}
			resp := h.pairs(`SELECT c.phone = ?, t.response FROM transmissions t JOIN contacts c USING (contact_id)
				WHERE t.campaign_id = ? AND t.status = 'invalid'`, phoneOf(2), id)
			want := fmt.Sprintf("suppressed: do-not-call list %d (blocked)", list)
			if len(resp) != 2 || resp[1] != want || resp[0] != want {
				t.Fatalf("responses %v, want %q", resp, want)
			}
			c, err := h.db.Campaign(context.Background(), h.tenant, id)
			if err != nil {
				t.Fatal(err)
			}
			if c.Counters.Suppressed != 2 || c.Counters.Failed != 0 || c.Counters.Answered != 2 || c.Status != dialer.CampaignCompleted {
				t.Fatalf("counters %+v status %s", c.Counters, c.Status)
			}
		})
	}
}

func TestComplianceExpiredEntryNoLongerSuppresses(t *testing.T) {
	h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Answer, Talk: time.Second})
	h.provider("p", 1, 0, "")
	h.alwaysOpen(3)
	l, err := h.db.CreateDNCList(context.Background(), h.admin(), dialer.DNCList{Name: "until", Default: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.db.AddDNCNumbers(context.Background(), h.admin(), l.ID, []dialer.DNCNumber{
		{Number: phoneOf(1), ExpiresAt: t0.Add(-time.Hour).Unix()}, {Number: phoneOf(2), ExpiresAt: t0.Add(time.Hour).Unix()}}); err != nil {
		t.Fatal(err)
	}
	id, _ := h.campaign(2, 1, 60, 1, 60)
	h.startCompliant(false)
	h.startCampaign(id)
	h.advance(5 * time.Minute)
	if got := h.dialed(); got[phoneOf(1)] != 1 || got[phoneOf(2)] != 0 {
		t.Fatalf("dialed %v: want the expired entry dialed, the live one not", got)
	}
}

func TestComplianceOptOutStopsEveryLaterAttempt(t *testing.T) {
	h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Answer, Talk: 10 * time.Second})
	h.provider("p", 1, 0, "")
	h.alwaysOpen(10)
	h.gw.Script(phoneOf(1), memgateway.Script{Kind: memgateway.Answer, Talk: 10 * time.Second, DTMF: "9", DTMFGap: 2 * time.Second})
	evs := h.events(dialer.EventContactOptedOut)
	// Campaign A calls number 1, who presses 9; campaign B, already
	// running with number 1 still to call, and campaign C, started later,
	// must not call it.
	others := h.f.Contacts(h.tenant, h.owner, 2, 100) // before number 1 in B's queue
	idA, contacts := h.campaign(1, 1, 60, 1, 60)
	gB := h.f.Group(h.tenant, h.owner, append(others, contacts...)...)
	idB := h.f.Campaign(h.tenant, h.owner, h.voice, gB, 1, 1, 60)
	h.startCompliant(true)
	h.startCampaign(idA)
	h.startCampaign(idB)
	h.advance(5 * time.Second) // number 1 pressed 9 at 2 s
	got := evs()
	if len(got) != 1 || got[0].Number != phoneOf(1) || got[0].Digit != "9" || got[0].CampaignID != idA {
		t.Fatalf("opted-out events %+v", got)
	}
	if n := h.count(`SELECT COUNT(*) FROM dnc_numbers n JOIN dnc_lists l USING (dnc_id)
		WHERE l.tenant_id = ? AND l.is_default = 1 AND n.source = 'opt-out'`, h.tenant); n != 1 {
		t.Fatalf("%d opt-outs on the default list, want 1", n)
	}
	if n := h.count(`SELECT COUNT(*) FROM dnc_optouts WHERE spool_id > 0 AND campaign_id = ?`, idA); n != 1 {
		t.Fatalf("%d opt-out records with their spool", n)
	}
	h.advance(5 * time.Minute)
	gC := h.f.Group(h.tenant, h.owner, contacts...)
	idC := h.f.Campaign(h.tenant, h.owner, h.voice, gC, 60, 1, 60)
	h.startCampaign(idC)
	h.advance(5 * time.Minute)
	if got := h.dialed(); got[phoneOf(1)] != 1 || got[phoneOf(100)] != 1 {
		t.Fatalf("dialed %v: number 1 once (before its opt-out), the others once", got)
	}
	// A restart (the durable list, loaded afresh) still suppresses it.
	h.crash()
	h.open()
	gD := h.f.Group(h.tenant, h.owner, contacts...)
	idD := h.f.Campaign(h.tenant, h.owner, h.voice, gD, 60, 1, 60)
	h.startCompliant(true)
	h.startCampaign(idD)
	h.advance(time.Minute)
	if got := h.dialed(); got[phoneOf(1)] != 1 {
		t.Fatalf("dialed %v after a restart", got)
	}
	if n := h.count(`SELECT COUNT(*) FROM transmissions WHERE campaign_id IN (?, ?, ?) AND suppressed_list IS NOT NULL`, idB, idC, idD); n != 3 {
		t.Fatalf("%d suppressed transmissions in B, C and D, want 3", n)
	}
}

func TestComplianceRedialLimitAcrossCampaigns(t *testing.T) {
	h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Busy, Ring: time.Second})
	h.provider("p", 1, 0, "")
	h.alwaysOpen(2)
	// Two campaigns over the same number, each allowed 3 tries a minute
	// apart: the tenant allows 2 attempts to it in any 24 hours.
	contacts := h.f.Contacts(h.tenant, h.owner, 1, 1)
	idA := h.f.Campaign(h.tenant, h.owner, h.voice, h.f.Group(h.tenant, h.owner, contacts...), 60, 3, 60)
	idB := h.f.Campaign(h.tenant, h.owner, h.voice, h.f.Group(h.tenant, h.owner, contacts...), 60, 3, 60)
	h.startCompliant(false)
	h.startCampaign(idA)
	h.startCampaign(idB)
	h.advance(time.Hour)
	if n := h.dialed()[phoneOf(1)]; n != 2 {
		t.Fatalf("%d attempts in the first hour, want the limit 2", n)
	}
	// It waits, never fails: pending in whichever campaign holds the rest.
	if n := h.count(`SELECT COUNT(*) FROM transmissions WHERE campaign_id IN (?, ?) AND status = 'pending'`, idA, idB); n != 2 {
		t.Fatalf("%d pending transmissions, want both waiting", n)
	}
	// A restart reads the attempts back.
	h.crash()
	h.open()
	h.startCompliant(false)
	h.advance(22 * time.Hour)
	if n := h.dialed()[phoneOf(1)]; n != 2 {
		t.Fatalf("%d attempts within 24 hours across a restart, want 2", n)
	}
	h.advance(2*time.Hour + 5*time.Minute)
	rs := h.gw.Records()
	if len(rs) != 4 {
		t.Fatalf("%d attempts after 24 hours, want 4", len(rs))
	}
	for i := 2; i < len(rs); i++ {
		if d := rs[i].Start.Sub(rs[i-2].Start); d < 24*time.Hour {
			t.Fatalf("attempts %d and %d %v apart", i-2, i, d)
		}
	}
}

func TestComplianceCallingHoursByNumberAcrossDST(t *testing.T) {
	// Saturday 2025-03-08 10:00 UTC; US DST starts 2025-03-09 02:00 local.
	start := time.Date(2025, 3, 8, 10, 0, 0, 0, time.UTC)
	h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Busy, Ring: time.Second})
	h.clk.AdvanceTo(start)
	h.provider("p", 1, 0, "")
	zones := map[string]string{"+12125550100": "America/New_York", "+13125550100": "America/Chicago", "+14155550100": "America/Los_Angeles",
		"+12125550101": "America/New_York", "+13125550101": "America/Chicago", "+14155550101": "America/Los_Angeles"}
	var contacts []int64
	for p := range zones {
		contacts = append(contacts, h.f.Exec(`INSERT INTO contacts (tenant_id, created_by, first_name, phone, created_at, updated_at)
			VALUES (?, ?, 'c', ?, 0, 0)`, h.tenant, h.owner, p))
	}
	// A contact's own time zone wins over its number's.
	hawaii := h.f.Exec(`INSERT INTO contacts (tenant_id, created_by, first_name, phone, timezone, created_at, updated_at)
		VALUES (?, ?, 'c', '+12125550199', 'Pacific/Honolulu', 0, 0)`, h.tenant, h.owner)
	zones["+12125550199"] = "Pacific/Honolulu"
	contacts = append(contacts, hawaii)
	// Tries 14 hours apart: each retry falls in the evening after 21:00,
	// and must wait for the next morning, which is after the DST change.
	id := h.f.Campaign(h.tenant, h.owner, h.voice, h.f.Group(h.tenant, h.owner, contacts...), 6000, 2, 14*3600)
	h.startCompliant(false)
	h.startCampaign(id)
	h.advance(48 * time.Hour)
	rs := h.gw.Records()
	if len(rs) != 2*len(zones) {
		t.Fatalf("%d attempts, want %d", len(rs), 2*len(zones))
	}
	byPhone := map[string][]time.Time{}
	for _, r := range rs {
		byPhone[r.Phone] = append(byPhone[r.Phone], r.Start)
	}
	for p, z := range zones {
		loc, _ := time.LoadLocation(z)
		ts := byPhone[p]
		if len(ts) != 2 {
			t.Fatalf("%s: %d attempts", p, len(ts))
		}
		for i, at := range ts {
			lt := at.In(loc)
			if lt.Hour() < 8 || lt.Hour() >= 21 {
				t.Errorf("%s (%s) attempt %d at %s local", p, z, i, lt)
			}
		}
		// Both attempts at the window's opening, 08:00 local (the first
		// waited from before dawn, the second from the night), one day
		// apart in wall time: 23 hours apart in the zones that changed.
		want0 := time.Date(2025, 3, 8, 8, 0, 0, 0, loc)
		want1 := time.Date(2025, 3, 9, 8, 0, 0, 0, loc)
		near := func(at, want time.Time) bool { return !at.Before(want) && at.Sub(want) < time.Second }
		if !near(ts[0], want0) || !near(ts[1], want1) {
			t.Errorf("%s (%s): attempts at %s, %s; want %s, %s", p, z, ts[0].In(loc), ts[1].In(loc), want0, want1)
		}
	}
	if n := h.count(`SELECT SUM(deferrals) FROM transmissions WHERE campaign_id = ?`, id); n != int64(2*len(zones)) {
		t.Errorf("%d outside-hours deferrals recorded, want %d", n, 2*len(zones))
	}
}

func TestComplianceWindowOverrideIsTheCampaigns(t *testing.T) {
	h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Answer, Talk: time.Second})
	h.provider("p", 1, 0, "")
	// 12:00 UTC is 07:00 in New York (EST): outside the tenant's default
	// window; the campaign that overrides it calls at once.
	ny := h.f.Exec(`INSERT INTO contacts (tenant_id, created_by, first_name, phone, created_at, updated_at)
		VALUES (?, ?, 'c', '+12125550100', 0, 0)`, h.tenant, h.owner)
	plain := h.f.Campaign(h.tenant, h.owner, h.voice, h.f.Group(h.tenant, h.owner, ny), 60, 1, 60)
	over := h.f.Campaign(h.tenant, h.owner, h.voice, h.f.Group(h.tenant, h.owner, ny), 60, 1, 60)
	if err := h.db.SetWindowOverride(context.Background(), h.admin(), over, true); err != nil {
		t.Fatal(err)
	}
	h.startCompliant(false)
	h.startCampaign(plain)
	h.startCampaign(over)
	h.advance(time.Minute)
	rs := h.gw.Records()
	if len(rs) != 1 || rs[0].CampaignID != over {
		t.Fatalf("records %+v: want only the overriding campaign's call", rs)
	}
	h.advance(time.Hour)
	rs = h.gw.Records()
	if len(rs) != 2 || rs[1].CampaignID != plain || !rs[1].Start.Equal(time.Date(2025, 3, 5, 13, 0, 0, 0, time.UTC)) {
		t.Fatalf("records %+v: want the plain campaign's call at 08:00 New York", rs)
	}
	if ov, by, at, err := h.db.WindowOverride(context.Background(), h.tenant, over); err != nil || !ov || by != h.owner || at == 0 {
		t.Fatalf("override recorded as %v by %d at %d (%v)", ov, by, at, err)
	}
}

func TestComplianceNumberZones(t *testing.T) {
	for _, tc := range []struct {
		phone string
		want  []string
	}{
		{"+12125550100", []string{"America/New_York"}},
		{"+14155550100", []string{"America/Los_Angeles"}},
		{"+19075550100", []string{"America/Adak", "America/Anchorage"}}, // every zone must hold
		{"+18005550100", nil},                                           // the whole NANP: unknown
		{"+15550000001", nil},
		{"+442071234567", []string{"Europe/London"}},
	} {
		if got := dialer.NumberZones(tc.phone); !slices.Equal(got, tc.want) {
			t.Errorf("%s: zones %v, want %v", tc.phone, got, tc.want)
		}
	}
}

func TestComplianceSingleTransmissionNamedList(t *testing.T) {
	h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Answer, Talk: time.Second})
	h.provider("p", 1, 0, "")
	list := h.dncList("named", false, phoneOf(1))
	cs := h.f.Contacts(h.tenant, h.owner, 2, 1)
	named := h.f.Transmission(h.tenant, h.owner, cs[0], h.voice, 1, time.Time{})
	plain := h.f.Transmission(h.tenant, h.owner, cs[0], h.voice, 1, time.Time{})
	if err := h.db.SetDNCUses(context.Background(), h.tenant, 0, named, []int64{list}); err != nil {
		t.Fatal(err)
	}
	h.startCompliant(false)
	_, err := h.eng.Send(context.Background(), h.tenant, named)
	if dialer.ErrorCode(err) != dialer.CodeInvalid {
		t.Fatalf("send of a transmission naming the list: %v", err)
	}
	if _, err := h.eng.Send(context.Background(), h.tenant, plain); err != nil {
		t.Fatalf("send of one that does not name it: %v", err)
	}
	h.advance(time.Minute)
	if got := h.dialed(); got[phoneOf(1)] != 1 {
		t.Fatalf("dialed %v", got)
	}
	if got := h.pairs(`SELECT transmission_id, status || ' ' || response FROM transmissions WHERE transmission_id = ?`, named); got[named] != fmt.Sprintf("invalid suppressed: do-not-call list %d (named)", list) {
		t.Fatalf("transmission %v", got)
	}
}

func TestDNCSetScopes(t *testing.T) {
	s := dialer.NewDNCSet()
	s.PutList(dialer.DNCList{ID: 1, TenantID: "a", Name: "a-default", Default: true})
	s.PutList(dialer.DNCList{ID: 2, TenantID: "a", Name: "a-named"})
	s.PutList(dialer.DNCList{ID: 3, Platform: true, Name: "national"})
	s.PutList(dialer.DNCList{ID: 4, TenantID: "b", Name: "b-named"})
	now := time.Unix(1_000_000, 0)
	s.Add(1, []dialer.DNCNumber{{Number: "+15550000001"}, {Number: "+15550000005", ExpiresAt: now.Unix()}})
	s.Add(2, []dialer.DNCNumber{{Number: "+15550000002"}})
	s.Add(3, []dialer.DNCNumber{{Number: "+15550000003"}})
	s.Add(4, []dialer.DNCNumber{{Number: "+15550000004"}})
	for _, tc := range []struct {
		tenant string
		lists  []int64
		number string
		want   int64 // list; -1 none
	}{
		{"a", nil, "+15550000001", 1},
		{"b", nil, "+15550000001", -1}, // another tenant's default list
		{"a", nil, "+15550000002", -1}, // named, not named here
		{"a", []int64{2}, "+15550000002", 2},
		{"b", nil, "+15550000003", 3}, // platform lists apply to everyone
		{"a", []int64{4}, "+15550000004", -1},
		{"a", nil, "+15550000005", -1}, // expired at now
	} {
		sp, hit := s.Check(tc.tenant, tc.lists, tc.number, now)
		if (tc.want < 0 && hit) || (tc.want >= 0 && (!hit || sp.ListID != tc.want)) {
			t.Errorf("%s %v %s: %+v %v, want list %d", tc.tenant, tc.lists, tc.number, sp, hit, tc.want)
		}
	}
	s.OptOut("c", "+15550000009")
	if _, hit := s.Check("c", nil, "+15550000009", now); !hit {
		t.Error("an opt-out of a tenant without a default list is not suppressed")
	}
	s.Remove(1, []string{"+15550000001"})
	if _, hit := s.Check("a", nil, "+15550000001", now); hit {
		t.Error("a removed number is still suppressed")
	}
}
