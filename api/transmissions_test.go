package api

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/memgateway"
)

// people are the actors of the engine API tests: alice owns the rows, bob
// is another user of her tenant, other is an admin of another tenant.
type people struct {
	alice, bob, other      string
	aliceID                int64
	contact, program       int64 // alice's
	otherContact, otherPrg int64 // the other tenant's
}

func (ee *engineEnv) people() people {
	ee.t.Helper()
	var p people
	p.aliceID, p.alice = ee.createUser("alice", nil)
	_, p.bob = ee.createUser("bob", nil)
	otherTenant, otherAdmin, otherToken := ee.otherTenant()
	p.other = otherToken
	p.contact = ee.f.Contact(ee.tenant, p.aliceID, "+15550001", "")
	p.program = ee.f.Program(ee.tenant, p.aliceID, dialer.ProgramVoiceMessage)
	p.otherContact = ee.f.Contact(otherTenant, otherAdmin, "+15559999", "")
	p.otherPrg = ee.f.Program(otherTenant, otherAdmin, dialer.ProgramVoiceMessage)
	return p
}

// denied checks that bob gets 403 and the other tenant 404 on a route.
func (ee *engineEnv) denied(p people, method, path string, body any) {
	ee.t.Helper()
	ee.expect(ee.do(method, path, p.bob, body), 403).errorBody(ee.t)
	ee.expect(ee.do(method, path, p.other, body), 404).errorBody(ee.t)
}

