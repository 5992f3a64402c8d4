package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

const campaignCols = `campaigns.campaign_id, campaigns.tenant_id, campaigns.program_id, campaigns.group_id,
	COALESCE(campaigns.account_id, 0), campaigns.cpm, campaigns.try_allowed, campaigns.retry_delay, campaigns.status,
	campaigns.window_start, campaigns.window_end, campaigns.window_days, campaigns.window_tz,
	campaigns.started_at, campaigns.finished_at, campaigns.created_by, campaigns.created_by_crn, campaigns.created_at, campaigns.updated_at,
	campaigns.window_override, campaigns.window_override_by, campaigns.window_override_at`

var campaignList = listSpec{
	table: "campaigns", idCol: "campaign_id",
	ownerCond: "campaigns.created_by = ?",
	fields: map[string]string{
		"campaign_id": "campaign_id", "program_id": "program_id", "group_id": "group_id", "account_id": "account_id",
		"cpm": "cpm", "try_allowed": "try_allowed", "retry_delay": "retry_delay", "status": "status",
		"window_tz": "window_tz", "created_by": "created_by",
	},
}

func scanCampaign(r rowScanner) (dialer.Campaign, error) {
	var c dialer.Campaign
	var status string
	var start, end, days int
	err := r.Scan(&c.ID, &c.TenantID, &c.ProgramID, &c.GroupID, &c.AccountID, &c.CPM, &c.TryAllowed, &c.RetryDelay, &status,
		&start, &end, &days, &c.TZ, &c.StartedAt, &c.FinishedAt, &c.CreatedBy, creatorCRN{&c.CreatedByCRN, &c.CreatedBy}, &c.CreatedAt, &c.UpdatedAt,
		&c.WindowOverride, &c.WindowOverrideBy, &c.WindowOverrideAt)
	c.Status = dialer.CampaignStatus(status)
	c.Start, c.End, c.Days = dialer.DayMinute(start), dialer.DayMinute(end), dialer.Weekdays(days)
	return c, err
}

func campaignBy(ctx context.Context, q querier, tenantID string, id int64) (dialer.Campaign, error) {
	return getRow(ctx, q, "campaign", "campaigns", "campaign_id", campaignCols, tenantID, id, scanCampaign)
}

// rowRef is an id a row refers to: a row of table, named by idCol, which
// is also the field a bad reference is reported on. 0 refers to nothing.
type rowRef struct {
	table, idCol string
	id           int64
}

// checkRefs adds a field error to v for each ref whose row does not exist
// in the tenant (or, for a non-admin scope, does not belong to its user: an
// account belongs to its creator and to the user it is assigned to, as
// everywhere else).
func checkRefs(ctx context.Context, q querier, scope dialer.Scope, v *dialer.Invalid, refs ...rowRef) error {
	for _, r := range refs {
		if r.id == 0 {
			continue
		}
		query := `SELECT COUNT(*) FROM ` + r.table + ` WHERE tenant_id = ? AND ` + r.idCol + ` = ?`
		args := []any{scope.TenantID, r.id}
		switch {
		case scope.OwnerID != 0 && r.table == "accounts":
			query += ` AND (created_by = ? OR user_id = ?)`
			args = append(args, scope.OwnerID, scope.OwnerID)
		case scope.OwnerID != 0:
			query += ` AND created_by = ?`
			args = append(args, scope.OwnerID)
		}
		var n int
		if err := q.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
			return fmt.Errorf("store: check %s: %w", r.idCol, err)
		}
		if n == 0 {
			v.Add(r.idCol, "no such "+r.table[:len(r.table)-1])
		}
	}
	return nil
}

// outboundProgram fails with a field error unless the program sends something.
func outboundProgram(ctx context.Context, q querier, tenantID string, programID int64, v *dialer.Invalid) (int, error) {
	var typ string
	err := q.QueryRowContext(ctx, `SELECT type FROM programs WHERE tenant_id = ? AND program_id = ?`, tenantID, programID).Scan(&typ)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil // checkRef reports it
	}
	if err != nil {
		return 0, fmt.Errorf("store: program type: %w", err)
	}
	svc, ok := dialer.ServiceOf(dialer.ProgramType(typ))
	if !ok {
		v.Add("program_id", "a "+typ+" program receives; it cannot be sent")
	}
	return svc, nil
}

