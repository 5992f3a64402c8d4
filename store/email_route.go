package store

import (
	"context"

	"github.com/dialerd/dialerd/dialer"
)

// EmailRoutes are the tenant's email providers (gateway_flag 4) that mail
// the daemon sends on its own goes through (faxtoemail), in the order to
// try them: active ones, the lightest weight (the one the engine uses
// most) first, the oldest among equals, each with its password unsealed.
// dialer.ErrNotFound when the tenant has none.
func (db *DB) EmailRoutes(ctx context.Context, tenantID string) ([]dialer.Route, error) {
	ids, err := column[int64](ctx, db.r, "email providers", `SELECT provider_id FROM providers
		WHERE tenant_id = ? AND gateway_flag = ? AND active = 1 ORDER BY weight, provider_id`, tenantID, dialer.GatewaySendmail)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, dialer.NotFound("email provider")
	}
	out := make([]dialer.Route, 0, len(ids))
	for _, id := range ids {
		r, err := db.ProviderRoute(ctx, tenantID, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
