package dialer_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/memgateway"
)

func answering() memgateway.Script {
	return memgateway.Script{Kind: memgateway.Answer, Ring: 2 * time.Second, Talk: 5 * time.Second}
}

// originationGaps returns the smallest gap between two originations of
// the records (sorted by start).
func minGap(recs []memgateway.Record) time.Duration {
	gap := time.Duration(1<<63 - 1)
	for i := 1; i < len(recs); i++ {
		gap = min(gap, recs[i].Start.Sub(recs[i-1].Start))
	}
	return gap
}

func TestCampaignPacing600CPM(t *testing.T) {
	h := newHarness(t, testConfig(), answering())
	h.provider("trunk", 10, 1, "")
	h.start()
	id, _ := h.campaign(7000, 0, 600, 1, 60)
	h.startCampaign(id)
	h.advance(10 * time.Minute)

	var recs []memgateway.Record
	for _, r := range h.gw.Records() {
		if r.Start.Before(t0.Add(10 * time.Minute)) {
			recs = append(recs, r)
		}
	}
	if n := len(recs); n < 5999 || n > 6001 {
		t.Fatalf("%d originations in 10 simulated minutes at 600 CPM, want 6000 ± 1", n)
	}
	if g := minGap(recs); g < 100*time.Millisecond-time.Millisecond {
		t.Fatalf("two originations %v apart; 600 CPM spaces them 100ms", g)
	}
	if got := h.count(`SELECT COUNT(*) FROM spools`); got < int64(len(recs)) {
		t.Fatalf("%d spools for %d originations", got, len(recs))
	}
}

func TestCPMChangeWhileRunning(t *testing.T) {
	h := newHarness(t, testConfig(), answering())
	h.provider("trunk", 10, 0, "")
	h.start()
	id, _ := h.campaign(500, 0, 60, 1, 60)
	h.startCampaign(id)
	h.advance(time.Minute)
	before := len(h.gw.Records())
	h.f.Exec(`UPDATE campaigns SET cpm = 240 WHERE campaign_id = ?`, id)
	if err := h.eng.CampaignChanged(context.Background(), h.tenant, id); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Minute)
	recs := h.gw.Records()
	if before < 60 || before > 61 {
		t.Fatalf("%d originations in the first minute at 60 CPM", before)
	}
	if after := len(recs) - before; after < 239 || after > 241 {
		t.Fatalf("%d originations in the minute after the change to 240 CPM", after)
	}
	if g := minGap(recs[before:]); g < 250*time.Millisecond-time.Millisecond {
		t.Fatalf("gap %v at 240 CPM", g)
	}
}

// try_allowed=3 against a number that is always busy: exactly three
// spools per transmission, spaced by the retry delay, then failed.
func TestRetriesHonourTryAllowed(t *testing.T) {
	h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Busy, Ring: 3 * time.Second})
	h.provider("trunk", 10, 0, "")
	h.start()
	id, _ := h.campaign(20, 0, 600, 3, 120)
	h.startCampaign(id)
	h.advance(time.Hour)

	spools := h.pairs(`SELECT t.transmission_id, COUNT(s.spool_id) FROM transmissions t LEFT JOIN spools s USING (transmission_id)
		WHERE t.campaign_id = ? GROUP BY t.transmission_id`, id)
	status := h.pairs(`SELECT transmission_id, status || ' ' || try_done || ' ' || response FROM transmissions WHERE campaign_id = ?`, id)
	if len(spools) != 20 {
		t.Fatalf("%d transmissions", len(spools))
	}
	for tid, n := range spools {
		if n != "3" || status[tid] != "failed 3 USER_BUSY" {
			t.Errorf("transmission %d: %s spools, %q", tid, n, status[tid])
		}
	}
	if got := len(h.gw.Records()); got != 60 {
		t.Fatalf("%d calls, want 60", got)
	}
	// Retries wait the campaign's delay after the previous attempt ended.
	byTx := map[int64][]memgateway.Record{}
	for _, r := range h.gw.Records() {
		byTx[r.TransmissionID] = append(byTx[r.TransmissionID], r)
	}
	for tid, rs := range byTx {
		for i := 1; i < len(rs); i++ {
			if gap := rs[i].Start.Sub(rs[i-1].End); gap < 120*time.Second {
				t.Fatalf("transmission %d retried %v after its last attempt ended, want ≥ 2m", tid, gap)
			}
		}
	}
	if got := h.count(`SELECT COUNT(*) FROM campaigns WHERE status = 'completed'`); got != 1 {
		t.Fatal("campaign not completed")
	}
}