func TestTransmissionRoutes(t *testing.T) {
	ee := newEngineEnv(t)
	p := ee.people()

	// Create: success, validation, references in scope only.
	r := ee.expect(ee.do("POST", "/transmissions", p.alice, map[string]any{"contact_id": p.contact, "program_id": p.program, "title": "hi"}), 200)
	tid := ee.id(r, "transmission_id")
	bad := ee.expect(ee.do("POST", "/transmissions", p.alice, map[string]any{"direction": "sideways", "try_allowed": 99}), 412).errorBody(t)
	for _, f := range []string{"contact_id", "program_id", "direction", "try_allowed"} {
		if bad.Fields[f] == "" {
			t.Errorf("no error for %s: %v", f, bad.Fields)
		}
	}
	ee.expect(ee.do("POST", "/transmissions", p.alice, map[string]any{"contact_id": p.otherContact, "program_id": p.program}), 412)
	ee.expect(ee.do("POST", "/transmissions", p.bob, map[string]any{"contact_id": p.contact, "program_id": p.program}), 412)
	inbound := ee.f.Program(ee.tenant, p.aliceID, dialer.ProgramReceiveSMS)
	ee.expect(ee.do("POST", "/transmissions", p.alice, map[string]any{"contact_id": p.contact, "program_id": inbound}), 412)
	ee.expect(ee.do("POST", "/transmissions", p.alice, `{"contact_id": "x"}`), 412)
	in := ee.id(ee.expect(ee.do("POST", "/transmissions", p.alice, map[string]any{"contact_id": p.contact, "program_id": inbound,
		"direction": "inbound"}), 200), "transmission_id")
	ee.expect(ee.do("POST", fmt.Sprintf("/transmissions/%d/send", in), p.alice, nil), 412)
	ee.expect(ee.do("POST", "/transmissions/999999/send", p.alice, nil), 404)

	// Read and list.
	var got dialer.Transmission
	ee.expect(ee.do("GET", fmt.Sprintf("/transmissions/%d", tid), p.alice, nil), 200).json(t, &got)
	if got.ID != tid || got.Status != dialer.TransmissionPending || got.ServiceFlag != dialer.ServiceVoice || got.Title != "hi" || got.TryAllowed != 1 {
		t.Fatalf("transmission %+v", got)
	}
	ee.denied(p, "GET", fmt.Sprintf("/transmissions/%d", tid), nil)
	ee.expect(ee.do("GET", "/transmissions/999999", p.alice, nil), 404)
	ee.expect(ee.do("GET", "/transmissions/abc", p.alice, nil), 404)
	var list []dialer.Transmission
	ee.expect(ee.do("GET", "/transmissions?status=pending", p.alice, nil), 200).json(t, &list)
	if len(list) != 2 || list[0].ID != tid {
		t.Fatalf("alice's list %+v", list)
	}
	ee.expect(ee.do("GET", "/transmissions", p.bob, nil), 200).json(t, &list)
	if len(list) != 0 {
		t.Fatalf("bob sees %d transmissions", len(list))
	}
	ee.expect(ee.do("GET", "/transmissions?colour=red", p.alice, nil), 412)

	// Send: write-ahead spool id, then the call runs on the engine's clock.
	path := fmt.Sprintf("/transmissions/%d", tid)
	ee.denied(p, "POST", path+"/send", nil)
	spool := ee.id(ee.expect(ee.do("POST", path+"/send", p.alice, nil), 200), "spool_id")
	ee.expect(ee.do("POST", path+"/send", p.alice, nil), 409)
	ee.expect(ee.do("DELETE", path, p.alice, nil), 409)
	var st map[string]string
	ee.expect(ee.do("GET", fmt.Sprintf("/spools/%d/status", spool), p.alice, nil), 200).json(t, &st)
	if st["status"] != "initiated" {
		t.Fatalf("spool status right after send: %v", st)
	}
	ee.run(time.Minute)
	ee.sync()
	ee.expect(ee.do("GET", path+"/status", p.alice, nil), 200).json(t, &st)
	if st["status"] != "completed" {
		t.Fatalf("status after the call: %v", st)
	}
	ee.expect(ee.do("POST", path+"/retry", p.alice, nil), 409) // completed: clone it instead
	ee.denied(p, "POST", path+"/retry", nil)

	// Retry a failed one.
	busy := ee.f.Contact(ee.tenant, p.aliceID, "+15550002", "")
	ee.gw.Script("+15550002", memgateway.Script{Kind: memgateway.Busy, Ring: time.Second}, memgateway.Script{Kind: memgateway.Answer})
	fid := ee.id(ee.expect(ee.do("POST", "/transmissions", p.alice, map[string]any{"contact_id": busy, "program_id": p.program}), 200), "transmission_id")
	fpath := fmt.Sprintf("/transmissions/%d", fid)
	ee.expect(ee.do("POST", fpath+"/send", p.alice, nil), 200)
	ee.run(time.Minute)
	ee.sync()
	ee.expect(ee.do("GET", fpath, p.alice, nil), 200).json(t, &got)
	if got.Status != dialer.TransmissionFailed || got.Response != "USER_BUSY" {
		t.Fatalf("after busy: %+v", got)
	}
	ee.expect(ee.do("POST", fpath+"/retry", p.alice, nil), 200)
	ee.run(time.Minute)
	ee.sync()
	ee.expect(ee.do("GET", fpath, p.alice, nil), 200).json(t, &got)
	if got.Status != dialer.TransmissionCompleted || got.TryDone != 2 {
		t.Fatalf("after retry: %+v", got)
	}

	// Schedule and unschedule.
	sid := ee.id(ee.expect(ee.do("POST", "/transmissions", p.alice, map[string]any{"contact_id": p.contact, "program_id": p.program}), 200), "transmission_id")
	spath := fmt.Sprintf("/transmissions/%d/schedule", sid)
	at := ee.clk.Now().Add(time.Hour)
	ee.denied(p, "PUT", spath, map[string]any{"time": at.Unix()})
	ee.expect(ee.do("PUT", spath, p.alice, nil), 412)
	ee.expect(ee.do("PUT", spath, p.alice, map[string]any{"time": "tomorrow"}), 412)
	ee.expect(ee.do("PUT", spath, p.alice, `{"time": `), 400)
	ee.id(ee.expect(ee.do("PUT", spath, p.alice, map[string]any{"time": at.Format(time.RFC3339)}), 200), "schedule_id")
	ee.id(ee.expect(ee.do("PUT", spath+"?time="+fmt.Sprint(at.Unix()), p.alice, nil), 200), "schedule_id")
	ee.expect(ee.do("GET", fmt.Sprintf("/transmissions/%d", sid), p.alice, nil), 200).json(t, &got)
	if got.DueAt != at.Unix() {
		t.Fatalf("due_at %d, want %d", got.DueAt, at.Unix())
	}
	ee.denied(p, "DELETE", spath, nil)
	ee.expect(ee.do("DELETE", spath, p.alice, nil), 200)
	ee.run(2 * time.Hour)
	ee.sync()
	ee.expect(ee.do("GET", fmt.Sprintf("/transmissions/%d", sid), p.alice, nil), 200).json(t, &got)
	if got.Status != dialer.TransmissionPending || got.TryDone != 0 || got.DueAt != 0 {
		t.Fatalf("an unscheduled transmission was sent: %+v", got)
	}
	ee.id(ee.expect(ee.do("PUT", spath, p.alice, map[string]any{"run_at": ee.clk.Now().Add(time.Minute).Unix()}), 200), "schedule_id")
	ee.run(2 * time.Minute)
	ee.sync()
	ee.expect(ee.do("GET", fmt.Sprintf("/transmissions/%d", sid), p.alice, nil), 200).json(t, &got)
	if got.Status != dialer.TransmissionCompleted {
		t.Fatalf("scheduled transmission: %+v", got)
	}

	// Clone.
	cpath := fmt.Sprintf("/transmissions/%d/clone", tid)
	ee.denied(p, "GET", cpath, nil)
	clone := ee.id(ee.expect(ee.do("GET", cpath, p.alice, nil), 200), "transmission_id")
	ee.expect(ee.do("GET", fmt.Sprintf("/transmissions/%d", clone), p.alice, nil), 200).json(t, &got)
	if got.Status != dialer.TransmissionPending || got.ContactID != p.contact || got.TryDone != 0 {
		t.Fatalf("clone %+v", got)
	}

	// Delete.
	ee.denied(p, "DELETE", fmt.Sprintf("/transmissions/%d", clone), nil)
	ee.expect(ee.do("DELETE", fmt.Sprintf("/transmissions/%d", clone), p.alice, nil), 200)
	ee.expect(ee.do("GET", fmt.Sprintf("/transmissions/%d", clone), p.alice, nil), 404)
	ee.expect(ee.do("DELETE", fmt.Sprintf("/transmissions/%d", clone), p.alice, nil), 404)
}

