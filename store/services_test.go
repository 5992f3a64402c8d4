package store

import (
	"context"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// Peak channels: the most outbound voice calls up at once this month,
// kept across syncs that each look only at the calls since the last one.
func TestPeakChannelsAcrossSyncs(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	prog := x.f.Exec(`INSERT INTO programs (tenant_id, created_by, name, type, created_at, updated_at)
		VALUES (?, ?, 'v', 'voicemessage', 0, 0)`, x.tenant, x.owner)
	contact := x.f.Exec(`INSERT INTO contacts (tenant_id, created_by, phone, created_at, updated_at) VALUES (?, ?, '+14155550100', 0, 0)`,
		x.tenant, x.owner)
	call := func(start, end int64) {
		tid := x.f.Exec(`INSERT INTO transmissions (tenant_id, created_by, contact_id, program_id, service_flag, direction, status,
			created_at, updated_at) VALUES (?, ?, ?, ?, 1, 'outbound', 'completed', 0, 0)`, x.tenant, x.owner, contact, prog)
		x.f.Exec(`INSERT INTO spools (tenant_id, transmission_id, call_uuid, status, time_spool, time_start, time_connect, time_end)
			VALUES (?, ?, hex(randomblob(16)), 'completed', ?, ?, ?, ?)`, x.tenant, tid, start, start, start+1, end)
	}
	now := time.Now().Unix()
	call(now-600, now-300) // three at once, ten minutes ago
	call(now-590, now-300)
	call(now-580, now-300)
	call(now-100, now-50) // then one alone
	sync := func() int64 {
		t.Helper()
		if _, err := x.db.SyncQuantities(ctx, x.tenant, "quantity", dialer.AuditWho{Via: "test"}, dialer.AuditRequest{}); err != nil {
			t.Fatal(err)
		}
		q, err := x.db.CommittedQuantities(ctx, x.tenant)
		if err != nil {
			t.Fatal(err)
		}
		return q.Get("limits", "peak_channels")
	}
	if p := sync(); p != 3 {
		t.Errorf("peak %d, want 3", p)
	}
	call(now-40, now-20)
	if p := sync(); p != 3 {
		t.Errorf("after a quieter call: peak %d, want 3 still", p)
	}
	for range 4 {
		call(now-10, now-5)
	}
	if p := sync(); p != 4 {
		t.Errorf("after four at once: peak %d, want 4", p)
	}
	if got := x.f.Int(`SELECT COUNT(*) FROM service_audit WHERE category = 'call_seconds'`); got != 3 {
		t.Errorf("%d usage entries for three syncs that saw new calls", got)
	}
}

// BenchmarkSyncQuantities is one sync of a tenant with 100,000 answered
// calls this month and nothing changed since the last sync: what every
// services read and every write's background sync costs.
//
//	go test ./store -run '^$' -bench SyncQuantities
func BenchmarkSyncQuantities(b *testing.B) {
	ctx := context.Background()
	es, f, tenant, owner, prog := benchEngineStore(b)
	db := es.db
	contact := f.Exec(`INSERT INTO contacts (tenant_id, created_by, phone, created_at, updated_at) VALUES (?, ?, '+14155550100', 0, 0)`,
		tenant, owner)
	now := time.Now().Unix()
	f.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
		INSERT INTO transmissions (tenant_id, created_by, contact_id, program_id, service_flag, direction, status, created_at, updated_at)
		SELECT ?, ?, ?, ?, 1, 'outbound', 'completed', 0, 0 FROM n`, tenant, owner, contact, prog)
	f.Exec(`INSERT INTO spools (tenant_id, transmission_id, call_uuid, status, time_spool, time_start, time_connect, time_end)
		SELECT tenant_id, transmission_id, hex(randomblob(16)), 'completed', ?1 - transmission_id * 20, ?1 - transmission_id * 20,
		?1 - transmission_id * 20 + 2, ?1 - transmission_id * 20 + 12 FROM transmissions`, now)
	who := dialer.AuditWho{Via: "bench"}
	if _, err := db.SyncQuantities(ctx, tenant, "quantity", who, dialer.AuditRequest{}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := db.SyncQuantities(ctx, tenant, "quantity", who, dialer.AuditRequest{}); err != nil {
			b.Fatal(err)
		}
	}
}

// The balance kept by the ledger's trigger is the sum of its entries, and
// a spool is debited once.
func TestLedgerBalance(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	if _, _, err := x.db.Topup(ctx, x.tenant, 0, dialer.AuditWho{}, dialer.AuditRequest{}); err == nil {
		t.Error("a topup of 0 was taken")
	}
	if _, _, err := x.db.Topup(ctx, x.tenant, 5_000_000, dialer.AuditWho{}, dialer.AuditRequest{}); err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_800_000_000, 0)
	for _, spool := range []int64{1, 2, 2} {
		if _, err := x.db.DebitCall(ctx, x.tenant, spool, 30, 300_000, at); err != nil {
			t.Fatal(err)
		}
	}
	l, err := x.db.Ledger(ctx, x.tenant)
	if err != nil {
		t.Fatal(err)
	}
	sum := x.f.Int(`SELECT SUM(amount) FROM service_ledger WHERE tenant_id = ?`, x.tenant)
	if l.Balance != 4_400_000 || l.Balance != sum || l.Credited != 5_000_000 || l.Debited != 600_000 || l.Seconds != 60 {
		t.Errorf("ledger %+v, entries sum to %d", l, sum)
	}
	if other, err := x.db.Ledger(ctx, "nobody"); err != nil || other != (dialer.Ledger{}) {
		t.Errorf("empty ledger %+v %v", other, err)
	}
}

// A call's usage is counted once, after its spool has ended, whatever
// order spools end in; a reconciliation counts them all again and finds
// no drift.
func TestUsageCountedOnceAfterTheEnd(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	prog := x.f.Exec(`INSERT INTO programs (tenant_id, created_by, name, type, created_at, updated_at)
		VALUES (?, ?, 'v', 'voicemessage', 0, 0)`, x.tenant, x.owner)
	contact := x.f.Exec(`INSERT INTO contacts (tenant_id, created_by, phone, created_at, updated_at) VALUES (?, ?, '+14155550100', 0, 0)`,
		x.tenant, x.owner)
	open := func() int64 {
		tid := x.f.Exec(`INSERT INTO transmissions (tenant_id, created_by, contact_id, program_id, service_flag, direction, status,
			created_at, updated_at) VALUES (?, ?, ?, ?, 1, 'outbound', 'processing', 0, 0)`, x.tenant, x.owner, contact, prog)
		return x.f.Exec(`INSERT INTO spools (tenant_id, transmission_id, call_uuid, status, time_spool, time_start, time_connect)
			VALUES (?, ?, hex(randomblob(16)), 'initiated', 100, 100, 102)`, x.tenant, tid)
	}
	end := func(spool, at int64) {
		x.f.Exec(`UPDATE spools SET status = 'completed', time_end = ? WHERE spool_id = ?`, at, spool)
	}
	usage := func(typ string) int64 {
		t.Helper()
		entries, err := x.db.SyncQuantities(ctx, x.tenant, typ, dialer.AuditWho{Via: "test"}, dialer.AuditRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, e := range entries {
			if e.Category == "call_seconds" {
				n += e.Quantity
			}
		}
		return n
	}
	long, short := open(), open()
	if u := usage("quantity"); u != 0 {
		t.Errorf("open calls used %d s", u)
	}
	end(short, 112) // 10 s, while the long one is still up
	if u := usage("quantity"); u != 0 {
		t.Errorf("counted before the earlier call ended: %d s", u)
	}
	end(long, 162) // 60 s
	if u := usage("quantity"); u != 70 {
		t.Errorf("usage %d s, want 70", u)
	}
	if u := usage("quantity"); u != 0 {
		t.Errorf("counted twice: %d s", u)
	}
	if u := usage("reconciliation"); u != 0 {
		t.Errorf("reconciliation found %d s of drift", u)
	}
}
