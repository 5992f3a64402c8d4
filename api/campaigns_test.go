package api

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

func TestCampaignRoutes(t *testing.T) {
	ee := newEngineEnv(t)
	p := ee.people()
	contacts := ee.f.Contacts(ee.tenant, p.aliceID, 20, 100)
	group := ee.f.Group(ee.tenant, p.aliceID, contacts...)
	otherGroup := ee.f.Exec(`INSERT INTO groups (tenant_id, created_by, name, created_at, updated_at) VALUES ('other-tenant', 1, 'g', 0, 0)`)

	body := map[string]any{"program_id": p.program, "group_id": group, "cpm": 60, "try_allowed": 2, "retry_delay": 60,
		"window_start": "00:00", "window_end": "24:00", "window_days": "mon-sun", "window_tz": "Europe/Paris"}
	id := ee.id(ee.expect(ee.do("POST", "/campaigns", p.alice, body), 200), "campaign_id")
	bad := ee.expect(ee.do("POST", "/campaigns", p.alice, map[string]any{"program_id": p.program, "group_id": group, "cpm": 0,
		"window_tz": "Mars/Olympus", "window_start": "10:00", "window_end": "10:00", "window_days": []int{9}}), 412).errorBody(t)
	for _, f := range []string{"cpm", "window_tz", "window_end", "window_days"} {
		if bad.Fields[f] == "" {
			t.Errorf("no error for %s: %v", f, bad.Fields)
		}
	}
	bad = ee.expect(ee.do("POST", "/campaigns", p.alice, map[string]any{"program_id": p.program, "group_id": otherGroup}), 412).errorBody(t)
	if bad.Fields["group_id"] == "" {
		t.Errorf("another tenant's group accepted: %v", bad.Fields)
	}
	ee.expect(ee.do("POST", "/campaigns", p.bob, map[string]any{"program_id": p.program, "group_id": group}), 412)

	path := fmt.Sprintf("/campaigns/%d", id)
	var c dialer.Campaign
	ee.expect(ee.do("GET", path, p.alice, nil), 200).json(t, &c)
	if c.ID != id || c.Status != dialer.CampaignNew || c.CPM != 60 || c.TZ != "Europe/Paris" || c.Days != dialer.AllWeekdays || c.End != 1440 {
		t.Fatalf("campaign %+v", c)
	}
	ee.denied(p, "GET", path, nil)
	ee.expect(ee.do("GET", "/campaigns/31337", p.alice, nil), 404)
	var list []dialer.Campaign
	ee.expect(ee.do("GET", "/campaigns?status=new", p.alice, nil), 200).json(t, &list)
	if len(list) != 1 {
		t.Fatalf("list %+v", list)
	}
	ee.expect(ee.do("GET", "/campaigns", p.other, nil), 200).json(t, &list)
	if len(list) != 0 {
		t.Fatalf("the other tenant lists %d campaigns", len(list))
	}

	// Update answers the object; validation and ownership.
	ee.expect(ee.do("PUT", path, p.alice, map[string]any{"cpm": 120, "window_days": []int{1, 2, 3, 4, 5, 6, 0}}), 200).json(t, &c)
	if c.CPM != 120 || c.GroupID != group {
		t.Fatalf("updated %+v", c)
	}
	ee.expect(ee.do("PUT", path, p.alice, map[string]any{"cpm": 100000}), 412)
	// The cap is engine.max_cpm (default 60000), and the message says so.
	if r := ee.expect(ee.do("PUT", path, p.alice, map[string]any{"cpm": 60001}), 412); !strings.Contains(string(r.Body), "from 1 to 60000") {
		t.Fatalf("cpm 60001: %s", r.Body)
	}
	ee.expect(ee.do("PUT", path, p.alice, map[string]any{"cpm": 60000}), 200)
	ee.expect(ee.do("PUT", path, p.alice, map[string]any{"cpm": 120}), 200)
	ee.expect(ee.do("PUT", path, p.alice, map[string]any{"window_start": "25:00"}), 412)
	ee.denied(p, "PUT", path, map[string]any{"cpm": 10})

	// Start, run, counters.
	ee.denied(p, "PUT", path+"/start", nil)
	if r := ee.expect(ee.do("PUT", path+"/start", p.alice, nil), 200); string(r.Body) != "true" {
		t.Fatalf("start answered %s", r.Body)
	}
	ee.expect(ee.do("DELETE", path, p.alice, nil), 409)
	ee.expect(ee.do("PUT", path, p.alice, map[string]any{"group_id": group + 1000}), 409)
	ee.run(5 * time.Second)
	ee.sync()
	ee.expect(ee.do("GET", path, p.alice, nil), 200).json(t, &c)
	if c.Status != dialer.CampaignActive || c.Counters.Total != 20 || c.Counters.InFlight == 0 || c.Counters.Pending == 0 {
		t.Fatalf("running campaign %+v", c)
	}
	ee.denied(p, "PUT", path+"/stop", nil)
	ee.expect(ee.do("PUT", path+"/stop", p.alice, nil), 200)
	ee.run(time.Minute)
	ee.sync()
	ee.expect(ee.do("GET", path, p.alice, nil), 200).json(t, &c)
	if c.Status != dialer.CampaignStopped || c.Counters.InFlight != 0 || c.Counters.Answered == 0 || c.Counters.Pending == 0 {
		t.Fatalf("stopped campaign %+v", c)
	}

	// Schedules.
	at := ee.clk.Now().Add(time.Hour).Unix()
	for _, sub := range []string{"/start/schedule", "/stop/schedule"} {
		ee.denied(p, "POST", path+sub, map[string]any{"time": at})
		ee.expect(ee.do("POST", path+sub, p.alice, map[string]any{}), 412)
		ee.expect(ee.do("POST", "/campaigns/31337"+sub, p.alice, map[string]any{"time": at}), 404)
	}
	ee.id(ee.expect(ee.do("POST", path+"/start/schedule", p.alice, map[string]any{"time": at}), 200), "schedule_id")
	ee.id(ee.expect(ee.do("POST", path+"/stop/schedule", p.alice, map[string]any{"time": at + 3600}), 200), "schedule_id")
	ee.denied(p, "DELETE", path+"/schedule", nil)
	ee.expect(ee.do("DELETE", path+"/schedule", p.alice, nil), 200)
	ee.run(3 * time.Hour)
	ee.sync()
	ee.expect(ee.do("GET", path, p.alice, nil), 200).json(t, &c)
	if c.Status != dialer.CampaignStopped {
		t.Fatalf("a cancelled schedule ran: %+v", c)
	}
	ee.id(ee.expect(ee.do("POST", path+"/start/schedule", p.alice, map[string]any{"time": ee.clk.Now().Add(time.Minute).Unix()}), 200), "schedule_id")
	ee.run(time.Hour)
	ee.sync()
	ee.expect(ee.do("GET", path, p.alice, nil), 200).json(t, &c)
	if c.Status != dialer.CampaignCompleted || c.Counters.Done != 20 || c.Counters.Answered != 20 || c.FinishedAt == 0 {
		t.Fatalf("scheduled start did not complete the campaign: %+v", c)
	}

	// Delete.
	ee.denied(p, "DELETE", path, nil)
	ee.expect(ee.do("DELETE", path, p.alice, nil), 200)
	ee.expect(ee.do("GET", path, p.alice, nil), 404)
	var tx []dialer.Transmission
	ee.expect(ee.do("GET", fmt.Sprintf("/transmissions?campaign_id=%d", id), p.alice, nil), 200).json(t, &tx)
	if len(tx) != 0 {
		t.Fatalf("%d transmissions outlived their campaign", len(tx))
	}
}
