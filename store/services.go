package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// A tenant's services: quantities counted from its live records, the
// quantities last committed, the audit log of every change and the prepaid
// ledger (see 0009_crossbar.sql).

// quantityQueries count one tenant's live records: each yields (item,
// count) rows of its category. Usage categories count running totals.
var quantityQueries = []struct{ category, query string }{
	{"users", `SELECT CASE WHEN EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.user_id AND r.role_id = 1)
		THEN 'admin' ELSE 'user' END, COUNT(*) FROM users u WHERE u.tenant_id = ?1 GROUP BY 1`},
	{"accounts", `SELECT type, COUNT(*) FROM accounts WHERE tenant_id = ?1 GROUP BY type`},
	{"contacts", `SELECT 'contact', COUNT(*) FROM contacts WHERE tenant_id = ?1`},
	{"groups", `SELECT 'group', COUNT(*) FROM groups WHERE tenant_id = ?1`},
	{"messages", `SELECT 'recording', COUNT(*) FROM recordings WHERE tenant_id = ?1
		UNION ALL SELECT 'document', COUNT(*) FROM documents WHERE tenant_id = ?1
		UNION ALL SELECT 'template', COUNT(*) FROM templates WHERE tenant_id = ?1
		UNION ALL SELECT 'text', COUNT(*) FROM texts WHERE tenant_id = ?1`},
	{"programs", `SELECT type, COUNT(*) FROM programs WHERE tenant_id = ?1 GROUP BY type`},
	{"campaigns", `SELECT 'campaign', COUNT(*) FROM campaigns WHERE tenant_id = ?1
		UNION ALL SELECT 'running', COUNT(*) FROM campaigns WHERE tenant_id = ?1 AND status = 'active'`},
	{"providers", `SELECT CASE gateway_flag WHEN 1 THEN 'freeswitch' WHEN 2 THEN 'kannel' WHEN 4 THEN 'sendmail'
		WHEN 8 THEN 'sip' ELSE 'other' END, COUNT(*) FROM providers WHERE tenant_id = ?1 GROUP BY 1`},
	{"pbx", `SELECT CASE type WHEN 'KazooPbxConnectionProfile' THEN 'kazoo' WHEN 'ThreeCxConnectionProfile' THEN 'threecx'
		ELSE 'freeswitch' END, COUNT(*) FROM pbx_profiles WHERE tenant_id = ?1 GROUP BY 1`},
	{"centrex", `SELECT 'centrex', COUNT(*) FROM centrex WHERE tenant_id = ?1 AND deleted_at = 0
		UNION ALL SELECT 'number', COUNT(*) FROM centrex_accounts WHERE tenant_id = ?1 AND deleted_at = 0`},
}

