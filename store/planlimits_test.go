package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// An import under the plan's contacts limit creates contacts up to it and
// refuses, on their lines, the rows that would create more; rows matching
// an existing contact still link. Atomic, one row beyond the limit writes
// nothing.
func TestImportContactsWithinPlanLimit(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		atomic bool
	}{{"batches", false}, {"atomic", true}} {
		t.Run(tc.name, func(t *testing.T) {
			db, a, g := importFixture(t)
			if res, err := db.ImportContacts(ctx, a, g, &rowList{rows: goodRows(0, 3)}, false); err != nil || res.Imported != 3 {
				t.Fatalf("seed: %+v, %v", res, err)
			}
			// 3 exist, the plan allows 5: of 4 new numbers, 2 fit; an
			// existing number and a repeat of a refused one link or fail.
			rows := goodRows(0, 1)                  // existing: links
			rows = append(rows, goodRows(10, 4)...) // lines 11..14: 11, 12 fit
			rows = append(rows, dialer.ContactRow{Line: 20, Contact: dialer.Contact{Phone: rows[4].Contact.Phone}})
			res, err := db.ImportContactsWithin(ctx, a, g, &rowList{rows: rows}, tc.atomic, 5)
			if err != nil {
				t.Fatal(err)
			}
			var lines []int
			for _, e := range res.Errors {
				lines = append(lines, e.Line)
				if !strings.Contains(e.Reason, "allows 5 contacts") {
					t.Errorf("row error %+v", e)
				}
			}
			if res.OverLimit != 3 || res.Failed != 3 || len(lines) != 3 || lines[0] != 13 || lines[1] != 14 || lines[2] != 20 ||
				!strings.Contains(res.Limit, "allows 5 contacts") {
				t.Errorf("result %+v", res)
			}
			contacts := countRows(t, db, `SELECT COUNT(*) FROM contacts`)
			if tc.atomic {
				if res.Imported != 0 || contacts != 3 {
					t.Errorf("atomic import over the limit wrote: %+v, %d contacts", res, contacts)
				}
				return
			}
			if res.Imported != 2 || res.Existing != 1 || contacts != 5 {
				t.Errorf("imported %d existing %d; %d contacts, want 5", res.Imported, res.Existing, contacts)
			}
			// At the limit: new rows are all refused, existing ones link.
			res, err = db.ImportContactsWithin(ctx, a, g, &rowList{rows: append(goodRows(1, 1), goodRows(30, 2)...)}, false, 5)
			if err != nil || res.Imported != 0 || res.Existing != 1 || res.OverLimit != 2 || countRows(t, db, `SELECT COUNT(*) FROM contacts`) != 5 {
				t.Errorf("at the limit: %+v, %v", res, err)
			}
		})
	}
}

// An inbound SMS from an unknown sender is refused when the tenant's plan
// has no room for one more contact; a known sender's still arrives.
func TestInboundContactWithinPlanLimit(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	exec := func(q string, args ...any) int64 { return x.f.Exec(q, args...) }
	did := exec(`INSERT INTO accounts (tenant_id, created_by, type, phone, active, created_at, updated_at)
		VALUES (?, ?, 'did', '+15550009999', 1, 0, 0)`, x.tenant, x.owner)
	exec(`INSERT INTO programs (tenant_id, created_by, name, type, account_id, created_at, updated_at)
		VALUES (?, ?, 'inbox', 'receivesms', ?, 0, 0)`, x.tenant, x.owner, did)
	have := countRows(t, x.db, `SELECT COUNT(*) FROM contacts WHERE tenant_id = ?`, x.tenant)
	x.db.UsePlans(dialer.PlanCatalog{Default: "small", Plans: []dialer.Plan{{ID: "small",
		Limits: dialer.PlanLimits{Contacts: have + 1}}}})
	at := time.Unix(1_800_000_000, 0)
	if _, err := x.db.ReceiveSMS(ctx, "+447700900001", "+15550009999", "first", at); err != nil {
		t.Fatalf("the last free place: %v", err)
	}
	_, err := x.db.ReceiveSMS(ctx, "+447700900002", "+15550009999", "second", at)
	if dialer.ErrorCode(err) != dialer.CodeForbidden || !strings.Contains(err.Error(), "plan allows") {
		t.Errorf("beyond the limit: %v", err)
	}
	if n := countRows(t, x.db, `SELECT COUNT(*) FROM contacts WHERE tenant_id = ?`, x.tenant); n != have+1 {
		t.Errorf("%d contacts, want %d", n, have+1)
	}
	if n := countRows(t, x.db, `SELECT COUNT(*) FROM transmissions WHERE direction = 'inbound'`); n != 1 {
		t.Errorf("%d inbound transmissions, want 1 (the refused one wrote nothing)", n)
	}
	if _, err := x.db.ReceiveSMS(ctx, "+447700900001", "+15550009999", "known", at); err != nil {
		t.Errorf("a known sender at the limit: %v", err)
	}
}
