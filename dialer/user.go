package dialer

import (
	"errors"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Tenant is a customer organisation; every row of the store belongs to one.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Type      string    `json:"type"` // org or individual
	CreatedAt time.Time `json:"createdAt"`
	Version   int64     `json:"version"`
}

// User is a person who logs in. Field names follow the ICTCore User object;
// the password is write-only and never part of this type.
type User struct {
	ID         int64   `json:"user_id"`
	TenantID   string  `json:"-"`
	Username   string  `json:"username"`
	FirstName  string  `json:"first_name"`
	LastName   string  `json:"last_name"`
	Phone      string  `json:"phone"`
	Email      string  `json:"email"`
	Address    string  `json:"address"`
	Company    string  `json:"company"`
	CountryID  int64   `json:"country_id"`
	TimezoneID int64   `json:"timezone_id"`
	Active     int     `json:"active"`
	Roles      []int64 `json:"roles"`
	// Permissions holds the ids granted to this user individually, beyond its roles.
	Permissions []int64 `json:"permissions"`
	CreatedBy   int64   `json:"created_by"`
	// CreatedByCRN names the creator, a user or an API key (dialer.Actor.CRN).
	CreatedByCRN string `json:"created_by_crn"`
	CreatedAt    int64  `json:"date_created"`
	UpdatedAt    int64  `json:"last_updated"`
}

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 8

// maxPasswordBytes is bcrypt's input limit; longer input would be silently cut.
const maxPasswordBytes = 72

// ValidateUser checks the fields of u that a client sets.
func ValidateUser(u *User, v *Invalid) {
	u.Username = strings.TrimSpace(u.Username)
	if !usernamePattern.MatchString(u.Username) {
		v.Add("username", "1-64 letters, digits or . _ @ -, starting with a letter or digit")
	}
	if u.Email != "" {
		if _, err := mail.ParseAddress(u.Email); err != nil {
			v.Add("email", "not an email address")
		}
	}
	if u.Active != 0 && u.Active != 1 {
		v.Add("active", "must be 0 or 1")
	}
	for field, s := range map[string]string{
		"first_name": u.FirstName, "last_name": u.LastName, "phone": u.Phone,
		"address": u.Address, "company": u.Company,
	} {
		if utf8.RuneCountInString(s) > 255 {
			v.Add(field, "at most 255 characters")
		}
	}
	checkName(v, "first_name", u.FirstName)
	checkName(v, "last_name", u.LastName)
	for _, id := range u.Roles {
		if _, ok := RoleByID(id); !ok {
			v.Add("roles", "unknown role id")
		}
	}
	for _, id := range u.Permissions {
		if _, ok := PermissionByID(id); !ok {
			v.Add("permissions", "unknown permission id")
		}
	}
}

// ValidatePassword checks a new password.
func ValidatePassword(field, p string, v *Invalid) {
	switch {
	case utf8.RuneCountInString(p) < MinPasswordLen:
		v.Add(field, "at least 8 characters")
	case len(p) > maxPasswordBytes:
		v.Add(field, "at most 72 bytes")
	}
}

// HashPassword returns the bcrypt hash of a validated password at cost
// (bcrypt's default when cost is 0). Tests lower the cost; a daemon never does.
func HashPassword(p string, cost int) (string, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(p), cost)
	if err != nil {
		return "", Internal(err)
	}
	return string(h), nil
}

// CheckPassword reports whether p matches hash. An empty hash never matches.
func CheckPassword(hash, p string) bool {
	if hash == "" {
		return false
	}
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(p))
	return err == nil
}

// ErrBadCredentials is returned by a login with a wrong username or password.
var ErrBadCredentials = errors.New("invalid username or password")

// Credentials is what a login or a token check needs to know of a user.
type Credentials struct {
	User  User
	Hash  string // bcrypt hash of the password
	Epoch int64  // password epoch: changes with every password change
}

// NewUser is a user to create, with its password hash.
type NewUser struct {
	User User
	Hash string
}
