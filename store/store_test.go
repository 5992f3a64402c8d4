package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// openTest opens a fresh store in a temporary directory.
func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "dialerd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenSetsPragmas(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	for _, tc := range []struct{ sql, want string }{
		{"PRAGMA journal_mode", "wal"},
		{"PRAGMA foreign_keys", "1"},
		{"PRAGMA busy_timeout", "5000"},
		{"PRAGMA synchronous", "1"}, // NORMAL
	} {
		for name, pool := range map[string]*sql.DB{"writer": db.w, "reader": db.r} {
			var got string
			if err := pool.QueryRowContext(ctx, tc.sql).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("%s: %s = %s, want %s", name, tc.sql, got, tc.want)
			}
		}
	}
	if _, err := db.r.ExecContext(ctx, `INSERT INTO tenants (tenant_id, name, created_at, updated_at) VALUES ('x', 'x', 0, 0)`); err == nil {
		t.Fatal("the read pool accepted a write")
	}
	var every int
	if err := db.w.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&every); err != nil {
		t.Fatal(err)
	}
	if every != writerAutoCheckpoint {
		t.Errorf("writer: wal_autocheckpoint = %d, want %d (the checkpointer's job)", every, writerAutoCheckpoint)
	}
}

// The writer never checkpoints; the background checkpointer copies what it
// committed into the database file.
func TestBackgroundCheckpoint(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE ckpt_probe (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	const rows, size = 1000, 4096
	for range 10 {
		if err := db.tx(ctx, func(tx *sql.Tx) error {
			for range rows / 10 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO ckpt_probe (b) VALUES (randomblob(?))`, size); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The rows fill about 4 MiB of pages; the file grows when they are
	// checkpointed into it, within a few checkpointEvery.
	deadline := time.Now().Add(10*checkpointEvery + 5*time.Second)
	for {
		fi, err := os.Stat(db.Path())
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() >= rows*size {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("database file is %d bytes long after %v: nothing checkpointed", fi.Size(), 10*checkpointEvery)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMigrateFromEveryVersion opens a database left at each earlier schema
// version, with data in it, and checks the current binary migrates it.
func TestMigrateFromEveryVersion(t *testing.T) {
	ms, err := migrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	accounts := tenantAccountsVersion(t, ms)
	for k := 0; k < len(ms); k++ {
		path := filepath.Join(t.TempDir(), "dialerd.db")
		old, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		// Rebuild the file as of version k.
		old.Close()
		if err := rebuildAt(ctx, path, ms[:k]); err != nil {
			t.Fatalf("version %d: %v", k, err)
		}
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("open a database at version %d: %v", k, err)
		}
		var v int
		if err := db.r.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != len(ms) {
			t.Errorf("from version %d: migrated to %d, want %d", k, v, len(ms))
		}
		if k >= 1 {
			tenant, err := db.DefaultTenant(ctx)
			if err != nil {
				t.Errorf("from version %d: data lost: %v", k, err)
			}
			if k < accounts {
				checkRekeyed(t, db, tenant.ID)
			}
		}
		db.Close()
	}
}

// rebuildAt replaces path with a database migrated only through ms, with a
// bootstrapped tenant when the schema has one.
func rebuildAt(ctx context.Context, path string, ms []migration) error {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	w, err := sql.Open("sqlite", dsn(path, roleWriter))
	if err != nil {
		return err
	}
	w.SetMaxOpenConns(1)
	db := &DB{w: w, path: path}
	defer w.Close()
	if err := db.migrateTo(ctx, ms); err != nil {
		return err
	}
	switch {
	case hasMigration(ms, "_created_by_crn.sql"):
		_, err = db.Bootstrap(ctx, "admin", "$2a$10$invalidinvalidinvalidinvalidinvalidinvalidinvalidinval")
	case hasTenantAccounts(ms):
		// Bootstrap as dialerds between tenant accounts and creator CRNs did.
		_, err = w.ExecContext(ctx, `INSERT INTO tenants (tenant_id, name, type, is_default, created_at, updated_at,
			created_ms, modified_ms, created_by, modified_by) VALUES (?, 'default', 'org', 1, 1, 1, 1000, 1000, 'crn::system:bootstrap', 'crn::system:bootstrap');
			INSERT INTO users (tenant_id, username, password_hash, created_at, updated_at) VALUES (?, 'admin', 'x', 1, 1);
			INSERT INTO user_roles (tenant_id, user_id, role_id) SELECT tenant_id, user_id, 1 FROM users`, "BCDEFGHIJKLMNOPQRSTUVW", "BCDEFGHIJKLMNOPQRSTUVW")
	case len(ms) >= 1:
		// Bootstrap as dialerds before tenant accounts did, with their id.
		_, err = w.ExecContext(ctx, `INSERT INTO tenants (tenant_id, name, type, is_default, created_at, updated_at)
			VALUES (?, 'default', 'org', 1, 1700000000, 1700000000);
			INSERT INTO users (tenant_id, username, password_hash, created_at, updated_at) VALUES (?, 'admin', 'x', 1, 1);
			INSERT INTO user_roles (tenant_id, user_id, role_id) SELECT tenant_id, user_id, 1 FROM users`, legacyTenantID, legacyTenantID)
	}
	return err
}

// hasMigration reports whether ms include the migration named *suffix.
func hasMigration(ms []migration, suffix string) bool {
	for _, m := range ms {
		if strings.HasSuffix(m.name, suffix) {
			return true
		}
	}
	return false
}

// hasTenantAccounts reports whether ms include the tenant-accounts
// migration (after it, Bootstrap writes its columns).
func hasTenantAccounts(ms []migration) bool {
	for _, m := range ms {
		if strings.HasSuffix(m.name, "_tenant_accounts.sql") {
			return true
		}
	}
	return false
}

// tenantAccountsVersion is the version of the tenant-accounts migration.
func tenantAccountsVersion(t *testing.T, ms []migration) int {
	for _, m := range ms {
		if strings.HasSuffix(m.name, "_tenant_accounts.sql") {
			return m.version
		}
	}
	t.Fatal("no tenant-accounts migration")
	return 0
}

// legacyTenantID is a tenant id as dialerds before the tenant-accounts
// migration drew them.
const legacyTenantID = "ABCDEFGHIJKLMNOPQRSTUV"

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dialerd.db")
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(ctx, `INSERT INTO schema_version (version, name, applied_at) VALUES (?, 'from the future', 0)`, SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(ctx, path)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: err = %v, want ErrSchemaTooNew", err)
	}
}

func TestMigrationNamesMustBeSequential(t *testing.T) {
	for name, files := range map[string]fstest.MapFS{
		"gap":      {"migrations/0001_a.sql": {Data: []byte("")}, "migrations/0003_c.sql": {Data: []byte("")}},
		"bad name": {"migrations/first.sql": {Data: []byte("")}},
	} {
		if _, err := migrations(files); err == nil {
			t.Errorf("%s: migrations accepted", name)
		}
	}
}

func TestBootstrapOnce(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	created, err := db.Bootstrap(ctx, "admin", "hash")
	if err != nil || !created {
		t.Fatalf("first bootstrap: created=%v err=%v", created, err)
	}
	created, err = db.Bootstrap(ctx, "other", "hash")
	if err != nil || created {
		t.Fatalf("second bootstrap: created=%v err=%v, want nothing done", created, err)
	}
	c, err := db.UserByUsername(ctx, "ADMIN") // usernames are case-insensitive
	if err != nil {
		t.Fatal(err)
	}
	if _, admin := dialer.EffectivePermissions(c.User.Roles, c.User.Permissions); !admin {
		t.Errorf("bootstrapped user is not admin: roles %v", c.User.Roles)
	}
	if _, err := db.UserByUsername(ctx, "other"); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("second bootstrap created a user: %v", err)
	}
}

func TestUsersKeepAnAdminAndConflicts(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	if _, err := db.Bootstrap(ctx, "admin", "hash"); err != nil {
		t.Fatal(err)
	}
	admin, _ := db.UserByUsername(ctx, "admin")
	tid := admin.User.TenantID

	_, err := db.CreateUsers(ctx, []dialer.NewUser{{User: dialer.User{TenantID: tid, Username: "Admin", Active: 1}, Hash: "h"}})
	if !errors.Is(err, dialer.ErrConflict) {
		t.Errorf("duplicate username (other case): err = %v, want conflict", err)
	}
	if err := db.DeleteUser(ctx, tid, admin.User.ID); !errors.Is(err, dialer.ErrConflict) {
		t.Errorf("deleting the last admin: err = %v, want conflict", err)
	}
	if err := db.SetUserRole(ctx, tid, admin.User.ID, dialer.RoleAdmin, false); !errors.Is(err, dialer.ErrConflict) {
		t.Errorf("revoking the last admin role: err = %v, want conflict", err)
	}
	u := admin.User
	u.Active = 0
	if err := db.UpdateUser(ctx, u); !errors.Is(err, dialer.ErrConflict) {
		t.Errorf("deactivating the last admin: err = %v, want conflict", err)
	}
	// The failed changes changed nothing.
	again, _ := db.UserByUsername(ctx, "admin")
	if again.User.Active != 1 || len(again.User.Roles) != 1 {
		t.Errorf("a refused change was applied: %+v", again.User)
	}
}

func TestListFiltersAndScope(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	db.Bootstrap(ctx, "admin", "hash")
	admin, _ := db.UserByUsername(ctx, "admin")
	tid := admin.User.TenantID
	other, err := db.CreateTenant(ctx, "other", "org")
	if err != nil {
		t.Fatal(err)
	}
	users := []dialer.NewUser{
		{User: dialer.User{TenantID: tid, Username: "ann", FirstName: "Ann", Active: 1, CreatedBy: admin.User.ID}, Hash: "h"},
		{User: dialer.User{TenantID: tid, Username: "bob", FirstName: "Bob", Active: 1, CreatedBy: admin.User.ID}, Hash: "h"},
		{User: dialer.User{TenantID: other.ID, Username: "carl", FirstName: "Ann", Active: 1}, Hash: "h"},
	}
	ids, err := db.CreateUsers(ctx, users)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		scope dialer.Scope
		q     dialer.ListQuery
		want  []string
	}{
		{"tenant, all", dialer.Scope{TenantID: tid}, dialer.ListQuery{}, []string{"admin", "ann", "bob"}},
		{"filter", dialer.Scope{TenantID: tid}, dialer.ListQuery{Filters: map[string]string{"first_name": "Ann"}}, []string{"ann"}},
		{"page", dialer.Scope{TenantID: tid}, dialer.ListQuery{Limit: 1, Offset: 1}, []string{"ann"}},
		{"owner sees itself", dialer.Scope{TenantID: tid, OwnerID: ids[1]}, dialer.ListQuery{}, []string{"bob"}},
		{"creator sees its users", dialer.Scope{TenantID: tid, OwnerID: admin.User.ID}, dialer.ListQuery{}, []string{"admin", "ann", "bob"}},
		{"other tenant", dialer.Scope{TenantID: other.ID}, dialer.ListQuery{}, []string{"carl"}},
	} {
		got, err := db.Users(ctx, tc.scope, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var names []string
		for _, u := range got {
			names = append(names, u.Username)
		}
		if len(names) != len(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, names, tc.want)
			continue
		}
		for i := range names {
			if names[i] != tc.want[i] {
				t.Errorf("%s: got %v, want %v", tc.name, names, tc.want)
				break
			}
		}
	}
	_, err = db.Users(ctx, dialer.Scope{TenantID: tid}, dialer.ListQuery{Filters: map[string]string{"password_hash": "x"}})
	if !errors.Is(err, dialer.ErrInvalid) {
		t.Errorf("filter on a hidden column: err = %v, want invalid", err)
	}
	if _, err := db.User(ctx, tid, ids[2]); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("another tenant's user: err = %v, want not found", err)
	}
}

// checkRekeyed checks the tenant-accounts migration gave the legacy tenant a base62 id and
// moved its rows with it, leaving no foreign key dangling.
func checkRekeyed(t *testing.T, db *DB, id string) {
	t.Helper()
	ctx := context.Background()
	if id == legacyTenantID || !dialer.ValidTenantID(id) || strings.ToUpper(id) == id {
		t.Errorf("tenant id %q after the tenant-accounts migration, want a fresh mixed-case base62 id", id)
	}
	cred, err := db.UserByUsername(ctx, "admin")
	if err != nil || cred.User.TenantID != id {
		t.Errorf("admin after rekey: %+v, %v", cred.User, err)
	}
	var left int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM user_roles WHERE tenant_id = ?`, legacyTenantID).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d rows keep the old tenant id (%v)", left, err)
	}
	rows, err := db.r.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Error("foreign_key_check reports dangling rows after the rekey")
	}
}
