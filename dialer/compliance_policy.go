package dialer

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// TenantCompliance is a tenant's compliance settings.
type TenantCompliance struct {
	// Window is the default calling window, read in the called party's
	// local time; it applies to every campaign that does not override it.
	Window Window `json:"-"`
	// RedialLimit is the most attempts to one number in any 24 hours
	// across all the tenant's campaigns.
	RedialLimit int `json:"redial_limit"`
	// DIDs are the phones of the tenant's did accounts: caller ids it may
	// present on any of its routes (read by the engine, not settable).
	DIDs []string `json:"-"`
}

// Compliance defaults: US TSR hours, three calls a day.
const (
	DefaultComplianceStart = DayMinute(8 * 60)
	DefaultComplianceEnd   = DayMinute(21 * 60)
	DefaultRedialLimit     = 3
	MaxRedialLimit         = 100
)

// DefaultTenantCompliance is what a tenant has until it says otherwise.
func DefaultTenantCompliance() TenantCompliance {
	return TenantCompliance{Window: Window{Start: DefaultComplianceStart, End: DefaultComplianceEnd, Days: AllWeekdays}, RedialLimit: DefaultRedialLimit}
}

// ParseWindowSpan reads "HH:MM-HH:MM" as a window of every day.
func ParseWindowSpan(s string) (Window, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return Window{}, fmt.Errorf("%q is not HH:MM-HH:MM", s)
	}
	start, err := ParseDayMinute(a)
	if err != nil {
		return Window{}, err
	}
	end, err := ParseDayMinute(b)
	if err != nil {
		return Window{}, err
	}
	w := Window{Start: start, End: end, Days: AllWeekdays}
	var v Invalid
	w.Validate(&v)
	return w, v.Err()
}

// Validate checks the settings, naming fields as the API does.
func (t TenantCompliance) Validate(v *Invalid) {
	t.Window.Validate(v)
	if t.RedialLimit < 1 || t.RedialLimit > MaxRedialLimit {
		v.Add("redial_limit", "attempts per number per 24 hours, from 1 to 100")
	}
}

// CompliancePolicy is what a campaign or a single transmission says of
// compliance: the do-not-call lists it names (the tenant's default lists
// and the platform's apply anyway) and, for a campaign, whether its own
// window replaces the tenant's default one.
type CompliancePolicy struct {
	Lists          []int64
	WindowOverride bool
}

// NumberAttempt is one attempt to a number, for the redial limit.
type NumberAttempt struct {
	TenantID string
	Phone    string
	At       time.Time
}

// ComplianceStore is what the engine reads of compliance (the store).
type ComplianceStore interface {
	OptOutRecorder
	// TenantCompliance reads a tenant's settings (the defaults when it set
	// none).
	TenantCompliance(ctx context.Context, tenantID string) (TenantCompliance, error)
	// CompliancePolicy reads a campaign's policy (campaignID != 0) or a
	// single transmission's.
	CompliancePolicy(ctx context.Context, tenantID string, campaignID, transmissionID int64) (CompliancePolicy, error)
	// RecentAttempts lists every attempt since since, for the redial limit
	// to start from.
	RecentAttempts(ctx context.Context, since time.Time) ([]NumberAttempt, error)
}

// TransmissionSuppressed ends a transmission without dialing: its number is
// on a do-not-call list.
type TransmissionSuppressed struct {
	TransmissionID int64
	ListID         int64 // 0: an opt-out not yet on a stored list
	Response       string
}

// WindowDeferred records that a transmission due now waits for its calling
// window (the report's outside-hours deferrals).
type WindowDeferred struct {
	TransmissionID int64
}

func (TransmissionSuppressed) isChange() {}
func (WindowDeferred) isChange()         {}

// ProviderAllowsCallerID reports whether a provider's settings ({"caller_ids":
// ["+1…", …]}) allow-list number as a caller id. Settings that are not a
// JSON object allow nothing.
func ProviderAllowsCallerID(settings, number string) bool {
	var s struct {
		CallerIDs []string `json:"caller_ids"`
	}
	if json.Unmarshal([]byte(settings), &s) != nil {
		return false
	}
	return slices.Contains(s.CallerIDs, number)
}

// validateCallerIDSettings checks the caller-id keys of a provider's
// settings when they are a JSON object: "caller_ids", a list of caller id
// numbers (+ and digits) the tenant may present through it, and
// "allow_anonymous", whether it carries calls that present none (default
// false). Other keys are the gateways'.
func validateCallerIDSettings(settings string, v *Invalid) {
	if !strings.HasPrefix(strings.TrimSpace(settings), "{") {
		return
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(settings), &m); err != nil {
		v.Add("settings", "starts like a JSON object but is not one: "+err.Error())
		return
	}
	if raw, ok := m["allow_anonymous"]; ok {
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			v.Add("settings", "allow_anonymous must be true or false")
		}
	}
	if raw, ok := m["caller_ids"]; ok {
		var ids []string
		if json.Unmarshal(raw, &ids) != nil {
			v.Add("settings", `caller_ids must be a list of numbers, e.g. ["+14155550100"]`)
			return
		}
		for _, id := range ids {
			if CallerIDNumber(id) != id || id == "" {
				v.Add("settings", fmt.Sprintf("caller_ids: %q is not a caller id number (+ and up to 20 digits)", id))
				return
			}
		}
	}
}
