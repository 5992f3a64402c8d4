package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// dncState is the store's side of the in-memory do-not-call set: once
// LoadDNC has filled set, every committed change to a list is applied to
// it under mu, so the engine's scrub sees what the store holds.
type dncState struct {
	mu     sync.Mutex
	set    *dialer.DNCSet
	loaded bool
	// defaults are the settings of a tenant that set none (the daemon's
	// compliance.* keys); nil: dialer.DefaultTenantCompliance.
	defaults atomic.Pointer[dialer.TenantCompliance]
}

// SetComplianceDefaults sets what TenantCompliance answers for a tenant
// that set nothing.
func (db *DB) SetComplianceDefaults(tc dialer.TenantCompliance) { db.dnc.defaults.Store(&tc) }

// DNC returns the in-memory do-not-call set the store keeps in step; it is
// empty until LoadDNC.
func (db *DB) DNC() *dialer.DNCSet {
	db.dnc.mu.Lock()
	defer db.dnc.mu.Unlock()
	if db.dnc.set == nil {
		db.dnc.set = dialer.NewDNCSet()
	}
	return db.dnc.set
}

// LoadDNC reads every list and number into the set (once; later calls do
// nothing). The daemon calls it before the engine starts.
func (db *DB) LoadDNC(ctx context.Context) error {
	set := db.DNC()
	db.dnc.mu.Lock()
	defer db.dnc.mu.Unlock()
	if db.dnc.loaded {
		return nil
	}
	lists, err := db.scanLists(ctx, `SELECT `+dncCols+` FROM dnc_lists`)
	if err != nil {
		return err
	}
	for _, l := range lists {
		set.PutList(l)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT dnc_id, number, expires_at FROM dnc_numbers ORDER BY dnc_id`)
	if err != nil {
		return fmt.Errorf("store: load dnc: %w", err)
	}
	defer rows.Close()
	var cur int64
	batch := make([]dialer.DNCNumber, 0, 4096)
	flush := func() {
		if len(batch) > 0 {
			set.Add(cur, batch)
			batch = batch[:0]
		}
	}
	for rows.Next() {
		var id int64
		var key uint64
		var n dialer.DNCNumber
		if err := rows.Scan(&id, &key, &n.ExpiresAt); err != nil {
			return fmt.Errorf("store: load dnc: %w", err)
		}
		if id != cur || len(batch) == cap(batch) {
			flush()
			cur = id
		}
		n.Number = dialer.DNCNumberOf(key)
		batch = append(batch, n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: load dnc: %w", err)
	}
	flush()
	db.dnc.loaded = true
	return nil
}

// inMemory runs fn on the set when it is loaded, under the store's lock.
// Callers hold db.dnc.mu already.
func (db *DB) inMemory(fn func(*dialer.DNCSet)) {
	if db.dnc.loaded {
		fn(db.dnc.set)
	}
}

const dncCols = `dnc_id, COALESCE(tenant_id, ''), tenant_id IS NULL, name, description, is_default, created_by, created_by_crn, created_at, updated_at,
	(SELECT COUNT(*) FROM dnc_numbers n WHERE n.dnc_id = dnc_lists.dnc_id)`

func scanDNCList(r rowScanner) (dialer.DNCList, error) {
	var l dialer.DNCList
	err := r.Scan(&l.ID, &l.TenantID, &l.Platform, &l.Name, &l.Description, &l.Default, &l.CreatedBy, creatorCRN{&l.CreatedByCRN, &l.CreatedBy}, &l.CreatedAt, &l.UpdatedAt, &l.Numbers)
	return l, err
}

func (db *DB) scanLists(ctx context.Context, query string, args ...any) ([]dialer.DNCList, error) {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: dnc lists: %w", err)
	}
	defer rows.Close()
	out := []dialer.DNCList{}
	for rows.Next() {
		l, err := scanDNCList(rows)
		if err != nil {
			return nil, fmt.Errorf("store: dnc lists: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// DNCLists lists the lists an actor sees: its tenant's and the platform's.
func (db *DB) DNCLists(ctx context.Context, a dialer.Actor) ([]dialer.DNCList, error) {
	return db.scanLists(ctx, `SELECT `+dncCols+` FROM dnc_lists WHERE tenant_id = ? OR tenant_id IS NULL ORDER BY dnc_id`, a.TenantID)
}

// DNCList reads one list the actor sees.
func (db *DB) DNCList(ctx context.Context, a dialer.Actor, id int64) (dialer.DNCList, error) {
	l, err := scanDNCList(db.r.QueryRowContext(ctx, `SELECT `+dncCols+` FROM dnc_lists WHERE dnc_id = ? AND (tenant_id = ? OR tenant_id IS NULL)`, id, a.TenantID))
	if errors.Is(err, sql.ErrNoRows) {
		return l, dialer.NotFound("do-not-call list")
	}
	if err != nil {
		return l, fmt.Errorf("store: dnc list %d: %w", id, err)
	}
	return l, nil
}

// writableList checks, in tx, that the actor may change list id: its
// tenant's (an admin's), or a platform list for the platform admin.
func writableList(ctx context.Context, tx *sql.Tx, a dialer.Actor, id int64) (dialer.DNCList, error) {
	l, err := scanDNCList(tx.QueryRowContext(ctx, `SELECT `+dncCols+` FROM dnc_lists WHERE dnc_id = ? AND (tenant_id = ? OR tenant_id IS NULL)`, id, a.TenantID))
	if errors.Is(err, sql.ErrNoRows) {
		return l, dialer.NotFound("do-not-call list")
	}
	if err != nil {
		return l, fmt.Errorf("store: dnc list %d: %w", id, err)
	}
	if l.Platform && !a.Platform {
		return l, dialer.Forbidden("a platform-wide list is changed by the platform admin only")
	}
	return l, nil
}

// CreateDNCList adds a list: the actor tenant's, or platform-wide when
// l.Platform (platform admin only).
func (db *DB) CreateDNCList(ctx context.Context, a dialer.Actor, l dialer.DNCList) (dialer.DNCList, error) {
	var v dialer.Invalid
	dialer.ValidateDNCList(&l, &v)
	if err := v.Err(); err != nil {
		return l, err
	}
	if l.Platform && !a.Platform {
		return l, dialer.Forbidden("platform-wide lists are created by the platform admin only")
	}
	var tenant any = a.TenantID
	if l.Platform {
		tenant = nil
	}
	db.dnc.mu.Lock()
	defer db.dnc.mu.Unlock()
	now := time.Now().Unix()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		id, err := insertRow(ctx, tx, "dnc list", `INSERT INTO dnc_lists (tenant_id, name, description, is_default, created_by, created_by_crn, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, tenant, l.Name, l.Description, l.Default, a.UserID, a.CRN(), now, now)
		l.ID = id
		return err
	})
	if err != nil {
		return l, err
	}
	if !l.Platform {
		l.TenantID = a.TenantID
	}
	l.CreatedBy, l.CreatedByCRN, l.CreatedAt, l.UpdatedAt = a.UserID, a.CRN(), now, now
	db.inMemory(func(s *dialer.DNCSet) { s.PutList(l) })
	return l, nil
}

