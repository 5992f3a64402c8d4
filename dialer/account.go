package dialer

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Account is ICTCore's endpoint of a user: a SIP extension, a DID (a phone
// number that reaches the tenant) or an email address. Its credentials are
// write-only and never part of this type (see AccountSecrets).
type Account struct {
	ID        int64  `json:"account_id"`
	TenantID  string `json:"-"`
	Type      string `json:"type"`
	Username  string `json:"username"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Phone     string `json:"phone"`
	Email     string `json:"email"`
	Address   string `json:"address"`
	Active    int    `json:"active"`
	// UserID is the user the account is assigned to; nil: free to assign.
	UserID *int64 `json:"user_id"`
	// Programs are the ids of the programs the account is subscribed to.
	Programs  []int64 `json:"programs"`
	CreatedBy int64   `json:"created_by"`
	// CreatedByCRN names the creator, a user or an API key (dialer.Actor.CRN).
	CreatedByCRN string `json:"created_by_crn"`
	CreatedAt    int64  `json:"date_created"`
	UpdatedAt    int64  `json:"last_updated"`
}

// Account types.
const (
	AccountExtension = "extension"
	AccountDID       = "did"
	AccountEmail     = "email"
)

// VisibleIn reports whether a caller with scope s may see and change the
// account: an admin scope sees all of its tenant, a user the accounts it
// created and those assigned to it.
func (a *Account) VisibleIn(s Scope) bool {
	return s.OwnerID == 0 || a.CreatedBy == s.OwnerID || (a.UserID != nil && *a.UserID == s.OwnerID)
}

// AccountSecrets are an account's credentials as a client sends them. A nil
// field is left as it is on update (and stays empty on create); "" clears.
// The store seals them; they are never returned by the API.
type AccountSecrets struct {
	Passwd *string
	Pin    *string
}

// AccountCredentials are what a gateway needs to authenticate an account's
// endpoint; the store unseals them for gateways only.
type AccountCredentials struct {
	AccountID int64
	Type      string
	Username  string
	Phone     string
	Email     string
	Passwd    string // never logged
	Pin       string // never logged
}

var (
	accountUsernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$`)
	accountE164Pattern     = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	accountPhonePattern    = regexp.MustCompile(`^\+?[0-9]{1,20}$`)
	accountPinPattern      = regexp.MustCompile(`^[0-9]{4,12}$`)
	accountSettingPattern  = regexp.MustCompile(`^[a-z0-9_.-]{1,64}$`)
)

// Limits of account fields.
const (
	maxAccountText     = 255
	maxAccountPasswd   = 128
	MaxAccountSetting  = 4096 // bytes of one setting's value
	MaxAccountSettings = 100  // settings per account
)

// ValidateAccount checks the fields of a a client sets, trimming spaces
// around them first. Each type needs its own identity: an extension its
// username, a DID its phone number in E.164 (+ and 7-15 digits), an email
// account its address.
func ValidateAccount(a *Account, v *Invalid) {
	for _, f := range []*string{&a.Type, &a.Username, &a.FirstName, &a.LastName, &a.Phone, &a.Email, &a.Address} {
		*f = strings.TrimSpace(*f)
	}
	switch a.Type {
	case AccountExtension:
		if a.Username == "" {
			v.Add("username", "required for an extension")
		}
	case AccountDID:
		if !accountE164Pattern.MatchString(a.Phone) {
			v.Add("phone", "a DID needs its number in E.164: + and 7-15 digits, e.g. +923001234567")
		}
	case AccountEmail:
		if a.Email == "" {
			v.Add("email", "required for an email account")
		}
	default:
		v.Add("type", "must be extension, did or email")
	}
	if a.Username != "" && !accountUsernamePattern.MatchString(a.Username) {
		v.Add("username", "1-64 letters, digits or . _ @ + -, starting with a letter or digit")
	}
	if a.Phone != "" && !accountPhonePattern.MatchString(a.Phone) {
		v.Add("phone", "digits with an optional leading +")
	}
	if a.Email != "" && !accountBareEmail(a.Email) {
		v.Add("email", "not an email address")
	}
	for field, s := range map[string]string{"first_name": a.FirstName, "last_name": a.LastName, "address": a.Address} {
		switch {
		case utf8.RuneCountInString(s) > maxAccountText:
			v.Add(field, "at most 255 characters")
		case !programPrintable(s):
			v.Add(field, "printable characters only")
		}
	}
	if a.Active != 0 && a.Active != 1 {
		v.Add("active", "must be 0 or 1")
	}
}

// ValidateAccountSecrets checks new credentials: a password of 8-128
// printable characters, a PIN of 4-12 digits; "" clears either.
func ValidateAccountSecrets(s AccountSecrets, v *Invalid) {
	if p := s.Passwd; p != nil && *p != "" {
		switch {
		case utf8.RuneCountInString(*p) < MinPasswordLen:
			v.Add("passwd", "at least 8 characters")
		case len(*p) > maxAccountPasswd:
			v.Add("passwd", "at most 128 bytes")
		case !programPrintable(*p):
			v.Add("passwd", "printable characters only")
		}
	}
	if p := s.Pin; p != nil && *p != "" && !accountPinPattern.MatchString(*p) {
		v.Add("passwd_pin", "4-12 digits")
	}
}

// ValidAccountSettingName reports whether name can name an account setting:
// 1-64 of a-z 0-9 _ . -.
func ValidAccountSettingName(name string) bool { return accountSettingPattern.MatchString(name) }

// ValidateAccountSetting checks a setting's name and value: the value is
// UTF-8 text of at most 4096 bytes without control characters but tab.
func ValidateAccountSetting(name, value string, v *Invalid) {
	if !ValidAccountSettingName(name) {
		v.Add("name", "1-64 of a-z 0-9 _ . -")
	}
	switch {
	case !utf8.ValidString(value):
		v.Add("value", "must be UTF-8")
	case len(value) > MaxAccountSetting:
		v.Add("value", "at most 4096 bytes")
	case strings.ContainsFunc(value, func(r rune) bool { return unicode.IsControl(r) && r != '\t' }):
		v.Add("value", "no control characters")
	}
}

// accountBareEmail accepts an address alone, without a display name or brackets.
func accountBareEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	addr, err := mail.ParseAddress(s)
	return err == nil && addr.Address == s && addr.Name == ""
}
