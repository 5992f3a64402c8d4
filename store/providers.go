package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

const providerCols = `providers.provider_id, providers.tenant_id, providers.created_by, providers.created_by_crn, providers.name,
	providers.gateway_flag, providers.service_flag, providers.node_id, providers.host, providers.port,
	providers.username, providers.dialstring, providers.prefix, providers.settings, providers.register,
	providers.weight, providers.type, providers.active, providers.created_at, providers.updated_at`

var providerList = listSpec{
	table: "providers", idCol: "provider_id",
	ownerCond: "providers.created_by = ?",
	fields: map[string]string{
		"provider_id": "provider_id", "name": "name", "gateway_flag": "gateway_flag", "service_flag": "service_flag",
		"node_id": "node_id", "host": "host", "port": "port", "username": "username", "dialstring": "dialstring",
		"prefix": "prefix", "settings": "settings", "register": "register", "weight": "weight", "type": "type",
		"active": "active", "created_by": "created_by",
	},
}

// sealProviderPassword is where a provider's sealed password lives.
const sealProviderPassword = "providers.password_sealed"

func scanProvider(r rowScanner) (dialer.Provider, error) {
	var p dialer.Provider
	var node sql.NullInt64
	err := r.Scan(&p.ID, &p.TenantID, &p.CreatedBy, creatorCRN{&p.CreatedByCRN, &p.CreatedBy}, &p.Name, &p.GatewayFlag, &p.ServiceFlag, &node, &p.Host, &p.Port,
		&p.Username, &p.DialString, &p.Prefix, &p.Settings, &p.Register, &p.Weight, &p.Type, &p.Active,
		&p.CreatedAt, &p.UpdatedAt)
	p.NodeID = idPtr(node)
	return p, err
}

// providerName refuses a second provider of the same name in a tenant: a
// gateway may know providers by name.
func providerName(ctx context.Context, tx *sql.Tx, p *dialer.Provider) error {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM providers WHERE tenant_id = ? AND name = ? COLLATE NOCASE AND provider_id != ?`,
		p.TenantID, p.Name, p.ID).Scan(&n)
	if err != nil {
		return fmt.Errorf("store: provider name: %w", err)
	}
	if n > 0 {
		return dialer.Conflict("a provider named " + p.Name + " exists")
	}
	return nil
}

// CreateProvider stores a validated provider with its password sealed.
// p.TenantID and p.CreatedBy must be set.
func (db *DB) CreateProvider(ctx context.Context, p dialer.Provider, password string) (int64, error) {
	sealed, err := db.seal.seal(password, sealAAD(sealProviderPassword, p.TenantID))
	if err != nil {
		return 0, err
	}
	var id int64
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if err := providerName(ctx, tx, &p); err != nil {
			return err
		}
		now := time.Now().Unix()
		var err error
		id, err = insertRow(ctx, tx, "provider", `INSERT INTO providers (tenant_id, created_by, created_by_crn, name, gateway_flag, service_flag,
			node_id, host, port, username, password_sealed, dialstring, prefix, settings, register, weight, type, active,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.TenantID, p.CreatedBy, p.CreatedByCRN, p.Name, p.GatewayFlag, p.ServiceFlag, nullID(p.NodeID), p.Host, p.Port, p.Username,
			sealed, p.DialString, p.Prefix, p.Settings, p.Register, p.Weight, p.Type, p.Active, now, now)
		return err
	})
	return id, err
}

// Provider returns a provider visible in scope, without its password.
func (db *DB) Provider(ctx context.Context, scope dialer.Scope, id int64) (dialer.Provider, error) {
	p, err := getRow(ctx, db.r, "provider", "providers", "provider_id", providerCols, scope.TenantID, id, scanProvider)
	if err != nil {
		return p, err
	}
	if !owned(scope, p.CreatedBy) {
		return dialer.Provider{}, dialer.Forbidden("this provider belongs to someone else")
	}
	return p, nil
}