// UpdateDNCList changes a list's name, description and default flag.
func (db *DB) UpdateDNCList(ctx context.Context, a dialer.Actor, l dialer.DNCList) (dialer.DNCList, error) {
	db.dnc.mu.Lock()
	defer db.dnc.mu.Unlock()
	var out dialer.DNCList
	err := db.tx(ctx, func(tx *sql.Tx) error {
		old, err := writableList(ctx, tx, a, l.ID)
		if err != nil {
			return err
		}
		l.Platform = old.Platform
		var v dialer.Invalid
		dialer.ValidateDNCList(&l, &v)
		if err := v.Err(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE dnc_lists SET name = ?, description = ?, is_default = ?, updated_at = ? WHERE dnc_id = ?`,
			l.Name, l.Description, l.Default, time.Now().Unix(), l.ID); err != nil {
			return fmt.Errorf("store: update dnc list: %w", err)
		}
		out, err = scanDNCList(tx.QueryRowContext(ctx, `SELECT `+dncCols+` FROM dnc_lists WHERE dnc_id = ?`, l.ID))
		return err
	})
	if err != nil {
		return out, err
	}
	db.inMemory(func(s *dialer.DNCSet) { s.PutList(out) })
	return out, nil
}

// DeleteDNCList removes a list and its numbers.
func (db *DB) DeleteDNCList(ctx context.Context, a dialer.Actor, id int64) error {
	db.dnc.mu.Lock()
	defer db.dnc.mu.Unlock()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := writableList(ctx, tx, a, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM dnc_lists WHERE dnc_id = ?`, id)
		return wrap("delete dnc list", err)
	})
	if err == nil {
		db.inMemory(func(s *dialer.DNCSet) { s.DropList(id) })
	}
	return err
}

// dncChunkRows is how many numbers one multi-row INSERT carries (4 values
// a row, far below SQLite's variable limit).
const dncChunkRows = 1000