func TestInvalidNumberIsNotRetried(t *testing.T) {
	h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Fail, Ring: time.Second, Cause: "UNALLOCATED_NUMBER", SIPCode: 404})
	h.provider("trunk", 10, 0, "")
	h.start()
	id, _ := h.campaign(10, 0, 600, 3, 60)
	h.startCampaign(id)
	h.advance(time.Hour)
	if got := h.count(`SELECT COUNT(*) FROM spools`); got != 10 {
		t.Fatalf("%d spools, want 10 (one each)", got)
	}
	if got := h.count(`SELECT COUNT(*) FROM transmissions WHERE status = 'invalid' AND try_done = 1 AND response = 'UNALLOCATED_NUMBER'`); got != 10 {
		t.Fatalf("%d transmissions invalid", got)
	}
}

// A contact without a usable number is closed invalid without a call.
func TestUndialableContact(t *testing.T) {
	h := newHarness(t, testConfig(), answering())
	h.provider("trunk", 10, 0, "")
	h.start()
	bad := h.f.Contact(h.tenant, h.owner, "12;evil=1", "")
	good := h.f.Contact(h.tenant, h.owner, "+15550100", "")
	g := h.f.Group(h.tenant, h.owner, bad, good)
	id := h.f.Campaign(h.tenant, h.owner, h.voice, g, 60, 2, 60)
	h.startCampaign(id)
	h.advance(time.Minute)
	if recs := h.gw.Records(); len(recs) != 1 || recs[0].Phone != "+15550100" {
		t.Fatalf("calls: %+v", recs)
	}
	if got := h.count(`SELECT COUNT(*) FROM transmissions WHERE contact_id = ? AND status = 'invalid'`, bad); got != 1 {
		t.Fatal("the undialable contact is not invalid")
	}
}

func TestSingleSendAndRetry(t *testing.T) {
	h := newHarness(t, testConfig(), answering())
	h.provider("trunk", 10, 0, "")
	h.start()
	ctx := context.Background()
	c := h.f.Contact(h.tenant, h.owner, "+15550001", "")
	h.gw.Script("+15550001", memgateway.Script{Kind: memgateway.Busy, Ring: time.Second}, answering())
	tid := h.f.Transmission(h.tenant, h.owner, c, h.voice, 1, time.Time{})

	spool, err := h.eng.Send(ctx, h.tenant, tid)
	if err != nil || spool == 0 {
		t.Fatalf("Send: %d, %v", spool, err)
	}
	// Write-ahead: the spool is committed when Send answers.
	if got := h.f.Int(`SELECT COUNT(*) FROM spools WHERE spool_id = ? AND status = 'initiated'`, spool); got != 1 {
		t.Fatal("spool not committed when Send returned")
	}
	if _, err := h.eng.Send(ctx, h.tenant, tid); dialer.ErrorCode(err) != dialer.CodeConflict {
		t.Fatalf("Send during the attempt: %v", err)
	}
	h.advance(time.Minute)
	if got := h.pairs(`SELECT transmission_id, status FROM transmissions`)[tid]; got != "failed" {
		t.Fatalf("after one busy try of one: %s", got)
	}
	if _, err := h.eng.Send(ctx, h.tenant, tid); dialer.ErrorCode(err) != dialer.CodeConflict {
		t.Fatalf("Send of a failed transmission: %v", err)
	}
	spool2, err := h.eng.Retry(ctx, h.tenant, tid)
	if err != nil || spool2 == spool {
		t.Fatalf("Retry: %d, %v", spool2, err)
	}
	h.advance(time.Minute)
	if got := h.pairs(`SELECT transmission_id, status || ' ' || try_done || '/' || try_allowed FROM transmissions`)[tid]; got != "completed 2/2" {
		t.Fatalf("after retry: %s", got)
	}
	if _, err := h.eng.Send(ctx, "other-tenant", tid); dialer.ErrorCode(err) != dialer.CodeNotFound {
		t.Fatalf("Send across tenants: %v", err)
	}
}

