package dialer_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/memgateway"
)

// A campaign's work is read in pages: every contact is dialed once (twice
// when its first try is busy and it has two), and the campaign completes
// only after the last page.
func TestCampaignWorkInPages(t *testing.T) {
	cfg := testConfig()
	cfg.CampaignPage = 10
	h := newHarness(t, cfg, answering())
	h.provider("trunk", 10, 0, "")
	h.start()
	id, contacts := h.campaign(95, 0, 6000, 2, 1)
	busyFirst := map[string]bool{}
	for i := 3; i < 95; i += 17 {
		phone := h.f.Pairs(`SELECT contact_id, phone FROM contacts WHERE contact_id = ?`, contacts[i])[contacts[i]]
		busyFirst[phone] = true
		h.gw.Script(phone, memgateway.Script{Kind: memgateway.Busy}, answering())
	}
	h.startCampaign(id)
	h.advance(5 * time.Minute)

	dialed := map[string]int{}
	for _, r := range h.gw.Records() {
		dialed[r.Phone]++
	}
	if len(dialed) != 95 {
		t.Fatalf("%d numbers dialed, want 95", len(dialed))
	}
	for phone, n := range dialed {
		want := 1
		if busyFirst[phone] {
			want = 2
		}
		if n != want {
			t.Errorf("%s dialed %d times, want %d", phone, n, want)
		}
	}
	if got := h.count(`SELECT COUNT(*) FROM transmissions WHERE campaign_id = ? AND status = 'completed'`, id); got != 95 {
		t.Fatalf("%d of 95 transmissions completed", got)
	}
	if st := h.pairs(`SELECT campaign_id, status FROM campaigns WHERE campaign_id = ?`, id)[id]; st != "completed" {
		t.Fatalf("campaign %s, want completed", st)
	}
}

// Contacts whose window is closed fill the first page; the engine reads on
// and dials the contacts of later pages whose window is open.
func TestCampaignPagesPastClosedWindows(t *testing.T) {
	cfg := testConfig()
	cfg.CampaignPage = 10
	h := newHarness(t, cfg, answering())
	h.provider("trunk", 10, 0, "")
	h.start()
	id, contacts := h.campaign(40, 0, 6000, 1, 60)
	// 09:00-17:00; t0 is 12:00 UTC, 01:00 the next day in Auckland.
	h.f.Exec(`UPDATE campaigns SET window_start = 540, window_end = 1020 WHERE campaign_id = ?`, id)
	for _, c := range contacts[:15] {
		h.f.Exec(`UPDATE contacts SET timezone = 'Pacific/Auckland' WHERE contact_id = ?`, c)
	}
	h.startCampaign(id)
	h.advance(time.Minute)
	if got := len(h.gw.Records()); got != 25 {
		t.Fatalf("%d dialed within the first minute, want the 25 whose window is open", got)
	}
}

// BenchmarkStartLargeCampaign starts a campaign of 200,000 contacts and
// reports the time StartCampaign holds the engine's loop (the store's
// insert of the transmissions is most of it) and the heap the engine
// keeps for the campaign's queue.
func BenchmarkStartLargeCampaign(b *testing.B) {
	const n = 200_000
	for b.Loop() {
		b.StopTimer()
		h := newHarness(b, testConfig(), answering())
		h.start()
		id, _ := h.campaign(n, 0, 60, 1, 60)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		start := time.Now()
		if err := h.eng.StartCampaign(context.Background(), h.tenant, id); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "loop-ms")
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/(1<<20), "heap-MiB")
		b.StartTimer()
	}
}

// A campaign larger than one transaction's worth of contacts gets its
// transmissions made off the loop; a crash after the start committed but
// before they were all made loses none: the restart makes the rest.
func TestCampaignMaterializedAfterCrash(t *testing.T) {
	const n = 4500 // more than two chunks
	for _, crash := range []bool{false, true} {
		t.Run(map[bool]string{false: "running", true: "crash after the start"}[crash], func(t *testing.T) {
			h := newHarness(t, testConfig(), answering())
			h.provider("trunk", 10, 0, "")
			id, _ := h.campaign(n, 0, 60000, 1, 60)
			if crash {
				// What the previous process committed before dying: the
				// campaign active with its first chunk of transmissions.
				if _, err := h.es.StartCampaign(context.Background(), h.tenant, id, t0, 0); err != nil {
					t.Fatal(err)
				}
				if got := h.count(`SELECT COUNT(*) FROM transmissions WHERE campaign_id = ?`, id); got >= n {
					t.Fatalf("the start made all %d transmissions at once", got)
				}
				h.start()
			} else {
				h.start()
				h.startCampaign(id)
			}
			h.advance(2 * time.Minute)
			dialed := map[string]int{}
			for _, r := range h.gw.Records() {
				dialed[r.Phone]++
			}
			if len(dialed) != n {
				t.Fatalf("%d numbers dialed, want %d; %v", len(dialed), n, h.pairs(`SELECT 0, COUNT(*) || ' ' || GROUP_CONCAT(DISTINCT status) FROM transmissions WHERE campaign_id = ?`, id))
			}
			for phone, c := range dialed {
				if c != 1 {
					t.Fatalf("%s dialed %d times", phone, c)
				}
			}
			if st := h.pairs(`SELECT campaign_id, status FROM campaigns WHERE campaign_id = ?`, id)[id]; st != "completed" {
				t.Fatalf("campaign %s, want completed", st)
			}
		})
	}
}

// campaign.completed goes out once the campaign's end is committed: a
// client reading the campaign on the event sees it completed (it read
// active for 200 ms before).
func TestCampaignCompletedEventAfterCommit(t *testing.T) {
	h := newHarness(t, testConfig(), answering())
	h.provider("trunk", 10, 0, "")
	h.start()
	id, _ := h.campaign(3, 0, 600, 1, 60)
	sub := h.bus.Subscribe(1000)
	defer sub.Close()
	seen := make(chan string, 1)
	go func() {
		for ev := range sub.C() {
			if ev.Type == dialer.EventCampaignCompleted && ev.CampaignID == id {
				// Straight from the database file, as the API reads it.
				seen <- h.f.Pairs(`SELECT campaign_id, status FROM campaigns WHERE campaign_id = ?`, id)[id]
				return
			}
		}
	}()
	h.startCampaign(id)
	h.advance(time.Minute)
	select {
	case st := <-seen:
		if st != "completed" {
			t.Fatalf("on campaign.completed the store says %q", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no campaign.completed")
	}
}
