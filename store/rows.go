package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/dialerd/dialerd/dialer"
)

// The shapes every resource table shares: insert a row, read one by id,
// list a page of them.

// querier is what a lookup needs: a transaction or a pool.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// rowsQuerier is a pool or a transaction.
type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryAll runs q and scans every row.
func queryAll[T any](ctx context.Context, db rowsQuerier, q string, args []any, scan func(rowScanner) (T, error)) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: query: %w", err)
	}
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: scan: %w", err)
		}
		out = append(out, v)
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return nil, fmt.Errorf("store: query: %w", err)
	}
	return out, nil
}

// column is the one column that query selects, in its order (empty for
// no rows); an error says what was being read.
func column[T any](ctx context.Context, q rowsQuerier, what, query string, args ...any) ([]T, error) {
	out, err := queryAll(ctx, q, query, args, func(r rowScanner) (T, error) {
		var v T
		err := r.Scan(&v)
		return v, err
	})
	if err != nil {
		// queryAll's own "store: query:" gives way to what.
		return nil, fmt.Errorf("store: %s: %w", what, errors.Unwrap(err))
	}
	return out, nil
}

// list runs a listSpec query and scans each row.
func list[T any](ctx context.Context, db *DB, spec listSpec, cols string, scope dialer.Scope, q dialer.ListQuery, scan func(rowScanner) (T, error)) ([]T, error) {
	page, err := spec.page(scope, q)
	if err != nil {
		return nil, err
	}
	query, args := page.keyedQuery(`SELECT `+cols, spec.table, spec.idCol)
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", spec.table, err)
	}
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: list %s: %w", spec.table, err)
		}
		out = append(out, v)
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return nil, fmt.Errorf("store: list %s: %w", spec.table, err)
	}
	return out, nil
}

// getRow reads the row of the tenant whose idCol is id; no row is
// dialer.NotFound(name). Table and column names come from fixed constants.
func getRow[T any](ctx context.Context, q querier, name, table, idCol, cols, tenantID string, id int64,
	scan func(rowScanner) (T, error)) (T, error) {
	v, err := scan(q.QueryRowContext(ctx, `SELECT `+cols+` FROM `+table+` WHERE tenant_id = ? AND `+idCol+` = ?`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return v, dialer.NotFound(name)
	}
	if err != nil {
		return v, fmt.Errorf("store: %s %d: %w", name, id, err)
	}
	return v, nil
}

// insertRow runs an INSERT of one name row in tx and returns its id.
func insertRow(ctx context.Context, tx *sql.Tx, name, query string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("store: insert %s: %w", name, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("store: insert %s: %w", name, err)
	}
	return id, nil
}

// sealSet seals secret when it is set; an unset one comes back invalid, so
// that COALESCE(?, col) leaves the column as it is.
func (db *DB) sealSet(secret *string, column, tenantID string) (sql.NullString, error) {
	if secret == nil {
		return sql.NullString{}, nil
	}
	sealed, err := db.seal.seal(*secret, sealAAD(column, tenantID))
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: sealed, Valid: true}, nil
}

// creatorCRN scans a row's created_by_crn. Rows written before the column
// existed, and rows a user made through the engine or inbound traffic, have
// none: they read as the CRN of their created_by user (dialer.Actor.CRN),
// or "" without one. Rows.Scan fills its destinations in order, so by is
// already scanned when it is listed before the CRN.
type creatorCRN struct {
	crn *string
	by  *int64
}

func (c creatorCRN) Scan(src any) error {
	var s sql.NullString
	if err := s.Scan(src); err != nil {
		return err
	}
	*c.crn = s.String
	if *c.crn == "" && *c.by > 0 {
		*c.crn = dialer.Actor{UserID: *c.by}.CRN()
	}
	return nil
}
