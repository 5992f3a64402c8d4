package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// DB is dialerd's store.
type DB struct {
	w    *sql.DB // the one writer
	r    *sql.DB // read-only pool
	ck   *sql.DB // the checkpointer's connection
	path string
	seal *sealer // nil: opened without a seal key; secrets cannot be written

	live  atomic.Pointer[LiveCountersFunc]   // see UseLiveCounters
	plans atomic.Pointer[dialer.PlanCatalog] // see UsePlans
	dnc   dncState                           // see DNC
	// writes moves on every commit of w; creds and keys remember the
	// credentials requests authenticate with until it does (writeFence).
	writes writeFence
	creds  *fencedCache[int64, dialer.Credentials]
	keys   *fencedCache[string, storedKey]

	syncMu sync.Mutex // one SyncQuantities at a time

	// bulk counts imports running: they checkpoint on their own terms.
	bulk     atomic.Int32
	stopCkpt chan struct{}
	stopOnce sync.Once
	ckptDone sync.WaitGroup
}

// pragmas applied on every new connection. busy_timeout covers the moments a
// reader and the writer meet at a checkpoint.
var pragmas = []string{"busy_timeout(5000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"}

// connRole is what a pool's connections are for.
type connRole int

const (
	roleWriter connRole = iota
	roleReader
	roleCheckpointer
)

func dsn(path string, role connRole) string {
	v := url.Values{}
	for _, p := range pragmas {
		v.Add("_pragma", p)
	}
	switch role {
	case roleReader:
		v.Add("_pragma", "query_only(1)")
		v.Add("_pragma", "mmap_size(268435456)")
	case roleWriter:
		// BEGIN IMMEDIATE takes the write lock up front, so two writers never
		// deadlock upgrading from a read lock.
		v.Set("_txlock", "immediate")
		// The writer never checkpoints: see checkpoints.
		v.Add("_pragma", "wal_autocheckpoint(0)")
	}
	return "file:" + path + "?" + v.Encode()
}

// checkpointEvery is how often the WAL is copied back into the database
// file.
//
// Checkpoints run on their own connection, not in the writer's commits as
// SQLite's automatic checkpoint does. With synchronous=NORMAL a WAL commit
// does not wait for the disk, a checkpoint does (it syncs the database
// file), and an automatic checkpoint runs inside the commit that crosses
// 1000 WAL pages. At 100 calls a second, three small commits per call
// cross that every half second, and each time every write queued behind
// that commit, the write-ahead of the next call's attempt included, waited
// for the sync: INVITEs went out 5-10 ms late twice a second. A PASSIVE
// checkpoint from another connection runs beside the writer and readers,
// never blocking them.
const checkpointEvery = time.Second

// checkpoints runs a PASSIVE checkpoint every checkpointEvery until Close,
// except while an import runs (it checkpoints on its own terms). A failed
// checkpoint loses nothing: the pages stay in the WAL for the next one.
func (db *DB) checkpoints() {
	defer db.ckptDone.Done()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-db.stopCkpt:
			return
		case <-t.C:
		}
		if db.bulk.Load() > 0 {
			continue
		}
		_, _ = db.ck.Exec("PRAGMA wal_checkpoint(PASSIVE)")
	}
}

// Open opens (creating if needed) the database at path and migrates it to
// this binary's schema. It refuses a database whose schema is newer.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	db := &DB{path: path}
	db.creds = newFencedCache[int64](&db.writes, cloneCredentials)
	db.keys = newFencedCache[string](&db.writes, func(k storedKey) storedKey { return k })
	for _, opt := range opts {
		if err := opt(db); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store: create directory: %w", err)
	}
	if err := restrictFiles(path); err != nil {
		return nil, err
	}
	w, err := openDB(dsn(path, roleWriter), db.writes.committed)
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
	r, err := openDB(dsn(path, roleReader), nil)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open readers: %w", err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	db.r = r
	ck, err := openDB(dsn(path, roleCheckpointer), nil)
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("store: open checkpointer: %w", err)
	}
	ck.SetMaxOpenConns(1)
	ck.SetMaxIdleConns(1)
	db.ck = ck
	db.stopCkpt = make(chan struct{})
	db.ckptDone.Add(1)
	go db.checkpoints()
	return db, nil
}

// dbFileMode is the mode of the database and its -wal and -shm files: they
// hold password hashes and sealed secrets, for dialerd's user alone.
const dbFileMode = 0o600

// restrictFiles gives the database and its companions dbFileMode whatever
// the umask: it creates the database file itself, since SQLite creates the
// -wal and -shm files with the mode of the database, and tightens the
// files an older dialerd left readable.
func restrictFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, dbFileMode)
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, dbFileMode); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store: restrict %s: %w", p, err)
		}
	}
	return nil
}

// Close closes both pools. It checkpoints the WAL through the writer so the
// main file is complete on its own after a clean stop.
func (db *DB) Close() error {
	var kerr error
	if db.ck != nil {
		db.stopOnce.Do(func() { close(db.stopCkpt) })
		db.ckptDone.Wait()
		kerr = db.ck.Close()
	}
	_, cerr := db.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	rerr := db.r.Close()
	werr := db.w.Close()
	return errors.Join(kerr, cerr, rerr, werr)
}

// Ping reports whether the store answers; /readyz calls it.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// enginePools opens the spool engine's own connections to the database: a
// writer and two readers. The engine then never queues behind the API's
// writes for the writer connection, nor behind its reads for a reader:
// its write-ahead commit waits only for SQLite's lock, held for one short
// transaction at a time.
func (db *DB) enginePools() (w, r *sql.DB, err error) {
	w, err = openDB(dsn(db.path, roleWriter), nil) // writes calls only: see writeFence
	if err != nil {
		return nil, nil, fmt.Errorf("store: open the engine's writer: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r, err = openDB(dsn(db.path, roleReader), nil)
	if err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("store: open the engine's readers: %w", err)
	}
	r.SetMaxOpenConns(2)
	r.SetMaxIdleConns(2)
	return w, r, nil
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// tx runs fn in a write transaction, committing when it returns nil.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return runTx(ctx, db.w, fn)
}

// runTx runs fn in a write transaction of pool w.
func runTx(ctx context.Context, w *sql.DB, fn func(*sql.Tx) error) (err error) {
	tx, err := w.BeginTx(ctx, nil)
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