func (db *DB) checkCampaignRefs(ctx context.Context, tx *sql.Tx, scope dialer.Scope, c *dialer.Campaign) error {
	var v dialer.Invalid
	err := checkRefs(ctx, tx, scope, &v, rowRef{"programs", "program_id", c.ProgramID},
		rowRef{"groups", "group_id", c.GroupID}, rowRef{"accounts", "account_id", c.AccountID})
	if err != nil {
		return err
	}
	if !v.Has("program_id") {
		if _, err := outboundProgram(ctx, tx, scope.TenantID, c.ProgramID, &v); err != nil {
			return err
		}
	}
	if !v.Has("account_id") {
		if err := checkCallerID(ctx, tx, scope.TenantID, c.AccountID, &v); err != nil {
			return err
		}
	}
	return v.Err()
}

// CreateCampaign validates c's references in scope and stores it as new.
func (db *DB) CreateCampaign(ctx context.Context, scope dialer.Scope, c dialer.Campaign) (int64, error) {
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.checkCampaignRefs(ctx, tx, scope, &c); err != nil {
			return err
		}
		now := time.Now().Unix()
		var err error
		id, err = insertRow(ctx, tx, "campaign", `INSERT INTO campaigns (tenant_id, created_by, created_by_crn, program_id, group_id, account_id, cpm,
			try_allowed, retry_delay, status, window_start, window_end, window_days, window_tz, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?, ?, ?, ?, ?)`,
			c.TenantID, c.CreatedBy, c.CreatedByCRN, c.ProgramID, c.GroupID, zeroAsNull(c.AccountID), c.CPM, c.TryAllowed, c.RetryDelay,
			int(c.Start), int(c.End), int(c.Days), c.TZ, now, now)
		if err != nil {
			return err
		}
		c.ID = id
		return setCampaignCompliance(ctx, tx, c, dialer.Campaign{}, now)
	})
	return id, err
}

// Campaign returns a campaign of the tenant with its counters.
func (db *DB) Campaign(ctx context.Context, tenantID string, id int64) (dialer.Campaign, error) {
	c, err := campaignBy(ctx, db.r, tenantID, id)
	if err != nil {
		return c, err
	}
	if c.Counters, err = db.counters(ctx, id); err != nil {
		return c, err
	}
	c.DNCLists, err = db.DNCUses(ctx, tenantID, id, 0)
	return c, err
}

// LiveCountersFunc gives a running campaign's counters as the engine keeps
// them; false when the campaign is not running.
type LiveCountersFunc func(campaignID int64) (dialer.CampaignCounters, bool)

// UseLiveCounters makes Campaign and Campaigns take a running campaign's
// counters from f instead of counting its transmissions on every request:
// under dashboard load that count was most of the API's CPU.
func (db *DB) UseLiveCounters(f LiveCountersFunc) { db.live.Store(&f) }

// counters are the live counters when the engine has them, else counted.
func (db *DB) counters(ctx context.Context, id int64) (dialer.CampaignCounters, error) {
	if f := db.live.Load(); f != nil {
		if cc, ok := (*f)(id); ok {
			return cc, nil
		}
	}
	return db.CampaignCounters(ctx, id)
}

// CampaignCounters counts a campaign's transmissions by status.
func (db *DB) CampaignCounters(ctx context.Context, id int64) (dialer.CampaignCounters, error) {
	return countCampaign(ctx, db.r, id)
}

// countersOf counts on the engine's own readers.
func (s *EngineStore) countersOf(ctx context.Context, id int64) (dialer.CampaignCounters, error) {
	return countCampaign(ctx, s.r, id)
}

// countedSuppressed is how campaign_status_counts counts an invalid
// transmission that a do-not-call list stopped.
const countedSuppressed = "suppressed"

func countCampaign(ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, id int64) (dialer.CampaignCounters, error) {
	var cc dialer.CampaignCounters
	// Kept by triggers (migration campaign_counts): a few rows, whatever the size.
	rows, err := q.QueryContext(ctx, `SELECT status, n FROM campaign_status_counts WHERE campaign_id = ? AND n > 0`, id)
	if err != nil {
		return cc, fmt.Errorf("store: campaign counters: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return cc, fmt.Errorf("store: campaign counters: %w", err)
		}
		cc.Total += n
		switch dialer.TransmissionStatus(st) {
		case countedSuppressed:
			cc.Done += n
			cc.Suppressed += n
		case dialer.TransmissionInvalid:
			cc.Done += n
			cc.Failed += n
		case dialer.TransmissionCompleted:
			cc.Done += n
			cc.Answered += n
		case dialer.TransmissionFailed:
			cc.Done += n
			cc.Failed += n
		case dialer.TransmissionProcessing:
			cc.InFlight += n
		default:
			cc.Pending += n
		}
	}
	return cc, rows.Err()
}

