package store

import (
	"context"
	"fmt"

	"github.com/dialerd/dialerd/dialer"
)

// Statistics counts what scope may see: the ICTCore Statistics object. An
// active transmission is one being attempted or queued for an attempt.
func (db *DB) Statistics(ctx context.Context, scope dialer.Scope) (dialer.Statistics, error) {
	var st dialer.Statistics
	owner := func(table string) (string, []any) {
		if scope.OwnerID == 0 {
			return table + ".tenant_id = ?", []any{scope.TenantID}
		}
		return table + ".tenant_id = ? AND " + table + ".created_by = ?", []any{scope.TenantID, scope.OwnerID}
	}
	for _, q := range []struct {
		table, extra string
		dst          *int64
	}{
		{"campaigns", "", &st.CampaignTotal},
		{"campaigns", " AND campaigns.status = 'active'", &st.CampaignActive},
		{"groups", "", &st.GroupTotal},
		{"contacts", "", &st.ContactTotal},
		{"transmissions", "", &st.TransmissionTotal},
		{"transmissions", " AND (transmissions.status = 'processing' OR (transmissions.status = 'pending' AND transmissions.due_at > 0))", &st.TransmissionActive},
	} {
		cond, args := owner(q.table)
		if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+q.table+` WHERE `+cond+q.extra, args...).Scan(q.dst); err != nil {
			return st, fmt.Errorf("store: statistics %s: %w", q.table, err)
		}
	}
	cond, args := owner("transmissions")
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(spools.status = 'completed'), 0), COALESCE(SUM(spools.status = 'failed'), 0)
		FROM spools JOIN transmissions ON transmissions.transmission_id = spools.transmission_id WHERE `+cond, args...).
		Scan(&st.SpoolTotal, &st.SpoolSuccess, &st.SpoolFailed)
	if err != nil {
		return st, fmt.Errorf("store: statistics spools: %w", err)
	}
	return st, nil
}
