package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// Where a PBX profile's sealed secrets live. key_sealed holds Kazoo's API
// key or 3CX's licence key; password_sealed 3CX's or FreeSWITCH's password.
const (
	sealPBXKey      = "pbx_profiles.key_sealed"
	sealPBXPassword = "pbx_profiles.password_sealed"
)

const pbxCols = `pbx_id, tenant_id, created_by, created_by_crn, type, name, enabled, host_rest, host_websocket, account_id,
	country_code, username, enable_recording_archive, recording_archive_frequency, host, port, sps, max_sessions,
	key_sealed != '', password_sealed != '', created_at, updated_at`

var pbxList = listSpec{
	table: "pbx_profiles", idCol: "pbx_id",
	ownerCond: "pbx_profiles.created_by = ?",
	fields: map[string]string{
		"id": "pbx_id", "_type": "type", "name": "name", "enabled": "enabled", "hostRest": "host_rest",
		"hostWebsocket": "host_websocket", "accountId": "account_id", "countryCode": "country_code",
		"username": "username", "host": "host", "port": "port", "sps": "sps", "maxSessions": "max_sessions",
	},
}

func scanPBX(r rowScanner) (dialer.PBXProfile, error) {
	var p dialer.PBXProfile
	var hasKey, hasPassword bool
	err := r.Scan(&p.ID, &p.TenantID, &p.CreatedBy, creatorCRN{&p.CreatedByCRN, &p.CreatedBy}, &p.Type, &p.Name, &p.Enabled, &p.HostRest, &p.HostWebsocket,
		&p.AccountID, &p.CountryCode, &p.Username, &p.EnableRecordingArchive, &p.RecordingArchiveFrequency, &p.Host,
		&p.Port, &p.SessionsPerSecond, &p.MaxSessions, &hasKey, &hasPassword, &p.CreatedAt, &p.UpdatedAt)
	p.HasPassword = hasPassword
	switch p.Type {
	case dialer.PBXKazoo:
		p.HasAPIKey = hasKey
	case dialer.PBXThreeCX:
		p.HasLicenseKey = hasKey
	}
	return p, err
}

// pbxKey is the secret a profile keeps in key_sealed.
func pbxKey(p dialer.PBXProfile) string {
	if p.Type == dialer.PBXKazoo {
		return p.APIKey
	}
	return p.LicenseKey
}

// sealPBX seals a profile's secrets; an empty secret seals to "", which an
// update reads as "keep the stored one".
func (db *DB) sealPBX(p dialer.PBXProfile) (key, password string, err error) {
	if key, err = db.seal.seal(pbxKey(p), sealAAD(sealPBXKey, p.TenantID)); err != nil {
		return "", "", err
	}
	if password, err = db.seal.seal(p.Password, sealAAD(sealPBXPassword, p.TenantID)); err != nil {
		return "", "", err
	}
	return key, password, nil
}

func pbxConflict(err error, name string) error {
	if isUniqueViolation(err) {
		return dialer.Conflict("a PBX profile named " + name + " exists")
	}
	return err
}

// CreatePBX stores a validated profile with its secrets sealed and returns
// its id. p.TenantID and p.CreatedBy must be set.
func (db *DB) CreatePBX(ctx context.Context, p dialer.PBXProfile) (int64, error) {
	key, password, err := db.sealPBX(p)
	if err != nil {
		return 0, err
	}
	now := time.Now().Unix()
	res, err := db.w.ExecContext(ctx, `INSERT INTO pbx_profiles (tenant_id, created_by, created_by_crn, type, name, enabled, host_rest,
		host_websocket, account_id, country_code, username, enable_recording_archive, recording_archive_frequency, host,
		port, sps, max_sessions, key_sealed, password_sealed, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.TenantID, p.CreatedBy, p.CreatedByCRN, p.Type, p.Name, p.Enabled, p.HostRest, p.HostWebsocket, p.AccountID, p.CountryCode,
		p.Username, p.EnableRecordingArchive, p.RecordingArchiveFrequency, p.Host, p.Port, p.SessionsPerSecond,
		p.MaxSessions, key, password, now, now)
	if err != nil {
		return 0, fmt.Errorf("store: insert pbx profile: %w", pbxConflict(err, p.Name))
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("store: insert pbx profile: %w", err)
	}
	return id, nil
}

// PBX returns a profile visible in scope, without its secrets.
func (db *DB) PBX(ctx context.Context, scope dialer.Scope, id int64) (dialer.PBXProfile, error) {
	p, err := scanPBX(db.r.QueryRowContext(ctx, `SELECT `+pbxCols+` FROM pbx_profiles WHERE tenant_id = ? AND pbx_id = ?`,
		scope.TenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, dialer.NotFound("PBX profile")
	}
	if err != nil {
		return p, fmt.Errorf("store: pbx profile %d: %w", id, err)
	}
	if !owned(scope, p.CreatedBy) {
		return dialer.PBXProfile{}, dialer.Forbidden("this PBX profile belongs to someone else")
	}
	return p, nil
}

// PBXs lists the profiles in scope, without their secrets.
func (db *DB) PBXs(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.PBXProfile, error) {
	page, err := pbxList.page(scope, q)
	if err != nil {
		return nil, err
	}
	query, args := page.query(`SELECT ` + pbxCols + ` FROM pbx_profiles`)
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list pbx profiles: %w", err)
	}
	defer rows.Close()
	out := []dialer.PBXProfile{}
	for rows.Next() {
		p, err := scanPBX(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list pbx profiles: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list pbx profiles: %w", err)
	}
	return out, nil
}

// UpdatePBX saves a validated profile. A secret left empty in p keeps the
// stored one; the type never changes.
func (db *DB) UpdatePBX(ctx context.Context, scope dialer.Scope, p dialer.PBXProfile) error {
	p.TenantID = scope.TenantID
	key, password, err := db.sealPBX(p)
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := pbxOwner(ctx, tx, scope, p.ID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE pbx_profiles SET name = ?, enabled = ?, host_rest = ?, host_websocket = ?,
			account_id = ?, country_code = ?, username = ?, enable_recording_archive = ?, recording_archive_frequency = ?,
			host = ?, port = ?, sps = ?, max_sessions = ?,
			key_sealed = CASE WHEN ? = '' THEN key_sealed ELSE ? END,
			password_sealed = CASE WHEN ? = '' THEN password_sealed ELSE ? END,
			updated_at = ? WHERE tenant_id = ? AND pbx_id = ?`,
			p.Name, p.Enabled, p.HostRest, p.HostWebsocket, p.AccountID, p.CountryCode, p.Username,
			p.EnableRecordingArchive, p.RecordingArchiveFrequency, p.Host, p.Port, p.SessionsPerSecond, p.MaxSessions,
			key, key, password, password, time.Now().Unix(), p.TenantID, p.ID)
		if err != nil {
			return fmt.Errorf("store: update pbx profile: %w", pbxConflict(err, p.Name))
		}
		return nil
	})
}

