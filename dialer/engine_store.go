package dialer

import (
	"context"
	"errors"
	"time"
)

// Work is one transmission the engine may attempt: what it needs of the
// transmission, its contact and its program, read in one go.
type Work struct {
	TransmissionID int64
	TenantID       string
	OwnerID        int64 // the user who created the transmission
	CampaignID     int64 // 0 for a single transmission
	ProgramID      int64
	Program        ProgramType
	Phone          string // the contact's, E.164
	Email          string
	Contact        ContactFields // for a template's placeholders
	ContactTZ      string        // IANA name or ""
	CallerID       string        // the account's phone, or ""
	TryDone        int
	TryAllowed     int
	Due            time.Time // zero: not queued
}

// OpenSpool is an attempt left initiated: recovery asks the gateway that
// placed it, with what the store knew of its progress.
type OpenSpool struct {
	SpoolID    int64
	CallUUID   string
	ProviderID int64
	Gateway    int64 // the gateway_flag it was placed through; 0 before it was recorded
	Node       string
	Spooled    time.Time
	// Ringing, Answered and Delivered are when each was recorded; zero
	// when it was not.
	Ringing, Answered, Delivered time.Time
	Dialog                       []byte
	Work                         Work // its transmission, as it is now (processing)
}

// AttemptStart is the write-ahead record of an attempt.
type AttemptStart struct {
	TransmissionID int64
	TenantID       string
	CallUUID       string
	ProviderID     int64
	Gateway        int64 // the provider's gateway_flag: recovery asks this gateway
	Node           string
	At             time.Time
	// CallerID is the caller id the attempt presents, for the record:
	// the number, "" for the trunk's own identity, or "anonymous".
	CallerID string
}

// ErrAttemptGone is returned by BeginAttempt when the transmission is no
// longer pending (deleted, or changed by someone else since it was queued):
// nothing was written and the engine forgets it.
var ErrAttemptGone = errors.New("transmission is no longer pending")

// Change is a state change the engine records without waiting: the store
// commits changes in the order recorded, many to a transaction.
type Change interface{ isChange() }

// SpoolRinging records the moment a call rang.
type SpoolRinging struct {
	SpoolID int64
	At      time.Time
}

// SpoolAnswered records the moment a call was answered, with what the
// gateway needs to end it from another process.
type SpoolAnswered struct {
	SpoolID int64
	At      time.Time
	Dialog  []byte
}

// SpoolDelivered records the moment the gateway read that the message
// got through.
type SpoolDelivered struct {
	SpoolID int64
	At      time.Time
}

// AttemptEnded closes a spool and moves its transmission on, together.
type AttemptEnded struct {
	SpoolID        int64
	TransmissionID int64
	TenantID       string
	SpoolStatus    SpoolStatus
	Response       string
	Start          time.Time
	Connect        time.Time
	End            time.Time
	Results        []Result
	Status         TransmissionStatus // the transmission's new status
	Due            time.Time          // its next attempt when pending, else zero
	// Refund gives the try back: the gateway could not try at all.
	Refund bool
}

// TransmissionChanged sets a transmission's status, response and due time.
type TransmissionChanged struct {
	TransmissionID int64
	Status         TransmissionStatus
	Response       string
	Due            time.Time // zero: not queued
}

// CampaignFinished marks a campaign completed.
type CampaignFinished struct {
	CampaignID int64
	At         time.Time
}

func (SpoolRinging) isChange()        {}
func (SpoolAnswered) isChange()       {}
func (SpoolDelivered) isChange()      {}
func (AttemptEnded) isChange()        {}
func (TransmissionChanged) isChange() {}
func (CampaignFinished) isChange()    {}

// Schedule actions.
const (
	ScheduleTransmissionSend = "transmission.send"
	ScheduleCampaignStart    = "campaign.start"
	ScheduleCampaignStop     = "campaign.stop"
)

// Schedule is an action at a time; it survives restarts and one found in
// the past on start-up runs once.
type Schedule struct {
	ID        int64
	TenantID  string
	CreatedBy int64
	Action    string
	TargetID  int64
	RunAt     time.Time
}

