package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
)

// Credentials are remembered between requests, and every write through
// the store ends what was remembered: each change below is seen by the
// very next read.
func TestCredentialsFollowEveryWrite(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	f := dialertest.NewFixtures(t, db.Path())
	tenant := f.Tenant("t")
	f.User(tenant, "admin", true) // the tenant keeps an active admin
	id := f.User(tenant, "u", false)
	read := func() dialer.Credentials {
		t.Helper()
		c, err := db.UserCredentials(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := read()
	if _, ok := db.creds.get(id); !ok {
		t.Fatal("a read was not remembered")
	}
	if again := read(); again.Epoch != first.Epoch || !slices.Equal(again.User.Roles, first.User.Roles) {
		t.Fatalf("remembered %+v, read %+v", again, first)
	}
	for _, tc := range []struct {
		name  string
		write func() error
		check func(dialer.Credentials) bool
	}{
		{"deactivated", func() error {
			u := first.User
			u.Active = 0
			return db.UpdateUser(ctx, u)
		}, func(c dialer.Credentials) bool { return c.User.Active == 0 }},
		{"password changed", func() error { return db.SetPassword(ctx, tenant, id, "new-hash") },
			func(c dialer.Credentials) bool { return c.Epoch != first.Epoch && c.Hash == "new-hash" }},
		{"made admin", func() error { return db.SetUserRole(ctx, tenant, id, dialer.RoleAdmin, true) },
			func(c dialer.Credentials) bool { return slices.Contains(c.User.Roles, dialer.RoleAdmin) }},
		{"granted a permission", func() error { return db.SetUserPermission(ctx, tenant, id, 1, true) },
			func(c dialer.Credentials) bool { return slices.Contains(c.User.Permissions, 1) }},
		{"renamed by a statement outside a transaction", func() error {
			_, err := db.w.ExecContext(ctx, `UPDATE users SET username = 'v' WHERE user_id = ?`, id)
			return err
		}, func(c dialer.Credentials) bool { return c.User.Username == "v" }},
		{"deleted", func() error { return db.DeleteUser(ctx, tenant, id) }, nil},
	} {
		read() // remembered before the write
		if err := tc.write(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.check == nil {
			if _, err := db.UserCredentials(ctx, id); err == nil {
				t.Errorf("%s: still read", tc.name)
			}
			continue
		}
		if c := read(); !tc.check(c) {
			t.Errorf("%s: read %+v", tc.name, c)
		}
	}
}

// An API key is remembered too, and disabling it ends that at once.
func TestAPIKeyFollowsEveryWrite(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	acc, err := db.CreateTenantAccount(ctx, dialer.TenantAccount{Name: "Acme", Type: "org", CreatedAt: time.Now()}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateAPIKey(ctx, dialer.APIKey{TenantID: acc.ID, Name: "K1", Role: dialer.RoleAccountOwner, CreatedAt: time.Now()}, "h1"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []bool{true, false, true} {
		k, _, err := db.APIKeyByHash(ctx, "h1") // remembered
		if err != nil || k.Enabled != want {
			t.Fatalf("key %+v %v, want enabled %v", k, err, want)
		}
		if _, err := db.SetAPIKeyEnabled(ctx, acc.ID, "K1", !want, "crn::user:1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := db.APIKeyByHash(ctx, "no-such"); !errors.Is(err, dialer.ErrNotFound) {
		t.Fatalf("an unknown hash: %v", err)
	}
}

// A read that raced a write is not remembered as newer than it is: the
// fence is taken before the read.
func TestFencedCache(t *testing.T) {
	var f writeFence
	c := newFencedCache[int64](&f, func(v int) int { return v })
	if _, err := c.read(1, func() (int, error) {
		f.committed() // a write commits while the read runs
		return 1, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.get(1); ok {
		t.Fatal("a read older than a write was taken as current")
	}
	if v, _ := c.read(1, func() (int, error) { return 2, nil }); v != 2 {
		t.Fatalf("read %d", v)
	}
	if v, ok := c.get(1); !ok || v != 2 {
		t.Fatalf("current read: %d %v", v, ok)
	}
	if _, err := c.read(3, func() (int, error) { return 0, dialer.NotFound("x") }); err == nil {
		t.Fatal("the error was lost")
	}
	if _, ok := c.get(3); ok {
		t.Fatal("a failed read was remembered")
	}
	for i := range int64(fencedCacheMax + 10) {
		c.read(100+i, func() (int, error) { return 0, nil })
	}
	if len(c.m) > fencedCacheMax {
		t.Fatalf("%d remembered, bound %d", len(c.m), fencedCacheMax)
	}
}
