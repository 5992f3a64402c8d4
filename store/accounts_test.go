package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

func ptr[T any](v T) *T { return &v }

func TestAccountSecretsSealedAtRest(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	const passwd, pin = "ext-Password-99", "73519"
	a := dialer.Account{TenantID: w.tenant, CreatedBy: w.admin, Type: dialer.AccountExtension, Username: "1001", Active: 1}
	id, err := w.db.CreateAccount(ctx, a, dialer.AccountSecrets{Passwd: ptr(passwd), Pin: ptr(pin)})
	if err != nil {
		t.Fatal(err)
	}
	for col, plain := range map[string]string{"passwd_sealed": passwd, "pin_sealed": pin} {
		raw := w.rawColumn(t, "accounts", col, "account_id", id)
		if !strings.HasPrefix(raw, "v1:") || strings.Contains(raw, plain) {
			t.Errorf("%s stored as %q", col, raw)
		}
	}
	creds, err := w.db.AccountCredentials(ctx, w.tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	if creds.Passwd != passwd || creds.Pin != pin || creds.Username != "1001" || creds.Type != "extension" {
		t.Errorf("credentials %+v", creds)
	}
	// The PIN sealed for its column does not open as the password.
	rawPin := w.rawColumn(t, "accounts", "pin_sealed", "account_id", id)
	if _, err := w.db.w.Exec(`UPDATE accounts SET passwd_sealed = ? WHERE account_id = ?`, rawPin, id); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.AccountCredentials(ctx, w.tenant, id); !errors.Is(err, ErrSealBroken) {
		t.Errorf("pin moved into the password column: %v, want ErrSealBroken", err)
	}

	// Updating without secrets keeps them; a new password replaces only it.
	acc, err := w.db.Account(ctx, w.adminScope(), id)
	if err != nil {
		t.Fatal(err)
	}
	acc.FirstName = "Desk"
	if err := w.db.UpdateAccount(ctx, w.adminScope(), acc, dialer.AccountSecrets{Passwd: ptr("a-new-password")}); err != nil {
		t.Fatal(err)
	}
	creds, err = w.db.AccountCredentials(ctx, w.tenant, id)
	if err != nil || creds.Passwd != "a-new-password" || creds.Pin != pin {
		t.Errorf("after update: %+v, %v", creds, err)
	}
}

func TestAccountOwnershipAndIdentity(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mk := func(a dialer.Account) (int64, error) {
		a.TenantID, a.Active = w.tenant, 1
		if a.CreatedBy == 0 {
			a.CreatedBy = w.admin
		}
		return w.db.CreateAccount(ctx, a, dialer.AccountSecrets{})
	}
	did, err := mk(dialer.Account{Type: dialer.AccountDID, Phone: "+923001234567"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mk(dialer.Account{Type: dialer.AccountDID, Phone: "+923001234567", CreatedBy: w.user}); !errors.Is(err, dialer.ErrConflict) {
		t.Errorf("a second DID with the same number: %v, want conflict", err)
	}
	if _, err := mk(dialer.Account{Type: dialer.AccountExtension, Username: "1001", Phone: "+923001234567"}); err != nil {
		t.Errorf("an extension may share a DID's phone: %v", err)
	}

	// The user sees the account once it is assigned to it, and not before.
	if _, err := w.db.Account(ctx, w.userScope(), did); !errors.Is(err, dialer.ErrForbidden) {
		t.Errorf("unassigned: %v, want forbidden", err)
	}
	if err := w.db.AssignAccount(ctx, w.adminScope(), did, w.user); err != nil {
		t.Fatal(err)
	}
	acc, err := w.db.Account(ctx, w.userScope(), did)
	if err != nil || acc.UserID == nil || *acc.UserID != w.user {
		t.Fatalf("assigned: %+v, %v", acc, err)
	}
	list, _ := w.db.Accounts(ctx, w.userScope(), dialer.ListQuery{})
	if len(list) != 1 || list[0].ID != did {
		t.Errorf("the user lists %+v", list)
	}
	// The user may not give it to the admin, who it did not create.
	if err := w.db.AssignAccount(ctx, w.userScope(), did, w.admin); !errors.Is(err, dialer.ErrForbidden) {
		t.Errorf("user assigns to admin: %v, want forbidden", err)
	}
	if err := w.db.AssignAccount(ctx, w.adminScope(), did, w.stranger); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("assign to another tenant's user: %v, want not found", err)
	}
	if err := w.db.AssignAccount(ctx, w.userScope(), did, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.Account(ctx, w.userScope(), did); !errors.Is(err, dialer.ErrForbidden) {
		t.Errorf("freed: %v, want forbidden", err)
	}
	if _, err := w.db.Account(ctx, w.otherScope(), did); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("other tenant: %v, want not found", err)
	}
}

func TestAccountSettingsAndSubscriptions(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	id, err := w.db.CreateAccount(ctx, dialer.Account{TenantID: w.tenant, CreatedBy: w.user, Type: dialer.AccountEmail,
		Email: "desk@example.com", Active: 1}, dialer.AccountSecrets{})
	if err != nil {
		t.Fatal(err)
	}
	scope := w.userScope()
	for i := range dialer.MaxAccountSettings {
		if err := w.db.SetAccountSetting(ctx, scope, id, fmt.Sprintf("s%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.db.SetAccountSetting(ctx, scope, id, "one.more", "v"); !errors.Is(err, dialer.ErrConflict) {
		t.Errorf("setting beyond the limit: %v, want conflict", err)
	}
	if err := w.db.SetAccountSetting(ctx, scope, id, "s0", "replaced"); err != nil {
		t.Errorf("replacing at the limit: %v", err)
	}
	if v, err := w.db.AccountSetting(ctx, scope, id, "s0"); v != "replaced" || err != nil {
		t.Errorf("s0 = %q, %v", v, err)
	}
	if err := w.db.DeleteAccountSetting(ctx, scope, id, "nope"); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("delete a missing setting: %v", err)
	}
	if _, err := w.db.AccountSetting(ctx, w.otherScope(), id, "s0"); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("another tenant reads a setting: %v", err)
	}

	mine, err := w.db.CreateProgram(ctx, scope, dialer.Program{TenantID: w.tenant, CreatedBy: w.user, Name: "in",
		Type: dialer.ProgramReceiveEmail, AccountID: &id})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := w.db.CreateProgram(ctx, w.adminScope(), dialer.Program{TenantID: w.tenant, CreatedBy: w.admin, Name: "tts",
		Type: dialer.ProgramVoiceTTS, TTSText: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.db.SetAccountProgram(ctx, scope, id, mine, true); err != nil {
		t.Fatal(err)
	}
	if err := w.db.SetAccountProgram(ctx, scope, id, mine, true); err != nil {
		t.Errorf("subscribing twice: %v", err)
	}
	if err := w.db.SetAccountProgram(ctx, scope, id, theirs, true); !errors.Is(err, dialer.ErrForbidden) {
		t.Errorf("subscribe to the admin's program: %v, want forbidden", err)
	}
	if acc, _ := w.db.Account(ctx, scope, id); len(acc.Programs) != 1 || acc.Programs[0] != mine {
		t.Errorf("subscriptions %v", acc.Programs)
	}
	// The program receives for the account: the account cannot go.
	if err := w.db.DeleteAccount(ctx, scope, id); !errors.Is(err, dialer.ErrConflict) {
		t.Errorf("delete an account a program uses: %v, want conflict", err)
	}
	if err := w.db.DeleteProgram(ctx, scope, mine); err != nil {
		t.Fatal(err)
	}
	if err := w.db.DeleteAccount(ctx, scope, id); err != nil {
		t.Fatal(err)
	}
	var n int
	w.db.r.QueryRow(`SELECT COUNT(*) FROM account_settings WHERE account_id = ?`, id).Scan(&n)
	if n != 0 {
		t.Errorf("%d settings outlived their account", n)
	}
}

// BenchmarkAccountsPage lists a full default page of accounts, each with
// its subscriptions.
func BenchmarkAccountsPage(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "dialerd.db"), WithSealKey(testSealKey()))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.Bootstrap(ctx, "admin", "hash")
	tenant, _ := db.DefaultTenant(ctx)
	scope := dialer.Scope{TenantID: tenant.ID}
	prog, err := db.CreateProgram(ctx, scope, dialer.Program{TenantID: tenant.ID, Name: "p", Type: dialer.ProgramVoiceTTS, TTSText: "x"})
	if err != nil {
		b.Fatal(err)
	}
	for i := range dialer.DefaultPageSize {
		id, err := db.CreateAccount(ctx, dialer.Account{TenantID: tenant.ID, Type: dialer.AccountExtension, Username: fmt.Sprint(1000 + i), Active: 1},
			dialer.AccountSecrets{Passwd: ptr("password-123")})
		if err != nil {
			b.Fatal(err)
		}
		if err := db.SetAccountProgram(ctx, scope, id, prog, true); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		list, err := db.Accounts(ctx, scope, dialer.ListQuery{})
		if err != nil || len(list) != dialer.DefaultPageSize || len(list[0].Programs) != 1 {
			b.Fatal(len(list), err)
		}
	}
}
