package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is dialerd's store.
type DB struct {
	w    *sql.DB // the one writer
	r    *sql.DB // read-only pool
	path string
	seal *sealer // nil: opened without a seal key; secrets cannot be written
}

// pragmas applied on every new connection. busy_timeout covers the moments a
// reader and the writer meet at a checkpoint.
var pragmas = []string{"busy_timeout(5000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"}

func dsn(path string, readOnly bool) string {
	v := url.Values{}
	for _, p := range pragmas {
		v.Add("_pragma", p)
	}
	if readOnly {
		v.Add("_pragma", "query_only(1)")
	} else {
		// BEGIN IMMEDIATE takes the write lock up front, so two writers never
		// deadlock upgrading from a read lock.
		v.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + v.Encode()
}

// Open opens (creating if needed) the database at path and migrates it to
// this binary's schema. It refuses a database whose schema is newer.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	db := &DB{path: path}
	for _, opt := range opts {
		if err := opt(db); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store: create directory: %w", err)
	}
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.w = w
	if err := db.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open readers: %w", err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	db.r = r
	return db, nil
}

// Close closes both pools. It checkpoints the WAL through the writer so the
// main file is complete on its own after a clean stop.
func (db *DB) Close() error {
	_, cerr := db.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	rerr := db.r.Close()
	werr := db.w.Close()
	return errors.Join(cerr, rerr, werr)
}

// Ping reports whether the store answers; /readyz calls it.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// tx runs fn in a write transaction, committing when it returns nil.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}
