package dialer

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// TransmissionStatus is where a transmission is in its life, as the
// ICTCore document names it.
type TransmissionStatus string

// Transmission statuses: pending (waiting for its next attempt, or not sent
// yet), processing (an attempt is live; for an inbound faxtoemail, its mail
// is being tried or waits for its next try), and the three final ones.
const (
	TransmissionPending    TransmissionStatus = "pending"
	TransmissionProcessing TransmissionStatus = "processing"
	TransmissionCompleted  TransmissionStatus = "completed"
	TransmissionFailed     TransmissionStatus = "failed"
	TransmissionInvalid    TransmissionStatus = "invalid"
)

// Final reports whether no further attempt will be made on its own.
func (s TransmissionStatus) Final() bool {
	return s == TransmissionCompleted || s == TransmissionFailed || s == TransmissionInvalid
}

// SpoolStatus is where one attempt is.
type SpoolStatus string

// Spool statuses, as the ICTCore document names them.
const (
	SpoolInitiated SpoolStatus = "initiated"
	SpoolCompleted SpoolStatus = "completed"
	SpoolFailed    SpoolStatus = "failed"
)

// Service flags, ICTCore's values (Voice::SERVICE_FLAG = 1, Fax = 2,
// Sms = 4, Email = 8). A provider's service_flag is a bit set of them.
const (
	ServiceVoice = 1
	ServiceFax   = 2
	ServiceSMS   = 4
	ServiceEmail = 8
)

// ServiceOf is the service an outbound program type uses; ok is false for
// inbound programs and unknown types, which the engine cannot send.
func ServiceOf(p ProgramType) (flag int, ok bool) {
	switch p {
	case ProgramVoiceMessage, ProgramVoiceTTS:
		return ServiceVoice, true
	case ProgramSendFax:
		return ServiceFax, true
	case ProgramSendSMS:
		return ServiceSMS, true
	case ProgramSendEmail:
		return ServiceEmail, true
	}
	return 0, false
}

// serviceName names a service flag for messages.
func serviceName(flag int) string {
	switch flag {
	case ServiceVoice:
		return "voice"
	case ServiceFax:
		return "fax"
	case ServiceSMS:
		return "sms"
	case ServiceEmail:
		return "email"
	}
	return fmt.Sprintf("service %d", flag)
}

// Transmission is one program to one contact. JSON names follow the
// ICTCore Transmission object; try_allowed, try_done and campaign_id are
// dialerd's additions.
type Transmission struct {
	ID          int64              `json:"transmission_id"`
	TenantID    string             `json:"-"`
	Title       string             `json:"title"`
	Origin      string             `json:"origin"`
	ContactID   int64              `json:"contact_id"`
	AccountID   int64              `json:"account_id"` // 0: none
	ServiceFlag int                `json:"service_flag"`
	ProgramID   int64              `json:"program_id"`
	CampaignID  int64              `json:"campaign_id"` // 0: a single transmission
	Direction   string             `json:"direction"`
	Status      TransmissionStatus `json:"status"`
	Response    string             `json:"response"`
	TryAllowed  int                `json:"try_allowed"`
	TryDone     int                `json:"try_done"`
	// DNCLists are the do-not-call lists the transmission names, besides
	// the tenant's default lists and the platform's (set on create).
	DNCLists []int64 `json:"dnc_lists,omitempty"`
	// DueAt is when the next attempt is due (an inbound faxtoemail's: the
	// next try of its mail), Unix seconds; 0 when nothing is queued.
	DueAt     int64 `json:"due_at"`
	CreatedBy int64 `json:"created_by"`
	// CreatedByCRN names the creator, a user or an API key (dialer.Actor.CRN).
	CreatedByCRN string `json:"created_by_crn"`
	CreatedAt    int64  `json:"date_created"`
	UpdatedAt    int64  `json:"last_updated"`
}

// MaxTryAllowed bounds try_allowed on transmissions and campaigns.
const MaxTryAllowed = 20

// ValidateTransmission checks the fields of t a client sets and fills
// defaults (direction outbound, one try).
func ValidateTransmission(t *Transmission, v *Invalid) {
	if t.ContactID <= 0 {
		v.Add("contact_id", "required")
	}
	if t.ProgramID <= 0 {
		v.Add("program_id", "required")
	}
	if t.AccountID < 0 {
		v.Add("account_id", "must be a positive id")
	}
	t.Direction = strings.ToLower(strings.TrimSpace(t.Direction))
	switch t.Direction {
	case "":
		t.Direction = "outbound"
	case "outbound", "inbound":
	default:
		v.Add("direction", "must be outbound or inbound")
	}
	switch t.ServiceFlag {
	case 0, ServiceVoice, ServiceFax, ServiceSMS, ServiceEmail:
	default:
		v.Add("service_flag", "must be 1 (voice), 2 (fax), 4 (sms) or 8 (email)")
	}
	if t.TryAllowed == 0 {
		t.TryAllowed = 1
	}
	if t.TryAllowed < 1 || t.TryAllowed > MaxTryAllowed {
		v.Add("try_allowed", "must be from 1 to 20")
	}
	for field, s := range map[string]string{"title": t.Title, "origin": t.Origin} {
		if utf8.RuneCountInString(s) > 255 {
			v.Add(field, "at most 255 characters")
		}
	}
}

// Spool is one attempt of a transmission, as the ICTCore Spool object.
type Spool struct {
	ID             int64       `json:"spool_id"`
	TenantID       string      `json:"-"`
	TransmissionID int64       `json:"transmission_id"`
	CallUUID       string      `json:"call_uuid"`
	ProviderID     int64       `json:"provider_id"`
	Node           string      `json:"-"`
	Status         SpoolStatus `json:"status"`
	Response       string      `json:"response"`
	TimeSpool      int64       `json:"time_spool"`
	TimeStart      int64       `json:"time_start"`
	TimeConnect    int64       `json:"time_connect"`
	TimeEnd        int64       `json:"time_end"`
}

// SpoolResult is one thing an attempt produced, as the ICTCore Result object.
type SpoolResult struct {
	ID      int64  `json:"spool_result_id"`
	SpoolID int64  `json:"spool_id"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	Data    string `json:"data"`
}

// Statistics is the ICTCore Statistics object: counts over what the caller
// may see.
type Statistics struct {
	CampaignTotal      int64 `json:"campaign_total"`
	CampaignActive     int64 `json:"campaign_active"`
	GroupTotal         int64 `json:"group_total"`
	ContactTotal       int64 `json:"contact_total"`
	TransmissionTotal  int64 `json:"transmission_total"`
	TransmissionActive int64 `json:"transmission_active"`
	SpoolTotal         int64 `json:"spool_total"`
	SpoolSuccess       int64 `json:"spool_success"`
	SpoolFailed        int64 `json:"spool_failed"`
}

var (
	dialablePattern = regexp.MustCompile(`^\+?[0-9]{3,20}$`)
	callerIDPattern = regexp.MustCompile(`^\+?[0-9]{1,20}$`)
)

// Dialable reports whether phone can be placed in a dial string as it is:
// an optional + and 3 to 20 digits, nothing a gateway could misread.
func Dialable(phone string) bool { return dialablePattern.MatchString(phone) }

// CallerIDNumber returns s when it is a safe caller id number, else "".
func CallerIDNumber(s string) string {
	if callerIDPattern.MatchString(s) {
		return s
	}
	return ""
}