// insertNumbers writes numbers onto list id within tx; a number already
// there is replaced (it takes the new expiry). They go in key order, the
// order of the table's b-tree, so each page is touched once per batch
// rather than once per number; a number given twice keeps its last row.
func insertNumbers(ctx context.Context, tx *sql.Tx, stmts map[int]*sql.Stmt, id int64, nums []dialer.DNCNumber, source string, now int64) error {
	type keyed struct {
		k   uint64
		exp int64
	}
	ks := make([]keyed, 0, len(nums))
	for _, x := range nums {
		k, ok := dialer.DNCKey(x.Number)
		if !ok {
			return dialer.InvalidField("number", fmt.Sprintf("%q is not an E.164 number", x.Number))
		}
		ks = append(ks, keyed{k, x.ExpiresAt})
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return cmp.Compare(a.k, b.k) })
	out := ks[:0]
	for i, x := range ks {
		if i+1 < len(ks) && ks[i+1].k == x.k {
			continue // a later row of the same number wins
		}
		out = append(out, x)
	}
	ks = out
	for len(ks) > 0 {
		n := min(len(ks), dncChunkRows)
		st, ok := stmts[n]
		if !ok {
			// OR REPLACE resolves a conflict without aborting the
			// statement, so SQLite keeps no statement journal for it.
			q := `INSERT OR REPLACE INTO dnc_numbers (dnc_id, number, expires_at, source, created_at) VALUES ` +
				strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?),", n), ",")
			var err error
			if st, err = tx.PrepareContext(ctx, q); err != nil {
				return fmt.Errorf("store: dnc numbers: %w", err)
			}
			stmts[n] = st
		}
		args := make([]any, 0, n*5)
		for _, x := range ks[:n] {
			args = append(args, id, int64(x.k), x.exp, source, now)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("store: dnc numbers: %w", err)
		}
		ks = ks[n:]
	}
	return nil
}

func closeStmts(stmts map[int]*sql.Stmt) {
	for _, st := range stmts {
		st.Close()
	}
}

// AddDNCNumbers puts numbers (E.164, validated by the caller) on a list;
// a number already there takes the new expiry.
func (db *DB) AddDNCNumbers(ctx context.Context, a dialer.Actor, id int64, nums []dialer.DNCNumber) error {
	db.dnc.mu.Lock()
	defer db.dnc.mu.Unlock()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := writableList(ctx, tx, a, id); err != nil {
			return err
		}
		stmts := map[int]*sql.Stmt{}
		defer closeStmts(stmts)
		return insertNumbers(ctx, tx, stmts, id, nums, "api", time.Now().Unix())
	})
	if err == nil {
		db.inMemory(func(s *dialer.DNCSet) { s.Add(id, nums) })
	}
	return err
}

