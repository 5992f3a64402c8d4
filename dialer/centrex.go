package dialer

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Centrex is a hosted service pattern of a tenant (the crossbar centrex
// module): its callflow is the inbound program that handles what reaches
// the numbers of its accounts.
type Centrex struct {
	ID          string
	TenantID    string
	Name        string
	Description string
	// CallflowID is an inbound program of the tenant.
	CallflowID int64
	Revision   int64
	Deleted    bool
	CreatedAt  int64
	UpdatedAt  int64
}

// CentrexAccount binds a user of the tenant and a number to a centrex:
// inbound traffic to NumberOffnet goes to the centrex's callflow.
type CentrexAccount struct {
	ID          string
	TenantID    string
	CentrexID   string
	UserID      int64
	Name        string
	Description string
	// NumberOffnet is E.164 and unique among the tenant's live accounts.
	NumberOffnet string
	Revision     int64
	Deleted      bool
	CreatedAt    int64
	UpdatedAt    int64
}

// InboundProgram reports whether a program of type t receives (a centrex
// callflow must be one).
func InboundProgram(t ProgramType) bool {
	switch t {
	case ProgramReceiveSMS, ProgramReceiveEmail, ProgramReceiveFax, ProgramEmailToFax, ProgramFaxToEmail:
		return true
	}
	return false
}

var crossbarIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// NewCrossbarID is a fresh document id as crossbar makes them: 32 hex digits.
func NewCrossbarID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// ValidCrossbarID reports whether a client-chosen id is acceptable: it
// appears in paths, so only letters, digits, '_' and '-'.
func ValidCrossbarID(id string) bool { return crossbarIDPattern.MatchString(id) }

// Crossbar validation rules: a field's reason starts with the rule it
// broke, "rule: message", which the crossbar surface answers as
// {"field": {"rule": {"message": …}}}.
const (
	RuleRequired  = "required"
	RuleMinLength = "minLength"
	RuleMaxLength = "maxLength"
	RulePattern   = "pattern"
	RuleUnique    = "unique"
	RuleMinimum   = "minimum"
	RuleType      = "type"
	RuleNotFound  = "not_found"
)

// Rule formats a crossbar validation reason.
func Rule(rule, message string) string { return rule + ": " + message }

func validText(v *Invalid, field, s string, min, max int) {
	n := utf8.RuneCountInString(s)
	switch {
	case n < min && min == 1:
		v.Add(field, Rule(RuleRequired, "Field is required but missing"))
	case n < min:
		v.Add(field, Rule(RuleMinLength, "String must be at least "+itoa(min)+" characters"))
	case n > max:
		v.Add(field, Rule(RuleMaxLength, "String must not be more than "+itoa(max)+" characters"))
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		v.Add(field, Rule(RulePattern, "control characters are not allowed"))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// ValidateCentrex checks a centrex before it is written: name 1–128
// characters, description at most 1024, a callflow. That the callflow is
// an inbound program of the tenant is the store's check, in the
// transaction that writes.
func ValidateCentrex(c *Centrex, v *Invalid) {
	c.Name = strings.TrimSpace(c.Name)
	validText(v, "name", c.Name, 1, 128)
	validText(v, "description", c.Description, 0, 1024)
	if c.CallflowID <= 0 {
		v.Add("callflow_id", Rule(RuleRequired, "Field is required but missing"))
	}
	if c.ID != "" && !ValidCrossbarID(c.ID) {
		v.Add("id", Rule(RulePattern, "letters, digits, '_' and '-', at most 64"))
	}
}

// ValidateCentrexAccount checks a centrex account and normalises its
// number to E.164 with the default country code. That the user is the
// tenant's and the number unique is the store's check.
func ValidateCentrexAccount(a *CentrexAccount, defaultCountryCode string, v *Invalid) {
	a.Name = strings.TrimSpace(a.Name)
	validText(v, "name", a.Name, 0, 128)
	validText(v, "description", a.Description, 0, 1024)
	if a.UserID <= 0 {
		v.Add("user_id", Rule(RuleRequired, "Field is required but missing"))
	}
	switch strings.TrimSpace(a.NumberOffnet) {
	case "":
		v.Add("number_offnet", Rule(RuleRequired, "Field is required but missing"))
	default:
		n, err := NormalizePhone(a.NumberOffnet, defaultCountryCode)
		if err != nil {
			v.Add("number_offnet", Rule(RulePattern, "not a phone number: "+ErrorMessage(err)))
		}
		a.NumberOffnet = n
	}
	if a.ID != "" && !ValidCrossbarID(a.ID) {
		v.Add("id", Rule(RulePattern, "letters, digits, '_' and '-', at most 64"))
	}
}

// ErrorMessage is the reason of a domain error: its one field's reason
// when it has one, its message otherwise.
func ErrorMessage(err error) string {
	var e *Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	for _, r := range e.Fields {
		if len(e.Fields) == 1 {
			return r
		}
	}
	return e.Message
}
