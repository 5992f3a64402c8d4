package dialer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/memgateway"
)

// account adds an account of the tenant with a phone (its caller id).
func (h *harness) account(typ, phone string) int64 {
	return h.f.Exec(`INSERT INTO accounts (tenant_id, created_by, type, username, phone, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 0, 0)`, h.tenant, h.owner, typ, "acc"+phone, phone)
}

// The caller id is checked against the route chosen at dispatch: a
// provider whose allow-list lacks it is passed over; when no provider may
// present it the campaign is blocked naming the caller id and provider
// (nothing dialled, nothing failed), and a fixed configuration releases it.
func TestCallerIDPolicyAtDispatch(t *testing.T) {
	const cid = "+14155550901"
	h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Answer, Talk: time.Second})
	h.alwaysOpen(3)
	allowed := h.provider("allows", 1, 0, `{"caller_ids": ["`+cid+`"]}`)
	other := h.provider("other", 1, 0, `{"caller_ids": ["+14155550999"]}`)
	acc := h.account("extension", cid)
	id, _ := h.campaign(4, 1, 6000, 1, 60)
	h.f.Exec(`UPDATE campaigns SET account_id = ? WHERE campaign_id = ?`, acc, id)
	h.startCompliant(false)
	h.startCampaign(id)
	h.advance(time.Minute)
	rs := h.gw.Records()
	if len(rs) != 4 {
		t.Fatalf("%d attempts, want 4", len(rs))
	}
	for _, r := range rs {
		if r.ProviderID != allowed || r.CallerIDNumber != cid {
			t.Fatalf("attempt through provider %d presenting %q; want provider %d (allows %s), never %d", r.ProviderID, r.CallerIDNumber, allowed, cid, other)
		}
	}

	// Only the provider that does not allow it is left: blocked, naming both.
	h.f.Exec(`UPDATE providers SET active = 0 WHERE provider_id = ?`, allowed)
	id2, _ := h.campaign(2, 10, 6000, 1, 60)
	h.f.Exec(`UPDATE campaigns SET account_id = ? WHERE campaign_id = ?`, acc, id2)
	h.eng.ConfigChanged(h.tenant)
	h.advance(time.Minute)
	h.startCampaign(id2)
	h.advance(time.Minute)
	if n := len(h.gw.Records()); n != 4 {
		t.Fatalf("%d attempts, want none more through a provider that does not allow %s", n, cid)
	}
	b := h.eng.CampaignBlocked(h.tenant, id2)
	if b == nil || b.Fault != "content" || b.Field != "account_id" || !strings.Contains(b.Reason, cid) || !strings.Contains(b.Reason, "other") {
		t.Fatalf("blocked %+v, want a content fault naming %s and provider other", b, cid)
	}
	if n := h.count(`SELECT COUNT(*) FROM transmissions WHERE campaign_id = ? AND status = 'pending'`, id2); n != 2 {
		t.Fatalf("%d pending, want both waiting for a route that allows the caller id", n)
	}
	// A single transmission with that caller id fails, saying why.
	cs := h.f.Contacts(h.tenant, h.owner, 1, 20)
	single := h.f.Transmission(h.tenant, h.owner, cs[0], h.voice, 1, time.Time{})
	h.f.Exec(`UPDATE transmissions SET account_id = ? WHERE transmission_id = ?`, acc, single)
	_, err := h.eng.Send(context.Background(), h.tenant, single)
	if dialer.ErrorCode(err) != dialer.CodeInvalid || !strings.Contains(err.Error(), cid) {
		t.Fatalf("send: %v, want invalid naming %s", err, cid)
	}
	got := h.pairs(`SELECT transmission_id, status || ' ' || response FROM transmissions WHERE transmission_id = ?`, single)
	if !strings.HasPrefix(got[single], "failed CONTENT_ERROR: the caller id "+cid+" is not allowed on provider") {
		t.Fatalf("single transmission %q", got[single])
	}

	// The allow-list fixed: the campaign dials.
	h.f.Exec(`UPDATE providers SET settings = ? WHERE provider_id = ?`, `{"caller_ids": ["`+cid+`"]}`, other)
	h.eng.ConfigChanged(h.tenant)
	h.advance(time.Minute)
	if n := len(h.gw.Records()); n != 6 {
		t.Fatalf("%d attempts after the fix, want 6", n)
	}
	if b := h.eng.CampaignBlocked(h.tenant, id2); b != nil {
		t.Fatalf("still blocked: %+v", b)
	}
}

