package dialer

import (
	"maps"
	"slices"
	"time"
)

// Quantities are a tenant's billable things, category → item → count.
type Quantities map[string]map[string]int64

// Get returns one quantity (0 when absent).
func (q Quantities) Get(category, item string) int64 { return q[category][item] }

// Set sets one quantity.
func (q Quantities) Set(category, item string, n int64) {
	if q[category] == nil {
		q[category] = map[string]int64{}
	}
	q[category][item] = n
}

// Total is the sum of a category's items.
func (q Quantities) Total(category string) int64 {
	var n int64
	for _, v := range q[category] {
		n += v
	}
	return n
}

// Clone copies q.
func (q Quantities) Clone() Quantities {
	out := Quantities{}
	for c, items := range q {
		out[c] = maps.Clone(items)
	}
	return out
}

// Merge returns q with every quantity of over replacing q's: manual
// quantities win over computed ones.
func (q Quantities) Merge(over Quantities) Quantities {
	out := q.Clone()
	for c, items := range over {
		for i, n := range items {
			out.Set(c, i, n)
		}
	}
	return out
}

// Usage categories: counted as running totals (sum_quantity: true); every
// other category is a stock (the count of live records).
var usageUnits = map[string]string{
	"call_seconds": "seconds",
	"sms":          "segments",
	"fax":          "pages",
	"email":        "messages",
}

// UsageUnit is the unit of a usage category; ok is false for a stock.
func UsageUnit(category string) (unit string, ok bool) {
	unit, ok = usageUnits[category]
	return unit, ok
}

// PlanItem is the price of one category item of a plan.
type PlanItem struct {
	Name string  `yaml:"name" json:"name,omitempty"`
	Rate float64 `yaml:"rate" json:"rate"`
}

// PlanLimits are what a plan allows; 0 is unlimited.
type PlanLimits struct {
	// Channels caps the tenant's concurrent calls.
	Channels int `yaml:"channels" json:"channels"`
	// CPM caps each campaign's calls per minute.
	CPM int `yaml:"cpm" json:"cpm"`
	// Contacts and Campaigns cap how many may exist; CampaignsRunning how
	// many may run at once.
	Contacts         int `yaml:"contacts" json:"contacts"`
	Campaigns        int `yaml:"campaigns" json:"campaigns"`
	CampaignsRunning int `yaml:"campaigns_running" json:"campaigns_running"`
	// MonthlyCallSeconds caps answered call seconds per calendar month.
	MonthlyCallSeconds int64 `yaml:"monthly_call_seconds" json:"monthly_call_seconds"`
	// Prepaid tenants are debited as calls end and stop at zero credit.
	Prepaid bool `yaml:"prepaid" json:"prepaid"`
}

// Plan is one entry of the plan catalogue (configs/plans.yaml).
type Plan struct {
	ID          string                         `yaml:"id" json:"id"`
	Name        string                         `yaml:"name" json:"name"`
	Description string                         `yaml:"description" json:"description"`
	Category    string                         `yaml:"category" json:"category"`
	Items       map[string]map[string]PlanItem `yaml:"items" json:"items"`
	Limits      PlanLimits                     `yaml:"limits" json:"limits"`
}

// PlanCatalog is every plan the platform sells; Default is the plan of a
// tenant that has none assigned.
type PlanCatalog struct {
	Default string `yaml:"default"`
	Plans   []Plan `yaml:"plans"`
}

// Plan looks a plan up by id.
func (c PlanCatalog) Plan(id string) (Plan, bool) {
	i := slices.IndexFunc(c.Plans, func(p Plan) bool { return p.ID == id })
	if i < 0 {
		return Plan{}, false
	}
	return c.Plans[i], true
}

// Validate checks the catalogue as it is loaded.
func (c PlanCatalog) Validate() error {
	var v Invalid
	seen := map[string]bool{}
	for i, p := range c.Plans {
		switch {
		case !ValidCrossbarID(p.ID):
			v.Add("plans["+itoa(i)+"].id", "letters, digits, '_' and '-' only")
		case seen[p.ID]:
			v.Add("plans["+itoa(i)+"].id", "duplicate plan id "+p.ID)
		}
		seen[p.ID] = true
		for cat, items := range p.Items {
			for item, it := range items {
				if it.Rate < 0 {
					v.Add("plans["+itoa(i)+"].items."+cat+"."+item, "rate must not be negative")
				}
			}
		}
	}
	if c.Default != "" && !seen[c.Default] {
		v.Add("default", "no plan "+c.Default)
	}
	return v.Err()
}

// ServiceDoc is a tenant's services: what the platform admin assigned.
type ServiceDoc struct {
	// Plans are the assigned plan ids with their per-plan overrides.
	Plans     map[string]PlanAssignment `json:"plans"`
	BillingID string                    `json:"billing_id,omitempty"`
	// Manual quantities win over computed ones.
	Manual Quantities `json:"manual"`
	// Overrides change plan rates ({category: {item: {"rate": N}}}) and
	// limits ({"limits": {"cpm": {"value": N}}}).
	Overrides map[string]map[string]map[string]any `json:"overrides"`
}

// PlanAssignment is one assigned plan.
type PlanAssignment struct {
	VendorID  string         `json:"vendor_id"`
	Overrides map[string]any `json:"overrides"`
}

