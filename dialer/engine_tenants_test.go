package dialer_test

import (
	"context"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/memgateway"
)

// TestTenantChannelsHoldPerTenant: two tenants dialling at once each reach
// engine.tenant_channels and never pass it; one tenant's calls do not
// count against the other's cap.
func TestTenantChannelsHoldPerTenant(t *testing.T) {
	cfg := testConfig()
	cfg.TenantChannels = 3
	h := newHarness(t, cfg, memgateway.Script{Kind: memgateway.Answer, Ring: time.Second, Talk: time.Minute})
	other := h.f.Tenant("tenant-b")
	otherOwner := h.f.User(other, "owner-b", false)
	otherVoice := h.f.Program(other, otherOwner, dialer.ProgramVoiceMessage)
	h.provider("a-trunk", 1, 0, "")
	h.f.Provider(other, otherOwner, "b-trunk", dialer.ServiceVoice, 1, 0, "")
	a, _ := h.campaign(12, 1000, 600, 1, 60)
	bContacts := h.f.Contacts(other, otherOwner, 12, 2000)
	b := h.f.Campaign(other, otherOwner, otherVoice, h.f.Group(other, otherOwner, bContacts...), 600, 1, 60)
	h.start()
	h.startCampaign(a)
	if err := h.eng.StartCampaign(context.Background(), other, b); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 60 && h.count(`SELECT COUNT(*) FROM transmissions WHERE status IN ('pending', 'processing')`) > 0; i++ {
		h.advance(time.Minute)
	}
	byTenant := map[string][]memgateway.Record{}
	for _, r := range h.gw.Records() {
		byTenant[r.TenantID] = append(byTenant[r.TenantID], r)
	}
	for _, tenant := range []string{h.tenant, other} {
		if n, got := len(byTenant[tenant]), maxConcurrent(byTenant[tenant]); n != 12 || got != cfg.TenantChannels {
			t.Errorf("tenant %s: %d calls, at most %d at once, want 12 with %d at once", tenant, n, got, cfg.TenantChannels)
		}
	}
	if got := maxConcurrent(h.gw.Records()); got != 2*cfg.TenantChannels {
		t.Errorf("%d calls at once over both tenants, want %d: the cap is per tenant", got, 2*cfg.TenantChannels)
	}
}
