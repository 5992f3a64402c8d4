package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/dialerd/dialerd/dialer"
)

// goSteps are the migrations' steps written in Go, by the name of their
// migration without its number (so a renumbered file keeps its step).
func goSteps() map[string]func(context.Context, *sql.Tx) error {
	return map[string]func(context.Context, *sql.Tx) error{"tenant_accounts": rekeyTenants}
}

// rekeyTenants gives every tenant a fresh id of dialer.NewTenantID's form
// (22 base62 characters from a CSPRNG; dialerds before this migration drew
// crypto/rand.Text's base32) and moves every row of every table with a
// tenant_id column to it. Tokens carry the tenant: they are invalid
// afterwards and users log in again.
//
// Migrations run in a transaction with foreign keys on, where PRAGMA
// foreign_keys cannot be changed; defer_foreign_keys holds the checks to
// the commit, when parents and children agree again.
func rekeyTenants(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
		return fmt.Errorf("defer foreign keys: %w", err)
	}
	tables, err := strings1(ctx, tx, `SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c
		WHERE m.type = 'table' AND c.name = 'tenant_id' ORDER BY m.name`)
	if err != nil {
		return fmt.Errorf("tables with tenants: %w", err)
	}
	ids, err := strings1(ctx, tx, `SELECT tenant_id FROM tenants`)
	if err != nil {
		return fmt.Errorf("tenants: %w", err)
	}
	for _, old := range ids {
		id := dialer.NewTenantID()
		for _, t := range tables {
			// t comes from sqlite_master, never from input.
			if _, err := tx.ExecContext(ctx, `UPDATE "`+t+`" SET tenant_id = ? WHERE tenant_id = ?`, id, old); err != nil {
				return fmt.Errorf("rekey %s: %w", t, err)
			}
		}
	}
	return nil
}

// strings1 reads a one-column query of strings.
func strings1(ctx context.Context, tx *sql.Tx, query string) ([]string, error) {
	return column[string](ctx, tx, "migration", query)
}
