package store

import (
	"context"
	"crypto/rand"
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
		now := time.Now().Unix()
		tid := rand.Text()[:22]
		if _, err := tx.ExecContext(ctx, `INSERT INTO tenants (tenant_id, name, type, is_default, created_at, updated_at)
			VALUES (?, 'default', 'org', 1, ?, ?)`, tid, now, now); err != nil {
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
	var v dialer.Invalid
	if name == "" {
		v.Add("name", "required")
	}
	if typ != "org" && typ != "individual" {
		v.Add("type", "must be org or individual")
	}
	if err := v.Err(); err != nil {
		return dialer.Tenant{}, err
	}
	now := time.Now()
	t := dialer.Tenant{ID: rand.Text()[:22], Name: name, Type: typ, CreatedAt: now.UTC().Truncate(time.Second), Version: 1}
	_, err := db.w.ExecContext(ctx, `INSERT INTO tenants (tenant_id, name, type, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.Name, t.Type, now.Unix(), now.Unix())
	if err != nil {
		return dialer.Tenant{}, fmt.Errorf("store: create tenant: %w", err)
	}
	return t, nil
}