// EffectivePlans are the plans that apply to doc: the assigned ones, or the
// catalogue's default when none is.
func (c PlanCatalog) EffectivePlans(doc ServiceDoc) []Plan {
	var out []Plan
	for _, id := range slices.Sorted(maps.Keys(doc.Plans)) {
		if p, ok := c.Plan(id); ok {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		if p, ok := c.Plan(c.Default); ok {
			out = append(out, p)
		}
	}
	return out
}

// Rate is the rate of a category item under plans and overrides: an
// override wins, then the first plan that prices it.
func Rate(plans []Plan, overrides map[string]map[string]map[string]any, category, item string) (float64, bool) {
	if o, ok := overrides[category][item]["rate"]; ok {
		if f, ok := o.(float64); ok {
			return f, true
		}
	}
	for _, p := range plans {
		if it, ok := p.Items[category][item]; ok {
			return it.Rate, true
		}
	}
	return 0, false
}

// EffectiveLimits combines plans (each limit the most generous, 0 being
// unlimited; prepaid when any plan is) with limit overrides.
func EffectiveLimits(plans []Plan, overrides map[string]map[string]map[string]any) PlanLimits {
	var l PlanLimits
	for i, p := range plans {
		m := p.Limits
		if i == 0 {
			l = m
			continue
		}
		l.Channels = looser(l.Channels, m.Channels)
		l.CPM = looser(l.CPM, m.CPM)
		l.Contacts = looser(l.Contacts, m.Contacts)
		l.Campaigns = looser(l.Campaigns, m.Campaigns)
		l.CampaignsRunning = looser(l.CampaignsRunning, m.CampaignsRunning)
		l.MonthlyCallSeconds = looser(l.MonthlyCallSeconds, m.MonthlyCallSeconds)
		l.Prepaid = l.Prepaid || m.Prepaid
	}
	for name, o := range overrides["limits"] {
		f, _ := o["value"].(float64)
		n := int(f)
		switch name {
		case "channels":
			l.Channels = n
		case "cpm":
			l.CPM = n
		case "contacts":
			l.Contacts = n
		case "campaigns":
			l.Campaigns = n
		case "campaigns_running":
			l.CampaignsRunning = n
		case "monthly_call_seconds":
			l.MonthlyCallSeconds = int64(n)
		case "prepaid":
			l.Prepaid = f != 0
		}
	}
	return l
}

func looser[T int | int64](a, b T) T {
	if a == 0 || b == 0 {
		return 0
	}
	return max(a, b)
}

// AuditEntry is one change of a tenant's services: a quantity that moved,
// usage recorded, a plan, manual quantity, override or credit changed.
type AuditEntry struct {
	// ID is YYYYMM-<32 hex>, in time order.
	ID       string
	TenantID string
	At       time.Time
	// Type is quantity, usage, plan, manual, overrides, billing, topup,
	// reconciliation or synchronization.
	Type     string
	Category string
	Item     string
	Addition int64
	Removal  int64
	// Quantity is the item's new count (a stock) or the usage recorded.
	Quantity int64
	// CategoryTotal is the category's count after the change (stocks).
	CategoryTotal int64
	SumQuantity   bool
	Unit          string
	Status        string
	Reason        string
	Message       string
	Who           AuditWho
	Request       AuditRequest
	Changes       map[string]any
}

// AuditWho is who made a change.
type AuditWho struct {
	UserID   int64  `json:"user_id,omitempty"`
	Username string `json:"username,omitempty"`
	TenantID string `json:"account_id,omitempty"`
	// Via is the credential ("jwt", "api-key") or "engine", "system".
	Via   string `json:"authentication"`
	Agent string `json:"agent,omitempty"`
}

// AuditRequest is the request that made a change.
type AuditRequest struct {
	ID       string `json:"request_id,omitempty"`
	Method   string `json:"method,omitempty"`
	Path     string `json:"path,omitempty"`
	ClientIP string `json:"client_ip,omitempty"`
}

// Ledger is a tenant's prepaid credit, in micro-dollars.
type Ledger struct {
	Balance  int64 `json:"-"`
	Credited int64 `json:"-"`
	Debited  int64 `json:"-"`
	Seconds  int64 `json:"-"`
}

// MicroDollars converts dollars to the ledger's unit.
func MicroDollars(d float64) int64 { return int64(d*1e6 + 0.5*sign(d)) }

// Dollars converts the ledger's unit to dollars.
func Dollars(m int64) float64 { return float64(m) / 1e6 }

func sign(f float64) float64 {
	if f < 0 {
		return -1
	}
	return 1
}

// AuditQuery selects audit entries: created in [From, To] (unix seconds,
// inclusive), of one category when Category is set, from the id StartKey
// on, at most Limit (0: all).
type AuditQuery struct {
	From, To int64
	Category string
	StartKey string
	Limit    int
}

// CodeNoCredit is a prepaid tenant out of credit (crossbar 402 no_credit).
const CodeNoCredit Code = "no_credit"

// NoCredit reports that a prepaid tenant has no credit left.
func NoCredit(msg string) error { return &Error{Code: CodeNoCredit, Message: msg} }

// DefaultPlans is the catalogue of a platform without configs/plans.yaml:
// one postpaid plan, "default", with nothing priced and no limits beyond
// the engine's own caps.
func DefaultPlans() PlanCatalog {
	return PlanCatalog{Default: "default", Plans: []Plan{{ID: "default", Name: "Default",
		Description: "Postpaid, unpriced, no limits beyond the engine's caps", Category: "dialer"}}}
}

// GregorianOffset turns unix seconds into the Gregorian seconds crossbar
// services answer (seconds since year 0).
const GregorianOffset = 62167219200
