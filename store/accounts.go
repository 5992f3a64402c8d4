package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

const accountCols = `accounts.account_id, accounts.tenant_id, accounts.created_by, accounts.created_by_crn, accounts.user_id, accounts.type,
	accounts.username, accounts.first_name, accounts.last_name, accounts.phone, accounts.email, accounts.address,
	accounts.active, accounts.created_at, accounts.updated_at,
	(SELECT group_concat(program_id) FROM account_programs WHERE account_programs.account_id = accounts.account_id)`

var accountList = listSpec{
	table: "accounts", idCol: "account_id",
	// A user sees the accounts it created and those assigned to it.
	ownerCond: "accounts.created_by = ? OR accounts.user_id = ?",
	fields: map[string]string{
		"account_id": "account_id", "type": "type", "username": "username", "first_name": "first_name",
		"last_name": "last_name", "phone": "phone", "email": "email", "address": "address", "active": "active",
		"user_id": "user_id", "created_by": "created_by",
	},
}

// Where each sealed account credential lives, for the seal's additional data.
const (
	sealAccountPasswd = "accounts.passwd_sealed"
	sealAccountPin    = "accounts.pin_sealed"
)

func scanAccount(r rowScanner) (dialer.Account, error) {
	var a dialer.Account
	var user sql.NullInt64
	var programs sql.NullString
	err := r.Scan(&a.ID, &a.TenantID, &a.CreatedBy, creatorCRN{&a.CreatedByCRN, &a.CreatedBy}, &user, &a.Type, &a.Username, &a.FirstName, &a.LastName,
		&a.Phone, &a.Email, &a.Address, &a.Active, &a.CreatedAt, &a.UpdatedAt, &programs)
	if err != nil {
		return a, err
	}
	a.UserID = idPtr(user)
	a.Programs, err = joinIDs(programs)
	return a, err
}

// accountOwners loads who may see an account, inside a transaction, and
// checks scope against it: not found in another tenant, forbidden when
// neither created by nor assigned to scope's user.
func accountOwners(ctx context.Context, q querier, scope dialer.Scope, id int64) error {
	var a dialer.Account
	var user sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT created_by, user_id FROM accounts WHERE tenant_id = ? AND account_id = ?`,
		scope.TenantID, id).Scan(&a.CreatedBy, &user)
	if errors.Is(err, sql.ErrNoRows) {
		return dialer.NotFound("account")
	}
	if err != nil {
		return fmt.Errorf("store: account %d: %w", id, err)
	}
	a.UserID = idPtr(user)
	if !a.VisibleIn(scope) {
		return dialer.Forbidden("this account belongs to someone else")
	}
	return nil
}

// accountIdentity refuses a second account of the same type with the same
// identity in a tenant: extension username, DID number or email address.
func accountIdentity(ctx context.Context, tx *sql.Tx, a *dialer.Account) error {
	var col, val string
	switch a.Type {
	case dialer.AccountExtension:
		col, val = "username", a.Username
	case dialer.AccountDID:
		col, val = "phone", a.Phone
	case dialer.AccountEmail:
		col, val = "email", a.Email
	default:
		return nil
	}
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE tenant_id = ? AND type = ? AND `+col+` = ? COLLATE NOCASE
		AND account_id != ?`, a.TenantID, a.Type, val, a.ID).Scan(&n)
	if err != nil {
		return fmt.Errorf("store: account identity: %w", err)
	}
	if n > 0 {
		return dialer.Conflict("another " + a.Type + " account has " + col + " " + val)
	}
	return nil
}

