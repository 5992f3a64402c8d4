package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// rowList is an import source over fixed rows, ending with err (io.EOF
// when nil).
type rowList struct {
	rows []dialer.ContactRow
	err  error
}

func (l *rowList) Next() (dialer.ContactRow, error) {
	if len(l.rows) == 0 {
		if l.err != nil {
			return dialer.ContactRow{}, l.err
		}
		return dialer.ContactRow{}, io.EOF
	}
	r := l.rows[0]
	l.rows = l.rows[1:]
	return r, nil
}

func goodRows(from, n int) []dialer.ContactRow {
	rows := make([]dialer.ContactRow, n)
	for i := range rows {
		rows[i] = dialer.ContactRow{Line: from + i + 1, Contact: dialer.Contact{
			FirstName: fmt.Sprint("n", from+i), Phone: fmt.Sprintf("+1415%07d", from+i)}}
	}
	return rows
}

func countRows(t *testing.T, db *DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.r.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportContactsAcrossBatches(t *testing.T) {
	db, a, g := importFixture(t)
	ctx := context.Background()
	n := importBatchRows*2 + 7
	rows := goodRows(0, n)
	// A number repeated in a later batch, and one repeated within a chunk,
	// reuse the contact their first row made; a rejected row is counted.
	rows = append(rows, dialer.ContactRow{Line: n + 2, Contact: dialer.Contact{Phone: rows[3].Contact.Phone}},
		dialer.ContactRow{Line: n + 3, Errors: []dialer.ImportError{{Line: n + 3, Field: "phone", Reason: "bad"}}},
		dialer.ContactRow{Line: n + 4, Contact: dialer.Contact{Phone: rows[n-1].Contact.Phone}})
	res, err := db.ImportContacts(ctx, a, g, &rowList{rows: rows}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != n || res.Existing != 2 || res.Failed != 1 || len(res.Errors) != 1 {
		t.Fatalf("result %+v", res)
	}
	if c := countRows(t, db, `SELECT COUNT(*) FROM contacts`); c != n {
		t.Errorf("%d contacts, want %d", c, n)
	}
	if c := countRows(t, db, `SELECT COUNT(*) FROM group_contacts WHERE group_id = ?`, g); c != n {
		t.Errorf("%d members, want %d", c, n)
	}
	// Ids follow the file's order.
	if c := countRows(t, db, `SELECT COUNT(*) FROM contacts a JOIN contacts b ON b.contact_id = a.contact_id + 1
		WHERE CAST(substr(b.first_name, 2) AS INTEGER) != CAST(substr(a.first_name, 2) AS INTEGER) + 1`); c != 0 {
		t.Errorf("%d contacts out of file order", c)
	}
	for pragma, want := range map[string]int{"cache_size": sqliteDefaultCacheSize, "wal_autocheckpoint": writerAutoCheckpoint, "foreign_keys": 1} {
		var got int
		if err := db.w.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("after the import the writer has %s = %d, want %d", pragma, got, want)
		}
	}
}

// The counts are disjoint: a row that finds its number existing is counted
// there alone, never also as imported.
func TestImportCountsDisjoint(t *testing.T) {
	db, a, g := importFixture(t)
	ctx := context.Background()
	first := goodRows(0, 3)
	if res, err := db.ImportContacts(ctx, a, g, &rowList{rows: first}, false); err != nil || res.Imported != 3 || res.Existing != 0 {
		t.Fatalf("first import: %+v, %v", res, err)
	}
	again := append(goodRows(0, 3), dialer.ContactRow{Line: 5, Errors: []dialer.ImportError{{Line: 5, Field: "phone", Reason: "bad"}}})
	for _, atomic := range []bool{false, true} {
		res, err := db.ImportContacts(ctx, a, g, &rowList{rows: again}, atomic)
		if err != nil {
			t.Fatal(err)
		}
		want := dialer.ImportResult{Imported: 0, Existing: 3, Failed: 1}
		if atomic {
			want.Existing = 0 // nothing is written
		}
		if res.Imported != want.Imported || res.Existing != want.Existing || res.Failed != want.Failed {
			t.Errorf("atomic=%v: re-import of 3 existing rows and a bad one: %+v, want imported %d, existing %d, failed %d",
				atomic, res, want.Imported, want.Existing, want.Failed)
		}
	}
	// Mixed: one existing, one new, the new one repeated in the file.
	for i, atomic := range []bool{false, true} {
		mixed := append(goodRows(2+i, 2), goodRows(3+i, 1)...)
		res, err := db.ImportContacts(ctx, a, g, &rowList{rows: mixed}, atomic)
		if err != nil {
			t.Fatal(err)
		}
		if res.Imported != 1 || res.Existing != 2 || res.Failed != 0 {
			t.Errorf("atomic=%v: %+v for %d rows, want imported 1, existing 2", atomic, res, len(mixed))
		}
	}
}

func TestImportContactsStopsOnReadError(t *testing.T) {
	db, a, g := importFixture(t)
	broken := errors.New("connection reset")
	rows := goodRows(0, importBatchRows+10)
	res, err := db.ImportContacts(context.Background(), a, g, &rowList{rows: rows, err: broken}, false)
	if !errors.Is(err, broken) {
		t.Fatalf("err = %v", err)
	}
	// The rows read before the error are in, and the result says so.
	if got := countRows(t, db, `SELECT COUNT(*) FROM group_contacts`); got != res.Imported || got != len(rows) {
		t.Errorf("%d rows in, result says %d, want %d", got, res.Imported, len(rows))
	}
}

func TestImportContactsAtomic(t *testing.T) {
	db, a, g := importFixture(t)
	ctx := context.Background()
	rows := goodRows(0, importBatchRows+10)
	rows = append(rows, dialer.ContactRow{Line: 99, Errors: []dialer.ImportError{{Line: 99, Field: "email", Reason: "bad"}}})
	rows = append(rows, goodRows(importBatchRows+10, 5)...)
	res, err := db.ImportContacts(ctx, a, g, &rowList{rows: rows}, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 0 || res.Failed != 1 || countRows(t, db, `SELECT COUNT(*) FROM contacts`) != 0 {
		t.Fatalf("a rejected atomic import wrote: %+v", res)
	}
	res, err = db.ImportContacts(ctx, a, g, &rowList{rows: goodRows(0, 10), err: errors.New("cut")}, true)
	if err == nil || res.Imported != 0 || countRows(t, db, `SELECT COUNT(*) FROM contacts`) != 0 {
		t.Fatalf("a broken atomic import wrote: %+v, %v", res, err)
	}
	res, err = db.ImportContacts(ctx, a, g, &rowList{rows: goodRows(0, importBatchRows+10)}, true)
	if err != nil || res.Imported != importBatchRows+10 || countRows(t, db, `SELECT COUNT(*) FROM group_contacts`) != importBatchRows+10 {
		t.Fatalf("atomic import of good rows: %+v, %v", res, err)
	}
}

func TestImportContactsIntoMissingGroup(t *testing.T) {
	db, a, _ := importFixture(t)
	other := dialer.Actor{TenantID: "elsewhere", UserID: 1}
	for _, tc := range []struct {
		a dialer.Actor
		g int64
	}{{a, 999}, {other, 1}} {
		for _, atomic := range []bool{false, true} {
			_, err := db.ImportContacts(context.Background(), tc.a, tc.g, &rowList{rows: goodRows(0, 3)}, atomic)
			if !errors.Is(err, dialer.ErrNotFound) {
				t.Errorf("group %d of %s, atomic %v: err = %v", tc.g, tc.a.TenantID, atomic, err)
			}
		}
	}
}

func TestContactConflicts(t *testing.T) {
	db, a, g := importFixture(t)
	ctx := context.Background()
	c := dialer.Contact{TenantID: a.TenantID, CreatedBy: a.UserID, FirstName: "A", Phone: "+14155552671"}
	id, err := db.CreateContact(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateContact(ctx, c); !errors.Is(err, dialer.ErrConflict) {
		t.Errorf("duplicate phone: err = %v", err)
	}
	if err := db.LinkContact(ctx, a.TenantID, id, g, true); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	if _, err := db.w.Exec(`INSERT INTO programs (tenant_id, created_by, name, type, created_at, updated_at) VALUES (?, 1, 'p', 'sendsms', ?, ?)`, a.TenantID, now, now); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.Exec(`INSERT INTO campaigns (tenant_id, created_by, program_id, group_id, created_at, updated_at) VALUES (?, 1, 1, ?, ?, ?)`, a.TenantID, g, now, now); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.Exec(`INSERT INTO transmissions (tenant_id, created_by, contact_id, program_id, created_at, updated_at) VALUES (?, 1, ?, 1, ?, ?)`, a.TenantID, id, now, now); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteContact(ctx, a.TenantID, id); !errors.Is(err, dialer.ErrConflict) || !strings.Contains(err.Error(), "1 transmission") {
		t.Errorf("delete a contact in use: err = %v", err)
	}
	if err := db.DeleteGroup(ctx, a.TenantID, g); !errors.Is(err, dialer.ErrConflict) || !strings.Contains(err.Error(), "1 campaign") {
		t.Errorf("delete a group in use: err = %v", err)
	}
	if countRows(t, db, `SELECT COUNT(*) FROM group_contacts`) != 1 {
		t.Errorf("a refused delete unlinked the contact")
	}
}

func TestExportGroupContactsPages(t *testing.T) {
	db, a, g := importFixture(t)
	ctx := context.Background()
	n := exportPage*2 + 3
	if _, err := db.ImportContacts(ctx, a, g, &rowList{rows: goodRows(0, n)}, false); err != nil {
		t.Fatal(err)
	}
	// A contact outside the group is not exported.
	if _, err := db.CreateContact(ctx, dialer.Contact{TenantID: a.TenantID, CreatedBy: 1, Phone: "+442079460018"}); err != nil {
		t.Fatal(err)
	}
	var last int64
	got := 0
	err := db.ExportGroupContacts(ctx, a.TenantID, g, func(c dialer.Contact) error {
		if c.ID <= last {
			t.Fatalf("contact %d after %d", c.ID, last)
		}
		last = c.ID
		got++
		return nil
	})
	if err != nil || got != n {
		t.Fatalf("exported %d, want %d (%v)", got, n, err)
	}
	stop := errors.New("client gone")
	if err := db.ExportGroupContacts(ctx, a.TenantID, g, func(dialer.Contact) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("err = %v", err)
	}
	if err := db.ExportGroupContacts(ctx, "elsewhere", g, func(dialer.Contact) error { return stop }); err != nil {
		t.Errorf("another tenant's export found rows: %v", err)
	}
}

// TestContactQueryPlans keeps the queries that a million-contact tenant
// runs often on their indexes: the group member walk starts from the
// group's memberships and never sorts, and phone lookups use contacts_phone.
func TestContactQueryPlans(t *testing.T) {
	db, a, g := importFixture(t)
	ctx := context.Background()
	filtered, filteredArgs, err := groupContactsPage(a.TenantID, g, dialer.ListQuery{Filters: map[string]string{"first_name": "x"}, Offset: 10})
	if err != nil {
		t.Fatal(err)
	}
	page, pageArgs, err := groupContactsPage(a.TenantID, g, dialer.ListQuery{Offset: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, query string
		args        []any
		want        string
	}{
		{"group page", page, pageArgs, "CO-ROUTINE page"}, // then SEARCH group_contacts USING PRIMARY KEY
		{"filtered group page", filtered, filteredArgs, "SEARCH group_contacts USING PRIMARY KEY"},
		{"export page", `SELECT ` + contactCols + groupMembers + ` WHERE group_contacts.group_id = ? AND group_contacts.contact_id > ? AND contacts.tenant_id = ? ORDER BY group_contacts.contact_id LIMIT 10`, []any{g, 0, a.TenantID}, "SEARCH group_contacts USING PRIMARY KEY"},
		{"import lookup", `SELECT phone, contact_id FROM contacts WHERE tenant_id = ? AND phone IN (?, ?)`, []any{a.TenantID, "+1", "+2"}, "contacts_phone"},
		{"phone taken", `SELECT contact_id FROM contacts WHERE tenant_id = ? AND phone = ? AND contact_id != ? ORDER BY contact_id LIMIT 1`, []any{a.TenantID, "+1", 0}, "contacts_phone"},
	} {
		rows, err := db.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+tc.query, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		if !strings.Contains(plan[0], tc.want) || strings.Contains(joined, "TEMP B-TREE") {
			t.Errorf("%s: plan %q, want it to start with %q and never sort", tc.name, joined, tc.want)
		}
	}
}