func TestProgramTransmissionRoutes(t *testing.T) {
	ee := newEngineEnv(t)
	p := ee.people()
	path := fmt.Sprintf("/programs/%d/transmissions", p.program)
	id := ee.id(ee.expect(ee.do("PUT", path, p.alice, map[string]any{"contact_id": p.contact}), 200), "transmission_id")
	ee.expect(ee.do("PUT", path, p.alice, map[string]any{}), 412)
	ee.expect(ee.do("PUT", path, p.bob, map[string]any{"contact_id": p.contact}), 403)
	ee.expect(ee.do("PUT", fmt.Sprintf("/programs/%d/transmissions", p.otherPrg), p.alice, map[string]any{"contact_id": p.contact}), 404)
	ee.expect(ee.do("PUT", path, p.other, map[string]any{"contact_id": p.otherContact}), 404)
	var list []dialer.Transmission
	ee.expect(ee.do("GET", path, p.alice, nil), 200).json(t, &list)
	if len(list) != 1 || list[0].ID != id || list[0].ProgramID != p.program {
		t.Fatalf("program's transmissions %+v", list)
	}
	ee.denied(p, "GET", path, nil)
	ee.expect(ee.do("GET", "/programs/424242/transmissions", p.alice, nil), 404)
}

func TestReportRoutes(t *testing.T) {
	ee := newEngineEnv(t)
	p := ee.people()
	tid := ee.id(ee.expect(ee.do("POST", "/transmissions", p.alice, map[string]any{"contact_id": p.contact, "program_id": p.program}), 200), "transmission_id")
	spool := ee.id(ee.expect(ee.do("POST", fmt.Sprintf("/transmissions/%d/send", tid), p.alice, nil), 200), "spool_id")
	ee.run(time.Minute)
	ee.sync()
	path := fmt.Sprintf("/transmissions/%d", tid)

	var spools []dialer.Spool
	ee.expect(ee.do("GET", path+"/detail", p.alice, nil), 200).json(t, &spools)
	if len(spools) != 1 || spools[0].ID != spool || spools[0].Status != dialer.SpoolCompleted || spools[0].Response != "NORMAL_CLEARING" ||
		spools[0].TimeConnect == 0 || spools[0].TimeEnd < spools[0].TimeConnect || spools[0].TransmissionID != tid {
		t.Fatalf("detail %+v", spools)
	}
	var results []dialer.SpoolResult
	ee.expect(ee.do("GET", path+"/result", p.alice, nil), 200).json(t, &results)
	if len(results) != 1 || results[0].Type != "dtmf" || results[0].Data != "7" || results[0].SpoolID != spool {
		t.Fatalf("results %+v", results)
	}
	ee.expect(ee.do("GET", fmt.Sprintf("/spools/%d/result", spool), p.alice, nil), 200).json(t, &results)
	if len(results) != 1 {
		t.Fatalf("spool results %+v", results)
	}
	var st map[string]string
	ee.expect(ee.do("GET", fmt.Sprintf("/spools/%d/status", spool), p.alice, nil), 200).json(t, &st)
	if st["status"] != "completed" {
		t.Fatalf("spool status %v", st)
	}
	for _, sub := range []string{"/status", "/detail", "/result"} {
		ee.denied(p, "GET", path+sub, nil)
		ee.expect(ee.do("GET", "/transmissions/777777"+sub, p.alice, nil), 404)
	}
	for _, sub := range []string{"/status", "/result"} {
		ee.denied(p, "GET", fmt.Sprintf("/spools/%d%s", spool, sub), nil)
		ee.expect(ee.do("GET", "/spools/777777"+sub, p.alice, nil), 404)
	}

	var stats dialer.Statistics
	ee.expect(ee.do("GET", "/statistics", p.alice, nil), 200).json(t, &stats)
	if stats.TransmissionTotal != 1 || stats.SpoolTotal != 1 || stats.SpoolSuccess != 1 || stats.ContactTotal != 1 {
		t.Fatalf("alice's statistics %+v", stats)
	}
	ee.expect(ee.do("GET", "/statistics", p.bob, nil), 200).json(t, &stats)
	if stats != (dialer.Statistics{}) {
		t.Fatalf("bob's statistics %+v", stats)
	}
	ee.expect(ee.do("GET", "/statistics", p.other, nil), 200).json(t, &stats)
	if stats.TransmissionTotal != 0 || stats.ContactTotal != 1 {
		t.Fatalf("other tenant's statistics %+v", stats)
	}
	ee.expect(ee.do("GET", "/statistics", "", nil), 401)
	if body := string(ee.expect(ee.do("GET", "/statistics", ee.admin, nil), 200).Body); !strings.Contains(body, `"spool_failed":0`) {
		t.Fatalf("statistics JSON %s", body)
	}
}
