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

// inboundRoute is where an inbound message goes: the tenant's account that
// receives the address, and the program that handles it.
type inboundRoute struct {
	tenant    string
	accountID int64
	programID int64
	program   dialer.ProgramType
	owner     int64 // the program's creator: owns the contacts and transmissions it makes
}

// resolveInbound is the one lookup every inbound channel uses (SMS, fax,
// email): first a live centrex account whose number is address, whose
// centrex's callflow is a program of one of kinds; then the active account
// whose number (did) or address (email) is address, and a program of one
// of kinds that it owns or subscribes to. It returns dialer.ErrNotFound
// when nothing receives address.
func resolveInbound(ctx context.Context, q querier, address string, kinds ...dialer.ProgramType) (inboundRoute, error) {
	var r inboundRoute
	if len(kinds) == 0 {
		return r, dialer.NotFound("inbound program")
	}
	args := []any{address, address}
	marks := ""
	for i, k := range kinds {
		if i > 0 {
			marks += ", "
		}
		marks += "?"
		args = append(args, string(k))
	}
	var typ string
	// A centrex account's number comes first: it is handed to its
	// centrex's callflow when that program handles this channel.
	err := q.QueryRowContext(ctx, `SELECT ca.tenant_id, p.account_id, p.program_id, p.type, p.created_by
		FROM centrex_accounts ca
		JOIN centrex c ON c.tenant_id = ca.tenant_id AND c.centrex_id = ca.centrex_id AND c.deleted_at = 0
		JOIN programs p ON p.tenant_id = c.tenant_id AND p.program_id = c.callflow_id
		WHERE ca.number_offnet = ? AND ca.deleted_at = 0 AND p.account_id IS NOT NULL AND p.type IN (`+marks+`)
		ORDER BY ca.tenant_id, ca.centrex_account_id LIMIT 1`, append([]any{address}, args[2:]...)...).
		Scan(&r.tenant, &r.accountID, &r.programID, &typ, &r.owner)
	if err == nil {
		r.program = dialer.ProgramType(typ)
		return r, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("store: resolve centrex number %s: %w", address, err)
	}
	err = q.QueryRowContext(ctx, `SELECT a.tenant_id, a.account_id, p.program_id, p.type, p.created_by
		FROM accounts a JOIN programs p ON p.tenant_id = a.tenant_id
		WHERE a.active = 1 AND ((a.type = 'did' AND a.phone = ?) OR (a.type = 'email' AND a.email = ? COLLATE NOCASE))
		  AND p.type IN (`+marks+`)
		  AND (p.account_id = a.account_id OR EXISTS (SELECT 1 FROM account_programs ap
		       WHERE ap.account_id = a.account_id AND ap.program_id = p.program_id))
		ORDER BY a.account_id, p.program_id LIMIT 1`, args...).Scan(&r.tenant, &r.accountID, &r.programID, &typ, &r.owner)
	if errors.Is(err, sql.ErrNoRows) {
		return r, dialer.NotFound("account receiving on " + address)
	}
	if err != nil {
		return r, fmt.Errorf("store: resolve inbound %s: %w", address, err)
	}
	r.program = dialer.ProgramType(typ)
	return r, nil
}

// inboundMessage is what arrived, as recordInbound stores it.
type inboundMessage struct {
	fromPhone, fromEmail string // the sender: one of them
	title, origin        string // transmission title and origin ("sip", "smtp", "kannel", "freeswitch")
	service              int64  // dialer.Service*
	status               string // the transmission's and spool's status (completed, failed)
	spoolStatus          string // the spool's when it differs (initiated while a faxtoemail is mailed)
	response             string // the spool's response (a cause)
	results              []dialer.Result
	at                   time.Time
}

