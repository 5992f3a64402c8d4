package dialer

import "slices"

// Permission is one right the API enforces. Ids are stable: they are the
// {permission_id} of /users/{id}/permissions/{permission_id}.
type Permission struct {
	ID   int64  `json:"permission_id"`
	Name string `json:"name"`
}

// Role is a named set of permissions. Ids are stable: they are the
// {role_id} of /users/{id}/roles/{role_id}. An admin role sees and changes
// everything of its tenant; other roles see what their user owns.
type Role struct {
	ID          int64    `json:"role_id"`
	Name        string   `json:"name"`
	Admin       bool     `json:"admin"`
	Permissions []string `json:"permissions"`
}

// Permission names, one read and one write right per resource family.
const (
	PermUserRead          = "user.read"
	PermUserWrite         = "user.write"
	PermContactRead       = "contact.read"
	PermContactWrite      = "contact.write"
	PermMessageRead       = "message.read"
	PermMessageWrite      = "message.write"
	PermProgramRead       = "program.read"
	PermProgramWrite      = "program.write"
	PermTransmissionRead  = "transmission.read"
	PermTransmissionWrite = "transmission.write"
	PermCampaignRead      = "campaign.read"
	PermCampaignWrite     = "campaign.write"
	PermAccountRead       = "account.read"
	PermAccountWrite      = "account.write"
	PermProviderRead      = "provider.read"
	PermProviderWrite     = "provider.write"
	PermPBXRead           = "pbx.read"
	PermPBXWrite          = "pbx.write"
	PermReportRead        = "report.read"
)

// Permissions is the catalogue, in id order. Ids never change meaning;
// new permissions get new ids at the end.
func Permissions() []Permission {
	return []Permission{
		{1, PermUserRead}, {2, PermUserWrite},
		{3, PermContactRead}, {4, PermContactWrite},
		{5, PermMessageRead}, {6, PermMessageWrite},
		{7, PermProgramRead}, {8, PermProgramWrite},
		{9, PermTransmissionRead}, {10, PermTransmissionWrite},
		{11, PermCampaignRead}, {12, PermCampaignWrite},
		{13, PermAccountRead}, {14, PermAccountWrite},
		{15, PermProviderRead}, {16, PermProviderWrite},
		{17, PermPBXRead}, {18, PermPBXWrite},
		{19, PermReportRead},
	}
}

// PermissionByID looks a permission up in the catalogue.
func PermissionByID(id int64) (Permission, bool) {
	for _, p := range Permissions() {
		if p.ID == id {
			return p, true
		}
	}
	return Permission{}, false
}

// Role ids.
const (
	RoleAdmin int64 = 1
	RoleUser  int64 = 2
)

// Roles is the catalogue of roles. The user role may work with its own
// contacts, messages, programs, transmissions, campaigns and accounts, and
// read providers; managing users, providers and PBX profiles is for admins
// or for users granted those permissions one by one.
func Roles() []Role {
	all := make([]string, 0, len(Permissions()))
	for _, p := range Permissions() {
		all = append(all, p.Name)
	}
	return []Role{
		{ID: RoleAdmin, Name: "admin", Admin: true, Permissions: all},
		{ID: RoleUser, Name: "user", Permissions: []string{
			PermContactRead, PermContactWrite,
			PermMessageRead, PermMessageWrite,
			PermProgramRead, PermProgramWrite,
			PermTransmissionRead, PermTransmissionWrite,
			PermCampaignRead, PermCampaignWrite,
			PermAccountRead, PermAccountWrite,
			PermProviderRead, PermReportRead,
		}},
	}
}

// RoleByID looks a role up in the catalogue.
func RoleByID(id int64) (Role, bool) {
	for _, r := range Roles() {
		if r.ID == id {
			return r, true
		}
	}
	return Role{}, false
}

// Actor is who is making a request: resolved from a credential by the API
// and passed to every operation that reads or changes tenant data.
type Actor struct {
	TenantID string
	UserID   int64
	Username string
	// Admin actors see and change every resource of their tenant.
	Admin bool
	// Platform is the platform admin (the bootstrap admin, the reseller):
	// creates tenants, may act in any tenant, writes plans.
	Platform bool
	// Perms is the effective set: the roles' permissions and the user's own grants.
	Perms []string
	// Via names the credential kind that authenticated the actor ("jwt", "api-key").
	Via string
	// KeyName is the API key's name when Via is "api-key": a key acts only
	// in its own tenant, TenantID.
	KeyName string
}

// Can reports whether the actor holds permission perm.
func (a Actor) Can(perm string) bool { return slices.Contains(a.Perms, perm) }

// Owns reports whether the actor may see or change a resource of its tenant
// created by ownerID.
func (a Actor) Owns(ownerID int64) bool { return a.Admin || a.UserID == ownerID }

// Scope restricts a store query to what an actor may see.
type Scope struct {
	TenantID string
	// OwnerID, when non-zero, restricts to rows created by that user.
	OwnerID int64
}

// Scope returns the store scope of the actor: its tenant, and its own rows
// only unless it is an admin.
func (a Actor) Scope() Scope {
	if a.Admin {
		return Scope{TenantID: a.TenantID}
	}
	return Scope{TenantID: a.TenantID, OwnerID: a.UserID}
}

// EffectivePermissions merges role permissions with individually granted ones.
func EffectivePermissions(roleIDs, permIDs []int64) (perms []string, admin bool) {
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			perms = append(perms, p)
		}
	}
	for _, id := range roleIDs {
		if r, ok := RoleByID(id); ok {
			admin = admin || r.Admin
			for _, p := range r.Permissions {
				add(p)
			}
		}
	}
	for _, id := range permIDs {
		if p, ok := PermissionByID(id); ok {
			add(p.Name)
		}
	}
	slices.Sort(perms)
	return perms, admin
}