// A DID of the tenant's accounts may be presented on any route; no caller
// id at all, on a trunk without a username, is anonymous and goes only
// through a provider that sets allow_anonymous.
func TestCallerIDPolicyDIDAndAnonymous(t *testing.T) {
	h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Answer, Talk: time.Second})
	h.alwaysOpen(3)
	p := h.provider("plain", 1, 0, "")
	did := h.account(dialer.AccountDID, "+14155550777")
	ext := h.account("extension", "+14155550777") // the DID's number on another account
	idDID, _ := h.campaign(1, 1, 6000, 1, 60)
	h.f.Exec(`UPDATE campaigns SET account_id = ? WHERE campaign_id = ?`, ext, idDID)
	_ = did
	h.startCompliant(false)
	h.startCampaign(idDID)
	h.advance(time.Minute)
	if n := len(h.gw.Records()); n != 1 {
		t.Fatalf("%d attempts presenting a DID, want 1", n)
	}

	h.f.Exec(`UPDATE providers SET username = '' WHERE provider_id = ?`, p)
	h.eng.ConfigChanged(h.tenant)
	h.advance(time.Minute)
	idAnon, _ := h.campaign(1, 2, 6000, 1, 60)
	h.startCampaign(idAnon)
	h.advance(time.Minute)
	if n := len(h.gw.Records()); n != 1 {
		t.Fatalf("%d attempts, want no anonymous call through a provider that does not allow it", n)
	}
	if b := h.eng.CampaignBlocked(h.tenant, idAnon); b == nil || !strings.Contains(b.Reason, "anonymous") {
		t.Fatalf("blocked %+v, want the anonymous caller id named", b)
	}
	h.f.Exec(`UPDATE providers SET settings = '{"allow_anonymous": true}' WHERE provider_id = ?`, p)
	h.eng.ConfigChanged(h.tenant)
	h.advance(time.Minute)
	if rs := h.gw.Records(); len(rs) != 2 || rs[1].CallerIDNumber != "" {
		t.Fatalf("attempts %+v, want the anonymous one through the provider that allows it", rs)
	}
}

// A campaign blocked for its caller id is released by the configuration
// change that allows it, a new DID account included: the tenant's DIDs are
// read again at once, not after the refresh period.
func TestCallerIDBlockReleasedByANewDID(t *testing.T) {
	const cid = "+14155550901"
	h := newHarness(t, testConfig(), memgateway.Script{Kind: memgateway.Answer, Talk: time.Second})
	h.alwaysOpen(3)
	h.provider("p", 1, 0, "")
	acc := h.account("extension", cid)
	id, _ := h.campaign(1, 1, 6000, 1, 60)
	h.f.Exec(`UPDATE campaigns SET account_id = ? WHERE campaign_id = ?`, acc, id)
	h.startCompliant(false)
	h.startCampaign(id)
	h.advance(time.Second)
	if b := h.eng.CampaignBlocked(h.tenant, id); b == nil {
		t.Fatal("not blocked for a caller id no route allows")
	}
	h.account(dialer.AccountDID, cid)
	h.eng.ConfigChanged(h.tenant)
	h.advance(time.Second)
	if n := len(h.gw.Records()); n != 1 {
		t.Fatalf("%d attempts after the DID was added, want 1 (blocked: %+v)", n, h.eng.CampaignBlocked(h.tenant, id))
	}
}
