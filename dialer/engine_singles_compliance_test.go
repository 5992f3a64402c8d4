package dialer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/memgateway"
)

// A single transmission keeps the tenant's calling window, read in the
// called party's zone: sent at 07:00 in New York it waits (never fails)
// until 08:00 there, and Send says why at once.
func TestComplianceSingleTransmissionWaitsForCallingWindow(t *testing.T) {
	h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Answer, Talk: time.Second})
	h.provider("p", 1, 0, "")
	ny := h.f.Contact(h.tenant, h.owner, "+12125550100", "") // t0 is 07:00 in New York
	id := h.f.Transmission(h.tenant, h.owner, ny, h.voice, 1, time.Time{})
	h.startCompliant(false)
	_, err := h.eng.Send(context.Background(), h.tenant, id)
	if dialer.ErrorCode(err) != dialer.CodeNotReady || !strings.Contains(err.Error(), "outside its calling window") {
		t.Fatalf("send at 07:00 local: %v, want not ready naming the calling window", err)
	}
	h.advance(59 * time.Minute)
	if got := h.dialed(); len(got) != 0 {
		t.Fatalf("dialed %v before 08:00 local", got)
	}
	if got := h.pairs(`SELECT transmission_id, status FROM transmissions WHERE transmission_id = ?`, id); got[id] != "pending" {
		t.Fatalf("status %q while waiting, want pending", got[id])
	}
	h.advance(2 * time.Minute)
	rs := h.gw.Records()
	if len(rs) != 1 {
		t.Fatalf("%d attempts after 08:00 local, want 1", len(rs))
	}
	loc, _ := time.LoadLocation("America/New_York")
	if lt := rs[0].Start.In(loc); lt.Hour() != 8 || lt.Minute() != 0 {
		t.Fatalf("dialed at %s local, want 08:00", lt)
	}
	if n := h.count(`SELECT deferrals FROM transmissions WHERE transmission_id = ?`, id); n != 1 {
		t.Fatalf("%d outside-hours deferrals recorded, want 1", n)
	}
}

// The redial limit counts single transmissions with campaigns, and holds
// them as it holds campaigns: waiting, not failing, until 24 hours after
// the oldest counted attempt.
func TestComplianceSingleTransmissionRedialLimit(t *testing.T) {
	h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Busy, Ring: time.Second})
	h.provider("p", 1, 0, "")
	h.alwaysOpen(2)
	cs := h.f.Contacts(h.tenant, h.owner, 1, 1)
	camp := h.f.Campaign(h.tenant, h.owner, h.voice, h.f.Group(h.tenant, h.owner, cs...), 60, 1, 60)
	single := h.f.Transmission(h.tenant, h.owner, cs[0], h.voice, 3, time.Time{})
	h.startCompliant(false)
	h.startCampaign(camp) // attempt 1
	h.advance(time.Minute)
	if _, err := h.eng.Send(context.Background(), h.tenant, single); err != nil { // attempt 2
		t.Fatal(err)
	}
	h.advance(time.Hour)
	if n := h.dialed()[phoneOf(1)]; n != 2 {
		t.Fatalf("%d attempts in the first hour, want the limit 2", n)
	}
	if got := h.pairs(`SELECT transmission_id, status FROM transmissions WHERE transmission_id = ?`, single); got[single] != "pending" {
		t.Fatalf("single transmission %q over the limit, want pending", got[single])
	}
	// A second single transmission to the number is told why it waits.
	other := h.f.Transmission(h.tenant, h.owner, cs[0], h.voice, 1, time.Time{})
	_, err := h.eng.Send(context.Background(), h.tenant, other)
	if dialer.ErrorCode(err) != dialer.CodeNotReady || !strings.Contains(err.Error(), "redial limit") {
		t.Fatalf("send over the redial limit: %v, want not ready naming the limit", err)
	}
	h.advance(22 * time.Hour)
	if n := h.dialed()[phoneOf(1)]; n != 2 {
		t.Fatalf("%d attempts within 24 hours, want 2", n)
	}
	h.advance(2 * time.Hour)
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