func TestEventsOfOneCall(t *testing.T) {
	h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Answer, Ring: time.Second, Talk: 10 * time.Second, DTMF: "42"})
	h.provider("trunk", 10, 0, "")
	sub := h.bus.Subscribe(1000)
	defer sub.Close()
	h.start()
	id, _ := h.campaign(1, 0, 60, 1, 60)
	h.startCampaign(id)
	h.advance(time.Minute)
	var types []string
	var spool int64
	for len(sub.C()) > 0 {
		ev := <-sub.C()
		if ev.TenantID != h.tenant || ev.CampaignID != id || ev.At.IsZero() {
			t.Fatalf("event without its ids or time: %+v", ev)
		}
		if ev.SpoolID != 0 {
			spool = ev.SpoolID
		}
		s := string(ev.Type)
		if ev.Digit != "" {
			s += ":" + ev.Digit
		}
		if ev.Type == dialer.EventSpoolEnded || ev.Type == dialer.EventTransmissionStatus {
			s += ":" + ev.Status
		}
		types = append(types, s)
	}
	want := []string{"campaign.started", "campaign.progress", "spool.initiated", "transmission.status:processing",
		"campaign.progress", "spool.ringing", "spool.answered", "spool.dtmf:4", "spool.dtmf:2", "spool.ended:completed",
		"transmission.status:completed", "campaign.progress", "campaign.completed"}
	if !slices.Equal(types, want) {
		t.Fatalf("events:\n got %v\nwant %v", types, want)
	}
	if got := h.count(`SELECT COUNT(*) FROM spool_results WHERE spool_id = ? AND data = '42'`, spool); got != 1 {
		t.Fatal("DTMF result not stored")
	}
	c, err := h.db.Campaign(context.Background(), h.tenant, id)
	if err != nil || c.Counters != (dialer.CampaignCounters{Total: 1, Done: 1, Answered: 1}) || c.Status != dialer.CampaignCompleted {
		t.Fatalf("campaign after: %+v %v", c, err)
	}
}

func ExampleBus() {
	b := dialer.NewBus()
	s := b.Subscribe(1)
	b.Publish(dialer.Event{Type: dialer.EventSpoolAnswered, SpoolID: 7})
	b.Publish(dialer.Event{Type: dialer.EventSpoolEnded, SpoolID: 7})
	fmt.Println((<-s.C()).Type, s.Dropped())
	// Output: spool.answered 1
}

// Send without capacity answers not ready after SendWait; the transmission
// stays queued and goes out as soon as a channel frees.
func TestSendWaitsForCapacity(t *testing.T) {
	cfg := testConfig()
	cfg.TenantChannels = 1
	cfg.SendWait = 300 * time.Millisecond // wall clock: long enough for the first Send on a loaded machine
	h := newHarness(t, cfg, memgateway.Script{Kind: memgateway.Answer, Ring: time.Second, Talk: time.Minute})
	h.provider("trunk", 10, 0, "")
	h.start()
	ctx := context.Background()
	var ids []int64
	for _, c := range h.f.Contacts(h.tenant, h.owner, 2, 0) {
		ids = append(ids, h.f.Transmission(h.tenant, h.owner, c, h.voice, 1, time.Time{}))
	}
	if _, err := h.eng.Send(ctx, h.tenant, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.Send(ctx, h.tenant, ids[1]); dialer.ErrorCode(err) != dialer.CodeNotReady {
		t.Fatalf("Send without a free channel: %v", err)
	}
	h.clk.WaitSettled()
	if got := len(h.gw.Records()); got != 1 {
		t.Fatalf("%d calls with one channel", got)
	}
	h.advance(2 * time.Minute)
	recs := h.gw.Records()
	if len(recs) != 2 || recs[1].TransmissionID != ids[1] || recs[1].Start.Before(recs[0].End) {
		t.Fatalf("the queued transmission did not go out when the channel freed: %+v", recs)
	}
}