// recordInbound stores an inbound transmission of route with one spool and
// its results, making the sender a contact of the program's owner when the
// tenant does not know them yet.
func (db *DB) recordInbound(ctx context.Context, tx *sql.Tx, route inboundRoute, m inboundMessage) (transmissionID int64, err error) {
	now := m.at.Unix()
	column, value := "phone", m.fromPhone
	if m.fromPhone == "" {
		column, value = "email", m.fromEmail
	}
	contactID, err := db.inboundContact(ctx, tx, route, column, value, "sent a message", now)
	if err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO transmissions (tenant_id, created_by, title, origin, contact_id, account_id,
		program_id, service_flag, direction, status, response, try_allowed, try_done, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'inbound', ?, ?, 1, 1, ?, ?)`,
		route.tenant, route.owner, m.title, m.origin, contactID, route.accountID, route.programID, m.service, m.status, m.response, now, now)
	if err != nil {
		return 0, fmt.Errorf("store: inbound transmission: %w", err)
	}
	if transmissionID, err = res.LastInsertId(); err != nil {
		return 0, fmt.Errorf("store: inbound transmission: %w", err)
	}
	spoolStatus := m.status
	if m.spoolStatus != "" {
		spoolStatus = m.spoolStatus
	}
	res, err = tx.ExecContext(ctx, `INSERT INTO spools (tenant_id, transmission_id, call_uuid, status, response,
		time_spool, time_start, time_connect, time_end) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		route.tenant, transmissionID, uuid.NewString(), spoolStatus, m.response, now, now, now, now)
	if err != nil {
		return 0, fmt.Errorf("store: inbound spool: %w", err)
	}
	spoolID, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("store: inbound spool: %w", err)
	}
	for _, r := range m.results {
		if _, err := tx.ExecContext(ctx, `INSERT INTO spool_results (tenant_id, spool_id, type, name, data, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, route.tenant, spoolID, r.Type, r.Name, r.Data, now); err != nil {
			return 0, fmt.Errorf("store: inbound result: %w", err)
		}
	}
	return transmissionID, nil
}

// inboundContact is the tenant's contact whose column (phone or email) is
// value, made a contact of the route's program owner when there is none.
func (db *DB) inboundContact(ctx context.Context, tx *sql.Tx, route inboundRoute, column, value, describe string, now int64) (int64, error) {
	var contactID int64
	err := tx.QueryRowContext(ctx, `SELECT contact_id FROM contacts WHERE tenant_id = ? AND `+column+` = ? ORDER BY contact_id LIMIT 1`,
		route.tenant, value).Scan(&contactID)
	if errors.Is(err, sql.ErrNoRows) {
		if err := db.contactRoom(ctx, tx, route.tenant); err != nil {
			return 0, err
		}
		res, ierr := tx.ExecContext(ctx, `INSERT INTO contacts (tenant_id, created_by, `+column+`, description, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`, route.tenant, route.owner, value, describe, now, now)
		if ierr != nil {
			return 0, fmt.Errorf("store: inbound contact: %w", ierr)
		}
		contactID, err = res.LastInsertId()
	}
	if err != nil {
		return 0, fmt.Errorf("store: inbound contact: %w", err)
	}
	return contactID, nil
}

// ReceiveSMS records an SMS that arrived for the DID to: the active DID
// account with that number, and a receivesms program of it (its own, or one
// it subscribes to), get an inbound transmission from the sender, completed,
// with one spool whose result is the text. The sender becomes a contact of
// the program's owner when the tenant does not know the number yet. It
// returns dialer.ErrNotFound when no account receives SMS on to.
func (db *DB) ReceiveSMS(ctx context.Context, from, to, body string, at time.Time) (transmissionID int64, err error) {
	return db.ReceiveSMSVia(ctx, "sip", from, to, body, at)
}

// ReceiveSMSVia is ReceiveSMS for an SMS that came through origin ("sip",
// "kannel"), the transmission's origin.
func (db *DB) ReceiveSMSVia(ctx context.Context, origin, from, to, body string, at time.Time) (transmissionID int64, err error) {
	err = db.tx(ctx, func(tx *sql.Tx) error {
		route, err := resolveInbound(ctx, tx, to, dialer.ProgramReceiveSMS)
		if err != nil {
			return err
		}
		transmissionID, err = db.recordInbound(ctx, tx, route, inboundMessage{
			fromPhone: from, title: "inbound SMS", origin: origin, service: dialer.ServiceSMS,
			status: "completed", response: "NORMAL_CLEARING", at: at,
			results: []dialer.Result{{Type: "sms", Name: "text", Data: body}, {Type: "sms", Name: "from", Data: from}},
		})
		return err
	})
	return transmissionID, err
}

// UsePlans gives the store the plan catalogue, so that what it creates on
// its own (the sender of an inbound message as a contact) stays within the
// tenant's plan limits, as the API's creates do. Without it, nothing limits
// those.
func (db *DB) UsePlans(cat dialer.PlanCatalog) { db.plans.Store(&cat) }

// contactRoom refuses one more contact of the tenant when its plan allows
// no more: counted inside tx, the writer's, so two inbound messages cannot
// both take the last place. An inbound message from an unknown sender is
// then refused (the transport answers it as a failure, and the sender's
// side may try again after a plan change) rather than stored without a
// contact or beyond the limit.
func (db *DB) contactRoom(ctx context.Context, tx *sql.Tx, tenantID string) error {
	cat := db.plans.Load()
	if cat == nil {
		return nil
	}
	doc, _, err := servicesIn(ctx, tx, tenantID)
	if err != nil {
		return err
	}
	most := dialer.EffectiveLimits(cat.EffectivePlans(doc), doc.Overrides).Contacts
	if most <= 0 {
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM contacts WHERE tenant_id = ?`, tenantID).Scan(&n); err != nil {
		return fmt.Errorf("store: count contacts: %w", err)
	}
	if n >= most {
		return dialer.Forbidden(fmt.Sprintf("the account's plan allows %d contacts; the sender is not one of them and cannot be added", most))
	}
	return nil
}