// RemoveDNCNumber takes one number off a list.
func (db *DB) RemoveDNCNumber(ctx context.Context, a dialer.Actor, id int64, number string) error {
	k, ok := dialer.DNCKey(number)
	if !ok {
		return dialer.InvalidField("number", "not an E.164 number")
	}
	db.dnc.mu.Lock()
	defer db.dnc.mu.Unlock()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := writableList(ctx, tx, a, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM dnc_numbers WHERE dnc_id = ? AND number = ?`, id, int64(k))
		if err != nil {
			return fmt.Errorf("store: remove dnc number: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return dialer.NotFound("number on the list")
		}
		return nil
	})
	if err == nil {
		db.inMemory(func(s *dialer.DNCSet) { s.Remove(id, []string{number}) })
	}
	return err
}

// EachDNCNumber calls fn with each number of a list the actor sees, in
// number order, from offset on (limit 0: all).
func (db *DB) EachDNCNumber(ctx context.Context, a dialer.Actor, id int64, offset, limit int, fn func(dialer.DNCNumber) error) error {
	if _, err := db.DNCList(ctx, a, id); err != nil {
		return err
	}
	q := `SELECT number, expires_at, source, created_at FROM dnc_numbers WHERE dnc_id = ? ORDER BY number`
	args := []any{id}
	if limit > 0 || offset > 0 {
		if limit <= 0 {
			limit = -1
		}
		q += ` LIMIT ? OFFSET ?`
		args = append(args, limit, offset)
	}
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: dnc numbers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k uint64
		var n dialer.DNCNumber
		if err := rows.Scan(&k, &n.ExpiresAt, &n.Source, &n.CreatedAt); err != nil {
			return fmt.Errorf("store: dnc numbers: %w", err)
		}
		n.Number = dialer.DNCNumberOf(k)
		if err := fn(n); err != nil {
			return err
		}
	}
	return rows.Err()
}

// dncImportBatch is how many numbers an import commits at a time.
const dncImportBatch = 100000

// ImportDNC reads rows onto a list, committing every dncImportBatch
// numbers (rows are read before each transaction begins: a slow upload
// never holds the writer). Rejected rows are counted and listed; the
// valid ones are imported. Imported counts rows written (a number already
// on the list takes the row's expiry).
func (db *DB) ImportDNC(ctx context.Context, a dialer.Actor, id int64, rows dialer.DNCRows) (dialer.ImportResult, error) {
	var res dialer.ImportResult
	// Check the list before reading anything.
	if err := db.tx(ctx, func(tx *sql.Tx) error { _, err := writableList(ctx, tx, a, id); return err }); err != nil {
		return res, err
	}
	restore, err := db.importPragmas(ctx)
	if err != nil {
		return res, err
	}
	defer restore()
	batch := make([]dialer.DNCNumber, 0, dncImportBatch)
	for {
		batch = batch[:0]
		var readErr error
		for len(batch) < dncImportBatch {
			row, err := rows.Next()
			if err != nil {
				readErr = err
				break
			}
			if len(row.Errors) > 0 {
				res.Reject(row.Errors)
				continue
			}
			batch = append(batch, row.Number)
		}
		if len(batch) > 0 {
			if err := db.importDNCBatch(ctx, a, id, batch); err != nil {
				return res, err
			}
			res.Imported += len(batch)
		}
		if errors.Is(readErr, io.EOF) {
			return res, nil
		}
		if readErr != nil {
			return res, readErr
		}
	}
}

func (db *DB) importDNCBatch(ctx context.Context, a dialer.Actor, id int64, batch []dialer.DNCNumber) error {
	db.dnc.mu.Lock()
	defer db.dnc.mu.Unlock()
	err := db.bulkTx(ctx, func(tx *sql.Tx) error {
		// The list may have gone since the last batch.
		if _, err := writableList(ctx, tx, a, id); err != nil {
			return err
		}
		stmts := map[int]*sql.Stmt{}
		defer closeStmts(stmts)
		return insertNumbers(ctx, tx, stmts, id, batch, "import", time.Now().Unix())
	})
	if err == nil {
		db.inMemory(func(s *dialer.DNCSet) { s.Add(id, batch) })
	}
	return err
}

// defaultListName is the name of the default list the store makes for a
// tenant's first opt-out when it has none.
const defaultListName = "default"

// RecordOptOut implements dialer.OptOutRecorder: the number goes onto the
// tenant's first default list (made when it has none), and the opt-out
// itself is kept with its call, in one transaction.
func (db *DB) RecordOptOut(ctx context.Context, o dialer.OptOut) error {
	k, ok := dialer.DNCKey(o.Number)
	if !ok {
		return dialer.InvalidField("number", "not an E.164 number")
	}
	db.dnc.mu.Lock()
	defer db.dnc.mu.Unlock()
	now := time.Now().Unix()
	at := o.At.Unix()
	if o.At.IsZero() {
		at = now
	}
	var list dialer.DNCList
	created := false
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		list, err = scanDNCList(tx.QueryRowContext(ctx, `SELECT `+dncCols+` FROM dnc_lists WHERE tenant_id = ? AND is_default = 1 ORDER BY dnc_id LIMIT 1`, o.TenantID))
		if errors.Is(err, sql.ErrNoRows) {
			list = dialer.DNCList{TenantID: o.TenantID, Name: defaultListName, Default: true, CreatedAt: now, UpdatedAt: now,
				Description: "opt-outs by key press, and every number that must never be called"}
			list.ID, err = insertRow(ctx, tx, "dnc list", `INSERT INTO dnc_lists (tenant_id, name, description, is_default, created_at, updated_at)
				VALUES (?, ?, ?, 1, ?, ?)`, o.TenantID, list.Name, list.Description, now, now)
			created = true
		}
		if err != nil {
			return fmt.Errorf("store: opt-out: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO dnc_numbers (dnc_id, number, expires_at, source, created_at) VALUES (?, ?, 0, 'opt-out', ?)
			ON CONFLICT (dnc_id, number) DO UPDATE SET expires_at = 0, source = 'opt-out'`, list.ID, int64(k), now); err != nil {
			return fmt.Errorf("store: opt-out: %w", err)
		}
		spool := o.SpoolID
		if spool == 0 && o.TransmissionID != 0 {
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(spool_id), 0) FROM spools WHERE transmission_id = ? AND tenant_id = ?`,
				o.TransmissionID, o.TenantID).Scan(&spool); err != nil {
				return fmt.Errorf("store: opt-out: %w", err)
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO dnc_optouts (tenant_id, dnc_id, number, spool_id, transmission_id, campaign_id, digit, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, o.TenantID, list.ID, o.Number, spool, o.TransmissionID, o.CampaignID, o.Digit, at)
		return wrap("opt-out", err)
	})
	if err != nil {
		return err
	}
	db.inMemory(func(s *dialer.DNCSet) {
		if created {
			s.PutList(list)
		}
		s.Add(list.ID, []dialer.DNCNumber{{Number: o.Number}})
	})
	return nil
}

// TenantCompliance implements dialer.ComplianceStore.
func (db *DB) TenantCompliance(ctx context.Context, tenantID string) (dialer.TenantCompliance, error) {
	tc := dialer.DefaultTenantCompliance()
	if d := db.dnc.defaults.Load(); d != nil {
		tc = *d
	}
	var start, end, days int
	err := db.r.QueryRowContext(ctx, `SELECT window_start, window_end, window_days, redial_limit FROM tenant_compliance WHERE tenant_id = ?`, tenantID).
		Scan(&start, &end, &days, &tc.RedialLimit)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return tc, fmt.Errorf("store: tenant compliance: %w", err)
	default:
		tc.Window = dialer.Window{Start: dialer.DayMinute(start), End: dialer.DayMinute(end), Days: dialer.Weekdays(days)}
	}
	tc.DIDs, err = tenantDIDs(ctx, db.r, tenantID)
	return tc, err
}

// tenantDIDs are the phones of a tenant's did accounts: the caller ids it
// may present on any route.
func tenantDIDs(ctx context.Context, q *sql.DB, tenantID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT phone FROM accounts WHERE tenant_id = ? AND type = ? AND phone != ''`, tenantID, dialer.AccountDID)
	if err != nil {
		return nil, fmt.Errorf("store: tenant dids: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("store: tenant dids: %w", err)
		}
		out = append(out, p)
	}
	return out, wrap("tenant dids", rows.Err())
}

