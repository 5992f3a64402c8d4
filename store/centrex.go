package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

const centrexCols = `centrex_id, tenant_id, name, description, callflow_id, revision, deleted_at != 0, created_at, updated_at`

func scanCentrex(r rowScanner) (dialer.Centrex, error) {
	var c dialer.Centrex
	err := r.Scan(&c.ID, &c.TenantID, &c.Name, &c.Description, &c.CallflowID, &c.Revision, &c.Deleted, &c.CreatedAt, &c.UpdatedAt)
	return c, err
}

const centrexAccountCols = `centrex_account_id, tenant_id, centrex_id, user_id, number_offnet, name, description, revision,
	deleted_at != 0, created_at, updated_at`

func scanCentrexAccount(r rowScanner) (dialer.CentrexAccount, error) {
	var a dialer.CentrexAccount
	err := r.Scan(&a.ID, &a.TenantID, &a.CentrexID, &a.UserID, &a.NumberOffnet, &a.Name, &a.Description, &a.Revision,
		&a.Deleted, &a.CreatedAt, &a.UpdatedAt)
	return a, err
}

// ruleInvalid is a one-field crossbar validation error.
func ruleInvalid(field, rule, msg string) error {
	var v dialer.Invalid
	v.Add(field, dialer.Rule(rule, msg))
	return v.Err()
}

// checkCallflow makes sure id is an inbound program of the tenant.
func checkCallflow(ctx context.Context, tx *sql.Tx, tenantID string, id int64) error {
	var typ string
	err := tx.QueryRowContext(ctx, `SELECT type FROM programs WHERE tenant_id = ? AND program_id = ?`, tenantID, id).Scan(&typ)
	if errors.Is(err, sql.ErrNoRows) {
		return ruleInvalid("callflow_id", dialer.RuleNotFound, "no program of this account has that id")
	}
	if err != nil {
		return fmt.Errorf("store: centrex callflow: %w", err)
	}
	if !dialer.InboundProgram(dialer.ProgramType(typ)) {
		return ruleInvalid("callflow_id", dialer.RulePattern, "program "+fmt.Sprint(id)+" is a "+typ+" program; a callflow must receive (receivesms, receivefax, receiveemail, emailtofax, faxtoemail)")
	}
	return nil
}

// checkRevision refuses a write whose If-Match revision (ifRev > 0) is
// not the stored one.
func checkRevision(stored, ifRev int64) error {
	if ifRev > 0 && stored != ifRev {
		return dialer.Conflict(fmt.Sprintf("the document changed (revision %d, not %d); read it again", stored, ifRev))
	}
	return nil
}

