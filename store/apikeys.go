package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

const apiKeyCols = `key_id, tenant_id, name, role, enabled, created_ms, modified_ms, created_by, modified_by, version, last_used_ms`

func scanAPIKey(r rowScanner, extra ...any) (dialer.APIKey, error) {
	var k dialer.APIKey
	var created, modified, used int64
	err := r.Scan(append([]any{&k.ID, &k.TenantID, &k.Name, &k.Role, &k.Enabled, &created, &modified, &k.CreatedBy,
		&k.ModifiedBy, &k.Version, &used}, extra...)...)
	k.CreatedAt, k.ModifiedAt = time.UnixMilli(created).UTC(), time.UnixMilli(modified).UTC()
	if used > 0 {
		k.LastUsedAt = time.UnixMilli(used).UTC()
	}
	return k, err
}

// CreateAPIKey stores a key with the keyed hash of its secret (the secret
// itself never reaches the store). A name the tenant already uses is a
// conflict.
func (db *DB) CreateAPIKey(ctx context.Context, k dialer.APIKey, secretHash string) (dialer.APIKey, error) {
	at := k.CreatedAt.UTC().Truncate(time.Millisecond)
	var out dialer.APIKey
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO api_keys (tenant_id, name, role, enabled, secret_hash, created_ms, modified_ms,
			created_by, modified_by) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)`,
			k.TenantID, k.Name, k.Role, secretHash, at.UnixMilli(), at.UnixMilli(), k.CreatedBy, k.CreatedBy)
		if isUniqueViolation(err) {
			return dialer.Conflict("an API key named " + k.Name + " exists in this account")
		}
		if err != nil {
			return fmt.Errorf("store: create api key: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("store: create api key: %w", err)
		}
		out, err = scanAPIKey(tx.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE key_id = ?`, id))
		return err
	})
	return out, err
}

// APIKeys lists a tenant's keys, oldest first.
func (db *DB) APIKeys(ctx context.Context, tenantID string) ([]dialer.APIKey, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE tenant_id = ? ORDER BY key_id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: api keys: %w", err)
	}
	out := []dialer.APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: api keys: %w", err)
		}
		out = append(out, k)
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return nil, fmt.Errorf("store: api keys: %w", err)
	}
	return out, nil
}

// SetAPIKeyEnabled enables or disables a tenant's key by name; a change
// records who and when and moves the version on. It answers the key as
// stored. The next request with a disabled key fails: keys are read from
// the store on every request.
func (db *DB) SetAPIKeyEnabled(ctx context.Context, tenantID, name string, enabled bool, by string, at time.Time) (dialer.APIKey, error) {
	at = at.UTC().Truncate(time.Millisecond)
	var out dialer.APIKey
	err := db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE api_keys SET enabled = ?, modified_by = ?, modified_ms = ?, version = version + 1
			WHERE tenant_id = ? AND name = ? AND enabled != ?`, enabled, by, at.UnixMilli(), tenantID, name, enabled)
		if err != nil {
			return fmt.Errorf("store: set api key: %w", err)
		}
		out, err = scanAPIKey(tx.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE tenant_id = ? AND name = ?`, tenantID, name))
		if errors.Is(err, sql.ErrNoRows) {
			return dialer.NotFound("api key")
		}
		return err
	})
	return out, err
}

// APIKeyByHash finds the key whose secret has this keyed hash, with the
// hash as stored (for a constant-time comparison by the caller); not found
// when none has. A key found is remembered until the next write through
// the store (writeFence): disabling or deleting it ends it at once.
func (db *DB) APIKeyByHash(ctx context.Context, secretHash string) (dialer.APIKey, string, error) {
	sk, err := db.keys.read(secretHash, func() (storedKey, error) {
		var sk storedKey
		var err error
		sk.key, err = scanAPIKey(db.r.QueryRowContext(ctx, `SELECT `+apiKeyCols+`, secret_hash FROM api_keys WHERE secret_hash = ?`, secretHash), &sk.hash)
		if errors.Is(err, sql.ErrNoRows) {
			return sk, dialer.NotFound("api key")
		}
		if err != nil {
			return sk, fmt.Errorf("store: api key: %w", err)
		}
		return sk, nil
	})
	return sk.key, sk.hash, err
}

// TouchAPIKey records that a key was used at at.
func (db *DB) TouchAPIKey(ctx context.Context, id int64, at time.Time) error {
	if _, err := db.w.ExecContext(ctx, `UPDATE api_keys SET last_used_ms = ? WHERE key_id = ? AND last_used_ms < ?`,
		at.UnixMilli(), id, at.UnixMilli()); err != nil {
		return fmt.Errorf("store: touch api key: %w", err)
	}
	return nil
}
