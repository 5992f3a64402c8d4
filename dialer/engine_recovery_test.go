package dialer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/memgateway"
)

// Crash the engine at each point of an attempt's life, without grace, and
// start a fresh one on the reopened store: every transmission ends with
// the right attempts, none lost, nobody dialled twice for one attempt.
func TestCrashAtEveryPoint(t *testing.T) {
	long := memgateway.Script{Kind: memgateway.Answer, Ring: 20 * time.Second, Talk: 10 * time.Second}
	tests := []struct {
		name       string
		scripts    []memgateway.Script
		tries      int
		crashAt    time.Duration // after Send
		down       time.Duration // clock time while no engine runs
		wantSpools string        // each spool's status and response, in order
		wantStatus string
		wantPlaced int  // calls that really reached the network
		records    bool // the gateway keeps the outcome of calls that end while nobody follows them
	}{
		{"before dial", []memgateway.Script{{Kind: memgateway.Stall}, answering()}, 2, time.Second, 0,
			"failed restart|completed NORMAL_CLEARING", "completed", 1, false},
		{"before dial, last try", []memgateway.Script{{Kind: memgateway.Stall}}, 1, time.Second, 0,
			"failed restart", "failed", 0, false},
		{"ringing", []memgateway.Script{long}, 1, 5 * time.Second, 0,
			"completed NORMAL_CLEARING", "completed", 1, false},
		{"answered", []memgateway.Script{long}, 1, 25 * time.Second, 0,
			"completed NORMAL_CLEARING", "completed", 1, false},
		{"ringing, busy after restart", []memgateway.Script{{Kind: memgateway.Busy, Ring: 20 * time.Second}, answering()}, 2, 5 * time.Second, 0,
			"failed USER_BUSY|completed NORMAL_CLEARING", "completed", 2, false},
		{"call ended while down", []memgateway.Script{long, answering()}, 2, 5 * time.Second, time.Minute,
			"failed restart|completed NORMAL_CLEARING", "completed", 2, false},
		{"down past the grace, hung call", []memgateway.Script{{Kind: memgateway.Hang}}, 1, 5 * time.Second, time.Hour,
			"", "processing", 1, false},
		// The answer is on disk when it happens: a call answered before the
		// crash that ended while the daemon was down is never redialled
		// (before: "failed restart|completed NORMAL_CLEARING", 2 calls).
		{"answered, ended while down", []memgateway.Script{long, answering()}, 2, 25 * time.Second, time.Minute,
			"failed " + dialer.CauseAnsweredBeforeRestart, "failed", 1, false},
		// A call that ended while the daemon was down keeps its real outcome
		// when the gateway kept a record of it (FreeSWITCH's mod_hash).
		{"call ended while down, its record kept", []memgateway.Script{long, answering()}, 2, 5 * time.Second, time.Minute,
			"completed NORMAL_CLEARING", "completed", 1, true},
		{"answered and not delivered, ended while down, its record kept",
			[]memgateway.Script{{Kind: memgateway.Answer, Ring: 20 * time.Second, Talk: 10 * time.Second, Failure: dialer.CauseMediaError}, answering()},
			2, 25 * time.Second, time.Minute, "failed " + dialer.CauseMediaError, "failed", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.RetryDelay = 10 * time.Second
			h := newHarness(t, cfg, answering())
			h.provider("trunk", 10, 1, "")
			h.start()
			c := h.f.Contact(h.tenant, h.owner, "+15550001", "")
			h.gw.Script("+15550001", tt.scripts...)
			h.gw.KeepRecords(tt.records)
			tid := h.f.Transmission(h.tenant, h.owner, c, h.voice, tt.tries, time.Time{})
			spool, err := h.eng.Send(context.Background(), h.tenant, tid)
			if err != nil {
				t.Fatal(err)
			}
			h.advance(tt.crashAt)
			h.crash()
			h.advance(tt.down)
			h.restart()
			h.advance(5 * time.Minute)

			spools := h.pairs(`SELECT spool_id, status || ' ' || response FROM spools WHERE transmission_id = ?`, tid)
			var got string
			for id := spool; id < spool+int64(len(spools)); id++ {
				if got != "" {
					got += "|"
				}
				got += spools[id]
			}
			if tt.name == "down past the grace, hung call" {
				// A call that never ends is followed, never redialled.
				got = ""
				if spools[spool] != "initiated " {
					t.Fatalf("hung call's spool: %q", spools[spool])
				}
			}
			if got != tt.wantSpools {
				t.Errorf("spools %q, want %q", got, tt.wantSpools)
			}
			status := h.pairs(`SELECT transmission_id, status || ' ' || try_done FROM transmissions`)[tid]
			if want := fmt.Sprintf("%s %d", tt.wantStatus, max(1, len(spools))); status != want {
				t.Errorf("transmission %q, want %q", status, want)
			}
			placed := 0
			seen := map[string]bool{}
			for _, r := range h.gw.Records() {
				if seen[r.CallUUID] {
					t.Errorf("call %s placed twice", r.CallUUID)
				}
				seen[r.CallUUID] = true
				if r.Kind != memgateway.Stall {
					placed++
				}
			}
			if placed != tt.wantPlaced {
				t.Errorf("%d calls placed, want %d", placed, tt.wantPlaced)
			}
		})
	}
}

