package store

import (
	"context"
	"errors"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// TestEmailRoute: the email provider that mails a tenant's faxes is its
// own active gateway_flag 4 provider of the lightest weight, password
// unsealed; another tenant's, an inactive one or a provider of another
// gateway is never it, and a tenant without one is not found.
func TestEmailRoute(t *testing.T) {
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
	if _, err := w.db.EmailRoute(ctx, w.tenant); !errors.Is(err, dialer.ErrNotFound) {
		t.Fatalf("no provider: %v", err)
	}
	add(w.other, w.stranger, "theirs", dialer.GatewaySendmail, 1, 1)
	add(w.tenant, w.admin, "sip", dialer.GatewaySIP, 1, 1)
	add(w.tenant, w.admin, "off", dialer.GatewaySendmail, 1, 0)
	if _, err := w.db.EmailRoute(ctx, w.tenant); !errors.Is(err, dialer.ErrNotFound) {
		t.Fatalf("only another tenant's, a SIP trunk and an inactive one: %v", err)
	}
	add(w.tenant, w.admin, "heavy", dialer.GatewaySendmail, 50, 1)
	light := add(w.tenant, w.admin, "light", dialer.GatewaySendmail, 5, 1)
	r, err := w.db.EmailRoute(ctx, w.tenant)
	if err != nil || r.ProviderID != light || r.Password != "pw-light" || r.Sender != "fax@example.com" || r.TLS != "none" {
		t.Fatalf("EmailRoute = %+v, %v; want provider %d unsealed", r, err, light)
	}
}
