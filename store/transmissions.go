package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

const transmissionCols = `transmissions.transmission_id, transmissions.tenant_id, transmissions.title, transmissions.origin,
	transmissions.contact_id, COALESCE(transmissions.account_id, 0), transmissions.service_flag, transmissions.program_id,
	COALESCE(transmissions.campaign_id, 0), transmissions.direction, transmissions.status, transmissions.response,
	transmissions.try_allowed, transmissions.try_done, transmissions.due_at, transmissions.created_by, transmissions.created_by_crn,
	transmissions.created_at, transmissions.updated_at`

var transmissionList = listSpec{
	table: "transmissions", idCol: "transmission_id",
	ownerCond: "transmissions.created_by = ?",
	fields: map[string]string{
		"transmission_id": "transmission_id", "title": "title", "origin": "origin", "contact_id": "contact_id",
		"account_id": "account_id", "service_flag": "service_flag", "program_id": "program_id",
		"campaign_id": "campaign_id", "direction": "direction", "status": "status", "response": "response",
		"try_allowed": "try_allowed", "try_done": "try_done", "created_by": "created_by",
	},
}

func scanTransmission(r rowScanner) (dialer.Transmission, error) {
	var t dialer.Transmission
	var status string
	var due int64
	err := r.Scan(&t.ID, &t.TenantID, &t.Title, &t.Origin, &t.ContactID, &t.AccountID, &t.ServiceFlag, &t.ProgramID,
		&t.CampaignID, &t.Direction, &status, &t.Response, &t.TryAllowed, &t.TryDone, &due, &t.CreatedBy, creatorCRN{&t.CreatedByCRN, &t.CreatedBy}, &t.CreatedAt, &t.UpdatedAt)
	t.Status = dialer.TransmissionStatus(status)
	if due > 0 {
		t.DueAt = due / 1000
	}
	return t, err
}

