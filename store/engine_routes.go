package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dialerd/dialerd/dialer"
)

// providerSettings are the keys the engine reads from a provider's free
// settings text when it is a JSON object: {"cps": 5, "channels": 30,
// "transport": "tcp"}. Anything else in settings is left to the gateways.
type providerSettings struct {
	CPS       int    `json:"cps"`
	Channels  int    `json:"channels"`
	Transport string `json:"transport"`
	TLS       string `json:"tls"`  // email: none, starttls, implicit
	Sender    string `json:"from"` // email: the From address; Kannel: the SMS sender
	// The caller-id policy: numbers the provider lets the tenant present,
	// and whether it carries calls that present none.
	CallerIDs      []string `json:"caller_ids"`
	AllowAnonymous bool     `json:"allow_anonymous"`
}

func parseProviderSettings(s string) providerSettings {
	var ps providerSettings
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		_ = json.Unmarshal([]byte(s), &ps) // not ours to reject: the provider API validates it
	}
	return ps
}

func nodeName(id sql.NullInt64) string {
	if !id.Valid {
		return ""
	}
	return strconv.FormatInt(id.Int64, 10)
}

// Providers implements dialer.RouteSource.
func (s *EngineStore) Providers(ctx context.Context, tenantID string) ([]dialer.ProviderInfo, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT provider_id, name, service_flag, weight, node_id, settings
		FROM providers WHERE tenant_id = ? AND active = 1 ORDER BY provider_id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: providers: %w", err)
	}
	var out []dialer.ProviderInfo
	for rows.Next() {
		p := dialer.ProviderInfo{TenantID: tenantID}
		var node sql.NullInt64
		var settings string
		if err := rows.Scan(&p.ID, &p.Name, &p.Services, &p.Weight, &node, &settings); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: providers: %w", err)
		}
		p.Node = nodeName(node)
		ps := parseProviderSettings(settings)
		p.CPS, p.Channels = max(ps.CPS, 0), max(ps.Channels, 0)
		p.CallerIDs, p.AllowAnonymous = ps.CallerIDs, ps.AllowAnonymous
		out = append(out, p)
	}
	return out, errors.Join(rows.Close(), rows.Err())
}

// Route implements dialer.RouteSource: the provider with its password
// unsealed, for the gateway only.
func (s *EngineStore) Route(ctx context.Context, tenantID string, providerID int64) (dialer.Route, error) {
	return s.db.ProviderRoute(ctx, tenantID, providerID)
}