// CreateAccount stores a validated account with its secrets sealed. The
// account starts unassigned (user_id null) and subscribed to nothing.
// a.TenantID and a.CreatedBy must be set.
func (db *DB) CreateAccount(ctx context.Context, a dialer.Account, s dialer.AccountSecrets) (int64, error) {
	passwd, pin, err := db.sealAccountSecrets(a.TenantID, s)
	if err != nil {
		return 0, err
	}
	var id int64
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if err := accountIdentity(ctx, tx, &a); err != nil {
			return err
		}
		now := time.Now().Unix()
		var err error
		id, err = insertRow(ctx, tx, "account", `INSERT INTO accounts (tenant_id, created_by, created_by_crn, type, username, passwd_sealed, pin_sealed,
			first_name, last_name, phone, email, address, active, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.TenantID, a.CreatedBy, a.CreatedByCRN, a.Type, a.Username, passwd.String, pin.String, a.FirstName, a.LastName, a.Phone,
			a.Email, a.Address, a.Active, now, now)
		return err
	})
	return id, err
}

// sealAccountSecrets seals the secrets that are set; an unset one comes
// back invalid (leave the column as it is).
func (db *DB) sealAccountSecrets(tenantID string, s dialer.AccountSecrets) (passwd, pin sql.NullString, err error) {
	if passwd, err = db.sealSet(s.Passwd, sealAccountPasswd, tenantID); err != nil {
		return passwd, pin, err
	}
	pin, err = db.sealSet(s.Pin, sealAccountPin, tenantID)
	return passwd, pin, err
}

// Account returns an account visible in scope, with its subscriptions.
func (db *DB) Account(ctx context.Context, scope dialer.Scope, id int64) (dialer.Account, error) {
	a, err := getRow(ctx, db.r, "account", "accounts", "account_id", accountCols, scope.TenantID, id, scanAccount)
	if err != nil {
		return a, err
	}
	if !a.VisibleIn(scope) {
		return dialer.Account{}, dialer.Forbidden("this account belongs to someone else")
	}
	return a, nil
}

// Accounts lists the accounts in scope.
func (db *DB) Accounts(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Account, error) {
	return list(ctx, db, accountList, accountCols, scope, q, scanAccount)
}

// UpdateAccount saves the client-settable fields of a validated account and
// the secrets that are set. Its owners and subscriptions are changed
// through their own methods.
func (db *DB) UpdateAccount(ctx context.Context, scope dialer.Scope, a dialer.Account, s dialer.AccountSecrets) error {
	passwd, pin, err := db.sealAccountSecrets(scope.TenantID, s)
	if err != nil {
		return err
	}
	a.TenantID = scope.TenantID
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := accountOwners(ctx, tx, scope, a.ID); err != nil {
			return err
		}
		if err := accountIdentity(ctx, tx, &a); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE accounts SET type = ?, username = ?, first_name = ?, last_name = ?, phone = ?,
			email = ?, address = ?, active = ?, passwd_sealed = COALESCE(?, passwd_sealed), pin_sealed = COALESCE(?, pin_sealed),
			updated_at = ? WHERE tenant_id = ? AND account_id = ?`,
			a.Type, a.Username, a.FirstName, a.LastName, a.Phone, a.Email, a.Address, a.Active, passwd, pin,
			time.Now().Unix(), a.TenantID, a.ID)
		if err != nil {
			return fmt.Errorf("store: update account: %w", err)
		}
		return nil
	})
}

// DeleteAccount removes an account visible in scope with its settings and
// subscriptions. An account a program receives for cannot go: a conflict.
func (db *DB) DeleteAccount(ctx context.Context, scope dialer.Scope, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := accountOwners(ctx, tx, scope, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE tenant_id = ? AND account_id = ?`, scope.TenantID, id)
		if isForeignKeyViolation(err) {
			return &dialer.Error{Code: dialer.CodeConflict, Message: "the account is used by a program", Err: err}
		}
		if err != nil {
			return fmt.Errorf("store: delete account: %w", err)
		}
		return nil
	})
}

// SetAccountProgram subscribes (on) or unsubscribes an account to a
// program; both must be visible in scope. Either is idempotent.
func (db *DB) SetAccountProgram(ctx context.Context, scope dialer.Scope, accountID, programID int64, on bool) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := accountOwners(ctx, tx, scope, accountID); err != nil {
			return err
		}
		var createdBy int64
		err := tx.QueryRowContext(ctx, `SELECT created_by FROM programs WHERE tenant_id = ? AND program_id = ?`,
			scope.TenantID, programID).Scan(&createdBy)
		if errors.Is(err, sql.ErrNoRows) {
			return dialer.NotFound("program")
		}
		if err != nil {
			return fmt.Errorf("store: subscribe: %w", err)
		}
		if !owned(scope, createdBy) {
			return dialer.Forbidden("this program belongs to someone else")
		}
		if on {
			_, err = tx.ExecContext(ctx, `INSERT OR IGNORE INTO account_programs (tenant_id, account_id, program_id) VALUES (?, ?, ?)`,
				scope.TenantID, accountID, programID)
		} else {
			_, err = tx.ExecContext(ctx, `DELETE FROM account_programs WHERE account_id = ? AND program_id = ?`, accountID, programID)
		}
		if err != nil {
			return fmt.Errorf("store: subscribe: %w", err)
		}
		return touchAccount(ctx, tx, accountID)
	})
}

// ClearAccountPrograms unsubscribes an account from every program.
func (db *DB) ClearAccountPrograms(ctx context.Context, scope dialer.Scope, accountID int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := accountOwners(ctx, tx, scope, accountID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM account_programs WHERE account_id = ?`, accountID); err != nil {
			return fmt.Errorf("store: clear subscriptions: %w", err)
		}
		return touchAccount(ctx, tx, accountID)
	})
}