func pbxOwner(ctx context.Context, tx *sql.Tx, scope dialer.Scope, id int64) error {
	var createdBy int64
	err := tx.QueryRowContext(ctx, `SELECT created_by FROM pbx_profiles WHERE tenant_id = ? AND pbx_id = ?`,
		scope.TenantID, id).Scan(&createdBy)
	if errors.Is(err, sql.ErrNoRows) {
		return dialer.NotFound("PBX profile")
	}
	if err != nil {
		return fmt.Errorf("store: pbx profile %d: %w", id, err)
	}
	if !owned(scope, createdBy) {
		return dialer.Forbidden("this PBX profile belongs to someone else")
	}
	return nil
}

// DeletePBX removes a profile visible in scope. Providers naming it as
// their node keep the id; the gateway refuses their attempts until they
// are pointed elsewhere.
func (db *DB) DeletePBX(ctx context.Context, scope dialer.Scope, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := pbxOwner(ctx, tx, scope, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pbx_profiles WHERE tenant_id = ? AND pbx_id = ?`, scope.TenantID, id); err != nil {
			return fmt.Errorf("store: delete pbx profile: %w", err)
		}
		return nil
	})
}

const freeSwitchNodeCols = `pbx_id, tenant_id, name, host, port, password_sealed, sps, max_sessions`

func (db *DB) scanNode(r rowScanner) (dialer.FreeSwitchNode, error) {
	var n dialer.FreeSwitchNode
	var id int64
	var sealed string
	if err := r.Scan(&id, &n.TenantID, &n.Name, &n.Host, &n.Port, &sealed, &n.SessionsPerSecond, &n.MaxSessions); err != nil {
		return n, err
	}
	n.ID = strconv.FormatInt(id, 10)
	var err error
	if n.Password, err = db.seal.unseal(sealed, sealAAD(sealPBXPassword, n.TenantID)); err != nil {
		return dialer.FreeSwitchNode{}, fmt.Errorf("store: pbx profile %d password: %w", id, err)
	}
	return n, nil
}

// FreeSwitchNode returns a FreeSWITCH profile of the tenant as the gateway
// runs it, its password unsealed, whether enabled or not. It is for the
// gateway's registry only; the password must never be logged or answered.
func (db *DB) FreeSwitchNode(ctx context.Context, tenantID string, id int64) (dialer.FreeSwitchNode, error) {
	n, err := db.scanNode(db.r.QueryRowContext(ctx, `SELECT `+freeSwitchNodeCols+` FROM pbx_profiles
		WHERE tenant_id = ? AND pbx_id = ? AND type = ?`, tenantID, id, dialer.PBXFreeSwitch))
	if errors.Is(err, sql.ErrNoRows) {
		return n, dialer.NotFound("FreeSWITCH profile")
	}
	if err != nil {
		return n, fmt.Errorf("store: freeswitch node %d: %w", id, err)
	}
	return n, nil
}

// EnabledFreeSwitchNodes returns the enabled FreeSWITCH profiles of every
// tenant, passwords unsealed: the nodes the daemon starts with.
func (db *DB) EnabledFreeSwitchNodes(ctx context.Context) ([]dialer.FreeSwitchNode, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+freeSwitchNodeCols+` FROM pbx_profiles
		WHERE type = ? AND enabled = 1 ORDER BY pbx_id`, dialer.PBXFreeSwitch)
	if err != nil {
		return nil, fmt.Errorf("store: freeswitch nodes: %w", err)
	}
	defer rows.Close()
	var out []dialer.FreeSwitchNode
	for rows.Next() {
		n, err := db.scanNode(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: freeswitch nodes: %w", err)
	}
	return out, nil
}
