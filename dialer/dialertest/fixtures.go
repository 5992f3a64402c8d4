package dialertest

import (
	"database/sql"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	_ "modernc.org/sqlite" // the driver the store uses
)

// Fixtures inserts the rows engine tests need (tenants, users, contacts,
// groups, programs, providers, transmissions) with plain SQL into a store's
// database file, beside the store's own connections. The CRUD of these
// resources belongs to other packages; tests should not depend on it.
type Fixtures struct {
	t  testing.TB
	db *sql.DB
}

// NewFixtures opens the database at path (already migrated by store.Open).
func NewFixtures(t testing.TB, path string) *Fixtures {
	t.Helper()
	v := url.Values{}
	for _, p := range []string{"busy_timeout(5000)", "foreign_keys(1)"} {
		v.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return &Fixtures{t: t, db: db}
}

// Exec runs a statement and returns the last insert id.
func (f *Fixtures) Exec(query string, args ...any) int64 {
	f.t.Helper()
	res, err := f.db.Exec(query, args...)
	if err != nil {
		f.t.Fatalf("fixture %q: %v", query, err)
	}
	id, _ := res.LastInsertId()
	return id
}

// Int runs a query returning one integer.
func (f *Fixtures) Int(query string, args ...any) int64 {
	f.t.Helper()
	var n int64
	if err := f.db.QueryRow(query, args...).Scan(&n); err != nil {
		f.t.Fatalf("fixture %q: %v", query, err)
	}
	return n
}

// Tenant adds a tenant.
func (f *Fixtures) Tenant(id string) string {
	f.Exec(`INSERT INTO tenants (tenant_id, name, created_at, updated_at) VALUES (?, ?, 0, 0)`, id, id)
	return id
}

// User adds a user of the tenant; admin users get the admin role.
func (f *Fixtures) User(tenantID, username string, admin bool) int64 {
	id := f.Exec(`INSERT INTO users (tenant_id, username, password_hash, created_at, updated_at) VALUES (?, ?, 'x', 0, 0)`, tenantID, username)
	role := dialer.RoleUser
	if admin {
		role = dialer.RoleAdmin
	}
	f.Exec(`INSERT INTO user_roles (tenant_id, user_id, role_id) VALUES (?, ?, ?)`, tenantID, id, role)
	return id
}

// Contact adds a contact with a phone number and time zone ("" for none).
func (f *Fixtures) Contact(tenantID string, owner int64, phone, tz string) int64 {
	return f.Exec(`INSERT INTO contacts (tenant_id, created_by, first_name, phone, timezone, created_at, updated_at)
		VALUES (?, ?, 'c', ?, ?, 0, 0)`, tenantID, owner, phone, tz)
}

// Group adds a group holding the contacts.
func (f *Fixtures) Group(tenantID string, owner int64, contacts ...int64) int64 {
	id := f.Exec(`INSERT INTO groups (tenant_id, created_by, name, created_at, updated_at) VALUES (?, ?, 'g', 0, 0)`, tenantID, owner)
	f.AddToGroup(tenantID, id, contacts...)
	return id
}

// AddToGroup puts contacts into a group, in one transaction.
func (f *Fixtures) AddToGroup(tenantID string, group int64, contacts ...int64) {
	f.t.Helper()
	tx, err := f.db.Begin()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, c := range contacts {
		if _, err := tx.Exec(`INSERT INTO group_contacts (tenant_id, group_id, contact_id) VALUES (?, ?, ?)`, tenantID, group, c); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		f.t.Fatal(err)
	}
}

// Contacts adds n contacts numbered from first (E.164 "+1555…") in one
// transaction and returns their ids.
func (f *Fixtures) Contacts(tenantID string, owner int64, n int, first int64) []int64 {
	f.t.Helper()
	tx, err := f.db.Begin()
	if err != nil {
		f.t.Fatal(err)
	}
	ids := make([]int64, 0, n)
	for i := range n {
		res, err := tx.Exec(`INSERT INTO contacts (tenant_id, created_by, first_name, phone, created_at, updated_at)
			VALUES (?, ?, 'c', ?, 0, 0)`, tenantID, owner, fmt.Sprintf("+1555%07d", first+int64(i)))
		if err != nil {
			f.t.Fatal(err)
		}
		id, _ := res.LastInsertId()
		ids = append(ids, id)
	}
	if err := tx.Commit(); err != nil {
		f.t.Fatal(err)
	}
	return ids
}

// Program adds a program of the given type.
func (f *Fixtures) Program(tenantID string, owner int64, typ dialer.ProgramType) int64 {
	return f.Exec(`INSERT INTO programs (tenant_id, created_by, name, type, tts_text, created_at, updated_at)
		VALUES (?, ?, 'p', ?, 'hello', 0, 0)`, tenantID, owner, string(typ))
}

// Provider adds an active FreeSWITCH provider (gateway_flag 1, the API's
// default: the column's 0 is no gateway the API accepts) for the services
// (a Service* bit set); node 0 means none; settings may carry {"cps": N,
// "channels": N}.
func (f *Fixtures) Provider(tenantID string, owner int64, name string, services, weight int, node int64, settings string) int64 {
	var nodeID any
	if node != 0 {
		nodeID = node
	}
	return f.Exec(`INSERT INTO providers (tenant_id, created_by, name, gateway_flag, service_flag, weight, node_id, host, username,
		password_sealed, settings, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?, '127.0.0.1', 'u', '', ?, 0, 0)`,
		tenantID, owner, name, services, weight, nodeID, settings)
}

// Transmission adds a pending single transmission; due is when it is
// queued for (zero: not queued).
func (f *Fixtures) Transmission(tenantID string, owner, contact, program int64, tryAllowed int, due time.Time) int64 {
	var dueMS int64
	if !due.IsZero() {
		dueMS = due.UnixMilli()
	}
	return f.Exec(`INSERT INTO transmissions (tenant_id, created_by, contact_id, program_id, service_flag, try_allowed, due_at,
		created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, 0, 0)`, tenantID, owner, contact, program, tryAllowed, dueMS)
}

// Transmissions adds one pending single transmission per contact, all due
// at due, in one transaction.
func (f *Fixtures) Transmissions(tenantID string, owner, program int64, tryAllowed int, due time.Time, contacts []int64) []int64 {
	f.t.Helper()
	tx, err := f.db.Begin()
	if err != nil {
		f.t.Fatal(err)
	}
	ids := make([]int64, 0, len(contacts))
	for _, c := range contacts {
		res, err := tx.Exec(`INSERT INTO transmissions (tenant_id, created_by, contact_id, program_id, service_flag, try_allowed,
			due_at, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, 0, 0)`, tenantID, owner, c, program, tryAllowed, due.UnixMilli())
		if err != nil {
			f.t.Fatal(err)
		}
		id, _ := res.LastInsertId()
		ids = append(ids, id)
	}
	if err := tx.Commit(); err != nil {
		f.t.Fatal(err)
	}
	return ids
}

// Campaign adds a campaign (status new) of a program over a group.
func (f *Fixtures) Campaign(tenantID string, owner, program, group int64, cpm, tryAllowed, retryDelay int) int64 {
	return f.Exec(`INSERT INTO campaigns (tenant_id, created_by, program_id, group_id, cpm, try_allowed, retry_delay,
		created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)`, tenantID, owner, program, group, cpm, tryAllowed, retryDelay)
}

// Pairs runs a query returning (id, value) rows and maps id to value as text.
func (f *Fixtures) Pairs(query string, args ...any) map[int64]string {
	f.t.Helper()
	rows, err := f.db.Query(query, args...)
	if err != nil {
		f.t.Fatalf("fixture %q: %v", query, err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			f.t.Fatalf("fixture %q: %v", query, err)
		}
		out[id] = v
	}
	if err := rows.Err(); err != nil {
		f.t.Fatalf("fixture %q: %v", query, err)
	}
	return out
}
