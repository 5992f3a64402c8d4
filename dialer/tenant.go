package dialer

import (
	"crypto/rand"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The tenant-accounts surface (seed 002) calls a tenant an account; its
// API keys and members act inside it with one of two roles, mapped here
// onto dialerd's permissions so every surface authorizes them alike.

// Account roles of API keys and members.
const (
	// RoleAccountOwner is the tenant's admin: everything of the tenant,
	// its users, API keys and members included.
	RoleAccountOwner = "account-owner"
	// RoleMerchantTerminal is an operator credential for a dashboard or an
	// integration: it reads every resource of its tenant, creates and runs
	// campaigns and transmissions and uploads contacts, and never manages
	// users, API keys, members, providers or PBX profiles.
	RoleMerchantTerminal = "merchant-terminal"
)

// AccountRoles are the roles a key or a member may hold.
func AccountRoles() []string { return []string{RoleAccountOwner, RoleMerchantTerminal} }

// AccountRolePerms is what an account role may do. Both roles see the
// whole tenant (admin scope: a key has no rows of its own); what sets
// them apart is the permissions.
func AccountRolePerms(role string) (perms []string, ok bool) {
	switch role {
	case RoleAccountOwner:
		r, _ := RoleByID(RoleAdmin)
		return slices.Clone(r.Permissions), true
	case RoleMerchantTerminal:
		return []string{
			PermContactRead, PermContactWrite,
			PermMessageRead, PermMessageWrite,
			PermProgramRead, PermProgramWrite,
			PermTransmissionRead, PermTransmissionWrite,
			PermCampaignRead, PermCampaignWrite,
			PermAccountRead, PermProviderRead, PermPBXRead, PermReportRead,
		}, true
	}
	return nil, false
}

// ManagesTenant reports whether the actor may manage its tenant's
// identities: users, API keys, members and the account itself.
func (a Actor) ManagesTenant() bool { return a.Admin && a.Can(PermUserWrite) }

// TenantIDLen is the length of a tenant (account) id.
const TenantIDLen = 22

var tenantIDPattern = regexp.MustCompile(`^[0-9A-Za-z]{22}$`)

// ValidTenantID reports whether id has the form of a tenant id: 22 base62
// characters. Ids of older dialerds (crypto/rand.Text's base32) have it too.
func ValidTenantID(id string) bool { return tenantIDPattern.MatchString(id) }

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// RandomBase62 returns n characters drawn uniformly from base62 by a
// CSPRNG: bytes of 248 and above are rejected, so no character is likelier
// than another (248 = 4 × 62).
func RandomBase62(n int) string {
	var b strings.Builder
	b.Grow(n)
	buf := make([]byte, n+n/2)
	for b.Len() < n {
		rand.Read(buf) // never fails (crypto/rand)
		for _, c := range buf {
			if c < 248 && b.Len() < n {
				b.WriteByte(base62[c%62])
			}
		}
	}
	return b.String()
}

// NewTenantID is a fresh tenant id: 22 base62 characters (131 bits).
func NewTenantID() string { return RandomBase62(TenantIDLen) }

// CRN names an actor the way the accounts surface records createdBy:
// crn::user:<id> for a user, crn:<account>:api-key:<name> for a key.
func (a Actor) CRN() string {
	if a.KeyName != "" {
		return "crn:" + a.TenantID + ":api-key:" + a.KeyName
	}
	return "crn::user:" + strconv.FormatInt(a.UserID, 10)
}

// TenantAccount is a tenant as the accounts surface shows it.
type TenantAccount struct {
	ID         string
	Name       string
	Type       string // org or individual
	CreatedAt  time.Time
	ModifiedAt time.Time
	CreatedBy  string // CRN
	ModifiedBy string // CRN
	Version    int64
}

// ValidateTenantAccount checks the fields a client sets.
func ValidateTenantAccount(t *TenantAccount, v *Invalid) {
	t.Name = strings.TrimSpace(t.Name)
	switch {
	case t.Name == "":
		v.Add("name", "required")
	case len([]rune(t.Name)) > 128:
		v.Add("name", "at most 128 characters")
	}
	checkName(v, "name", t.Name)
	if t.Type != "org" && t.Type != "individual" {
		v.Add("type", "must be either 'org' or 'individual'")
	}
}

// APIKey is a tenant's API key; its secret is never part of this type.
type APIKey struct {
	ID         int64
	TenantID   string
	Name       string
	Role       string
	Enabled    bool
	CreatedAt  time.Time
	ModifiedAt time.Time
	CreatedBy  string
	ModifiedBy string
	Version    int64
	// LastUsedAt is when the key last authenticated a request, to the
	// minute; zero when never.
	LastUsedAt time.Time
}

var apiKeyNamePattern = regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`)

// ValidateAPIKey checks the fields a client sets.
func ValidateAPIKey(k *APIKey, v *Invalid) {
	if !apiKeyNamePattern.MatchString(k.Name) {
		v.Add("name", "1-64 letters or digits")
	}
	if _, ok := AccountRolePerms(k.Role); !ok {
		v.Add("role", "must be one of "+strings.Join(AccountRoles(), ", "))
	}
}

// Member is a user's membership of a tenant with an account role.
type Member struct {
	TenantID   string
	UserID     int64
	Role       string
	CreatedAt  time.Time
	ModifiedAt time.Time
	CreatedBy  string
	ModifiedBy string
	Version    int64
}

// ErrLastOwner is the message of the refusal to remove or demote a
// tenant's last account owner, as the accounts surface words it.
const ErrLastOwner = "LAST_OWNER_NOT_REVOKABLE"
