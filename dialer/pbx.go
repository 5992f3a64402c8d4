package dialer

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// PBXType is a PBX profile's "_type", as the PBX profiles document names it.
type PBXType string

// PBX profile types.
const (
	PBXKazoo      PBXType = "KazooPbxConnectionProfile"
	PBXThreeCX    PBXType = "ThreeCxConnectionProfile"
	PBXFreeSwitch PBXType = "FreeSwitchConnectionProfile"
)

// Valid reports whether t is a known profile type.
func (t PBXType) Valid() bool {
	return t == PBXKazoo || t == PBXThreeCX || t == PBXFreeSwitch
}

// PBX profile defaults. FreeSWITCH's own switch.conf defaults are 30
// sessions per second and 1000 sessions; its event socket listens on 8021
// with the password ClueCon.
const (
	DefaultPBXCountryCode      = "US"
	DefaultFreeSwitchPort      = 8021
	DefaultFreeSwitchPassword  = "ClueCon"
	DefaultFreeSwitchSPS       = 30
	DefaultFreeSwitchSessions  = 1000
	MinFreeSwitchSPS           = 2 // FreeSWITCH lets sps-1 through per second: 1 would let nothing
	MaxFreeSwitchSPS           = 10000
	MaxFreeSwitchSessions      = 1000000
	DefaultRecordingArchiveFrq = "00:20:00"
	maxPBXName                 = 128
	maxPBXSecret               = 256
	maxPBXURL                  = 2048
)

// PBXProfile is a PBX a tenant connects: Kazoo, 3CX or a FreeSWITCH node.
// Fields not of its Type are zero. Secrets (APIKey, LicenseKey, Password)
// travel in clear only between the API and the store or the gateway; the
// store seals them and answers them masked (HasAPIKey, ... say whether one
// is set).
type PBXProfile struct {
	ID           int64
	TenantID     string
	CreatedBy    int64
	CreatedByCRN string
	Type         PBXType
	Name         string
	Enabled      bool
	CreatedAt    int64
	UpdatedAt    int64

	// Kazoo.
	HostRest      string
	HostWebsocket string
	AccountID     string
	APIKey        string
	CountryCode   string

	// 3CX.
	LicenseKey                string
	Username                  string
	EnableRecordingArchive    bool
	RecordingArchiveFrequency string // HH:MM:SS

	// FreeSWITCH event socket.
	Host              string
	Port              int
	SessionsPerSecond int
	MaxSessions       int

	// Password is 3CX's password or FreeSWITCH's event socket password.
	Password string

	// Which secrets are stored, for masking; set by the store on reads.
	HasAPIKey, HasLicenseKey, HasPassword bool
}

// NodeID is the gateway's name for a FreeSWITCH profile: its id in
// decimal, as providers name it in node_id and Route.Node carries it.
func (p PBXProfile) NodeID() string { return fmt.Sprint(p.ID) }

// FreeSwitchNode is what the FreeSWITCH gateway needs to run a node: an
// enabled FreeSWITCH profile with its password unsealed.
type FreeSwitchNode struct {
	ID                string // PBXProfile.NodeID
	TenantID          string
	Name              string
	Host              string
	Port              int
	Password          string // never logged
	SessionsPerSecond int
	MaxSessions       int
}

var (
	pbxAccountIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	pbxUsernamePattern  = regexp.MustCompile(`^[A-Za-z0-9._@+=:-]{1,128}$`)
	pbxFrequencyPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$`)
	pbxCountryPattern   = regexp.MustCompile(`^[A-Z]{2}$`)
)

// ValidatePBXProfile checks p for its type after the API has applied the
// request to it. Secrets are checked only when set: the store keeps the
// one already stored when a request leaves it out. create says whether a
// missing required secret is an error.
func ValidatePBXProfile(p *PBXProfile, create bool, v *Invalid) {
	p.Name = strings.TrimSpace(p.Name)
	switch {
	case p.Name == "":
		v.Add("name", "required")
	case utf8.RuneCountInString(p.Name) > maxPBXName:
		v.Add("name", fmt.Sprintf("at most %d characters", maxPBXName))
	case !programPrintable(p.Name):
		v.Add("name", "printable characters only")
	}
	secret := func(field, value string, required bool) {
		switch {
		case value == "" && required && create:
			v.Add(field, "required")
		case len(value) > maxPBXSecret:
			v.Add(field, fmt.Sprintf("at most %d bytes", maxPBXSecret))
		case !programPrintable(value):
			v.Add(field, "printable characters only")
		}
	}
	switch p.Type {
	case PBXKazoo:
		checkPBXURL(v, "hostRest", p.HostRest, "http", "https")
		checkPBXURL(v, "hostWebsocket", p.HostWebsocket, "ws", "wss")
		if !pbxAccountIDPattern.MatchString(p.AccountID) {
			v.Add("accountId", "1-64 letters, digits, _ or -")
		}
		secret("apiKey", p.APIKey, true)
		if !pbxCountryPattern.MatchString(p.CountryCode) {
			v.Add("countryCode", "an ISO 3166 alpha-2 code in capitals, e.g. US")
		}
	case PBXThreeCX:
		secret("licenseKey", p.LicenseKey, true)
		if !pbxUsernamePattern.MatchString(p.Username) {
			v.Add("username", "1-128 letters, digits or . _ @ + = : -")
		}
		secret("password", p.Password, true)
		if !pbxFrequencyPattern.MatchString(p.RecordingArchiveFrequency) {
			v.Add("recordingArchiveFrequency", "HH:MM:SS, e.g. 00:20:00")
		}
	case PBXFreeSwitch:
		p.Host = strings.TrimSpace(p.Host)
		if p.Host == "" || !ValidProviderHost(p.Host) {
			v.Add("host", "a host name or an IP address")
		}
		if p.Port < 1 || p.Port > 65535 {
			v.Add("port", "1-65535 (FreeSWITCH's event socket listens on 8021)")
		}
		// The event socket password is sent in an "auth" command line:
		// no spaces or control characters.
		switch {
		case len(p.Password) > maxPBXSecret:
			v.Add("password", fmt.Sprintf("at most %d bytes", maxPBXSecret))
		case strings.ContainsFunc(p.Password, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			v.Add("password", "no spaces or control characters")
		}
		if p.SessionsPerSecond < MinFreeSwitchSPS || p.SessionsPerSecond > MaxFreeSwitchSPS {
			v.Add("sps", fmt.Sprintf("%d-%d sessions per second (switch.conf sessions-per-second)", MinFreeSwitchSPS, MaxFreeSwitchSPS))
		}
		if p.MaxSessions < 1 || p.MaxSessions > MaxFreeSwitchSessions {
			v.Add("maxSessions", fmt.Sprintf("1-%d (switch.conf max-sessions)", MaxFreeSwitchSessions))
		}
	default:
		v.Add("_type", fmt.Sprintf("one of %s, %s, %s", PBXKazoo, PBXThreeCX, PBXFreeSwitch))
	}
}

func checkPBXURL(v *Invalid, field, raw string, schemes ...string) {
	u, err := url.Parse(raw)
	ok := err == nil && len(raw) <= maxPBXURL && u.Host != "" && u.User == nil && programPrintable(raw) &&
		!strings.ContainsAny(raw, " ")
	if ok {
		ok = false
		for _, s := range schemes {
			ok = ok || u.Scheme == s
		}
	}
	if !ok {
		v.Add(field, "a "+strings.Join(schemes, " or ")+" URL with a host")
	}
}
