package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/dialerd/dialerd/dialer"
)

// EmailRoute is the tenant's email provider (gateway_flag 4) that mail the
// daemon sends on its own goes through (faxtoemail): the active one of the
// lightest weight (the one the engine uses most), the oldest among equals,
// with its password unsealed. dialer.ErrNotFound when the tenant has none.
func (db *DB) EmailRoute(ctx context.Context, tenantID string) (dialer.Route, error) {
	var id int64
	err := db.r.QueryRowContext(ctx, `SELECT provider_id FROM providers WHERE tenant_id = ? AND gateway_flag = ? AND active = 1
		ORDER BY weight, provider_id LIMIT 1`, tenantID, dialer.GatewaySendmail).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return dialer.Route{}, dialer.NotFound("email provider")
	}
	if err != nil {
		return dialer.Route{}, fmt.Errorf("store: email provider: %w", err)
	}
	return db.ProviderRoute(ctx, tenantID, id)
}