// CreateCentrex stores a validated centrex; an empty c.ID gets a fresh id.
// The callflow must be an inbound program of the tenant; a taken id is a
// conflict (a deleted centrex keeps its id).
func (db *DB) CreateCentrex(ctx context.Context, c dialer.Centrex) (dialer.Centrex, error) {
	if c.ID == "" {
		c.ID = dialer.NewCrossbarID()
	}
	now := time.Now().Unix()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := checkCallflow(ctx, tx, c.TenantID, c.CallflowID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO centrex (tenant_id, centrex_id, name, description, callflow_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, c.TenantID, c.ID, c.Name, c.Description, c.CallflowID, now, now)
		if isUniqueViolation(err) {
			return dialer.Conflict("a centrex with id " + c.ID + " exists")
		}
		if err != nil {
			return fmt.Errorf("store: insert centrex: %w", err)
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	return db.Centrex(ctx, c.TenantID, c.ID)
}

// Centrex returns a live centrex of the tenant.
func (db *DB) Centrex(ctx context.Context, tenantID, id string) (dialer.Centrex, error) {
	return centrexIn(ctx, db.r, tenantID, id)
}

func centrexIn(ctx context.Context, q querier, tenantID, id string) (dialer.Centrex, error) {
	c, err := scanCentrex(q.QueryRowContext(ctx, `SELECT `+centrexCols+` FROM centrex
		WHERE tenant_id = ? AND centrex_id = ? AND deleted_at = 0`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, dialer.NotFound("centrex " + id)
	}
	if err != nil {
		return c, fmt.Errorf("store: centrex %s: %w", id, err)
	}
	return c, nil
}

// Centrexes lists the tenant's live centrex services by id, from the id
// startKey on (inclusive; "" from the first), at most limit (0: all).
func (db *DB) Centrexes(ctx context.Context, tenantID, startKey string, limit int) ([]dialer.Centrex, error) {
	q := `SELECT ` + centrexCols + ` FROM centrex WHERE tenant_id = ? AND deleted_at = 0 AND centrex_id >= ? ORDER BY centrex_id`
	args := []any{tenantID, startKey}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	return queryAll(ctx, db.r, q, args, scanCentrex)
}

// UpdateCentrex replaces a live centrex's fields; ifRev > 0 must be its
// current revision. The revision is bumped.
func (db *DB) UpdateCentrex(ctx context.Context, c dialer.Centrex, ifRev int64) (dialer.Centrex, error) {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		old, err := centrexIn(ctx, tx, c.TenantID, c.ID)
		if err != nil {
			return err
		}
		if err := checkRevision(old.Revision, ifRev); err != nil {
			return err
		}
		if err := checkCallflow(ctx, tx, c.TenantID, c.CallflowID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE centrex SET name = ?, description = ?, callflow_id = ?, revision = revision + 1,
			updated_at = ? WHERE tenant_id = ? AND centrex_id = ?`, c.Name, c.Description, c.CallflowID, time.Now().Unix(), c.TenantID, c.ID)
		if err != nil {
			return fmt.Errorf("store: update centrex: %w", err)
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	return db.Centrex(ctx, c.TenantID, c.ID)
}

// DeleteCentrex soft-deletes a live centrex and its accounts and returns
// it as it was, marked deleted.
func (db *DB) DeleteCentrex(ctx context.Context, tenantID, id string, ifRev int64) (dialer.Centrex, error) {
	var c dialer.Centrex
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = centrexIn(ctx, tx, tenantID, id); err != nil {
			return err
		}
		if err := checkRevision(c.Revision, ifRev); err != nil {
			return err
		}
		now := time.Now().Unix()
		if _, err := tx.ExecContext(ctx, `UPDATE centrex_accounts SET deleted_at = ?, updated_at = ?, revision = revision + 1
			WHERE tenant_id = ? AND centrex_id = ? AND deleted_at = 0`, now, now, tenantID, id); err != nil {
			return fmt.Errorf("store: delete centrex accounts: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE centrex SET deleted_at = ?, updated_at = ?, revision = revision + 1
			WHERE tenant_id = ? AND centrex_id = ?`, now, now, tenantID, id); err != nil {
			return fmt.Errorf("store: delete centrex: %w", err)
		}
		c.Deleted, c.Revision, c.UpdatedAt = true, c.Revision+1, now
		return nil
	})
	return c, err
}

// checkCentrexAccount checks the user and the number's uniqueness of an
// account about to be written.
func checkCentrexAccount(ctx context.Context, tx *sql.Tx, a dialer.CentrexAccount) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE tenant_id = ? AND user_id = ?`, a.TenantID, a.UserID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return ruleInvalid("user_id", dialer.RuleNotFound, "no user of this account has that id")
	}
	if err != nil {
		return fmt.Errorf("store: centrex account user: %w", err)
	}
	var other string
	err = tx.QueryRowContext(ctx, `SELECT centrex_account_id FROM centrex_accounts WHERE tenant_id = ? AND number_offnet = ?
		AND deleted_at = 0 AND centrex_account_id != ?`, a.TenantID, a.NumberOffnet, a.ID).Scan(&other)
	switch {
	case err == nil:
		return ruleInvalid("number_offnet", dialer.RuleUnique, a.NumberOffnet+" is the number of centrex account "+other)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: centrex account number: %w", err)
	}
	return nil
}

// CreateCentrexAccount stores a validated account under a live centrex;
// an empty a.ID gets a fresh id.
func (db *DB) CreateCentrexAccount(ctx context.Context, a dialer.CentrexAccount) (dialer.CentrexAccount, error) {
	if a.ID == "" {
		a.ID = dialer.NewCrossbarID()
	}
	now := time.Now().Unix()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := centrexIn(ctx, tx, a.TenantID, a.CentrexID); err != nil {
			return err
		}
		if err := checkCentrexAccount(ctx, tx, a); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO centrex_accounts (tenant_id, centrex_account_id, centrex_id, user_id,
			number_offnet, name, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.TenantID, a.ID, a.CentrexID, a.UserID, a.NumberOffnet, a.Name, a.Description, now, now)
		if isUniqueViolation(err) {
			return dialer.Conflict("a centrex account with id " + a.ID + " exists")
		}
		if err != nil {
			return fmt.Errorf("store: insert centrex account: %w", err)
		}
		return nil
	})
	if err != nil {
		return a, err
	}
	return db.CentrexAccount(ctx, a.TenantID, a.CentrexID, a.ID)
}

// CentrexAccount returns a live account of a live centrex.
func (db *DB) CentrexAccount(ctx context.Context, tenantID, centrexID, id string) (dialer.CentrexAccount, error) {
	return centrexAccountIn(ctx, db.r, tenantID, centrexID, id)
}

func centrexAccountIn(ctx context.Context, q querier, tenantID, centrexID, id string) (dialer.CentrexAccount, error) {
	a, err := scanCentrexAccount(q.QueryRowContext(ctx, `SELECT `+centrexAccountCols+` FROM centrex_accounts
		WHERE tenant_id = ? AND centrex_id = ? AND centrex_account_id = ? AND deleted_at = 0`, tenantID, centrexID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, dialer.NotFound("centrex account " + id)
	}
	if err != nil {
		return a, fmt.Errorf("store: centrex account %s: %w", id, err)
	}
	return a, nil
}

// CentrexAccounts lists the live accounts of a live centrex by id, from
// startKey on, at most limit (0: all).
func (db *DB) CentrexAccounts(ctx context.Context, tenantID, centrexID, startKey string, limit int) ([]dialer.CentrexAccount, error) {
	if _, err := db.Centrex(ctx, tenantID, centrexID); err != nil {
		return nil, err
	}
	q := `SELECT ` + centrexAccountCols + ` FROM centrex_accounts WHERE tenant_id = ? AND centrex_id = ? AND deleted_at = 0
		AND centrex_account_id >= ? ORDER BY centrex_account_id`
	args := []any{tenantID, centrexID, startKey}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	return queryAll(ctx, db.r, q, args, scanCentrexAccount)
}

// UpdateCentrexAccount replaces a live account's fields; ifRev > 0 must
// be its current revision.
func (db *DB) UpdateCentrexAccount(ctx context.Context, a dialer.CentrexAccount, ifRev int64) (dialer.CentrexAccount, error) {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		old, err := centrexAccountIn(ctx, tx, a.TenantID, a.CentrexID, a.ID)
		if err != nil {
			return err
		}
		if err := checkRevision(old.Revision, ifRev); err != nil {
			return err
		}
		if err := checkCentrexAccount(ctx, tx, a); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE centrex_accounts SET user_id = ?, number_offnet = ?, name = ?, description = ?,
			revision = revision + 1, updated_at = ? WHERE tenant_id = ? AND centrex_account_id = ?`,
			a.UserID, a.NumberOffnet, a.Name, a.Description, time.Now().Unix(), a.TenantID, a.ID)
		if err != nil {
			return fmt.Errorf("store: update centrex account: %w", err)
		}
		return nil
	})
	if err != nil {
		return a, err
	}
	return db.CentrexAccount(ctx, a.TenantID, a.CentrexID, a.ID)
}