// Stats count recovered calls, so the figure left to recovery at a stop
// is never negative (it was, after recovered calls ended).
func TestStatsCountRecoveredAndAbandonedCalls(t *testing.T) {
	h := newHarness(t, testConfig(), answering())
	h.provider("trunk", 1, 0, "")
	h.start()
	id, _ := h.campaign(3, 0, 600, 1, 60)
	h.gw.Script("+15550000002", memgateway.Script{Kind: memgateway.Hang})
	for i := range 2 {
		h.gw.Script(fmt.Sprintf("+1555%07d", i), memgateway.Script{Kind: memgateway.Answer, Ring: 5 * time.Second, Talk: 10 * time.Second})
	}
	h.startCampaign(id)
	h.advance(2 * time.Second)
	h.crash()
	h.restart()
	h.advance(time.Minute)
	st := h.eng.Stats()
	if st.Recovered != 3 || st.Attempts != 0 || st.Ended != 2 || st.InFlight != 1 {
		t.Fatalf("stats %+v, want 3 recovered, 2 ended, 1 (the hung call) in flight", st)
	}
}

// A spool whose gateway cannot tell about its call (its node is down)
// stays in flight and is never redialled while the call could still be
// up; once it must be over it is closed from what was recorded, never left
// initiated for ever.
func TestRecoveryGivesUpWhenTheCallMustBeOver(t *testing.T) {
	cfg := testConfig()
	cfg.RetryDelay = 10 * time.Second
	cfg.RecheckInterval = 30 * time.Second
	h := newHarness(t, cfg, answering())
	h.provider("trunk", 10, 1, "")
	h.start()
	c := h.f.Contact(h.tenant, h.owner, "+15550001", "")
	h.gw.Script("+15550001", memgateway.Script{Kind: memgateway.Answer, Ring: 20 * time.Second, Talk: 10 * time.Second}, answering())
	tid := h.f.Transmission(h.tenant, h.owner, c, h.voice, 2, time.Time{})
	spool, err := h.eng.Send(context.Background(), h.tenant, tid)
	if err != nil {
		t.Fatal(err)
	}
	h.advance(5 * time.Second)
	h.crash()
	h.gw.SetUnknown(true)
	h.restart()
	h.advance(5 * time.Minute)
	if got := h.pairs(`SELECT spool_id, status FROM spools WHERE transmission_id = ?`, tid); len(got) != 1 || got[spool] != "initiated" {
		t.Fatalf("while nobody can tell: spools %v", got)
	}
	if n := h.gw.Recovers(); n < 5 {
		t.Fatalf("the gateway was asked %d times in 5 minutes", n)
	}
	h.advance(10 * time.Minute) // past ring timeout + maximum duration
	got := h.pairs(`SELECT spool_id, status || ' ' || response FROM spools WHERE transmission_id = ?`, tid)
	if got[spool] != "failed restart" || got[spool+1] != "completed NORMAL_CLEARING" {
		t.Fatalf("after the call must be over: %v", got)
	}
}