// SetTenantCompliance changes the actor's tenant's settings.
func (db *DB) SetTenantCompliance(ctx context.Context, a dialer.Actor, tc dialer.TenantCompliance) error {
	var v dialer.Invalid
	tc.Validate(&v)
	if err := v.Err(); err != nil {
		return err
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO tenant_compliance (tenant_id, window_start, window_end, window_days, redial_limit, updated_by, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET window_start = excluded.window_start, window_end = excluded.window_end,
		window_days = excluded.window_days, redial_limit = excluded.redial_limit, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		a.TenantID, int(tc.Window.Start), int(tc.Window.End), int(tc.Window.Days), tc.RedialLimit, a.UserID, time.Now().Unix())
	return wrap("tenant compliance", err)
}

// CompliancePolicy implements dialer.ComplianceStore.
func (db *DB) CompliancePolicy(ctx context.Context, tenantID string, campaignID, transmissionID int64) (dialer.CompliancePolicy, error) {
	var p dialer.CompliancePolicy
	if campaignID != 0 {
		transmissionID = 0
		err := db.r.QueryRowContext(ctx, `SELECT window_override FROM campaigns WHERE campaign_id = ? AND tenant_id = ?`, campaignID, tenantID).Scan(&p.WindowOverride)
		if errors.Is(err, sql.ErrNoRows) {
			return p, dialer.NotFound("campaign")
		}
		if err != nil {
			return p, fmt.Errorf("store: compliance policy: %w", err)
		}
	}
	var err error
	p.Lists, err = db.dncLists(ctx, tenantID, campaignID, transmissionID)
	return p, err
}

// dncLists are the lists a campaign (campaignID != 0) or a single
// transmission names, nil for none.
func (db *DB) dncLists(ctx context.Context, tenantID string, campaignID, transmissionID int64) ([]int64, error) {
	return column[int64](ctx, db.r, "compliance policy", `SELECT u.dnc_id FROM dnc_uses u JOIN dnc_lists l ON l.dnc_id = u.dnc_id
		WHERE u.campaign_id = ? AND u.transmission_id = ? AND (l.tenant_id = ? OR l.tenant_id IS NULL) ORDER BY u.dnc_id`, campaignID, transmissionID, tenantID)
}

// DNCUses reads the lists a campaign (campaignID != 0) or a single
// transmission names: one query (it read a campaign's policy, and the
// lists of no campaign, as well).
func (db *DB) DNCUses(ctx context.Context, tenantID string, campaignID, transmissionID int64) ([]int64, error) {
	if campaignID != 0 {
		transmissionID = 0
	}
	lists, err := db.dncLists(ctx, tenantID, campaignID, transmissionID)
	if lists == nil {
		lists = []int64{}
	}
	return lists, err
}

// checkLists validates, in tx, that every list is the tenant's or the
// platform's.
func checkLists(ctx context.Context, tx *sql.Tx, tenantID string, lists []int64) error {
	for _, id := range lists {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM dnc_lists WHERE dnc_id = ? AND (tenant_id = ? OR tenant_id IS NULL)`, id, tenantID).Scan(&n); err != nil {
			return fmt.Errorf("store: dnc lists: %w", err)
		}
		if n == 0 {
			return dialer.InvalidField("dnc_lists", fmt.Sprintf("no do-not-call list %d", id))
		}
	}
	return nil
}

// SetDNCUses replaces the lists a campaign or transmission names.
func (db *DB) SetDNCUses(ctx context.Context, tenantID string, campaignID, transmissionID int64, lists []int64) error {
	if campaignID != 0 {
		transmissionID = 0
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := checkLists(ctx, tx, tenantID, lists); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM dnc_uses WHERE campaign_id = ? AND transmission_id = ?`, campaignID, transmissionID); err != nil {
			return fmt.Errorf("store: dnc uses: %w", err)
		}
		for _, id := range lists {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO dnc_uses (campaign_id, transmission_id, dnc_id) VALUES (?, ?, ?)`,
				campaignID, transmissionID, id); err != nil {
				return fmt.Errorf("store: dnc uses: %w", err)
			}
		}
		return nil
	})
}

// CheckDNCLists validates that every list is the tenant's or the platform's,
// before a campaign or transmission naming them is written.
func (db *DB) CheckDNCLists(ctx context.Context, tenantID string, lists []int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error { return checkLists(ctx, tx, tenantID, lists) })
}

// SetWindowOverride records whether a campaign's own window replaces the
// tenant's default one, with who set it and when.
func (db *DB) SetWindowOverride(ctx context.Context, a dialer.Actor, campaignID int64, override bool) error {
	_, err := db.w.ExecContext(ctx, `UPDATE campaigns SET window_override = ?,
		window_override_by = CASE WHEN window_override = ? THEN window_override_by ELSE ? END,
		window_override_at = CASE WHEN window_override = ? THEN window_override_at ELSE ? END
		WHERE campaign_id = ? AND tenant_id = ?`, override, override, a.UserID, override, time.Now().Unix(), campaignID, a.TenantID)
	return wrap("window override", err)
}

// WindowOverride reads a campaign's override and who set it when.
func (db *DB) WindowOverride(ctx context.Context, tenantID string, campaignID int64) (override bool, by, at int64, err error) {
	err = db.r.QueryRowContext(ctx, `SELECT window_override, window_override_by, window_override_at FROM campaigns WHERE campaign_id = ? AND tenant_id = ?`,
		campaignID, tenantID).Scan(&override, &by, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return false, 0, 0, dialer.NotFound("campaign")
	}
	return override, by, at, wrap("window override", err)
}

// RecentAttempts implements dialer.ComplianceStore.
func (db *DB) RecentAttempts(ctx context.Context, since time.Time) ([]dialer.NumberAttempt, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT s.tenant_id, c.phone, s.time_spool FROM spools s
		JOIN transmissions t ON t.transmission_id = s.transmission_id
		JOIN contacts c ON c.contact_id = t.contact_id
		WHERE s.time_spool >= ? AND c.phone != '' ORDER BY s.time_spool`, since.Unix())
	if err != nil {
		return nil, fmt.Errorf("store: recent attempts: %w", err)
	}
	defer rows.Close()
	var out []dialer.NumberAttempt
	for rows.Next() {
		var a dialer.NumberAttempt
		var at int64
		if err := rows.Scan(&a.TenantID, &a.Phone, &at); err != nil {
			return nil, fmt.Errorf("store: recent attempts: %w", err)
		}
		a.At = time.Unix(at, 0)
		out = append(out, a)
	}
	return out, rows.Err()
}

const (
	sqlTransmissionSuppressed = `UPDATE transmissions SET status = 'invalid', response = ?, suppressed_list = ?, due_at = 0, updated_at = ?
		WHERE transmission_id = ?`
	sqlWindowDeferred = `UPDATE transmissions SET deferrals = deferrals + 1 WHERE transmission_id = ?`
)

// applyCompliance records the engine's compliance changes.
func applyCompliance(sc *stmtCache, c dialer.Change, now int64) error {
	switch c := c.(type) {
	case dialer.TransmissionSuppressed:
		_, err := sc.exec(sqlTransmissionSuppressed, c.Response, c.ListID, now, c.TransmissionID)
		return wrap("transmission suppressed", err)
	case dialer.WindowDeferred:
		_, err := sc.exec(sqlWindowDeferred, c.TransmissionID)
		return wrap("window deferred", err)
	}
	return fmt.Errorf("store: unknown change %T", c)
}

// setCampaignCompliance writes, in the campaign's transaction, the lists it
// names (nil keeps them as they are) and its window override, recording
// who changed the override (c.WindowOverrideBy) and when.
func setCampaignCompliance(ctx context.Context, tx *sql.Tx, c, old dialer.Campaign, now int64) error {
	if c.DNCLists != nil {
		if err := checkLists(ctx, tx, c.TenantID, c.DNCLists); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM dnc_uses WHERE campaign_id = ? AND transmission_id = 0`, c.ID); err != nil {
			return fmt.Errorf("store: campaign lists: %w", err)
		}
		for _, id := range c.DNCLists {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO dnc_uses (campaign_id, transmission_id, dnc_id) VALUES (?, 0, ?)`, c.ID, id); err != nil {
				return fmt.Errorf("store: campaign lists: %w", err)
			}
		}
	}
	if c.WindowOverride != old.WindowOverride {
		if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET window_override = ?, window_override_by = ?, window_override_at = ? WHERE campaign_id = ?`,
			c.WindowOverride, c.WindowOverrideBy, now, c.ID); err != nil {
			return fmt.Errorf("store: window override: %w", err)
		}
	}
	return nil
}

// CampaignReport streams a campaign's record, one row per spool and per
// suppressed transmission, in time order, and returns its summary.
func (db *DB) CampaignReport(ctx context.Context, tenantID string, campaignID int64, fn func(dialer.ReportRow) error) (dialer.ReportSummary, error) {
	sum := dialer.ReportSummary{CampaignID: campaignID}
	var tz string
	if err := db.r.QueryRowContext(ctx, `SELECT window_tz FROM campaigns WHERE campaign_id = ? AND tenant_id = ?`, campaignID, tenantID).Scan(&tz); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return sum, dialer.NotFound("campaign")
		}
		return sum, fmt.Errorf("store: report: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, `
		SELECT s.spool_id, t.transmission_id, c.contact_id, c.phone, c.timezone, s.time_spool, s.caller_id,
			COALESCE(s.provider_id, 0), COALESCE(p.name, ''), s.node, s.status, s.response, s.time_connect, s.time_end,
			COALESCE((SELECT group_concat(r.data, '') FROM spool_results r WHERE r.spool_id = s.spool_id AND r.type = 'dtmf'), ''),
			COALESCE((SELECT r.data FROM spool_results r WHERE r.spool_id = s.spool_id AND r.type = 'sip' AND r.name = 'term_status' LIMIT 1), ''),
			COALESCE((SELECT r.data FROM spool_results r WHERE r.spool_id = s.spool_id AND r.type = 'amd' ORDER BY r.spool_result_id DESC LIMIT 1), ''),
			EXISTS (SELECT 1 FROM dnc_optouts o WHERE o.spool_id = s.spool_id),
			0, 0
		FROM spools s JOIN transmissions t ON t.transmission_id = s.transmission_id
		JOIN contacts c ON c.contact_id = t.contact_id
		LEFT JOIN providers p ON p.provider_id = s.provider_id
		WHERE t.campaign_id = ? AND t.tenant_id = ?
		UNION ALL
		SELECT 0, t.transmission_id, c.contact_id, c.phone, c.timezone, t.updated_at, '',
			0, '', '', 'suppressed', t.response, 0, 0, '', '', '', 0, 1, t.suppressed_list
		FROM transmissions t JOIN contacts c ON c.contact_id = t.contact_id
		WHERE t.campaign_id = ? AND t.tenant_id = ? AND t.status = 'invalid' AND t.suppressed_list IS NOT NULL
		ORDER BY 6, 1, 2`, campaignID, tenantID, campaignID, tenantID)
	if err != nil {
		return sum, fmt.Errorf("store: report: %w", err)
	}
	defer rows.Close()
	campLoc, err := time.LoadLocation(tz)
	if err != nil {
		campLoc = time.UTC
	}
	locs := map[string]*time.Location{}
	for rows.Next() {
		var r dialer.ReportRow
		var contactTZ, node string
		var at, connect, end int64
		if err := rows.Scan(&r.SpoolID, &r.TransmissionID, &r.ContactID, &r.Number, &contactTZ, &at, &r.CallerID,
			&r.ProviderID, &r.Route, &node, &r.Outcome, &r.Cause, &connect, &end, &r.DTMF, &r.SIPCode, &r.Machine,
			&r.OptedOut, &r.Suppressed, &r.SuppressedList); err != nil {
			return sum, fmt.Errorf("store: report: %w", err)
		}
		if node != "" {
			r.Route += " @" + node
		}
		loc := reportLoc(locs, contactTZ, r.Number, campLoc)
		t := time.Unix(at, 0)
		r.TimeUTC, r.TimeLocal, r.TimeZone = t.UTC().Format(time.RFC3339), t.In(loc).Format(time.RFC3339), loc.String()
		r.Answered = connect > 0
		if r.Answered && end >= connect {
			r.Billsec = end - connect
		}
		switch {
		case r.Suppressed:
			sum.Suppressed++
		default:
			sum.Attempts++
			if r.Answered {
				sum.Answered++
			}
			if r.Outcome == string(dialer.SpoolCompleted) {
				sum.Completed++
			} else if abandoned(r) {
				sum.Abandoned++
			}
			if r.OptedOut {
				sum.OptedOut++
			}
		}
		if err := fn(r); err != nil {
			return sum, err
		}
	}
	if err := rows.Err(); err != nil {
		return sum, fmt.Errorf("store: report: %w", err)
	}
	err = db.r.QueryRowContext(ctx, `SELECT COALESCE(SUM(deferrals), 0), COUNT(*) FILTER (WHERE deferrals > 0) FROM transmissions WHERE campaign_id = ? AND tenant_id = ?`,
		campaignID, tenantID).Scan(&sum.Deferrals, &sum.DeferredTransmissions)
	return sum, wrap("report", err)
}

// abandoned: an answered attempt that ended without delivering the
// message, for another reason than the callee's opt-out or the on_machine
// policy hanging up on a machine (nobody was left waiting then).
func abandoned(r dialer.ReportRow) bool {
	switch {
	case !r.Answered, r.OptedOut, r.Cause == dialer.CauseOptedOut, r.Cause == dialer.CauseMachineHangUp:
		return false
	}
	return r.Outcome != string(dialer.SpoolCompleted) && r.Outcome != string(dialer.SpoolInitiated)
}

// reportLoc is the zone a report shows an attempt's local time in: the
// contact's, else its number's when that is one zone, else the campaign's.
func reportLoc(cache map[string]*time.Location, contactTZ, number string, campaign *time.Location) *time.Location {
	name := contactTZ
	if name == "" {
		if zs := dialer.NumberZones(number); len(zs) == 1 {
			name = zs[0]
		}
	}
	if name == "" {
		return campaign
	}
	loc, ok := cache[name]
	if !ok {
		var err error
		if loc, err = time.LoadLocation(name); err != nil {
			loc = campaign
		}
		cache[name] = loc
	}
	return loc
}

// Compliance loads the do-not-call lists into memory and returns what the
// engine's compliance rules read (EngineDeps.Compliance and DNC).
func (s *EngineStore) Compliance(ctx context.Context) (dialer.ComplianceStore, *dialer.DNCSet, error) {
	if err := s.db.LoadDNC(ctx); err != nil {
		return nil, nil, err
	}
	return s.db, s.db.DNC(), nil
}

// checkCallerID applies the caller-id policy to what an attempt through
// account accountID presents: the account's phone (the engine's caller id
// number). It may present a DID of the tenant's accounts, or a number on
// the caller_ids allow-list in the settings of one of the tenant's
// providers; an account without a phone, or none, presents the trunk's
// own identity. Anything else is a field error on account_id.
func checkCallerID(ctx context.Context, tx *sql.Tx, tenantID string, accountID int64, v *dialer.Invalid) error {
	if accountID == 0 {
		return nil
	}
	var typ, phone string
	err := tx.QueryRowContext(ctx, `SELECT type, phone FROM accounts WHERE account_id = ? AND tenant_id = ?`, accountID, tenantID).Scan(&typ, &phone)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // checkRefs says so
	}
	if err != nil {
		return fmt.Errorf("store: caller id: %w", err)
	}
	if phone == "" || typ == dialer.AccountDID {
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE tenant_id = ? AND type = ? AND phone = ?`,
		tenantID, dialer.AccountDID, phone).Scan(&n); err != nil {
		return fmt.Errorf("store: caller id: %w", err)
	}
	if n > 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT settings FROM providers WHERE tenant_id = ? AND settings != ''`, tenantID)
	if err != nil {
		return fmt.Errorf("store: caller id: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var settings string
		if err := rows.Scan(&settings); err != nil {
			return fmt.Errorf("store: caller id: %w", err)
		}
		if dialer.ProviderAllowsCallerID(settings, phone) {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: caller id: %w", err)
	}
	v.Add("account_id", fmt.Sprintf("the caller id %s (the account's phone) is neither a DID of the tenant's accounts nor on a provider's caller_ids allow-list; use a did account or add it to a provider's settings {\"caller_ids\": [...]}", phone))
	return nil
}