// liveQuantities counts the tenant's records as they are now. Items whose
// count is zero are left out. Peak channels are those of the current
// calendar month (UTC): the committed peak of the month, and the calls up
// since a little before the last sync, so a sync never holds a month of
// calls in memory.
func liveQuantities(ctx context.Context, q rowsQuerier, tenantID string, now time.Time) (dialer.Quantities, error) {
	out := dialer.Quantities{}
	for _, qq := range quantityQueries {
		rows, err := q.QueryContext(ctx, qq.query, tenantID)
		if err != nil {
			return nil, fmt.Errorf("store: count %s: %w", qq.category, err)
		}
		for rows.Next() {
			var item string
			var n int64
			if err := rows.Scan(&item, &n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: count %s: %w", qq.category, err)
			}
			if n != 0 {
				out.Set(qq.category, item, n)
			}
		}
		if err := errors.Join(rows.Close(), rows.Err()); err != nil {
			return nil, fmt.Errorf("store: count %s: %w", qq.category, err)
		}
	}
	from, base, err := peakWindow(ctx, q, tenantID, now)
	if err != nil {
		return nil, err
	}
	peak, err := peakChannels(ctx, q, tenantID, from, now)
	if err != nil {
		return nil, err
	}
	peak = max(peak, base)
	if peak > 0 {
		out.Set("limits", "peak_channels", peak)
	}
	return out, nil
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// usageCategoryNames are the usage categories.
func usageCategoryNames() map[string]bool {
	return map[string]bool{"call_seconds": true, "sms": true, "fax": true, "email": true}
}

// usageByService names the usage category of each service flag.
var usageByService = map[int]string{dialer.ServiceSMS: "sms", dialer.ServiceFax: "fax", dialer.ServiceEmail: "email"}

// usageQuantities adds to out the usage of the tenant's spools with ids in
// [from, to), in one pass: answered call seconds (call_seconds.answered),
// and completed SMS, faxes and emails by direction.
func usageQuantities(ctx context.Context, q rowsQuerier, tenantID string, from, to int64, out dialer.Quantities) error {
	rows, err := q.QueryContext(ctx, `SELECT t.service_flag, t.direction,
		COALESCE(SUM(s.status = 'completed'), 0),
		COALESCE(SUM(CASE WHEN s.time_connect > 0 AND s.time_end >= s.time_connect THEN s.time_end - s.time_connect END), 0)
		FROM spools s JOIN transmissions t ON t.transmission_id = s.transmission_id
		WHERE s.spool_id >= ? AND s.spool_id < ? AND s.tenant_id = ? GROUP BY 1, 2`, from, to, tenantID)
	if err != nil {
		return fmt.Errorf("store: count usage: %w", err)
	}
	for rows.Next() {
		var flag int
		var direction string
		var completed, seconds int64
		if err := rows.Scan(&flag, &direction, &completed, &seconds); err != nil {
			rows.Close()
			return fmt.Errorf("store: count usage: %w", err)
		}
		if flag == dialer.ServiceVoice && seconds > 0 {
			out.Set("call_seconds", "answered", out.Get("call_seconds", "answered")+seconds)
		}
		if c, ok := usageByService[flag]; ok && completed > 0 {
			out.Set(c, direction, out.Get(c, direction)+completed)
		}
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return fmt.Errorf("store: count usage: %w", err)
	}
	return nil
}

// peakOverlap is how far before the last sync the peak is counted again:
// a call up then (at most the engine's maximum duration) still counts.
const peakOverlap = time.Hour

// peakWindow is where the peak count starts and the peak committed before
// it: the whole month when the last sync was in another month.
func peakWindow(ctx context.Context, q rowsQuerier, tenantID string, now time.Time) (time.Time, int64, error) {
	start := monthStart(now)
	rows, err := q.QueryContext(ctx, `SELECT s.synced_at, COALESCE((SELECT quantity FROM service_quantities
		WHERE tenant_id = s.tenant_id AND category = 'limits' AND item = 'peak_channels'), 0)
		FROM services s WHERE s.tenant_id = ?`, tenantID)
	if err != nil {
		return start, 0, fmt.Errorf("store: peak window: %w", err)
	}
	var synced, base int64
	if rows.Next() {
		err = rows.Scan(&synced, &base)
	}
	if err := errors.Join(err, rows.Close(), rows.Err()); err != nil {
		return start, 0, fmt.Errorf("store: peak window: %w", err)
	}
	last := time.Unix(synced, 0)
	if synced == 0 || last.Before(start) {
		return start, 0, nil
	}
	if from := last.Add(-peakOverlap); from.After(start) {
		return from, base, nil
	}
	return start, base, nil
}

// peakChannels is the most calls of the tenant up at once in [from, to):
// a sweep over the spools' starts and ends (an open spool lasts until to).
func peakChannels(ctx context.Context, q rowsQuerier, tenantID string, from, to time.Time) (int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT s.time_start, CASE WHEN s.time_end > 0 THEN s.time_end ELSE ?3 END FROM spools s
		JOIN transmissions t ON t.transmission_id = s.transmission_id
		WHERE s.tenant_id = ?1 AND t.direction = 'outbound' AND t.service_flag = 1 AND s.time_start > 0
		  AND (s.time_end = 0 OR s.time_end >= ?2)`, tenantID, from.Unix(), to.Unix())
	if err != nil {
		return 0, fmt.Errorf("store: peak channels: %w", err)
	}
	type edge struct{ at, d int64 }
	var edges []edge
	for rows.Next() {
		var s, e int64
		if err := rows.Scan(&s, &e); err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: peak channels: %w", err)
		}
		edges = append(edges, edge{max(s, from.Unix()), 1}, edge{max(e, s, from.Unix()), -1})
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return 0, fmt.Errorf("store: peak channels: %w", err)
	}
	// Ends sort before starts at the same second: a call that ends as the
	// next begins does not overlap it.
	slices.SortFunc(edges, func(a, b edge) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return int(a.d - b.d)
	})
	var cur, peak int64
	for _, e := range edges {
		cur += e.d
		peak = max(peak, cur)
	}
	return peak, nil
}

// LiveQuantities counts the tenant's records now, without committing them.
// Usage is not in it: the summary counts the period's usage from the
// audit.
func (db *DB) LiveQuantities(ctx context.Context, tenantID string) (dialer.Quantities, error) {
	return liveQuantities(ctx, db.r, tenantID, time.Now())
}

func committedQuantities(ctx context.Context, q rowsQuerier, tenantID string) (dialer.Quantities, error) {
	rows, err := q.QueryContext(ctx, `SELECT category, item, quantity FROM service_quantities WHERE tenant_id = ?`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: quantities: %w", err)
	}
	out := dialer.Quantities{}
	for rows.Next() {
		var c, i string
		var n int64
		if err := rows.Scan(&c, &i, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: quantities: %w", err)
		}
		out.Set(c, i, n)
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return nil, fmt.Errorf("store: quantities: %w", err)
	}
	return out, nil
}

// CommittedQuantities are the quantities the audit log accounts for.
func (db *DB) CommittedQuantities(ctx context.Context, tenantID string) (dialer.Quantities, error) {
	return committedQuantities(ctx, db.r, tenantID)
}

// newAuditID is YYYYMM-<16 hex of the time in ns><16 random hex>.
func newAuditID(at time.Time) string {
	var r [8]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s-%016x%s", at.UTC().Format("200601"), at.UnixNano(), hex.EncodeToString(r[:]))
}

// insertAudit writes one entry, giving it its id and time when unset.
func insertAudit(ctx context.Context, tx *sql.Tx, e *dialer.AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if e.ID == "" {
		e.ID = newAuditID(e.At)
	}
	if e.Status == "" {
		e.Status = "completed"
	}
	who, _ := json.Marshal(e.Who)
	req, _ := json.Marshal(e.Request)
	changes, err := json.Marshal(cmpOrEmpty(e.Changes))
	if err != nil {
		return fmt.Errorf("store: audit changes: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO service_audit (audit_id, tenant_id, created_at, type, category, item, addition,
		removal, quantity, category_total, sum_quantity, unit, status, reason, message, who, request, changes)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.TenantID, e.At.Unix(), e.Type, e.Category, e.Item, e.Addition, e.Removal, e.Quantity, e.CategoryTotal,
		e.SumQuantity, e.Unit, e.Status, e.Reason, e.Message, string(who), string(req), string(changes))
	if err != nil {
		return fmt.Errorf("store: insert audit: %w", err)
	}
	return nil
}

func cmpOrEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// SyncQuantities counts the tenant's records, compares them with the
// committed quantities and commits the difference: every item that moved
// becomes an audit entry (a stock's addition or removal with its new
// count; usage's amount since the last sync). typ is the entries' type
// ("quantity", or "reconciliation" when asked for). It returns the
// entries written.
func (db *DB) SyncQuantities(ctx context.Context, tenantID, typ string, who dialer.AuditWho, req dialer.AuditRequest) ([]dialer.AuditEntry, error) {
	// Counted on the readers, outside the write transaction: a tenant's
	// counts may scan many rows, and the write lock is the engine's too.
	// One sync at a time, so an older count never lands after a newer one.
	db.syncMu.Lock()
	defer db.syncMu.Unlock()
	now := time.Now()
	live, err := liveQuantities(ctx, db.r, tenantID, now)
	if err != nil {
		return nil, err
	}
	// Usage: the committed totals plus the spools from the last sync's
	// mark up to the first spool still open (each spool is counted once,
	// after it has ended, whatever the order spools end in); a
	// reconciliation counts every spool again. The range is read by spool
	// id: no scan of the tenant's history.
	committed, err := committedQuantities(ctx, db.r, tenantID)
	if err != nil {
		return nil, err
	}
	var mark int64
	if err := db.r.QueryRowContext(ctx, `SELECT usage_mark FROM services WHERE tenant_id = ?`, tenantID).Scan(&mark); err != nil &&
		!errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: usage mark: %w", err)
	}
	var cutoff int64
	if err := db.r.QueryRowContext(ctx, `SELECT COALESCE((SELECT MIN(spool_id) FROM spools WHERE status = 'initiated' AND tenant_id = ?),
		(SELECT COALESCE(MAX(spool_id), 0) + 1 FROM spools))`, tenantID).Scan(&cutoff); err != nil {
		return nil, fmt.Errorf("store: usage mark: %w", err)
	}
	if typ == "reconciliation" {
		mark = 0
	} else {
		for c := range usageCategoryNames() {
			for i, n := range committed[c] {
				live.Set(c, i, n)
			}
		}
	}
	if err := usageQuantities(ctx, db.r, tenantID, mark, max(cutoff, mark), live); err != nil {
		return nil, err
	}
	var out []dialer.AuditEntry
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO services (tenant_id, updated_at, synced_at, usage_mark) VALUES (?, ?, ?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET synced_at = excluded.synced_at, usage_mark = excluded.usage_mark`,
			tenantID, now.Unix(), now.Unix(), max(cutoff, mark)); err != nil {
			return fmt.Errorf("store: sync time: %w", err)
		}
		old, err := committedQuantities(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		cats := map[string]bool{}
		for c := range live {
			cats[c] = true
		}
		for c := range old {
			cats[c] = true
		}
		for _, c := range slices.Sorted(maps.Keys(cats)) {
			items := map[string]bool{}
			for i := range live[c] {
				items[i] = true
			}
			for i := range old[c] {
				items[i] = true
			}
			unit, usage := dialer.UsageUnit(c)
			for _, i := range slices.Sorted(maps.Keys(items)) {
				n, was := live.Get(c, i), old.Get(c, i)
				if n == was {
					continue
				}
				e := dialer.AuditEntry{TenantID: tenantID, At: now, Type: typ, Category: c, Item: i, Who: who, Request: req,
					CategoryTotal: live.Total(c), Changes: map[string]any{"category": c, "item": i, "from": was, "to": n}}
				switch {
				case usage:
					e.Type, e.SumQuantity, e.Unit, e.Quantity = "usage", true, unit, n-was
					if typ != "quantity" {
						e.Reason = typ
					}
				case n > was:
					e.Addition, e.Quantity = n-was, n
				default:
					e.Removal, e.Quantity = was-n, n
				}
				if err := insertAudit(ctx, tx, &e); err != nil {
					return err
				}
				out = append(out, e)
				if _, err := tx.ExecContext(ctx, `INSERT INTO service_quantities (tenant_id, category, item, quantity) VALUES (?, ?, ?, ?)
					ON CONFLICT (tenant_id, category, item) DO UPDATE SET quantity = excluded.quantity`, tenantID, c, i, n); err != nil {
					return fmt.Errorf("store: commit quantity: %w", err)
				}
			}
		}
		return nil
	})
	return out, err
}