// Campaigns lists the campaigns in scope, with their counters.
func (db *DB) Campaigns(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Campaign, error) {
	out, err := list(ctx, db, campaignList, campaignCols, scope, q, scanCampaign)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Counters, err = db.counters(ctx, out[i].ID); err != nil {
			return nil, err
		}
		if out[i].DNCLists, err = db.DNCUses(ctx, scope.TenantID, out[i].ID, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// UpdateCampaign saves the client-settable fields of c. The program and
// group of an active campaign cannot change; its try_allowed applies to
// its unfinished transmissions at once.
func (db *DB) UpdateCampaign(ctx context.Context, scope dialer.Scope, c dialer.Campaign) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		old, err := campaignBy(ctx, tx, c.TenantID, c.ID)
		if err != nil {
			return err
		}
		if old.Status == dialer.CampaignActive && (old.ProgramID != c.ProgramID || old.GroupID != c.GroupID) {
			return dialer.Conflict("stop the campaign before changing its program or group")
		}
		if err := db.checkCampaignRefs(ctx, tx, scope, &c); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET program_id = ?, group_id = ?, account_id = ?, cpm = ?, try_allowed = ?,
			retry_delay = ?, window_start = ?, window_end = ?, window_days = ?, window_tz = ?, updated_at = ?
			WHERE tenant_id = ? AND campaign_id = ?`,
			c.ProgramID, c.GroupID, zeroAsNull(c.AccountID), c.CPM, c.TryAllowed, c.RetryDelay, int(c.Start), int(c.End), int(c.Days), c.TZ,
			time.Now().Unix(), c.TenantID, c.ID); err != nil {
			return fmt.Errorf("store: update campaign: %w", err)
		}
		if err := setCampaignCompliance(ctx, tx, c, old, time.Now().Unix()); err != nil {
			return err
		}
		if c.TryAllowed != old.TryAllowed {
			if _, err := tx.ExecContext(ctx, `UPDATE transmissions SET try_allowed = ? WHERE campaign_id = ? AND status IN ('pending', 'processing')`,
				c.TryAllowed, c.ID); err != nil {
				return fmt.Errorf("store: update campaign tries: %w", err)
			}
		}
		return nil
	})
}

// DeleteCampaign removes a campaign that is not running, with its
// transmissions, their spools and its schedules.
func (db *DB) DeleteCampaign(ctx context.Context, tenantID string, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		c, err := campaignBy(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if c.Status == dialer.CampaignActive {
			return dialer.Conflict("stop the campaign before deleting it")
		}
		var live int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM transmissions WHERE campaign_id = ? AND status = 'processing'`, id).Scan(&live); err != nil {
			return fmt.Errorf("store: delete campaign: %w", err)
		}
		if live > 0 {
			return dialer.Conflict("the campaign still has calls in progress")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM schedules WHERE tenant_id = ? AND target_id = ? AND action IN (?, ?)`,
			tenantID, id, dialer.ScheduleCampaignStart, dialer.ScheduleCampaignStop); err != nil {
			return fmt.Errorf("store: delete campaign schedules: %w", err)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM campaigns WHERE tenant_id = ? AND campaign_id = ?`, tenantID, id)
		return wrap("delete campaign", err)
	})
}