// Providers lists the providers in scope, without their passwords.
func (db *DB) Providers(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Provider, error) {
	return list(ctx, db, providerList, providerCols, scope, q, scanProvider)
}

// UpdateProvider saves the client-settable fields of a validated provider,
// and its password when password is not nil ("" clears it).
func (db *DB) UpdateProvider(ctx context.Context, scope dialer.Scope, p dialer.Provider, password *string) error {
	sealed, err := db.sealSet(password, sealProviderPassword, scope.TenantID)
	if err != nil {
		return err
	}
	p.TenantID = scope.TenantID
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := providerOwner(ctx, tx, scope, p.ID); err != nil {
			return err
		}
		if err := providerName(ctx, tx, &p); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE providers SET name = ?, gateway_flag = ?, service_flag = ?, node_id = ?, host = ?,
			port = ?, username = ?, password_sealed = COALESCE(?, password_sealed), dialstring = ?, prefix = ?, settings = ?,
			register = ?, weight = ?, type = ?, active = ?, updated_at = ? WHERE tenant_id = ? AND provider_id = ?`,
			p.Name, p.GatewayFlag, p.ServiceFlag, nullID(p.NodeID), p.Host, p.Port, p.Username, sealed, p.DialString,
			p.Prefix, p.Settings, p.Register, p.Weight, p.Type, p.Active, time.Now().Unix(), p.TenantID, p.ID)
		if err != nil {
			return fmt.Errorf("store: update provider: %w", err)
		}
		return nil
	})
}

func providerOwner(ctx context.Context, tx *sql.Tx, scope dialer.Scope, id int64) error {
	var createdBy int64
	err := tx.QueryRowContext(ctx, `SELECT created_by FROM providers WHERE tenant_id = ? AND provider_id = ?`,
		scope.TenantID, id).Scan(&createdBy)
	if errors.Is(err, sql.ErrNoRows) {
		return dialer.NotFound("provider")
	}
	if err != nil {
		return fmt.Errorf("store: provider %d: %w", id, err)
	}
	if !owned(scope, createdBy) {
		return dialer.Forbidden("this provider belongs to someone else")
	}
	return nil
}

// DeleteProvider removes a provider visible in scope. Spools keep its id
// as history.
func (db *DB) DeleteProvider(ctx context.Context, scope dialer.Scope, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := providerOwner(ctx, tx, scope, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM providers WHERE tenant_id = ? AND provider_id = ?`, scope.TenantID, id); err != nil {
			return fmt.Errorf("store: delete provider: %w", err)
		}
		return nil
	})
}

// ProviderRoute resolves a provider into the Route a gateway dials
// through, with its password unsealed. It is for gateways and the engine
// only; the API never calls it, and the password must never be logged.
func (db *DB) ProviderRoute(ctx context.Context, tenantID string, id int64) (dialer.Route, error) {
	var r dialer.Route
	var node sql.NullInt64
	var sealed, settings string
	err := db.r.QueryRowContext(ctx, `SELECT provider_id, name, host, port, username, password_sealed, prefix, dialstring,
		node_id, gateway_flag, settings FROM providers WHERE tenant_id = ? AND provider_id = ?`, tenantID, id).
		Scan(&r.ProviderID, &r.Name, &r.Host, &r.Port, &r.Username, &sealed, &r.Prefix, &r.DialString, &node, &r.Gateway, &settings)
	if errors.Is(err, sql.ErrNoRows) {
		return r, dialer.NotFound("provider")
	}
	if err != nil {
		return r, fmt.Errorf("store: provider route %d: %w", id, err)
	}
	r.Node = nodeName(node)
	ps := parseProviderSettings(settings)
	r.Transport, r.TLS, r.Sender = ps.Transport, ps.TLS, ps.Sender
	if r.Password, err = db.seal.unseal(sealed, sealAAD(sealProviderPassword, tenantID)); err != nil {
		return dialer.Route{}, fmt.Errorf("store: provider %d password: %w", id, err)
	}
	return r, nil
}