// Services returns the tenant's services document and its revision; a
// tenant never written has an empty one at revision 1.
func (db *DB) Services(ctx context.Context, tenantID string) (dialer.ServiceDoc, int64, error) {
	return servicesIn(ctx, db.r, tenantID)
}

func servicesIn(ctx context.Context, q querier, tenantID string) (dialer.ServiceDoc, int64, error) {
	var raw string
	var rev int64
	doc := dialer.ServiceDoc{}
	err := q.QueryRowContext(ctx, `SELECT doc, revision FROM services WHERE tenant_id = ?`, tenantID).Scan(&raw, &rev)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		raw, rev = "{}", 1
	case err != nil:
		return doc, 0, fmt.Errorf("store: services: %w", err)
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return doc, 0, fmt.Errorf("store: services document: %w", err)
	}
	if doc.Plans == nil {
		doc.Plans = map[string]dialer.PlanAssignment{}
	}
	if doc.Manual == nil {
		doc.Manual = dialer.Quantities{}
	}
	if doc.Overrides == nil {
		doc.Overrides = map[string]map[string]map[string]any{}
	}
	return doc, rev, nil
}

// UpdateServices changes the tenant's services document with fn in one
// transaction and writes the audit entries fn returns. ifRev > 0 must be
// the current revision.
func (db *DB) UpdateServices(ctx context.Context, tenantID string, ifRev int64,
	fn func(doc *dialer.ServiceDoc) ([]dialer.AuditEntry, error)) (dialer.ServiceDoc, int64, error) {
	var doc dialer.ServiceDoc
	var rev int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if doc, rev, err = servicesIn(ctx, tx, tenantID); err != nil {
			return err
		}
		if err := checkRevision(rev, ifRev); err != nil {
			return err
		}
		entries, err := fn(&doc)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("store: services document: %w", err)
		}
		now := time.Now()
		rev++
		if _, err := tx.ExecContext(ctx, `INSERT INTO services (tenant_id, doc, revision, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET doc = excluded.doc, revision = excluded.revision, updated_at = excluded.updated_at`,
			tenantID, string(raw), rev, now.Unix()); err != nil {
			return fmt.Errorf("store: write services: %w", err)
		}
		for i := range entries {
			entries[i].TenantID = tenantID
			if err := insertAudit(ctx, tx, &entries[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return doc, rev, err
}

// RecordAudit writes entries on their own (a synchronization, say).
func (db *DB) RecordAudit(ctx context.Context, entries []dialer.AuditEntry) ([]dialer.AuditEntry, error) {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for i := range entries {
			if err := insertAudit(ctx, tx, &entries[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return entries, err
}

const auditCols = `audit_id, tenant_id, created_at, type, category, item, addition, removal, quantity, category_total,
	sum_quantity, unit, status, reason, message, who, request, changes`

func scanAudit(r rowScanner) (dialer.AuditEntry, error) {
	var e dialer.AuditEntry
	var at int64
	var who, req, changes string
	err := r.Scan(&e.ID, &e.TenantID, &at, &e.Type, &e.Category, &e.Item, &e.Addition, &e.Removal, &e.Quantity,
		&e.CategoryTotal, &e.SumQuantity, &e.Unit, &e.Status, &e.Reason, &e.Message, &who, &req, &changes)
	if err != nil {
		return e, err
	}
	e.At = time.Unix(at, 0).UTC()
	if err := errors.Join(json.Unmarshal([]byte(who), &e.Who), json.Unmarshal([]byte(req), &e.Request),
		json.Unmarshal([]byte(changes), &e.Changes)); err != nil {
		return e, fmt.Errorf("audit %s: %w", e.ID, err)
	}
	return e, nil
}

// AuditEntries lists a tenant's audit entries in time order.
func (db *DB) AuditEntries(ctx context.Context, tenantID string, q dialer.AuditQuery) ([]dialer.AuditEntry, error) {
	sqlq := `SELECT ` + auditCols + ` FROM service_audit WHERE tenant_id = ? AND created_at >= ? AND created_at <= ?
		AND audit_id >= ?`
	args := []any{tenantID, q.From, q.To, q.StartKey}
	if q.Category != "" {
		sqlq += ` AND category = ?`
		args = append(args, q.Category)
	}
	sqlq += ` ORDER BY audit_id`
	if q.Limit > 0 {
		sqlq += ` LIMIT ?`
		args = append(args, q.Limit)
	}
	return queryAll(ctx, db.r, sqlq, args, scanAudit)
}

// AuditEntry returns one of the tenant's audit entries.
func (db *DB) AuditEntry(ctx context.Context, tenantID, id string) (dialer.AuditEntry, error) {
	e, err := scanAudit(db.r.QueryRowContext(ctx, `SELECT `+auditCols+` FROM service_audit WHERE tenant_id = ? AND audit_id = ?`,
		tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, dialer.NotFound("audit entry " + id)
	}
	if err != nil {
		return e, fmt.Errorf("store: audit %s: %w", id, err)
	}
	return e, nil
}

func ledgerIn(ctx context.Context, q querier, tenantID string) (dialer.Ledger, error) {
	var l dialer.Ledger
	// service_balances is kept by a trigger on every ledger entry.
	err := q.QueryRowContext(ctx, `SELECT balance, credited, debited, seconds FROM service_balances WHERE tenant_id = ?`,
		tenantID).Scan(&l.Balance, &l.Credited, &l.Debited, &l.Seconds)
	if errors.Is(err, sql.ErrNoRows) {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("store: ledger: %w", err)
	}
	return l, nil
}

// Ledger is the tenant's prepaid credit.
func (db *DB) Ledger(ctx context.Context, tenantID string) (dialer.Ledger, error) {
	return ledgerIn(ctx, db.r, tenantID)
}

// Topup credits the tenant's ledger with micros (> 0) and audits it.
func (db *DB) Topup(ctx context.Context, tenantID string, micros int64, who dialer.AuditWho, req dialer.AuditRequest) (dialer.Ledger, dialer.AuditEntry, error) {
	var l dialer.Ledger
	e := dialer.AuditEntry{TenantID: tenantID, Type: "topup", Category: "ledger", Item: "credit", Who: who, Request: req,
		Changes: map[string]any{"amount": dialer.Dollars(micros)}}
	if micros <= 0 {
		return l, e, ruleInvalid("amount", dialer.RuleMinimum, "must be more than 0")
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := insertAudit(ctx, tx, &e); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO service_ledger (tenant_id, kind, amount, audit_id, created_at)
			VALUES (?, 'topup', ?, ?, ?)`, tenantID, micros, e.ID, e.At.Unix()); err != nil {
			return fmt.Errorf("store: topup: %w", err)
		}
		var err error
		l, err = ledgerIn(ctx, tx, tenantID)
		return err
	})
	return l, e, err
}

// DebitCall debits a spool's answered seconds at micros, once per spool
// (a second debit of it changes nothing), and returns the balance after.
func (db *DB) DebitCall(ctx context.Context, tenantID string, spoolID, seconds, micros int64, at time.Time) (dialer.Ledger, error) {
	var l dialer.Ledger
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO service_ledger (tenant_id, kind, amount, seconds, spool_id, created_at)
			VALUES (?, 'usage', ?, ?, ?, ?) ON CONFLICT (spool_id) DO NOTHING`, tenantID, -micros, seconds, spoolID, at.Unix()); err != nil {
			return fmt.Errorf("store: debit call: %w", err)
		}
		var err error
		l, err = ledgerIn(ctx, tx, tenantID)
		return err
	})
	return l, err
}

// TenantExists reports whether a tenant has that id.
func (db *DB) TenantExists(ctx context.Context, id string) (bool, error) {
	var one int
	err := db.r.QueryRowContext(ctx, `SELECT 1 FROM tenants WHERE tenant_id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: tenant: %w", err)
	}
	return true, nil
}

// PlanSource is the engine's view of the tenants' services under a plan
// catalogue: their effective limits, the rate of an answered second, the
// prepaid balance, and the debits of calls.
type PlanSource struct {
	db  *DB
	cat dialer.PlanCatalog
}

// PlanSource reads the tenants' plans from cat.
func (db *DB) PlanSource(cat dialer.PlanCatalog) *PlanSource { return &PlanSource{db: db, cat: cat} }

// TenantPlan is the tenant's plan as the engine enforces it.
func (p *PlanSource) TenantPlan(ctx context.Context, tenantID string, now time.Time) (dialer.TenantPlan, error) {
	doc, _, err := p.db.Services(ctx, tenantID)
	if err != nil {
		return dialer.TenantPlan{}, err
	}
	plans := p.cat.EffectivePlans(doc)
	rate, _ := dialer.Rate(plans, doc.Overrides, "call_seconds", "answered")
	l, err := p.db.Ledger(ctx, tenantID)
	if err != nil {
		return dialer.TenantPlan{}, err
	}
	limits := dialer.EffectiveLimits(plans, doc.Overrides)
	var month int64
	// The month's seconds scan the tenant's spools: only for a plan that
	// limits them (the engine reads a plan every few seconds).
	if limits.MonthlyCallSeconds > 0 {
		if err := p.db.r.QueryRowContext(ctx, `SELECT COALESCE(SUM(s.time_end - s.time_connect), 0) FROM spools s
		JOIN transmissions t ON t.transmission_id = s.transmission_id
		WHERE s.tenant_id = ? AND t.service_flag = 1 AND s.time_connect > 0 AND s.time_end >= s.time_connect AND s.time_end >= ?`,
			tenantID, monthStart(now).Unix()).Scan(&month); err != nil {
			return dialer.TenantPlan{}, fmt.Errorf("store: month's call seconds: %w", err)
		}
	}
	return dialer.TenantPlan{Limits: limits, SecondRate: rate, Credit: l.Balance, MonthSeconds: month}, nil
}

// DebitCall debits a spool's answered seconds (see DB.DebitCall).
func (p *PlanSource) DebitCall(ctx context.Context, tenantID string, spoolID, seconds, micros int64, at time.Time) (dialer.Ledger, error) {
	return p.db.DebitCall(ctx, tenantID, spoolID, seconds, micros, at)
}

// RecordCount counts the tenant's contacts or campaigns, for plan limits.
func (db *DB) RecordCount(ctx context.Context, tenantID, what string) (int64, error) {
	table := map[string]string{"contacts": "contacts", "campaigns": "campaigns"}[what]
	if table == "" {
		return 0, fmt.Errorf("store: no count of %q", what)
	}
	var n int64
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE tenant_id = ?`, tenantID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count %s: %w", what, err)
	}
	return n, nil
}