// EngineStore is what the engine needs of persistence. Writes are ordered:
// a BeginAttempt or Exec commits after every change recorded before it.
type EngineStore interface {
	// BeginAttempt commits the spool of a new attempt with its call UUID,
	// moves the transmission to processing and counts the try, and marks
	// its due transmission.send schedule done; it returns once durable.
	BeginAttempt(ctx context.Context, a AttemptStart) (spoolID int64, err error)
	// Record queues a change; it is committed soon, in order: within the
	// writer's next group commit (it does not wait for more work).
	Record(c Change)
	// Sync returns once every change recorded before it is committed, with
	// the first error any of them met since the last Sync.
	Sync(ctx context.Context) error

	// OpenSpools lists the spools left initiated.
	OpenSpools(ctx context.Context) ([]OpenSpool, error)
	// QueuedWork lists the single transmissions (no campaign) pending with
	// a due time.
	QueuedWork(ctx context.Context) ([]Work, error)
	// WorkOf reads one transmission as Work, whatever its status, and its status.
	WorkOf(ctx context.Context, tenantID string, transmissionID int64) (Work, TransmissionStatus, error)
	// RequeueOrphans returns to pending (due at now) every transmission
	// left processing without an initiated spool, and says how many.
	RequeueOrphans(ctx context.Context, now time.Time) (int, error)

	// ActiveCampaigns lists the campaigns whose status is active.
	ActiveCampaigns(ctx context.Context) ([]Campaign, error)
	// CampaignWork lists up to limit of a campaign's pending transmissions
	// whose id is above afterID, in id order: one page of its work.
	CampaignWork(ctx context.Context, campaignID, afterID int64, limit int) ([]Work, error)
	// StartCampaign makes the campaign active: it creates a transmission for
	// every contact of its group that has none yet, queues the pending
	// ones at now, and marks schedule scheduleID (if not 0) done, in one
	// transaction. It returns the campaign as it now is.
	StartCampaign(ctx context.Context, tenantID string, id int64, now time.Time, scheduleID int64) (Campaign, error)
	// MaterializeCampaign creates the transmissions (due at now) of the
	// next contacts of an active campaign's group after contact id
	// afterContact that have none, a small transaction at a time; the
	// engine calls it off its loop until Done.
	MaterializeCampaign(ctx context.Context, campaignID, afterContact int64, now time.Time) (Materialized, error)
	// StopCampaign sets the campaign stopped (it keeps its pending work)
	// and marks schedule scheduleID (if not 0) done, in one transaction.
	StopCampaign(ctx context.Context, tenantID string, id int64, now time.Time, scheduleID int64) (Campaign, error)
	// Campaign reads one campaign of the tenant.
	Campaign(ctx context.Context, tenantID string, id int64) (Campaign, error)

	// PendingSchedules lists the schedules not done yet.
	PendingSchedules(ctx context.Context) ([]Schedule, error)
	// ScheduleDone marks a schedule done without acting (its target vanished).
	ScheduleDone(ctx context.Context, id int64, at time.Time) error
	// QueueTransmission makes a pending transmission due at at; with a
	// schedule (createdBy != 0) it also records a transmission.send
	// schedule and returns its id. A transmission that is not pending is
	// a conflict.
	QueueTransmission(ctx context.Context, tenantID string, id int64, at time.Time, createdBy int64) (scheduleID int64, err error)
	// RetryTransmission allows one more try of a failed or invalid
	// transmission and makes it pending, due at now.
	RetryTransmission(ctx context.Context, tenantID string, id int64, now time.Time) error
	// UnqueueTransmission drops a pending transmission's due time and its
	// open schedules.
	UnqueueTransmission(ctx context.Context, tenantID string, id int64) error
	// AddSchedule records a campaign schedule and returns its id.
	AddSchedule(ctx context.Context, s Schedule) (int64, error)
	// DropSchedules deletes the open schedules of a target and returns
	// their ids.
	DropSchedules(ctx context.Context, tenantID string, actions []string, targetID int64) ([]int64, error)

	// ProgramMedia reads what a program sends.
	ProgramMedia(ctx context.Context, tenantID string, programID int64) (ProgramType, Media, error)
}

// ProviderInfo is what provider choice needs of a provider.
type ProviderInfo struct {
	ID       int64
	TenantID string
	Name     string
	Services int // bit set of Service* flags
	Weight   int // lighter is used more often
	Node     string
	CPS      int // sessions per second; 0: the engine's default
	Channels int // concurrent calls; 0: the engine's default
	// CallerIDs is the provider's caller-id allow-list and AllowAnonymous
	// whether it carries calls that present no caller id (settings
	// "caller_ids" and "allow_anonymous").
	CallerIDs      []string
	AllowAnonymous bool
}

// RouteSource resolves providers. The store implements it; it unseals the
// provider's password for the gateway and nobody else.
type RouteSource interface {
	// Providers lists the tenant's active providers.
	Providers(ctx context.Context, tenantID string) ([]ProviderInfo, error)
	// Route resolves one provider into what a gateway dials through.
	Route(ctx context.Context, tenantID string, providerID int64) (Route, error)
}

// Materialized is one step of MaterializeCampaign.
type Materialized struct {
	LastContact int64 // where the next step starts
	Added       int   // transmissions created
	Done        bool  // the group has no contacts beyond LastContact
}