// DeleteCentrexAccount soft-deletes a live account and returns it marked
// deleted.
func (db *DB) DeleteCentrexAccount(ctx context.Context, tenantID, centrexID, id string, ifRev int64) (dialer.CentrexAccount, error) {
	var a dialer.CentrexAccount
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if a, err = centrexAccountIn(ctx, tx, tenantID, centrexID, id); err != nil {
			return err
		}
		if err := checkRevision(a.Revision, ifRev); err != nil {
			return err
		}
		now := time.Now().Unix()
		if _, err := tx.ExecContext(ctx, `UPDATE centrex_accounts SET deleted_at = ?, updated_at = ?, revision = revision + 1
			WHERE tenant_id = ? AND centrex_account_id = ?`, now, now, tenantID, id); err != nil {
			return fmt.Errorf("store: delete centrex account: %w", err)
		}
		a.Deleted, a.Revision, a.UpdatedAt = true, a.Revision+1, now
		return nil
	})
	return a, err
}

// DeleteCentrexAccounts soft-deletes every live account of a live centrex
// and returns them marked deleted.
func (db *DB) DeleteCentrexAccounts(ctx context.Context, tenantID, centrexID string) ([]dialer.CentrexAccount, error) {
	var out []dialer.CentrexAccount
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := centrexIn(ctx, tx, tenantID, centrexID); err != nil {
			return err
		}
		var err error
		out, err = queryAll(ctx, tx, `SELECT `+centrexAccountCols+` FROM centrex_accounts WHERE tenant_id = ? AND centrex_id = ?
			AND deleted_at = 0 ORDER BY centrex_account_id`, []any{tenantID, centrexID}, scanCentrexAccount)
		if err != nil {
			return err
		}
		now := time.Now().Unix()
		if _, err := tx.ExecContext(ctx, `UPDATE centrex_accounts SET deleted_at = ?, updated_at = ?, revision = revision + 1
			WHERE tenant_id = ? AND centrex_id = ? AND deleted_at = 0`, now, now, tenantID, centrexID); err != nil {
			return fmt.Errorf("store: delete centrex accounts: %w", err)
		}
		for i := range out {
			out[i].Deleted, out[i].Revision, out[i].UpdatedAt = true, out[i].Revision+1, now
		}
		return nil
	})
	return out, err
}
