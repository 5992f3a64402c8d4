package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/google/uuid"
)

// Trunks lists every active provider of one gateway kind, in every tenant,
// with its password unsealed: what a gateway watches (OPTIONS, REGISTER).
func (db *DB) Trunks(ctx context.Context, gatewayFlag int64) ([]dialer.Trunk, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT tenant_id, provider_id, register FROM providers
		WHERE gateway_flag = ? AND active = 1 ORDER BY provider_id`, gatewayFlag)
	if err != nil {
		return nil, fmt.Errorf("store: trunks: %w", err)
	}
	type ref struct {
		tenant   string
		id       int64
		register bool
	}
	var refs []ref
	for rows.Next() {
		var r ref
		if err := rows.Scan(&r.tenant, &r.id, &r.register); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: trunks: %w", err)
		}
		refs = append(refs, r)
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return nil, fmt.Errorf("store: trunks: %w", err)
	}
	trunks := make([]dialer.Trunk, 0, len(refs))
	for _, r := range refs {
		route, err := db.ProviderRoute(ctx, r.tenant, r.id)
		if err != nil {
			return nil, err
		}
		trunks = append(trunks, dialer.Trunk{TenantID: r.tenant, Route: route, Register: r.register})
	}
	return trunks, nil
}

// ReceiveSMS records an SMS that arrived for the DID to: the active DID
// account with that number, and a receivesms program of it (its own, or one
// it subscribes to), get an inbound transmission from the sender, completed,
// with one spool whose result is the text. The sender becomes a contact of
// the program's owner when the tenant does not know the number yet. It
// returns dialer.ErrNotFound when no account receives SMS on to.
func (db *DB) ReceiveSMS(ctx context.Context, from, to, body string, at time.Time) (transmissionID int64, err error) {
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var tenant string
		var accountID, programID, owner int64
		err := tx.QueryRowContext(ctx, `SELECT a.tenant_id, a.account_id, p.program_id, p.created_by
			FROM accounts a JOIN programs p ON p.tenant_id = a.tenant_id AND p.type = 'receivesms'
			WHERE a.type = 'did' AND a.phone = ? AND a.active = 1
			  AND (p.account_id = a.account_id OR EXISTS (SELECT 1 FROM account_programs ap
			       WHERE ap.account_id = a.account_id AND ap.program_id = p.program_id))
			ORDER BY a.account_id, p.program_id LIMIT 1`, to).Scan(&tenant, &accountID, &programID, &owner)
		if errors.Is(err, sql.ErrNoRows) {
			return dialer.NotFound("account receiving SMS on " + to)
		}
		if err != nil {
			return fmt.Errorf("store: receive sms: %w", err)
		}
		now := at.Unix()
		var contactID int64
		err = tx.QueryRowContext(ctx, `SELECT contact_id FROM contacts WHERE tenant_id = ? AND phone = ? ORDER BY contact_id LIMIT 1`,
			tenant, from).Scan(&contactID)
		if errors.Is(err, sql.ErrNoRows) {
			res, ierr := tx.ExecContext(ctx, `INSERT INTO contacts (tenant_id, created_by, phone, description, created_at, updated_at)
				VALUES (?, ?, ?, 'sent an SMS', ?, ?)`, tenant, owner, from, now, now)
			if ierr != nil {
				return fmt.Errorf("store: receive sms contact: %w", ierr)
			}
			contactID, err = res.LastInsertId()
		}
		if err != nil {
			return fmt.Errorf("store: receive sms contact: %w", err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO transmissions (tenant_id, created_by, title, origin, contact_id, account_id,
			program_id, service_flag, direction, status, try_allowed, try_done, created_at, updated_at)
			VALUES (?, ?, 'inbound SMS', 'sip', ?, ?, ?, ?, 'inbound', 'completed', 1, 1, ?, ?)`,
			tenant, owner, contactID, accountID, programID, dialer.ServiceSMS, now, now)
		if err != nil {
			return fmt.Errorf("store: receive sms transmission: %w", err)
		}
		if transmissionID, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("store: receive sms transmission: %w", err)
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO spools (tenant_id, transmission_id, call_uuid, status, response,
			time_spool, time_start, time_connect, time_end) VALUES (?, ?, ?, 'completed', 'NORMAL_CLEARING', ?, ?, ?, ?)`,
			tenant, transmissionID, uuid.NewString(), now, now, now, now)
		if err != nil {
			return fmt.Errorf("store: receive sms spool: %w", err)
		}
		spoolID, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("store: receive sms spool: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO spool_results (tenant_id, spool_id, type, name, data, created_at)
			VALUES (?, ?, 'sms', 'text', ?, ?), (?, ?, 'sms', 'from', ?, ?)`,
			tenant, spoolID, body, now, tenant, spoolID, from, now); err != nil {
			return fmt.Errorf("store: receive sms result: %w", err)
		}
		return nil
	})
	return transmissionID, err
}
