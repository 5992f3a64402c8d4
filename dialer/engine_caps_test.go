package dialer_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/memgateway"
)

// maxInSecond is the most records starting within any one-second window.
func maxInSecond(starts []time.Time) int {
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range starts {
		for starts[i].Sub(starts[j]) >= time.Second {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// maxConcurrent is the most calls live at once: intervals [Start, End).
func maxConcurrent(recs []memgateway.Record) int {
	type edge struct {
		at time.Time
		d  int
	}
	var edges []edge
	for _, r := range recs {
		edges = append(edges, edge{r.Start, +1}, edge{r.End, -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.d - b.d // ends before starts at the same instant
	})
	best, cur := 0, 0
	for _, e := range edges {
		cur += e.d
		best = max(best, cur)
	}
	return best
}

// Property: over random CPMs, caps, providers, nodes and call behaviours,
// the gateway's own timeline never shows a cap exceeded or two
// originations of a campaign closer than 60/CPM - 1ms, and every
// transmission ends: waiting for capacity delays work, never drops it.
func TestCapsNeverExceeded(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			cfg := testConfig()
			cfg.ProviderCPS = 1 + rng.IntN(12)
			cfg.NodeCPS = 1 + rng.IntN(20)
			cfg.ProviderChannels = 1 + rng.IntN(20)
			cfg.TenantChannels = 1 + rng.IntN(40)
			cfg.ProviderBackoff = time.Duration(1+rng.IntN(20)) * time.Second
			h := newHarness(t, cfg, answering())

			type prov struct {
				id            int64
				node          string
				cps, channels int
			}
			var provs []prov
			for i := range 1 + rng.IntN(3) {
				node := int64(1 + rng.IntN(2))
				p := prov{node: fmt.Sprint(node), cps: cfg.ProviderCPS, channels: cfg.ProviderChannels}
				settings := ""
				if rng.IntN(2) == 0 {
					p.cps, p.channels = 1+rng.IntN(8), 1+rng.IntN(15)
					settings = fmt.Sprintf(`{"cps": %d, "channels": %d}`, p.cps, p.channels)
				}
				p.id = h.provider(fmt.Sprint("p", i), 1+rng.IntN(20), node, settings)
				provs = append(provs, p)
			}
			cpms := map[int64]int{}
			var first int64
			for range 1 + rng.IntN(2) {
				n := 40 + rng.IntN(80)
				cpm := 30 + rng.IntN(1200)
				id, contacts := h.campaign(n, first, cpm, 1+rng.IntN(3), rng.IntN(120))
				first += int64(n)
				cpms[id] = cpm
				for _, c := range contacts {
					phone := h.f.Pairs(`SELECT contact_id, phone FROM contacts WHERE contact_id = ?`, c)[c]
					s := randomScript(rng)
					if s.Kind == memgateway.GatewayError {
						// A gateway error gives the try back: a number
						// that always met one would be retried forever.
						h.gw.Script(phone, s, answering())
						continue
					}
					h.gw.Script(phone, s)
				}
			}
			// A few single transmissions queued before the engine starts.
			for _, c := range h.f.Contacts(h.tenant, h.owner, 10, 900000) {
				h.f.Transmission(h.tenant, h.owner, c, h.voice, 2, t0)
			}
			h.start()
			for id := range cpms {
				h.startCampaign(id)
			}
			for i := 0; i < 300 && h.count(`SELECT COUNT(*) FROM transmissions WHERE status IN ('pending', 'processing')`) > 0; i++ {
				h.advance(time.Minute)
			}
			if left := h.count(`SELECT COUNT(*) FROM transmissions WHERE status IN ('pending', 'processing')`); left > 0 {
				t.Logf("stuck: %v", h.pairs(`SELECT transmission_id, status || ' ' || try_done || '/' || try_allowed || ' due ' || due_at || ' c' || COALESCE(campaign_id, 0) || ' ' || response FROM transmissions WHERE status IN ('pending', 'processing')`))
				t.Logf("campaigns: %v", h.pairs(`SELECT campaign_id, status FROM campaigns`))
				t.Logf("now %v stats %+v", h.clk.Now(), h.eng.Stats())
				t.Fatalf("%d transmissions never finished", left)
			}

			recs := h.gw.Records()
			byProv, byNode, byCampaign := map[int64][]time.Time{}, map[string][]time.Time{}, map[int64][]memgateway.Record{}
			provRecs := map[int64][]memgateway.Record{}
			for _, r := range recs {
				byProv[r.ProviderID] = append(byProv[r.ProviderID], r.Start)
				byNode[r.Node] = append(byNode[r.Node], r.Start)
				provRecs[r.ProviderID] = append(provRecs[r.ProviderID], r)
				if r.CampaignID != 0 {
					byCampaign[r.CampaignID] = append(byCampaign[r.CampaignID], r)
				}
			}
			for _, p := range provs {
				if got := maxInSecond(byProv[p.id]); got > p.cps {
					t.Errorf("provider %d: %d originations in one second, cap %d", p.id, got, p.cps)
				}
				if got := maxConcurrent(provRecs[p.id]); got > p.channels {
					t.Errorf("provider %d: %d concurrent calls, cap %d", p.id, got, p.channels)
				}
			}
			for node, starts := range byNode {
				if got := maxInSecond(starts); got > cfg.NodeCPS {
					t.Errorf("node %s: %d originations in one second, cap %d", node, got, cfg.NodeCPS)
				}
			}
			if got := maxConcurrent(recs); got > cfg.TenantChannels {
				t.Errorf("tenant: %d concurrent calls, cap %d", got, cfg.TenantChannels)
			}
			for id, rs := range byCampaign {
				interval := time.Minute / time.Duration(cpms[id])
				if g := minGap(rs); g < interval-time.Millisecond {
					t.Errorf("campaign %d at %d CPM: originations %v apart", id, cpms[id], g)
				}
			}
			t.Logf("%d calls; cps %d node %d channels %d tenant %d; providers %+v", len(recs), cfg.ProviderCPS, cfg.NodeCPS,
				cfg.ProviderChannels, cfg.TenantChannels, provs)
		})
	}
}

func randomScript(rng *rand.Rand) memgateway.Script {
	sec := func(n int) time.Duration { return time.Duration(rng.IntN(n*1000)) * time.Millisecond }
	switch rng.IntN(10) {
	case 0, 1:
		return memgateway.Script{Kind: memgateway.Busy, Ring: sec(5)}
	case 2:
		return memgateway.Script{Kind: memgateway.RingOut, Ring: sec(20)}
	case 3:
		return memgateway.Script{Kind: memgateway.Fail, Ring: sec(2), SIPCode: 503}
	case 4:
		return memgateway.Script{Kind: memgateway.GatewayError}
	default:
		return memgateway.Script{Kind: memgateway.Answer, Ring: sec(6), Talk: sec(40)}
	}
}

// Lighter weight is used more often: weights 1 and 3 share 3:1.
func TestProviderWeights(t *testing.T) {
	h := newHarness(t, testConfig(), answering())
	light := h.provider("light", 1, 0, "")
	heavy := h.provider("heavy", 3, 0, "")
	h.start()
	id, _ := h.campaign(400, 0, 600, 1, 60)
	h.startCampaign(id)
	h.advance(2 * time.Minute)
	n := map[int64]int{}
	for _, r := range h.gw.Records() {
		n[r.ProviderID]++
	}
	if n[light] != 300 || n[heavy] != 100 {
		t.Fatalf("light %d, heavy %d; want 300 and 100", n[light], n[heavy])
	}
}

// A provider answering 503 is skipped for its back-off and its attempts go
// to the next provider at once; the try counts, the retry does not wait.
func TestFailingProviderBacksOff(t *testing.T) {
	cfg := testConfig()
	cfg.ProviderBackoff = time.Minute
	h := newHarness(t, cfg, answering())
	bad := h.provider("bad", 1, 0, "")
	good := h.provider("good", 10, 0, "")
	h.gw.ScriptProvider(bad, memgateway.Script{Kind: memgateway.Fail, Ring: 100 * time.Millisecond, SIPCode: 503})
	h.start()
	id, _ := h.campaign(100, 0, 60, 2, 600)
	h.startCampaign(id)
	h.advance(70 * time.Second)
	var badCalls []time.Time
	for _, r := range h.gw.Records() {
		if r.ProviderID == bad {
			badCalls = append(badCalls, r.Start)
		}
	}
	// One failure, then nothing for a minute; then one more try, which
	// fails again and doubles the back-off.
	if len(badCalls) != 2 || badCalls[1].Sub(badCalls[0]) < time.Minute {
		t.Fatalf("calls through the failing provider at %v", badCalls)
	}
	rs := h.gw.Records()
	first := rs[0]
	if first.ProviderID != bad {
		t.Fatalf("the lighter provider was not tried first")
	}
	// Its transmission was retried through the good provider without the
	// campaign's 10-minute retry delay.
	for _, r := range rs[1:] {
		if r.TransmissionID == first.TransmissionID {
			if r.ProviderID != good || r.Start.Sub(first.End) > 2*time.Second {
				t.Fatalf("retry of the congested attempt: %+v", r)
			}
			return
		}
	}
	t.Fatal("the congested attempt was not retried")
}

// A gateway error does not reach the network: the try is given back.
func TestGatewayErrorRefundsTheTry(t *testing.T) {
	cfg := testConfig()
	cfg.ProviderBackoff = 10 * time.Second
	h := newHarness(t, cfg, answering())
	p := h.provider("flaky", 1, 0, "")
	h.gw.ScriptProvider(p, memgateway.Script{Kind: memgateway.GatewayError})
	h.start()
	c := h.f.Contact(h.tenant, h.owner, "+15550001", "")
	tid := h.f.Transmission(h.tenant, h.owner, c, h.voice, 1, time.Time{})
	if _, err := h.eng.Send(t.Context(), h.tenant, tid); err != nil {
		t.Fatal(err)
	}
	h.advance(5 * time.Second)
	h.gw.UnscriptProvider(p)
	h.advance(time.Minute)
	got := h.pairs(`SELECT transmission_id, status || ' ' || try_done FROM transmissions`)[tid]
	spools := h.pairs(`SELECT spool_id, status || ' ' || response FROM spools`)
	if got != "completed 1" || len(spools) != 2 {
		t.Fatalf("transmission %q, spools %v", got, spools)
	}
}

// Calling windows: work outside the window waits, in the contact's own
// time zone when it has one, across a DST change, and is never dropped.
func TestCallingWindows(t *testing.T) {
	h := newHarness(t, testConfig(), answering())
	h.provider("trunk", 10, 0, "")
	h.start()
	ny := h.f.Contact(h.tenant, h.owner, "+12125550001", "")
	tokyo := h.f.Contact(h.tenant, h.owner, "+81355550002", "Asia/Tokyo")
	g := h.f.Group(h.tenant, h.owner, ny, tokyo)
	id := h.f.Campaign(h.tenant, h.owner, h.voice, g, 60, 1, 60)
	// 09:00–17:00 New York, Monday to Friday.
	h.f.Exec(`UPDATE campaigns SET window_start = 540, window_end = 1020, window_days = 62, window_tz = 'America/New_York' WHERE campaign_id = ?`, id)
	nyLoc, _ := time.LoadLocation("America/New_York")
	tokyoLoc, _ := time.LoadLocation("Asia/Tokyo")
	// Friday 2025-03-07 17:30 New York (22:30 UTC), before the DST weekend.
	h.clk.AdvanceTo(time.Date(2025, 3, 7, 17, 30, 0, 0, nyLoc))
	sub := h.bus.Subscribe(100)
	defer sub.Close()
	h.startCampaign(id)
	h.advance(4 * 24 * time.Hour)
	recs := h.gw.Records()
	if len(recs) != 2 {
		t.Fatalf("%d calls", len(recs))
	}
	for _, r := range recs {
		loc := nyLoc
		if r.Phone == "+81355550002" {
			loc = tokyoLoc
		}
		lt := r.Start.In(loc)
		if lt.Hour() < 9 || lt.Hour() >= 17 || lt.Weekday() == time.Saturday || lt.Weekday() == time.Sunday {
			t.Errorf("%s called at %v local", r.Phone, lt)
		}
	}
	// New York: Monday 09:00 EDT (DST began Sunday), 13:00 UTC.
	for _, r := range recs {
		if r.Phone == "+12125550001" && !r.Start.Equal(time.Date(2025, 3, 10, 13, 0, 0, 0, time.UTC)) {
			t.Errorf("New York contact called at %v, want Monday 09:00 EDT", r.Start.In(nyLoc))
		}
		if r.Phone == "+81355550002" && !r.Start.Equal(time.Date(2025, 3, 10, 9, 0, 0, 0, tokyoLoc)) {
			t.Errorf("Tokyo contact called at %v, want Monday 09:00 JST", r.Start.In(tokyoLoc))
		}
	}
	var paused bool
	for len(sub.C()) > 0 {
		if (<-sub.C()).Type == dialer.EventCampaignPaused {
			paused = true
		}
	}
	if !paused {
		t.Error("no campaign.paused event while waiting for the window")
	}
}
