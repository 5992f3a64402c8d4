package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

const userCols = `users.user_id, users.tenant_id, users.username, users.first_name, users.last_name, users.phone,
	users.email, users.address, users.company, users.country_id, users.timezone_id, users.active,
	users.created_by, users.created_by_crn, users.created_at, users.updated_at,
	(SELECT group_concat(role_id) FROM user_roles WHERE user_roles.user_id = users.user_id),
	(SELECT group_concat(permission_id) FROM user_permissions WHERE user_permissions.user_id = users.user_id)`

var userList = listSpec{
	table: "users", idCol: "user_id",
	// A user sees itself and the users it created.
	ownerCond: "users.user_id = ? OR users.created_by = ?",
	fields: map[string]string{
		"user_id": "user_id", "username": "username", "first_name": "first_name", "last_name": "last_name",
		"phone": "phone", "email": "email", "address": "address", "company": "company",
		"country_id": "country_id", "timezone_id": "timezone_id", "active": "active",
	},
}

type rowScanner interface{ Scan(...any) error }

func scanUser(r rowScanner) (dialer.User, error) { return scanUserWith(r) }

func insertUser(ctx context.Context, tx *sql.Tx, u *dialer.User, hash string, now int64) (int64, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO users (tenant_id, username, password_hash, first_name, last_name, phone,
		email, address, company, country_id, timezone_id, active, created_by, created_by_crn, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.TenantID, u.Username, hash, u.FirstName, u.LastName, u.Phone, u.Email, u.Address, u.Company,
		u.CountryID, u.TimezoneID, u.Active, u.CreatedBy, u.CreatedByCRN, now, now)
	if isUniqueViolation(err) {
		return 0, dialer.Conflict("username " + u.Username + " is taken")
	}
	if err != nil {
		return 0, fmt.Errorf("store: insert user: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("store: insert user: %w", err)
	}
	u.ID = id
	for _, r := range u.Roles {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO user_roles (tenant_id, user_id, role_id) VALUES (?, ?, ?)`, u.TenantID, id, r); err != nil {
			return 0, fmt.Errorf("store: grant role: %w", err)
		}
	}
	for _, p := range u.Permissions {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO user_permissions (tenant_id, user_id, permission_id) VALUES (?, ?, ?)`, u.TenantID, id, p); err != nil {
			return 0, fmt.Errorf("store: grant permission: %w", err)
		}
	}
	return id, nil
}

// CreateUsers creates users in one transaction: all or none. Each user's
// TenantID must be set; CreatedBy records who created it.
func (db *DB) CreateUsers(ctx context.Context, users []dialer.NewUser) ([]int64, error) {
	ids := make([]int64, 0, len(users))
	now := time.Now().Unix()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for i := range users {
			id, err := insertUser(ctx, tx, &users[i].User, users[i].Hash, now)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// User returns a user of the tenant with its roles and granted permissions.
func (db *DB) User(ctx context.Context, tenantID string, id int64) (dialer.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE tenant_id = ? AND user_id = ?`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, dialer.NotFound("user")
	}
	if err != nil {
		return u, fmt.Errorf("store: user %d: %w", id, err)
	}
	return u, nil
}

// idList scans a group_concat of ids (a user's roles or permissions, read
// in the same statement as the user) into a sorted list, empty for NULL.
type idList struct{ dst *[]int64 }

func (l idList) Scan(src any) error {
	*l.dst = []int64{}
	var s string
	switch v := src.(type) {
	case nil:
		return nil
	case string:
		s = v
	case []byte:
		s = string(v)
	default: // group_concat gives text or NULL
		return fmt.Errorf("store: id list of %T", src)
	}
	for f := range strings.SplitSeq(s, ",") {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return fmt.Errorf("store: id list %q: %w", s, err)
		}
		*l.dst = append(*l.dst, id)
	}
	slices.Sort(*l.dst)
	return nil
}

// UserByUsername returns a user and its password hash for a login, in any tenant.
func (db *DB) UserByUsername(ctx context.Context, username string) (dialer.Credentials, error) {
	return db.credentials(ctx, `users.username = ?`, username)
}

// UserCredentials returns a user, with its grants and password epoch, by id.
//
// They are remembered until the next write through the store (writeFence):
// a deactivation, a password change or a grant ends them at once.
func (db *DB) UserCredentials(ctx context.Context, id int64) (dialer.Credentials, error) {
	return db.creds.read(id, func() (dialer.Credentials, error) {
		return db.credentials(ctx, `users.user_id = ?`, id)
	})
}

func (db *DB) credentials(ctx context.Context, cond string, arg any) (dialer.Credentials, error) {
	var c dialer.Credentials
	row := db.r.QueryRowContext(ctx, `SELECT `+userCols+`, users.password_hash, users.password_epoch FROM users WHERE `+cond, arg)
	var err error
	c.User, err = scanUserWith(row, &c.Hash, &c.Epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return c, dialer.NotFound("user")
	}
	if err != nil {
		return c, fmt.Errorf("store: user credentials: %w", err)
	}
	return c, nil
}

func scanUserWith(r rowScanner, extra ...any) (dialer.User, error) {
	var u dialer.User
	dst := []any{&u.ID, &u.TenantID, &u.Username, &u.FirstName, &u.LastName, &u.Phone, &u.Email, &u.Address,
		&u.Company, &u.CountryID, &u.TimezoneID, &u.Active, &u.CreatedBy, creatorCRN{&u.CreatedByCRN, &u.CreatedBy}, &u.CreatedAt, &u.UpdatedAt,
		idList{&u.Roles}, idList{&u.Permissions}}
	err := r.Scan(append(dst, extra...)...)
	return u, err
}

// Users lists the users in scope, each with its grants.
func (db *DB) Users(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.User, error) {
	users := []dialer.User{}
	err := db.EachUser(ctx, scope, q, func(u dialer.User) error {
		users = append(users, u)
		return nil
	})
	return users, err
}

// EachUser streams the users in scope to fn, each with its grants.
func (db *DB) EachUser(ctx context.Context, scope dialer.Scope, q dialer.ListQuery, fn func(dialer.User) error) error {
	page, err := userList.page(scope, q)
	if err != nil {
		return err
	}
	query, args := page.query(`SELECT ` + userCols + ` FROM users`)
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: list users: %w", err)
	}
	var users []dialer.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return fmt.Errorf("store: list users: %w", err)
		}
		users = append(users, u)
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return fmt.Errorf("store: list users: %w", err)
	}
	// fn runs after the rows are closed (a page is bounded by MaxPageSize),
	// so that it may query without holding a second reader connection.
	for _, u := range users {
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

// UpdateUser saves the client-settable fields of u (not its password or grants).
func (db *DB) UpdateUser(ctx context.Context, u dialer.User) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET username = ?, first_name = ?, last_name = ?, phone = ?, email = ?,
			address = ?, company = ?, country_id = ?, timezone_id = ?, active = ?, updated_at = ?
			WHERE tenant_id = ? AND user_id = ?`,
			u.Username, u.FirstName, u.LastName, u.Phone, u.Email, u.Address, u.Company, u.CountryID, u.TimezoneID,
			u.Active, time.Now().Unix(), u.TenantID, u.ID)
		if isUniqueViolation(err) {
			return dialer.Conflict("username " + u.Username + " is taken")
		}
		if err != nil {
			return fmt.Errorf("store: update user: %w", err)
		}
		if err := mustAffect(res, "user"); err != nil {
			return err
		}
		return keepAnAdmin(ctx, tx, u.TenantID)
	})
}

