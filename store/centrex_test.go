package store

import (
	"context"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// An SMS to a centrex account's number goes to its centrex's callflow,
// before the DID account that has the same number; a deleted account, or
// a callflow of another channel, leaves the DID's program in charge.
func TestInboundCentrexPrecedence(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	exec := func(q string, args ...any) int64 { return x.f.Exec(q, args...) }
	did := exec(`INSERT INTO accounts (tenant_id, created_by, type, phone, active, created_at, updated_at)
		VALUES (?, ?, 'did', '+15550009999', 1, 0, 0)`, x.tenant, x.owner)
	plain := exec(`INSERT INTO programs (tenant_id, created_by, name, type, account_id, created_at, updated_at)
		VALUES (?, ?, 'inbox', 'receivesms', ?, 0, 0)`, x.tenant, x.owner, did)
	hub := exec(`INSERT INTO accounts (tenant_id, created_by, type, phone, active, created_at, updated_at)
		VALUES (?, ?, 'did', '+15550001111', 1, 0, 0)`, x.tenant, x.owner)
	callflow := exec(`INSERT INTO programs (tenant_id, created_by, name, type, account_id, created_at, updated_at)
		VALUES (?, ?, 'centrex sms', 'receivesms', ?, 0, 0)`, x.tenant, x.owner, hub)
	faxflow := exec(`INSERT INTO programs (tenant_id, created_by, name, type, account_id, created_at, updated_at)
		VALUES (?, ?, 'centrex fax', 'receivefax', ?, 0, 0)`, x.tenant, x.owner, hub)

	if _, err := x.db.CreateCentrex(ctx, dialer.Centrex{ID: "fax", TenantID: x.tenant, Name: "fax", CallflowID: faxflow}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.db.CreateCentrex(ctx, dialer.Centrex{ID: "sms", TenantID: x.tenant, Name: "sms", CallflowID: callflow}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.db.CreateCentrexAccount(ctx, dialer.CentrexAccount{ID: "f", TenantID: x.tenant, CentrexID: "fax",
		UserID: x.owner, NumberOffnet: "+15550007777"}); err != nil {
		t.Fatal(err)
	}
	program := func(to string) int64 {
		t.Helper()
		tid, err := x.db.ReceiveSMS(ctx, "+447700900123", to, "hi", time.Unix(1_800_000_000, 0))
		if err != nil {
			t.Fatalf("SMS to %s: %v", to, err)
		}
		var p int64
		if err := x.db.r.QueryRow(`SELECT program_id FROM transmissions WHERE transmission_id = ?`, tid).Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := program("+15550009999"); p != plain {
		t.Errorf("before the centrex account: program %d, want %d", p, plain)
	}
	if _, err := x.db.CreateCentrexAccount(ctx, dialer.CentrexAccount{ID: "a", TenantID: x.tenant, CentrexID: "sms",
		UserID: x.owner, NumberOffnet: "+15550009999"}); err != nil {
		t.Fatal(err)
	}
	if p := program("+15550009999"); p != callflow {
		t.Errorf("centrex number: program %d, want the callflow %d", p, callflow)
	}
	// A fax callflow does not take SMS: nothing else receives that number.
	if _, err := x.db.ReceiveSMS(ctx, "+447700900123", "+15550007777", "hi", time.Now()); err == nil {
		t.Error("an SMS reached a fax callflow")
	}
	if _, err := x.db.DeleteCentrexAccount(ctx, x.tenant, "sms", "a", 0); err != nil {
		t.Fatal(err)
	}
	if p := program("+15550009999"); p != plain {
		t.Errorf("after deleting the centrex account: program %d, want %d", p, plain)
	}
}