// ActiveCampaigns implements dialer.EngineStore.
func (s *EngineStore) ActiveCampaigns(ctx context.Context) ([]dialer.Campaign, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE status = 'active' ORDER BY campaign_id`)
	if err != nil {
		return nil, fmt.Errorf("store: active campaigns: %w", err)
	}
	var out []dialer.Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: active campaigns: %w", err)
		}
		out = append(out, c)
	}
	return out, errors.Join(rows.Close(), rows.Err())
}

// Campaign implements dialer.EngineStore.
func (s *EngineStore) Campaign(ctx context.Context, tenantID string, id int64) (dialer.Campaign, error) {
	// Always counted: the engine builds its own counters from these.
	c, err := campaignBy(ctx, s.r, tenantID, id)
	if err != nil {
		return c, err
	}
	c.Counters, err = s.countersOf(ctx, id)
	return c, err
}

// StartCampaign implements dialer.EngineStore.
func (s *EngineStore) StartCampaign(ctx context.Context, tenantID string, id int64, now time.Time, scheduleID int64) (dialer.Campaign, error) {
	var c dialer.Campaign
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if c, err = campaignBy(ctx, tx, tenantID, id); err != nil {
			return err
		}
		var v dialer.Invalid
		svc, err := outboundProgram(ctx, tx, tenantID, c.ProgramID, &v)
		if err != nil {
			return err
		}
		if err := v.Err(); err != nil {
			return err
		}
		ms, sec := unixMS(now), now.Unix()
		// The first contacts now; the rest the engine adds off its loop
		// (MaterializeCampaign), so a million contacts hold nothing up.
		if _, _, _, err := materialize(ctx, tx, id, int64(svc), 0, materializeChunk, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE transmissions SET due_at = ? WHERE campaign_id = ? AND status = 'pending' AND due_at = 0`,
			ms, id); err != nil {
			return fmt.Errorf("store: queue campaign: %w", err)
		}
		if c.StartedAt == 0 {
			c.StartedAt = sec
		}
		c.Status, c.FinishedAt = dialer.CampaignActive, 0
		if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET status = 'active', started_at = ?, finished_at = 0, updated_at = ?
			WHERE campaign_id = ?`, c.StartedAt, sec, id); err != nil {
			return fmt.Errorf("store: start campaign: %w", err)
		}
		return markScheduleDone(ctx, tx, scheduleID, sec)
	})
	return c, err
}

// materializeChunk is how many group contacts one transaction looks at
// when making a campaign's transmissions: a few milliseconds of the
// writer, between the engine's own commits.
const materializeChunk = 2000

// materialize creates the missing transmissions of the next limit contacts
// of the campaign's group after contact id after, due at now. It returns
// the last contact id looked at, how many transmissions it added, and
// whether the group has no contacts beyond.
func materialize(ctx context.Context, tx *sql.Tx, id, svc, after int64, limit int, now time.Time) (last int64, added int, done bool, err error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(contact_id), ?) FROM (SELECT gc.contact_id FROM campaigns c
		JOIN group_contacts gc ON gc.group_id = c.group_id WHERE c.campaign_id = ? AND gc.contact_id > ?
		ORDER BY gc.contact_id LIMIT ?)`, after, id, after, limit).Scan(&n, &last); err != nil {
		return 0, 0, false, fmt.Errorf("store: campaign contacts: %w", err)
	}
	ms, sec := unixMS(now), now.Unix()
	res, err := tx.ExecContext(ctx, `INSERT INTO transmissions (tenant_id, created_by, created_by_crn, title, origin, contact_id, account_id,
		program_id, campaign_id, service_flag, direction, status, try_allowed, due_at, created_at, updated_at)
		SELECT c.tenant_id, c.created_by, c.created_by_crn, '', 'campaign', gc.contact_id, c.account_id, c.program_id, c.campaign_id, ?,
			'outbound', 'pending', c.try_allowed, ?, ?, ?
		FROM campaigns c JOIN group_contacts gc ON gc.group_id = c.group_id
		WHERE c.campaign_id = ? AND gc.contact_id > ? AND gc.contact_id <= ? AND NOT EXISTS
			(SELECT 1 FROM transmissions t WHERE t.campaign_id = c.campaign_id AND t.contact_id = gc.contact_id)
		ORDER BY gc.contact_id`, svc, ms, sec, sec, id, after, last)
	if err != nil {
		return 0, 0, false, fmt.Errorf("store: campaign transmissions: %w", err)
	}
	rows, err := res.RowsAffected()
	if err != nil {
		return 0, 0, false, fmt.Errorf("store: campaign transmissions: %w", err)
	}
	return last, int(rows), n < limit, nil
}

// MaterializeCampaign implements dialer.EngineStore.
func (s *EngineStore) MaterializeCampaign(ctx context.Context, id, afterContact int64, now time.Time) (dialer.Materialized, error) {
	var m dialer.Materialized
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var tenant string
		var program int64
		err := tx.QueryRowContext(ctx, `SELECT tenant_id, program_id FROM campaigns WHERE campaign_id = ? AND status = 'active'`,
			id).Scan(&tenant, &program)
		if errors.Is(err, sql.ErrNoRows) {
			m.Done = true // stopped or deleted meanwhile: its restart goes on
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: campaign %d: %w", id, err)
		}
		var v dialer.Invalid
		svc, err := outboundProgram(ctx, tx, tenant, program, &v)
		if err != nil {
			return err
		}
		m.LastContact, m.Added, m.Done, err = materialize(ctx, tx, id, int64(svc), afterContact, materializeChunk, now)
		return err
	})
	return m, err
}

// StopCampaign implements dialer.EngineStore.
func (s *EngineStore) StopCampaign(ctx context.Context, tenantID string, id int64, now time.Time, scheduleID int64) (dialer.Campaign, error) {
	var c dialer.Campaign
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if c, err = campaignBy(ctx, tx, tenantID, id); err != nil {
			return err
		}
		if c.Status == dialer.CampaignActive || c.Status == dialer.CampaignNew {
			c.Status = dialer.CampaignStopped
			if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET status = 'stopped', updated_at = ? WHERE campaign_id = ?`, now.Unix(), id); err != nil {
				return fmt.Errorf("store: stop campaign: %w", err)
			}
		}
		return markScheduleDone(ctx, tx, scheduleID, now.Unix())
	})
	return c, err
}
