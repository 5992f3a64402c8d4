package dialer

import (
	"fmt"
	"time"
)

// CampaignStatus is where a campaign is.
type CampaignStatus string

// Campaign statuses. A stopped campaign resumes where it was on start; a
// completed one has nothing left to try.
const (
	CampaignNew       CampaignStatus = "new"
	CampaignActive    CampaignStatus = "active"
	CampaignStopped   CampaignStatus = "stopped"
	CampaignCompleted CampaignStatus = "completed"
)

// Campaign is a program over a contact group, as the ICTCore Campaign
// object (program_id, group_id, cpm, try_allowed, account_id, status), with
// dialerd's additions:
//
//   - retry_delay: seconds between two tries of one contact (default 300);
//   - window_start, window_end: "HH:MM" local time, the hours calls may be
//     made, [start, end); end before start spans midnight; default
//     "00:00"–"24:00";
//   - window_days: the weekdays, as [1,2,3,4,5] (1 = Monday, 0 or 7 =
//     Sunday) or a string like "mon-fri"; default every day;
//   - window_tz: the IANA time zone of the window (default "UTC"); a
//     contact's own time zone, when known, wins;
//   - counters: total, done, answered, failed, in_flight, pending —
//     read-only, current while the campaign runs.
//
// cpm is calls per minute (the document's "per second" contradicts its
// own name); status is read-only: start and stop change it.
type Campaign struct {
	ID         int64            `json:"campaign_id"`
	TenantID   string           `json:"-"`
	ProgramID  int64            `json:"program_id"`
	GroupID    int64            `json:"group_id"`
	AccountID  int64            `json:"account_id"`
	CPM        int              `json:"cpm"`
	TryAllowed int              `json:"try_allowed"`
	RetryDelay int              `json:"retry_delay"`
	Status     CampaignStatus   `json:"status"`
	Start      DayMinute        `json:"window_start"`
	End        DayMinute        `json:"window_end"`
	Days       Weekdays         `json:"window_days"`
	TZ         string           `json:"window_tz"`
	Counters   CampaignCounters `json:"counters"`
	// Compliance: the do-not-call lists the campaign names (the tenant's
	// default lists and the platform's apply anyway), and whether its own
	// window replaces the tenant's default calling window (who set that
	// and when are kept: read-only).
	DNCLists         []int64 `json:"dnc_lists"`
	WindowOverride   bool    `json:"window_override"`
	WindowOverrideBy int64   `json:"window_override_by"`
	WindowOverrideAt int64   `json:"window_override_at"`
	StartedAt        int64   `json:"started_at"`
	FinishedAt       int64   `json:"finished_at"`
	CreatedBy        int64   `json:"created_by"`
	// CreatedByCRN names the creator, a user or an API key (dialer.Actor.CRN).
	CreatedByCRN string `json:"created_by_crn"`
	CreatedAt    int64  `json:"date_created"`
	UpdatedAt    int64  `json:"last_updated"`
}

// CampaignCounters count a campaign's transmissions by state.
type CampaignCounters struct {
	Total    int64 `json:"total"`
	Done     int64 `json:"done"`     // completed, failed or invalid
	Answered int64 `json:"answered"` // completed
	Failed   int64 `json:"failed"`   // failed or invalid
	InFlight int64 `json:"in_flight"`
	Pending  int64 `json:"pending"`
	// Suppressed: ended without dialing, on a do-not-call list (counted in
	// Done, not in Failed).
	Suppressed int64 `json:"suppressed"`
}

// Window is the campaign's calling window.
func (c *Campaign) Window() Window { return Window{Start: c.Start, End: c.End, Days: c.Days} }

// Campaign defaults.
const (
	DefaultCPM        = 60
	DefaultRetryDelay = 300
	MaxRetryDelay     = 7 * 24 * 3600
)

// NewCampaignDefaults is a campaign with every default set, for a create
// request to decode onto.
func NewCampaignDefaults() Campaign {
	return Campaign{CPM: DefaultCPM, TryAllowed: 1, RetryDelay: DefaultRetryDelay,
		Start: 0, End: 1440, Days: AllWeekdays, TZ: "UTC", Status: CampaignNew}
}

// ValidateCampaign checks the client-settable fields of c; maxCPM is the
// operator's cap on calls per minute (DefaultMaxCPM when 0).
func ValidateCampaign(c *Campaign, maxCPM int, v *Invalid) {
	if maxCPM <= 0 {
		maxCPM = DefaultMaxCPM
	}
	if c.ProgramID <= 0 {
		v.Add("program_id", "required")
	}
	if c.GroupID <= 0 {
		v.Add("group_id", "required")
	}
	if c.AccountID < 0 {
		v.Add("account_id", "must be a positive id")
	}
	if c.CPM < 1 || c.CPM > maxCPM {
		v.Add("cpm", fmt.Sprintf("calls per minute, from 1 to %d", maxCPM))
	}
	if c.TryAllowed < 1 || c.TryAllowed > MaxTryAllowed {
		v.Add("try_allowed", "must be from 1 to 20")
	}
	if c.RetryDelay < 0 || c.RetryDelay > MaxRetryDelay {
		v.Add("retry_delay", "seconds, from 0 to 604800")
	}
	c.Window().Validate(v)
	if c.TZ == "" {
		c.TZ = "UTC"
	}
	if _, err := time.LoadLocation(c.TZ); err != nil {
		v.Add("window_tz", "not an IANA time zone such as Europe/Paris")
	}
}

// Blocked says why a campaign that is active cannot dial. The engine holds
// it while the cause lasts (a content fault keeps it until the campaign's
// content or its tenant's providers change); GET /campaigns/{id} shows it.
type Blocked struct {
	Reason string    `json:"reason"`          // in words, naming what to fix
	Field  string    `json:"field,omitempty"` // the config key or field to fix
	Fault  string    `json:"fault"`           // route or content
	Since  time.Time `json:"since"`
}
