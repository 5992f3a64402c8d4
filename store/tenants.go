package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// Bootstrap prepares an empty store: it creates the default tenant and the
// admin user with the given password hash. It reports created=false and
// does nothing when the store already has a tenant.
func (db *DB) Bootstrap(ctx context.Context, adminUser, passwordHash string) (created bool, err error) {
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tenants`).Scan(&n); err != nil {
			return fmt.Errorf("store: count tenants: %w", err)
		}
		if n > 0 {
			return nil
		}
		at := time.Now()
		now := at.Unix()
		tid := dialer.NewTenantID()
		if _, err := tx.ExecContext(ctx, `INSERT INTO tenants (tenant_id, name, type, is_default, created_at, updated_at,
			created_ms, modified_ms, created_by, modified_by) VALUES (?, 'default', 'org', 1, ?, ?, ?, ?, 'crn::system:bootstrap', 'crn::system:bootstrap')`,
			tid, now, now, at.UnixMilli(), at.UnixMilli()); err != nil {
			return fmt.Errorf("store: create default tenant: %w", err)
		}
		u := dialer.User{TenantID: tid, Username: adminUser, Active: 1, Roles: []int64{dialer.RoleAdmin}}
		if _, err := insertUser(ctx, tx, &u, passwordHash, now); err != nil {
			return err
		}
		created = true
		return nil
	})
	return created, err
}

// DefaultTenant returns the tenant created by Bootstrap.
func (db *DB) DefaultTenant(ctx context.Context) (dialer.Tenant, error) {
	var t dialer.Tenant
	var created int64
	err := db.r.QueryRowContext(ctx, `SELECT tenant_id, name, type, version, created_at FROM tenants WHERE is_default = 1`).
		Scan(&t.ID, &t.Name, &t.Type, &t.Version, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return t, dialer.NotFound("default tenant")
	}
	if err != nil {
		return t, fmt.Errorf("store: default tenant: %w", err)
	}
	t.CreatedAt = time.Unix(created, 0).UTC()
	return t, nil
}

// CreateTenant adds a tenant with a fresh id.
func (db *DB) CreateTenant(ctx context.Context, name, typ string) (dialer.Tenant, error) {
	t, err := db.CreateTenantAccount(ctx, dialer.TenantAccount{Name: name, Type: typ, CreatedAt: time.Now(),
		CreatedBy: "crn::system:store"}, 0)
	if err != nil {
		return dialer.Tenant{}, err
	}
	return dialer.Tenant{ID: t.ID, Name: t.Name, Type: t.Type, CreatedAt: t.CreatedAt.Truncate(time.Second), Version: t.Version}, nil
}

// CreateTenantAccount adds a tenant with a fresh id, made at t.CreatedAt by
// t.CreatedBy, and makes the user owner (unless 0) its account owner.
// An owner that is no user is invalid, and nothing is created.
func (db *DB) CreateTenantAccount(ctx context.Context, t dialer.TenantAccount, owner int64) (dialer.TenantAccount, error) {
	var v dialer.Invalid
	dialer.ValidateTenantAccount(&t, &v)
	if err := v.Err(); err != nil {
		return t, err
	}
	t.ID = dialer.NewTenantID()
	t.CreatedAt = t.CreatedAt.UTC().Truncate(time.Millisecond)
	t.ModifiedAt, t.ModifiedBy, t.Version = t.CreatedAt, t.CreatedBy, 1
	err := db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tenants (tenant_id, name, type, created_at, updated_at, created_ms, modified_ms,
			created_by, modified_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.Name, t.Type, t.CreatedAt.Unix(), t.CreatedAt.Unix(), t.CreatedAt.UnixMilli(), t.CreatedAt.UnixMilli(), t.CreatedBy, t.CreatedBy)
		if err != nil {
			return fmt.Errorf("store: create tenant: %w", err)
		}
		if owner == 0 {
			return nil
		}
		m := dialer.Member{TenantID: t.ID, UserID: owner, Role: dialer.RoleAccountOwner, CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy}
		if _, err := upsertMember(ctx, tx, m); err != nil {
			if errors.Is(err, dialer.ErrNotFound) {
				return dialer.InvalidField("owner", "no such user")
			}
			return err
		}
		return nil
	})
	return t, err
}

const tenantCols = `tenant_id, name, type, created_ms, modified_ms, created_by, modified_by, version`

func scanTenant(r rowScanner) (dialer.TenantAccount, error) {
	var t dialer.TenantAccount
	var created, modified int64
	err := r.Scan(&t.ID, &t.Name, &t.Type, &created, &modified, &t.CreatedBy, &t.ModifiedBy, &t.Version)
	t.CreatedAt, t.ModifiedAt = time.UnixMilli(created).UTC(), time.UnixMilli(modified).UTC()
	return t, err
}

// TenantAccount returns a tenant; not found when there is none.
func (db *DB) TenantAccount(ctx context.Context, id string) (dialer.TenantAccount, error) {
	t, err := scanTenant(db.r.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE tenant_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, dialer.NotFound("account")
	}
	if err != nil {
		return t, fmt.Errorf("store: tenant: %w", err)
	}
	return t, nil
}

// TenantAccounts lists every tenant, oldest first.
func (db *DB) TenantAccounts(ctx context.Context) ([]dialer.TenantAccount, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+tenantCols+` FROM tenants ORDER BY created_ms, rowid`)
	if err != nil {
		return nil, fmt.Errorf("store: tenants: %w", err)
	}
	out := []dialer.TenantAccount{}
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: tenants: %w", err)
		}
		out = append(out, t)
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return nil, fmt.Errorf("store: tenants: %w", err)
	}
	return out, nil
}

// RenameTenant sets a tenant's name, records who changed it when, and
// moves its version on; it answers the tenant as stored.
func (db *DB) RenameTenant(ctx context.Context, id, name, by string, at time.Time) (dialer.TenantAccount, error) {
	at = at.UTC().Truncate(time.Millisecond)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tenants SET name = ?, modified_by = ?, modified_ms = ?, updated_at = ?,
			version = version + 1 WHERE tenant_id = ?`, name, by, at.UnixMilli(), at.Unix(), id)
		if err != nil {
			return fmt.Errorf("store: rename tenant: %w", err)
		}
		return mustAffect(res, "account")
	})
	if err != nil {
		return dialer.TenantAccount{}, err
	}
	return db.TenantAccount(ctx, id)
}
