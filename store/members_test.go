package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

func TestMembersKeepAnOwner(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	acc, err := db.CreateTenantAccount(ctx, dialer.TenantAccount{Name: "Acme", Type: "org", CreatedAt: time.Now(), CreatedBy: "crn::user:1"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := db.CreateUsers(ctx, []dialer.NewUser{
		{User: dialer.User{TenantID: acc.ID, Username: "ann", Active: 1}, Hash: "x"},
		{User: dialer.User{TenantID: acc.ID, Username: "ben", Active: 1}, Hash: "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ann, ben := ids[0], ids[1]
	member := func(user int64, role string) error {
		_, err := db.UpsertMember(ctx, dialer.Member{TenantID: acc.ID, UserID: user, Role: role, CreatedAt: time.Now(), CreatedBy: "crn::user:1"})
		return err
	}
	lastOwner := func(err error) bool {
		var de *dialer.Error
		return errors.As(err, &de) && de.Code == dialer.CodeForbidden && de.Message == dialer.ErrLastOwner
	}
	// An account without an owner has none to lose.
	if err := member(ben, dialer.RoleMerchantTerminal); err != nil {
		t.Fatalf("a terminal member of an ownerless account: %v", err)
	}
	if err := db.DeleteMember(ctx, acc.ID, ben); err != nil {
		t.Fatalf("removing a terminal member: %v", err)
	}
	if err := member(ann, dialer.RoleAccountOwner); err != nil {
		t.Fatal(err)
	}
	if err := member(ann, dialer.RoleMerchantTerminal); !lastOwner(err) {
		t.Errorf("demoting the last owner: %v", err)
	}
	if err := db.DeleteMember(ctx, acc.ID, ann); !lastOwner(err) {
		t.Errorf("removing the last owner: %v", err)
	}
	if err := member(ben, dialer.RoleAccountOwner); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteMember(ctx, acc.ID, ann); err != nil {
		t.Errorf("removing one of two owners: %v", err)
	}
	if err := member(424242, dialer.RoleAccountOwner); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("an unknown user as member: %v", err)
	}
	if _, err := db.CreateTenantAccount(ctx, dialer.TenantAccount{Name: "Bad", Type: "org", CreatedAt: time.Now()}, 424242); !errors.Is(err, dialer.ErrInvalid) {
		t.Errorf("an account with an unknown owner: %v", err)
	}
	list, err := db.Members(ctx, acc.ID)
	if err != nil || len(list) != 1 || list[0].UserID != ben || list[0].Version != 1 {
		t.Errorf("members %+v, %v", list, err)
	}
	n, _ := db.TenantAccounts(ctx)
	if len(n) != 1 {
		t.Errorf("%d accounts after a refused create, want 1", len(n))
	}
}

func TestAPIKeysByHash(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	acc, err := db.CreateTenantAccount(ctx, dialer.TenantAccount{Name: "Acme", Type: "org", CreatedAt: time.Now()}, 0)
	if err != nil {
		t.Fatal(err)
	}
	k, err := db.CreateAPIKey(ctx, dialer.APIKey{TenantID: acc.ID, Name: "K1", Role: dialer.RoleAccountOwner, CreatedAt: time.Now(), CreatedBy: "crn::user:1"}, "h1")
	if err != nil || !k.Enabled || k.Version != 1 {
		t.Fatalf("created %+v, %v", k, err)
	}
	if _, err := db.CreateAPIKey(ctx, dialer.APIKey{TenantID: acc.ID, Name: "k1", Role: dialer.RoleAccountOwner, CreatedAt: time.Now()}, "h2"); !errors.Is(err, dialer.ErrConflict) {
		t.Errorf("a second k1: %v", err)
	}
	got, stored, err := db.APIKeyByHash(ctx, "h1")
	if err != nil || got.ID != k.ID || stored != "h1" {
		t.Errorf("by hash %+v %q %v", got, stored, err)
	}
	if _, _, err := db.APIKeyByHash(ctx, "h2"); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("a refused key was stored: %v", err)
	}
	at := time.Now().Add(time.Hour)
	if err := db.TouchAPIKey(ctx, k.ID, at); err != nil {
		t.Fatal(err)
	}
	off, err := db.SetAPIKeyEnabled(ctx, acc.ID, "K1", false, "crn::user:2", at)
	if err != nil || off.Enabled || off.Version != 2 || off.ModifiedBy != "crn::user:2" || off.LastUsedAt.UnixMilli() != at.UnixMilli() {
		t.Errorf("disabled %+v, %v", off, err)
	}
	// Saying the same again changes nothing.
	if again, _ := db.SetAPIKeyEnabled(ctx, acc.ID, "K1", false, "crn::user:3", at); again.Version != 2 {
		t.Errorf("a repeated disable moved the version: %+v", again)
	}
	if _, err := db.SetAPIKeyEnabled(ctx, "AAAAAAAAAAAAAAAAAAAAAA", "K1", true, "x", at); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("another tenant's key: %v", err)
	}
}
