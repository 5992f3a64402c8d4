package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

const memberCols = `tenant_id, user_id, role, created_ms, modified_ms, created_by, modified_by, version`

func scanMember(r rowScanner) (dialer.Member, error) {
	var m dialer.Member
	var created, modified int64
	err := r.Scan(&m.TenantID, &m.UserID, &m.Role, &created, &modified, &m.CreatedBy, &m.ModifiedBy, &m.Version)
	m.CreatedAt, m.ModifiedAt = time.UnixMilli(created).UTC(), time.UnixMilli(modified).UTC()
	return m, err
}

// upsertMember adds m or changes its role (a change by m.CreatedBy at
// m.CreatedAt moves the version on), refusing to demote the last owner.
func upsertMember(ctx context.Context, tx *sql.Tx, m dialer.Member) (dialer.Member, error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE user_id = ?`, m.UserID).Scan(&n); err != nil {
		return m, fmt.Errorf("store: member: %w", err)
	}
	if n == 0 {
		return m, dialer.NotFound("user")
	}
	if m.Role != dialer.RoleAccountOwner {
		if err := refuseLastOwner(ctx, tx, m.TenantID, m.UserID); err != nil {
			return m, err
		}
	}
	at := m.CreatedAt.UnixMilli()
	_, err := tx.ExecContext(ctx, `INSERT INTO account_members (tenant_id, user_id, role, created_ms, modified_ms, created_by, modified_by)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = excluded.role, modified_ms = excluded.modified_ms,
			modified_by = excluded.modified_by, version = version + 1 WHERE role != excluded.role`,
		m.TenantID, m.UserID, m.Role, at, at, m.CreatedBy, m.CreatedBy)
	if err != nil {
		return m, fmt.Errorf("store: member: %w", err)
	}
	return scanMember(tx.QueryRowContext(ctx, `SELECT `+memberCols+` FROM account_members WHERE tenant_id = ? AND user_id = ?`, m.TenantID, m.UserID))
}

// refuseLastOwner refuses to take the owner role from userID when it is
// the tenant's only owner. A tenant made without an owner has none to
// lose: the platform admin and its own admins manage it.
func refuseLastOwner(ctx context.Context, tx *sql.Tx, tenantID string, userID int64) error {
	var mine, owners int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FILTER (WHERE user_id = ?), COUNT(*) FROM account_members
		WHERE tenant_id = ? AND role = ?`, userID, tenantID, dialer.RoleAccountOwner).Scan(&mine, &owners)
	if err != nil {
		return fmt.Errorf("store: count owners: %w", err)
	}
	if mine == 1 && owners == 1 {
		return dialer.Forbidden(dialer.ErrLastOwner)
	}
	return nil
}

// UpsertMember adds a user to the tenant's members with m.Role or changes
// its role; m.CreatedAt and m.CreatedBy say when and who. An unknown user
// is not found; demoting the last owner is forbidden (dialer.ErrLastOwner).
func (db *DB) UpsertMember(ctx context.Context, m dialer.Member) (dialer.Member, error) {
	m.CreatedAt = m.CreatedAt.UTC().Truncate(time.Millisecond)
	var out dialer.Member
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = upsertMember(ctx, tx, m)
		return err
	})
	return out, err
}

// Members lists a tenant's members, oldest first.
func (db *DB) Members(ctx context.Context, tenantID string) ([]dialer.Member, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+memberCols+` FROM account_members WHERE tenant_id = ? ORDER BY created_ms, user_id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: members: %w", err)
	}
	out := []dialer.Member{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: members: %w", err)
		}
		out = append(out, m)
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return nil, fmt.Errorf("store: members: %w", err)
	}
	return out, nil
}

// Member returns a user's membership of a tenant; not found when it has none.
func (db *DB) Member(ctx context.Context, tenantID string, userID int64) (dialer.Member, error) {
	m, err := scanMember(db.r.QueryRowContext(ctx, `SELECT `+memberCols+` FROM account_members WHERE tenant_id = ? AND user_id = ?`, tenantID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return m, dialer.NotFound("member")
	}
	if err != nil {
		return m, fmt.Errorf("store: member: %w", err)
	}
	return m, nil
}

// DeleteMember removes a membership; the tenant's last owner cannot be
// removed (forbidden, dialer.ErrLastOwner).
func (db *DB) DeleteMember(ctx context.Context, tenantID string, userID int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := refuseLastOwner(ctx, tx, tenantID, userID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM account_members WHERE tenant_id = ? AND user_id = ?`, tenantID, userID)
		if err != nil {
			return fmt.Errorf("store: delete member: %w", err)
		}
		return mustAffect(res, "member")
	})
}