// CreateTransmission checks t's contact, program and account in scope and
// stores it pending, not queued. An outbound transmission needs a program
// that sends; its service flag comes from the program when not given.
func (db *DB) CreateTransmission(ctx context.Context, scope dialer.Scope, t dialer.Transmission) (int64, error) {
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var v dialer.Invalid
		err := checkRefs(ctx, tx, scope, &v, rowRef{"contacts", "contact_id", t.ContactID},
			rowRef{"programs", "program_id", t.ProgramID}, rowRef{"accounts", "account_id", t.AccountID})
		if err != nil {
			return err
		}
		if t.Direction == "outbound" && !v.Has("program_id") {
			svc, err := outboundProgram(ctx, tx, scope.TenantID, t.ProgramID, &v)
			if err != nil {
				return err
			}
			if t.ServiceFlag == 0 {
				t.ServiceFlag = svc
			}
		}
		if !v.Has("account_id") {
			if err := checkCallerID(ctx, tx, scope.TenantID, t.AccountID, &v); err != nil {
				return err
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		if err := checkLists(ctx, tx, scope.TenantID, t.DNCLists); err != nil {
			return err
		}
		if id, err = insertTransmission(ctx, tx, t); err != nil {
			return err
		}
		for _, l := range t.DNCLists {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO dnc_uses (campaign_id, transmission_id, dnc_id) VALUES (0, ?, ?)`, id, l); err != nil {
				return fmt.Errorf("store: transmission lists: %w", err)
			}
		}
		return nil
	})
	return id, err
}

func insertTransmission(ctx context.Context, tx *sql.Tx, t dialer.Transmission) (int64, error) {
	now := time.Now().Unix()
	return insertRow(ctx, tx, "transmission", `INSERT INTO transmissions (tenant_id, created_by, created_by_crn, title, origin, contact_id, account_id,
		program_id, campaign_id, service_flag, direction, status, try_allowed, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
		t.TenantID, t.CreatedBy, t.CreatedByCRN, t.Title, t.Origin, t.ContactID, zeroAsNull(t.AccountID), t.ProgramID, zeroAsNull(t.CampaignID),
		t.ServiceFlag, t.Direction, t.TryAllowed, now, now)
}

// Transmission returns a transmission of the tenant.
func (db *DB) Transmission(ctx context.Context, tenantID string, id int64) (dialer.Transmission, error) {
	t, err := getRow(ctx, db.r, "transmission", "transmissions", "transmission_id", transmissionCols, tenantID, id, scanTransmission)
	if err == nil && t.CampaignID == 0 {
		t.DNCLists, err = db.DNCUses(ctx, tenantID, 0, id)
	}
	return t, err
}

// Transmissions lists the transmissions in scope.
func (db *DB) Transmissions(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Transmission, error) {
	return list(ctx, db, transmissionList, transmissionCols, scope, q, scanTransmission)
}

// DeleteTransmission removes a transmission that is not being attempted,
// with its spools, results and schedules.
func (db *DB) DeleteTransmission(ctx context.Context, tenantID string, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		st, err := transmissionStatusTx(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if st == dialer.TransmissionProcessing {
			return dialer.Conflict("the transmission is being attempted now")
		}
		if _, err := dropSchedules(ctx, tx, tenantID, []string{dialer.ScheduleTransmissionSend}, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM transmissions WHERE tenant_id = ? AND transmission_id = ?`, tenantID, id)
		return wrap("delete transmission", err)
	})
}

// CloneTransmission copies a transmission as a new pending one, owned by
// by (a user or an API key), with no tries done. A campaign's transmission
// is cloned as a single one.
func (db *DB) CloneTransmission(ctx context.Context, tenantID string, id int64, by dialer.Actor) (int64, error) {
	var newID int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		t, err := scanTransmission(tx.QueryRowContext(ctx, `SELECT `+transmissionCols+` FROM transmissions
			WHERE tenant_id = ? AND transmission_id = ?`, tenantID, id))
		if errors.Is(err, sql.ErrNoRows) {
			return dialer.NotFound("transmission")
		}
		if err != nil {
			return fmt.Errorf("store: clone transmission: %w", err)
		}
		t.CampaignID, t.CreatedBy, t.CreatedByCRN = 0, by.UserID, by.CRN()
		newID, err = insertTransmission(ctx, tx, t)
		return err
	})
	return newID, err
}

const spoolCols = `spools.spool_id, spools.tenant_id, spools.transmission_id, spools.call_uuid, COALESCE(spools.provider_id, 0),
	spools.node, spools.status, spools.response, spools.time_spool, spools.time_start, spools.time_connect, spools.time_end`

func scanSpool(r rowScanner, extra ...any) (dialer.Spool, error) {
	var s dialer.Spool
	var status string
	dst := []any{&s.ID, &s.TenantID, &s.TransmissionID, &s.CallUUID, &s.ProviderID, &s.Node, &status, &s.Response,
		&s.TimeSpool, &s.TimeStart, &s.TimeConnect, &s.TimeEnd}
	err := r.Scan(append(dst, extra...)...)
	s.Status = dialer.SpoolStatus(status)
	return s, err
}

// TransmissionSpools lists the attempts of a transmission, oldest first.
func (db *DB) TransmissionSpools(ctx context.Context, tenantID string, transmissionID int64) ([]dialer.Spool, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+spoolCols+` FROM spools WHERE tenant_id = ? AND transmission_id = ?
		ORDER BY spool_id`, tenantID, transmissionID)
	if err != nil {
		return nil, fmt.Errorf("store: spools: %w", err)
	}
	out := []dialer.Spool{}
	for rows.Next() {
		s, err := scanSpool(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: spools: %w", err)
		}
		out = append(out, s)
	}
	return out, errors.Join(rows.Close(), rows.Err())
}

// Spool returns an attempt of the tenant and the owner of its transmission.
func (db *DB) Spool(ctx context.Context, tenantID string, id int64) (dialer.Spool, int64, error) {
	var owner int64
	s, err := scanSpool(db.r.QueryRowContext(ctx, `SELECT `+spoolCols+`, t.created_by FROM spools
		JOIN transmissions t ON t.transmission_id = spools.transmission_id
		WHERE spools.tenant_id = ? AND spools.spool_id = ?`, tenantID, id), &owner)
	if errors.Is(err, sql.ErrNoRows) {
		return s, 0, dialer.NotFound("spool")
	}
	if err != nil {
		return s, 0, fmt.Errorf("store: spool %d: %w", id, err)
	}
	return s, owner, nil
}

func (db *DB) results(ctx context.Context, cond string, args ...any) ([]dialer.SpoolResult, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT r.spool_result_id, r.spool_id, r.type, r.name, r.data FROM spool_results r
		JOIN spools s ON s.spool_id = r.spool_id WHERE `+cond+` ORDER BY r.spool_result_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: results: %w", err)
	}
	out := []dialer.SpoolResult{}
	for rows.Next() {
		var r dialer.SpoolResult
		if err := rows.Scan(&r.ID, &r.SpoolID, &r.Type, &r.Name, &r.Data); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: results: %w", err)
		}
		out = append(out, r)
	}
	return out, errors.Join(rows.Close(), rows.Err())
}

// TransmissionResults lists what every attempt of a transmission produced.
func (db *DB) TransmissionResults(ctx context.Context, tenantID string, transmissionID int64) ([]dialer.SpoolResult, error) {
	return db.results(ctx, `s.tenant_id = ? AND s.transmission_id = ?`, tenantID, transmissionID)
}

// SpoolResults lists what one attempt produced.
func (db *DB) SpoolResults(ctx context.Context, tenantID string, spoolID int64) ([]dialer.SpoolResult, error) {
	return db.results(ctx, `s.tenant_id = ? AND s.spool_id = ?`, tenantID, spoolID)
}

// ProgramOwner returns who created a program of the tenant: the
// transmission routes under /programs/{id} check it.
func (db *DB) ProgramOwner(ctx context.Context, tenantID string, id int64) (int64, error) {
	var owner int64
	err := db.r.QueryRowContext(ctx, `SELECT created_by FROM programs WHERE tenant_id = ? AND program_id = ?`, tenantID, id).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, dialer.NotFound("program")
	}
	if err != nil {
		return 0, fmt.Errorf("store: program %d: %w", id, err)
	}
	return owner, nil
}