// AssignAccount gives an account visible in scope to a user of the same
// tenant, or frees it when userID is 0. A non-admin scope may assign only to
// itself or to users it created.
func (db *DB) AssignAccount(ctx context.Context, scope dialer.Scope, accountID, userID int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := accountOwners(ctx, tx, scope, accountID); err != nil {
			return err
		}
		var user sql.NullInt64
		if userID != 0 {
			var createdBy int64
			err := tx.QueryRowContext(ctx, `SELECT created_by FROM users WHERE tenant_id = ? AND user_id = ?`,
				scope.TenantID, userID).Scan(&createdBy)
			if errors.Is(err, sql.ErrNoRows) {
				return dialer.NotFound("user")
			}
			if err != nil {
				return fmt.Errorf("store: assign account: %w", err)
			}
			if scope.OwnerID != 0 && userID != scope.OwnerID && createdBy != scope.OwnerID {
				return dialer.Forbidden("you may assign an account only to yourself or to a user you created")
			}
			user = sql.NullInt64{Int64: userID, Valid: true}
		}
		_, err := tx.ExecContext(ctx, `UPDATE accounts SET user_id = ?, updated_at = ? WHERE tenant_id = ? AND account_id = ?`,
			user, time.Now().Unix(), scope.TenantID, accountID)
		if err != nil {
			return fmt.Errorf("store: assign account: %w", err)
		}
		return nil
	})
}

func touchAccount(ctx context.Context, tx *sql.Tx, accountID int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET updated_at = ? WHERE account_id = ?`, time.Now().Unix(), accountID); err != nil {
		return fmt.Errorf("store: touch account: %w", err)
	}
	return nil
}

// AccountSetting returns the value of one setting of an account visible in scope.
func (db *DB) AccountSetting(ctx context.Context, scope dialer.Scope, accountID int64, name string) (string, error) {
	if err := accountOwners(ctx, db.r, scope, accountID); err != nil {
		return "", err
	}
	var value string
	err := db.r.QueryRowContext(ctx, `SELECT value FROM account_settings WHERE account_id = ? AND name = ?`, accountID, name).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", dialer.NotFound("setting")
	}
	if err != nil {
		return "", fmt.Errorf("store: account setting: %w", err)
	}
	return value, nil
}

// SetAccountSetting creates or replaces a validated setting. An account
// holds at most dialer.MaxAccountSettings settings.
func (db *DB) SetAccountSetting(ctx context.Context, scope dialer.Scope, accountID int64, name, value string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := accountOwners(ctx, tx, scope, accountID); err != nil {
			return err
		}
		var others int
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM account_settings WHERE account_id = ? AND name != ?`,
			accountID, name).Scan(&others)
		if err != nil {
			return fmt.Errorf("store: set account setting: %w", err)
		}
		if others >= dialer.MaxAccountSettings {
			return dialer.Conflict(fmt.Sprintf("an account holds at most %d settings", dialer.MaxAccountSettings))
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO account_settings (tenant_id, account_id, name, value) VALUES (?, ?, ?, ?)
			ON CONFLICT (account_id, name) DO UPDATE SET value = excluded.value`, scope.TenantID, accountID, name, value)
		if err != nil {
			return fmt.Errorf("store: set account setting: %w", err)
		}
		return nil
	})
}

// DeleteAccountSetting removes one setting; a missing one is not found.
func (db *DB) DeleteAccountSetting(ctx context.Context, scope dialer.Scope, accountID int64, name string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := accountOwners(ctx, tx, scope, accountID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM account_settings WHERE account_id = ? AND name = ?`, accountID, name)
		if err != nil {
			return fmt.Errorf("store: delete account setting: %w", err)
		}
		return mustAffect(res, "setting")
	})
}

// AccountCredentials returns an account's identity with its credentials
// unsealed, for a gateway that registers or authenticates the endpoint. The
// API never calls it.
func (db *DB) AccountCredentials(ctx context.Context, tenantID string, accountID int64) (dialer.AccountCredentials, error) {
	c := dialer.AccountCredentials{AccountID: accountID}
	var passwd, pin string
	err := db.r.QueryRowContext(ctx, `SELECT type, username, phone, email, passwd_sealed, pin_sealed FROM accounts
		WHERE tenant_id = ? AND account_id = ?`, tenantID, accountID).Scan(&c.Type, &c.Username, &c.Phone, &c.Email, &passwd, &pin)
	if errors.Is(err, sql.ErrNoRows) {
		return c, dialer.NotFound("account")
	}
	if err != nil {
		return c, fmt.Errorf("store: account credentials: %w", err)
	}
	if c.Passwd, err = db.seal.unseal(passwd, sealAAD(sealAccountPasswd, tenantID)); err != nil {
		return dialer.AccountCredentials{}, fmt.Errorf("store: account %d passwd: %w", accountID, err)
	}
	if c.Pin, err = db.seal.unseal(pin, sealAAD(sealAccountPin, tenantID)); err != nil {
		return dialer.AccountCredentials{}, fmt.Errorf("store: account %d pin: %w", accountID, err)
	}
	return c, nil
}
