package store

import (
	"context"
	"errors"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// TestEmailRoutes: the email providers that mail a tenant's faxes are its
// own active gateway_flag 4 providers, lightest weight first, passwords
// unsealed; another tenant's, an inactive one or a provider of another
// gateway is never one, and a tenant without one is not found.
func TestEmailRoutes(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	add := func(tenant string, owner int64, name string, flag int64, weight, active int) int64 {
		t.Helper()
		id, err := w.db.CreateProvider(ctx, dialer.Provider{TenantID: tenant, CreatedBy: owner, Name: name, GatewayFlag: flag,
			ServiceFlag: 8, Host: "smtp." + name, Weight: weight, Active: active,
			Settings: `{"tls":"none","from":"fax@example.com"}`}, "pw-"+name)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	if _, err := w.db.EmailRoutes(ctx, w.tenant); !errors.Is(err, dialer.ErrNotFound) {
		t.Fatalf("no provider: %v", err)
	}
	add(w.other, w.stranger, "theirs", dialer.GatewaySendmail, 1, 1)
	add(w.tenant, w.admin, "sip", dialer.GatewaySIP, 1, 1)
	add(w.tenant, w.admin, "off", dialer.GatewaySendmail, 1, 0)
	if _, err := w.db.EmailRoutes(ctx, w.tenant); !errors.Is(err, dialer.ErrNotFound) {
		t.Fatalf("only another tenant's, a SIP trunk and an inactive one: %v", err)
	}
	heavy := add(w.tenant, w.admin, "heavy", dialer.GatewaySendmail, 50, 1)
	light := add(w.tenant, w.admin, "light", dialer.GatewaySendmail, 5, 1)
	rs, err := w.db.EmailRoutes(ctx, w.tenant)
	if err != nil || len(rs) != 2 || rs[0].ProviderID != light || rs[1].ProviderID != heavy {
		t.Fatalf("EmailRoutes = %+v, %v; want providers %d, %d", rs, err, light, heavy)
	}
	if r := rs[0]; r.Password != "pw-light" || r.Sender != "fax@example.com" || r.TLS != "none" {
		t.Errorf("route %+v: not unsealed with its settings", r)
	}
}
