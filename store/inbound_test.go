package store

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

func TestReceiveSMS(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	exec := func(q string, args ...any) int64 { return x.f.Exec(q, args...) }
	did := exec(`INSERT INTO accounts (tenant_id, created_by, type, phone, active, created_at, updated_at)
		VALUES (?, ?, 'did', '+15550009999', 1, 0, 0)`, x.tenant, x.owner)
	exec(`INSERT INTO accounts (tenant_id, created_by, type, phone, active, created_at, updated_at)
		VALUES (?, ?, 'did', '+15550008888', 0, 0, 0)`, x.tenant, x.owner) // inactive
	prog := exec(`INSERT INTO programs (tenant_id, created_by, name, type, account_id, created_at, updated_at)
		VALUES (?, ?, 'inbox', 'receivesms', ?, 0, 0)`, x.tenant, x.owner, did)

	at := time.Unix(1_800_000_000, 0)
	tid, err := x.db.ReceiveSMS(ctx, "+447700900123", "+15550009999", "hello, dialerd", at)
	if err != nil {
		t.Fatal(err)
	}
	var status, direction string
	var program, tries int64
	if err := x.db.r.QueryRow(`SELECT status, direction, program_id, try_done FROM transmissions WHERE transmission_id = ?`, tid).
		Scan(&status, &direction, &program, &tries); err != nil {
		t.Fatal(err)
	}
	if status != "completed" || direction != "inbound" || program != prog || tries != 1 {
		t.Errorf("transmission: %s %s program %d tries %d", status, direction, program, tries)
	}
	var text string
	if err := x.db.r.QueryRow(`SELECT r.data FROM spool_results r JOIN spools s USING (spool_id)
		WHERE s.transmission_id = ? AND r.type = 'sms' AND r.name = 'text'`, tid).Scan(&text); err != nil || text != "hello, dialerd" {
		t.Errorf("result text %q, %v", text, err)
	}
	// A second SMS from the same sender reuses its contact.
	if _, err := x.db.ReceiveSMS(ctx, "+447700900123", "+15550009999", "again", at); err != nil {
		t.Fatal(err)
	}
	var contacts int
	x.db.r.QueryRow(`SELECT COUNT(*) FROM contacts WHERE phone = '+447700900123'`).Scan(&contacts)
	if contacts != 1 {
		t.Errorf("%d contacts for one sender", contacts)
	}
	for _, to := range []string{"+15550008888", "+15550007777"} { // inactive, unknown
		if _, err := x.db.ReceiveSMS(ctx, "+447700900123", to, "x", at); !errors.Is(err, dialer.ErrNotFound) {
			t.Errorf("SMS to %s: %v, want not found", to, err)
		}
	}
}

func TestTrunksUnsealed(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	key, err := newSealer(bytes.Repeat([]byte("k"), SealKeySize))
	if err != nil {
		t.Fatal(err)
	}
	x.db.seal = key
	p := x.f.Provider(x.tenant, x.owner, "trunk", dialer.ServiceVoice, 1, 0, "")
	sealed, _ := key.seal("pw", sealAAD(sealProviderPassword, x.tenant))
	x.f.Exec(`UPDATE providers SET gateway_flag = 8, register = 1, password_sealed = ? WHERE provider_id = ?`, sealed, p)
	x.f.Provider(x.tenant, x.owner, "fs", dialer.ServiceVoice, 1, 0, "") // gateway_flag 1 (FreeSWITCH): not a SIP trunk
	trunks, err := x.db.Trunks(ctx, dialer.GatewaySIP)
	if err != nil || len(trunks) != 1 {
		t.Fatalf("trunks %+v, %v", trunks, err)
	}
	if tr := trunks[0]; tr.Route.ProviderID != p || tr.Route.Password != "pw" || !tr.Register || tr.TenantID != x.tenant {
		t.Errorf("trunk %+v", tr)
	}
}