// A campaign crashed three times at random moments still ends with every
// contact tried as its rules say, and no call placed twice.
func TestCrashMidCampaign(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			cfg := testConfig()
			cfg.ProviderChannels = 15
			h := newHarness(t, cfg, answering())
			h.provider("trunk", 10, 1, "")
			h.start()
			id, contacts := h.campaign(80, 0, 120, 3, 30)
			for i := range contacts {
				var s memgateway.Script
				switch rng.IntN(4) {
				case 0:
					s = memgateway.Script{Kind: memgateway.Busy, Ring: time.Duration(rng.IntN(10)) * time.Second}
				case 1:
					s = memgateway.Script{Kind: memgateway.RingOut, Ring: time.Duration(5+rng.IntN(20)) * time.Second}
				default:
					s = memgateway.Script{Kind: memgateway.Answer, Ring: time.Duration(rng.IntN(10)) * time.Second,
						Talk: time.Duration(rng.IntN(60)) * time.Second}
				}
				h.gw.Script(fmt.Sprintf("+1555%07d", i), s)
			}
			h.startCampaign(id)
			for range 3 {
				h.advance(time.Duration(rng.IntN(60_000)) * time.Millisecond)
				h.crash()
				h.advance(time.Duration(rng.IntN(30_000)) * time.Millisecond)
				h.restart()
			}
			h.advance(time.Hour)

			if left := h.count(`SELECT COUNT(*) FROM transmissions WHERE campaign_id = ? AND status NOT IN ('completed', 'failed', 'invalid')`, id); left != 0 {
				t.Fatalf("%d transmissions unfinished", left)
			}
			if got := h.count(`SELECT COUNT(*) FROM spools WHERE status = 'initiated'`); got != 0 {
				t.Fatalf("%d spools left initiated", got)
			}
			// try_done counts the spools, within try_allowed; a completed
			// transmission has exactly one completed spool, as its last.
			rows := h.pairs(`SELECT t.transmission_id, t.status || ' ' || t.try_done || ' ' || COUNT(s.spool_id) || ' ' ||
				SUM(s.status = 'completed') FROM transmissions t JOIN spools s USING (transmission_id)
				WHERE t.campaign_id = ? GROUP BY t.transmission_id`, id)
			if len(rows) != 80 {
				t.Fatalf("%d transmissions with spools, want 80", len(rows))
			}
			for tid, r := range rows {
				var st string
				var done, n, ok int
				fmt.Sscan(r, &st, &done, &n, &ok)
				if done != n || n > 3 || n < 1 || (st == "completed") != (ok == 1) || ok > 1 {
					t.Errorf("transmission %d: %s (status, try_done, spools, completed spools)", tid, r)
				}
			}
			seen := map[string]bool{}
			spoolOf := h.pairs(`SELECT spool_id, call_uuid FROM spools`)
			uuids := map[string]bool{}
			for _, u := range spoolOf {
				uuids[u] = true
			}
			for _, r := range h.gw.Records() {
				if seen[r.CallUUID] {
					t.Fatalf("call %s placed twice", r.CallUUID)
				}
				seen[r.CallUUID] = true
				if !uuids[r.CallUUID] {
					t.Fatalf("call %s placed without a spool", r.CallUUID)
				}
			}
			if got := h.count(`SELECT COUNT(*) FROM campaigns WHERE status = 'completed'`); got != 1 {
				t.Fatal("campaign not completed")
			}
		})
	}
}

