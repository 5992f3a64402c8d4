package store

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// testSealKey is the seal key of the test stores.
func testSealKey() []byte { return bytes.Repeat([]byte{42}, SealKeySize) }

// world is a store with two tenants: in the first an admin and a plain
// user, in the second one admin.
type world struct {
	db                    *DB
	path                  string
	tenant, other         string
	admin, user, stranger int64
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dialerd.db")
	db, err := Open(ctx, path, WithSealKey(testSealKey()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Bootstrap(ctx, "admin", "hash"); err != nil {
		t.Fatal(err)
	}
	admin, err := db.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	other, err := db.CreateTenant(ctx, "other", "org")
	if err != nil {
		t.Fatal(err)
	}
	w := &world{db: db, path: path, tenant: admin.User.TenantID, other: other.ID, admin: admin.User.ID}
	ids, err := db.CreateUsers(ctx, []dialer.NewUser{
		{User: dialer.User{TenantID: w.tenant, Username: "ann", Active: 1, Roles: []int64{dialer.RoleUser}, CreatedBy: w.admin}, Hash: "h"},
		{User: dialer.User{TenantID: w.other, Username: "zed", Active: 1, Roles: []int64{dialer.RoleAdmin}}, Hash: "h"},
	})
	if err != nil {
		t.Fatal(err)
	}
	w.user, w.stranger = ids[0], ids[1]
	return w
}

func (w *world) adminScope() dialer.Scope { return dialer.Scope{TenantID: w.tenant} }
func (w *world) userScope() dialer.Scope  { return dialer.Scope{TenantID: w.tenant, OwnerID: w.user} }
func (w *world) otherScope() dialer.Scope { return dialer.Scope{TenantID: w.other} }

// rawColumn reads one column of one row as stored, bypassing the store.
func (w *world) rawColumn(t *testing.T, table, col, idCol string, id int64) string {
	t.Helper()
	var v string
	if err := w.db.r.QueryRow(`SELECT `+col+` FROM `+table+` WHERE `+idCol+` = ?`, id).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestProviderPasswordSealedAtRest(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	const secret = "trunk-Secret-4711"
	p := dialer.Provider{TenantID: w.tenant, CreatedBy: w.admin, Name: "trunk1", Host: "sip.example.com", Port: 5060,
		Username: "acct", DialString: "sofia/gateway/trunk1/{number}", Prefix: "00", Weight: 10, Type: "sip", Active: 1}
	id, err := w.db.CreateProvider(ctx, p, secret)
	if err != nil {
		t.Fatal(err)
	}
	raw := w.rawColumn(t, "providers", "password_sealed", "provider_id", id)
	if !strings.HasPrefix(raw, "v1:") || strings.Contains(raw, secret) {
		t.Fatalf("password stored as %q", raw)
	}
	route, err := w.db.ProviderRoute(ctx, w.tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	if route.Password != secret || route.Host != "sip.example.com" || route.Port != 5060 || route.Prefix != "00" ||
		route.DialString != p.DialString || route.Username != "acct" || route.Name != "trunk1" {
		t.Errorf("route %+v", route)
	}
	if _, err := w.db.ProviderRoute(ctx, w.other, id); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("route from another tenant: %v", err)
	}

	// An update without a password keeps it; "" clears it.
	got, err := w.db.Provider(ctx, w.adminScope(), id)
	if err != nil {
		t.Fatal(err)
	}
	got.Weight = 5
	if err := w.db.UpdateProvider(ctx, w.adminScope(), got, nil); err != nil {
		t.Fatal(err)
	}
	if r, _ := w.db.ProviderRoute(ctx, w.tenant, id); r.Password != secret {
		t.Errorf("an update without password changed it to %q", r.Password)
	}
	empty := ""
	if err := w.db.UpdateProvider(ctx, w.adminScope(), got, &empty); err != nil {
		t.Fatal(err)
	}
	if r, _ := w.db.ProviderRoute(ctx, w.tenant, id); r.Password != "" {
		t.Errorf("cleared password reads %q", r.Password)
	}
	if raw := w.rawColumn(t, "providers", "password_sealed", "provider_id", id); raw != "" {
		t.Errorf("cleared password stored as %q", raw)
	}
}

func TestProviderSealTamperAndKeys(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mk := func(tenant, name string) int64 {
		id, err := w.db.CreateProvider(ctx, dialer.Provider{TenantID: tenant, Name: name, Host: "10.0.0.1", Weight: 1, Type: "sip", Active: 1}, "pw-"+name)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a, b := mk(w.tenant, "a"), mk(w.other, "b")

	// A sealed value moved to another tenant's row does not open there.
	if _, err := w.db.w.Exec(`UPDATE providers SET password_sealed = (SELECT password_sealed FROM providers WHERE provider_id = ?) WHERE provider_id = ?`, a, b); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.ProviderRoute(ctx, w.other, b); !errors.Is(err, ErrSealBroken) {
		t.Errorf("a seal moved across tenants: %v, want ErrSealBroken", err)
	}
	// One changed character breaks it.
	raw := w.rawColumn(t, "providers", "password_sealed", "provider_id", a)
	flipped := raw[:10] + string(raw[10]^1) + raw[11:]
	if _, err := w.db.w.Exec(`UPDATE providers SET password_sealed = ? WHERE provider_id = ?`, flipped, a); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.ProviderRoute(ctx, w.tenant, a); !errors.Is(err, ErrSealBroken) {
		t.Errorf("tampered seal: %v, want ErrSealBroken", err)
	}
	if _, err := w.db.w.Exec(`UPDATE providers SET password_sealed = ? WHERE provider_id = ?`, raw, a); err != nil {
		t.Fatal(err)
	}
	w.db.Close()

	// Reopened with the same key it opens; with another key or none it does not.
	for _, tc := range []struct {
		name string
		opts []Option
		want error
	}{
		{"same key", []Option{WithSealKey(testSealKey())}, nil},
		{"other key", []Option{WithSealKey(bytes.Repeat([]byte{1}, SealKeySize))}, ErrSealBroken},
		{"no key", nil, ErrNoSealKey},
	} {
		db, err := Open(ctx, w.path, tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		r, err := db.ProviderRoute(ctx, w.tenant, a)
		if !errors.Is(err, tc.want) || (tc.want == nil && r.Password != "pw-a") {
			t.Errorf("%s: route %q, %v; want %v", tc.name, r.Password, err, tc.want)
		}
		db.Close()
	}
}

func TestProviderWithoutKey(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	db.Bootstrap(ctx, "admin", "hash")
	tenant, _ := db.DefaultTenant(ctx)
	p := dialer.Provider{TenantID: tenant.ID, Name: "p", Host: "h", Weight: 1, Type: "sip", Active: 1}
	if _, err := db.CreateProvider(ctx, p, "secret-pw"); !errors.Is(err, ErrNoSealKey) {
		t.Errorf("a password was accepted without a seal key: %v", err)
	}
	var n int
	db.r.QueryRow(`SELECT COUNT(*) FROM providers`).Scan(&n)
	if n != 0 {
		t.Errorf("%d providers stored", n)
	}
	if _, err := db.CreateProvider(ctx, p, ""); err != nil {
		t.Errorf("a provider without password needs no key: %v", err)
	}
}

func TestProviderScopeAndNames(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p := dialer.Provider{TenantID: w.tenant, CreatedBy: w.admin, Name: "Trunk", Host: "h", Weight: 1, Type: "sip", Active: 1}
	id, err := w.db.CreateProvider(ctx, p, "")
	if err != nil {
		t.Fatal(err)
	}
	p.Name = "trunk"
	if _, err := w.db.CreateProvider(ctx, p, ""); !errors.Is(err, dialer.ErrConflict) {
		t.Errorf("a duplicate name (case aside): %v, want conflict", err)
	}
	p.TenantID = w.other
	if _, err := w.db.CreateProvider(ctx, p, ""); err != nil {
		t.Errorf("the same name in another tenant: %v", err)
	}
	if _, err := w.db.Provider(ctx, w.userScope(), id); !errors.Is(err, dialer.ErrForbidden) {
		t.Errorf("another user's provider: %v, want forbidden", err)
	}
	if _, err := w.db.Provider(ctx, w.otherScope(), id); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("another tenant's provider: %v, want not found", err)
	}
	if err := w.db.DeleteProvider(ctx, w.userScope(), id); !errors.Is(err, dialer.ErrForbidden) {
		t.Errorf("delete another user's provider: %v, want forbidden", err)
	}
	list, err := w.db.Providers(ctx, w.userScope(), dialer.ListQuery{})
	if err != nil || len(list) != 0 {
		t.Errorf("a user lists %v, %v", list, err)
	}
	list, err = w.db.Providers(ctx, w.adminScope(), dialer.ListQuery{Filters: map[string]string{"name": "Trunk"}})
	if err != nil || len(list) != 1 || list[0].ID != id {
		t.Errorf("admin lists %v, %v", list, err)
	}
	if _, err := w.db.Providers(ctx, w.adminScope(), dialer.ListQuery{Filters: map[string]string{"password_sealed": "x"}}); !errors.Is(err, dialer.ErrInvalid) {
		t.Errorf("filter on the sealed column: %v, want invalid", err)
	}
	if err := w.db.DeleteProvider(ctx, w.adminScope(), id); err != nil {
		t.Fatal(err)
	}
	if err := w.db.DeleteProvider(ctx, w.adminScope(), id); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
}

// BenchmarkProviderRoute is what a gateway pays per attempt to resolve its
// provider, password unsealed.
func BenchmarkProviderRoute(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "dialerd.db"), WithSealKey(testSealKey()))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.Bootstrap(ctx, "admin", "hash")
	tenant, _ := db.DefaultTenant(ctx)
	id, err := db.CreateProvider(ctx, dialer.Provider{TenantID: tenant.ID, Name: "t", Host: "10.0.0.1", Weight: 1, Type: "sip", Active: 1}, "secret-pw")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if r, err := db.ProviderRoute(ctx, tenant.ID, id); err != nil || r.Password != "secret-pw" {
			b.Fatal(r, err)
		}
	}
}
