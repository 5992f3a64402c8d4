package store

import (
	"context"
	"slices"
	"testing"

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

// A read that raced a write is not remembered as newer than it is: the
// generation is taken before the read.
func TestCredentialsCacheGeneration(t *testing.T) {
	var c credCache
	g := c.gen.Load()
	c.committed() // a write commits while the read runs
	c.put(1, dialer.Credentials{Epoch: 1}, g)
	if _, ok := c.get(1); ok {
		t.Fatal("a read older than a write was taken as current")
	}
	c.put(1, dialer.Credentials{Epoch: 2}, c.gen.Load())
	got, ok := c.get(1)
	if !ok || got.Epoch != 2 {
		t.Fatalf("current read: %+v %v", got, ok)
	}
	for i := range int64(credCacheMax + 10) {
		c.put(100+i, dialer.Credentials{}, c.gen.Load())
	}
	if len(c.m) > credCacheMax {
		t.Fatalf("%d remembered, bound %d", len(c.m), credCacheMax)
	}
}