// Schedules survive restarts; one whose time passed while the daemon was
// down runs once when it comes back.
func TestSchedulesSurviveRestart(t *testing.T) {
	h := newHarness(t, testConfig(), answering())
	h.provider("trunk", 10, 0, "")
	h.start()
	ctx := context.Background()
	id, _ := h.campaign(30, 0, 60, 1, 60)
	startID, err := h.eng.ScheduleCampaign(ctx, h.tenant, h.owner, id, dialer.ScheduleCampaignStart, t0.Add(time.Hour))
	if err != nil || startID == 0 {
		t.Fatal(startID, err)
	}
	if _, err := h.eng.ScheduleCampaign(ctx, h.tenant, h.owner, id, dialer.ScheduleCampaignStop, t0.Add(3*time.Hour+10*time.Second)); err != nil {
		t.Fatal(err)
	}
	c := h.f.Contact(h.tenant, h.owner, "+15559999", "")
	tid := h.f.Transmission(h.tenant, h.owner, c, h.voice, 1, time.Time{})
	if _, err := h.eng.ScheduleTransmission(ctx, h.tenant, h.owner, tid, t0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	sub := h.bus.Subscribe(10000)
	defer sub.Close()
	h.advance(10 * time.Minute)
	if n := len(h.gw.Records()); n != 0 {
		t.Fatalf("%d calls before any schedule was due", n)
	}
	h.crash()
	h.advance(2 * time.Hour) // both schedules pass while down
	h.restart()
	h.advance(time.Second)
	h.crash() // and again right after they ran
	h.restart()
	h.advance(3 * time.Hour)

	if got := h.count(`SELECT COUNT(*) FROM spools WHERE transmission_id = ?`, tid); got != 1 {
		t.Fatalf("the scheduled transmission has %d spools, want 1", got)
	}
	started := 0
	for len(sub.C()) > 0 {
		if (<-sub.C()).Type == dialer.EventCampaignStarted {
			started++
		}
	}
	if started != 1 {
		t.Fatalf("campaign started %d times", started)
	}
	if got := h.count(`SELECT COUNT(*) FROM schedules WHERE done_at = 0`); got != 0 {
		t.Fatalf("%d schedules not done", got)
	}
	if got := h.count(`SELECT COUNT(*) FROM transmissions WHERE campaign_id = ? AND status = 'completed'`, id); got != 30 {
		t.Fatalf("%d of 30 campaign transmissions completed", got)
	}
}

func TestStopCampaignAndStopSchedule(t *testing.T) {
	h := newHarness(t, testConfig(), answering())
	h.provider("trunk", 10, 0, "")
	h.start()
	ctx := context.Background()
	id, _ := h.campaign(100, 0, 60, 1, 60)
	h.startCampaign(id)
	if _, err := h.eng.ScheduleCampaign(ctx, h.tenant, h.owner, id, dialer.ScheduleCampaignStop, t0.Add(30*time.Second+time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	h.advance(2 * time.Minute)
	if n := len(h.gw.Records()); n != 31 {
		t.Fatalf("%d calls before the scheduled stop, want 31", n)
	}
	if got := h.count(`SELECT COUNT(*) FROM campaigns WHERE status = 'stopped'`); got != 1 {
		t.Fatal("not stopped")
	}
	h.startCampaign(id)
	h.advance(10 * time.Second)
	if err := h.eng.StopCampaign(ctx, h.tenant, id); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Minute)
	n := len(h.gw.Records())
	if n < 41 || n > 42 {
		t.Fatalf("%d calls after resuming for 10s and stopping", n)
	}
	// Unscheduling removes what is pending.
	if _, err := h.eng.ScheduleCampaign(ctx, h.tenant, h.owner, id, dialer.ScheduleCampaignStart, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := h.eng.UnscheduleCampaign(ctx, h.tenant, id); err != nil {
		t.Fatal(err)
	}
	h.advance(2 * time.Hour)
	if len(h.gw.Records()) != n {
		t.Fatal("an unscheduled start ran")
	}
}

// Stop waits for the calls in flight up to its grace and starts none.
func TestStopWaitsForCallsInFlight(t *testing.T) {
	h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Answer, Ring: time.Second, Talk: 30 * time.Second})
	h.provider("trunk", 10, 0, "")
	h.start()
	id, _ := h.campaign(100, 0, 60, 1, 60)
	h.startCampaign(id)
	h.advance(10 * time.Second)
	if err := h.eng.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	placed := len(h.gw.Records())
	stopped := make(chan error)
	eng := h.eng
	go func() { stopped <- eng.Stop(context.Background()) }()
	for {
		select {
		case err := <-stopped:
			if err != nil {
				t.Fatal(err)
			}
			if got := len(h.gw.Records()); got != placed {
				t.Fatalf("%d calls placed during shutdown", got-placed)
			}
			if got := h.count(`SELECT COUNT(*) FROM spools WHERE status = 'initiated'`); got != 0 {
				t.Fatalf("%d spools left initiated after a graceful stop", got)
			}
			if got := h.count(`SELECT COUNT(*) FROM spools WHERE status = 'completed'`); got != int64(placed) {
				t.Fatalf("%d completed spools, want %d", got, placed)
			}
			h.eng = nil
			return
		default:
			h.clk.Advance(time.Second)
		}
	}
}