// SetPassword replaces a user's password hash and moves its password epoch,
// which invalidates tokens issued before.
func (db *DB) SetPassword(ctx context.Context, tenantID string, id int64, hash string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, password_epoch = password_epoch + 1, updated_at = ?
			WHERE tenant_id = ? AND user_id = ?`, hash, time.Now().Unix(), tenantID, id)
		if err != nil {
			return fmt.Errorf("store: set password: %w", err)
		}
		return mustAffect(res, "user")
	})
}

// DeleteUser removes a user; the tenant's last active admin cannot be removed.
func (db *DB) DeleteUser(ctx context.Context, tenantID string, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE tenant_id = ? AND user_id = ?`, tenantID, id)
		if err != nil {
			return fmt.Errorf("store: delete user: %w", err)
		}
		if err := mustAffect(res, "user"); err != nil {
			return err
		}
		return keepAnAdmin(ctx, tx, tenantID)
	})
}

// SetUserRole grants (on=true) or revokes a role.
func (db *DB) SetUserRole(ctx context.Context, tenantID string, userID, roleID int64, on bool) error {
	return db.setGrant(ctx, "user_roles", "role_id", tenantID, userID, roleID, on)
}

// SetUserPermission grants (on=true) or revokes an individual permission.
func (db *DB) SetUserPermission(ctx context.Context, tenantID string, userID, permID int64, on bool) error {
	return db.setGrant(ctx, "user_permissions", "permission_id", tenantID, userID, permID, on)
}

// setGrant is shared by roles and permissions; table and col are constants
// chosen by the two callers above, never input.
func (db *DB) setGrant(ctx context.Context, table, col, tenantID string, userID, grantID int64, on bool) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE tenant_id = ? AND user_id = ?`, tenantID, userID).Scan(&exists); err != nil {
			return fmt.Errorf("store: grant: %w", err)
		}
		if exists == 0 {
			return dialer.NotFound("user")
		}
		var err error
		if on {
			_, err = tx.ExecContext(ctx, `INSERT OR IGNORE INTO `+table+` (tenant_id, user_id, `+col+`) VALUES (?, ?, ?)`, tenantID, userID, grantID)
		} else {
			_, err = tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE user_id = ? AND `+col+` = ?`, userID, grantID)
		}
		if err != nil {
			return fmt.Errorf("store: grant: %w", err)
		}
		return keepAnAdmin(ctx, tx, tenantID)
	})
}

// keepAnAdmin fails the transaction when it would leave the tenant without
// an active admin, so nobody can lock the operator out by accident.
func keepAnAdmin(ctx context.Context, tx *sql.Tx, tenantID string) error {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users JOIN user_roles USING (user_id)
		WHERE users.tenant_id = ? AND users.active = 1 AND user_roles.role_id = ?`, tenantID, dialer.RoleAdmin).Scan(&n)
	if err != nil {
		return fmt.Errorf("store: count admins: %w", err)
	}
	if n == 0 {
		return dialer.Conflict("the tenant would be left without an active admin")
	}
	return nil
}

func mustAffect(res sql.Result, kind string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: %s: %w", kind, err)
	}
	if n == 0 {
		return dialer.NotFound(kind)
	}
	return nil
}
