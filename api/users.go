package api

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// userStore is what the user handlers need of the store.
type userStore interface {
	credentialStore
	CreateUsers(ctx context.Context, users []dialer.NewUser) ([]int64, error)
	User(ctx context.Context, tenantID string, id int64) (dialer.User, error)
	EachUser(ctx context.Context, scope dialer.Scope, q dialer.ListQuery, fn func(dialer.User) error) error
	UpdateUser(ctx context.Context, u dialer.User) error
	SetPassword(ctx context.Context, tenantID string, id int64, hash string) error
	DeleteUser(ctx context.Context, tenantID string, id int64) error
	SetUserRole(ctx context.Context, tenantID string, userID, roleID int64, on bool) error
	SetUserPermission(ctx context.Context, tenantID string, userID, permID int64, on bool) error
}

func (s *Server) userRoutes(r *gin.RouterGroup) {
	// An operator credential (a merchant-terminal key or member) sees the
	// whole tenant but no user: without user.read it has no self to see.
	r = r.Group("", s.usersVisible())
	r.POST("/users", s.require(dialer.PermUserWrite), s.createUser)
	r.GET("/users", s.listUsers)
	// /users/csv is declared twice in the document with its verbs swapped
	// in the headings; GET exports and POST imports, as the bodies say.
	r.GET("/users/csv", s.require(dialer.PermUserRead), s.exportUsers)
	r.POST("/users/csv", s.require(dialer.PermUserWrite), s.importUsers)
	r.GET("/users/:user_id", s.getUser)
	r.PUT("/users/:user_id", s.updateUser)
	r.DELETE("/users/:user_id", s.require(dialer.PermUserWrite), s.deleteUser)
	r.PUT("/users/:user_id/password", s.setPassword)
	r.PUT("/users/:user_id/roles/:role_id", s.require(dialer.PermUserWrite), s.grantRole(true))
	r.DELETE("/users/:user_id/roles/:role_id", s.require(dialer.PermUserWrite), s.grantRole(false))
	r.PUT("/users/:user_id/permissions/:permission_id", s.require(dialer.PermUserWrite), s.grantPermission(true))
	r.DELETE("/users/:user_id/permissions/:permission_id", s.require(dialer.PermUserWrite), s.grantPermission(false))
}

// usersVisible refuses the user routes to a tenant-wide actor lacking
// user.read: plain users (who may see and change themselves) and admins
// pass.
func (s *Server) usersVisible() gin.HandlerFunc {
	return func(c *gin.Context) {
		if a := actor(c); a.Admin && !a.Can(dialer.PermUserRead) {
			s.fail(c, dialer.Forbidden("permission "+dialer.PermUserRead+" required"))
			return
		}
		c.Next()
	}
}

// userRequest is the User object as clients send it; nil fields are left
// as they are on update. The document names the password "passwd";
// "password" is accepted too.
type userRequest struct {
	Username    *string     `json:"username" required:"create" example:"alice"`
	Passwd      *string     `json:"passwd" required:"create" doc:"the password (8 to 72 bytes); password is taken as a synonym"`
	Password    *string     `json:"password"`
	FirstName   *string     `json:"first_name"`
	LastName    *string     `json:"last_name"`
	Phone       *flexString `json:"phone" example:"+14155552671"`
	Email       *string     `json:"email" format:"email"`
	Address     *string     `json:"address"`
	Company     *string     `json:"company"`
	CountryID   *int64      `json:"country_id"`
	TimezoneID  *int64      `json:"timezone_id"`
	Active      *int        `json:"active"`
	Roles       []int64     `json:"roles"`
	Permissions []int64     `json:"permissions"`
}

func (r *userRequest) password() *string {
	if r.Passwd != nil {
		return r.Passwd
	}
	return r.Password
}

func (r *userRequest) apply(u *dialer.User) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&u.Username, r.Username)
	set(&u.FirstName, r.FirstName)
	set(&u.LastName, r.LastName)
	set(&u.Email, r.Email)
	set(&u.Address, r.Address)
	set(&u.Company, r.Company)
	if r.Phone != nil {
		u.Phone = string(*r.Phone)
	}
	if r.CountryID != nil {
		u.CountryID = *r.CountryID
	}
	if r.TimezoneID != nil {
		u.TimezoneID = *r.TimezoneID
	}
	if r.Active != nil {
		u.Active = *r.Active
	}
}

// mayGrant refuses to let an actor hand out more than it holds: an admin
// role only from an admin, and no permission the actor lacks.
func mayGrant(a dialer.Actor, roles, perms []int64) error {
	for _, id := range roles {
		r, ok := dialer.RoleByID(id)
		if !ok {
			return dialer.InvalidField("role_id", "unknown role "+strconv.FormatInt(id, 10))
		}
		if r.Admin && !a.Admin {
			return dialer.Forbidden("only an admin may grant the admin role")
		}
		for _, p := range r.Permissions {
			if !a.Can(p) {
				return dialer.Forbidden("cannot grant role " + r.Name + ": it carries " + p + ", which you do not hold")
			}
		}
	}
	for _, id := range perms {
		p, ok := dialer.PermissionByID(id)
		if !ok {
			return dialer.InvalidField("permission_id", "unknown permission "+strconv.FormatInt(id, 10))
		}
		if !a.Can(p.Name) {
			return dialer.Forbidden("cannot grant " + p.Name + ", which you do not hold")
		}
	}
	return nil
}

// visibleUser loads a user the actor may see: itself, one it created, or
// any of its tenant when admin. Another tenant's user does not exist.
func (s *Server) visibleUser(c *gin.Context) (dialer.User, bool) {
	id, ok := s.pathID(c, "user_id")
	if !ok {
		return dialer.User{}, false
	}
	a := actor(c)
	u, err := s.deps.Users.User(c.Request.Context(), a.TenantID, id)
	if err != nil {
		s.fail(c, err)
		return u, false
	}
	if !a.Admin && u.ID != a.UserID && u.CreatedBy != a.UserID {
		s.fail(c, dialer.Forbidden("this user belongs to someone else"))
		return u, false
	}
	return u, true
}

// manageable loads a user the actor may change. Changing yourself needs no
// permission; changing another needs user.write, and a non-admin may never
// change an admin.
func (s *Server) manageable(c *gin.Context) (dialer.User, bool) {
	u, ok := s.visibleUser(c)
	if !ok {
		return u, false
	}
	a := actor(c)
	if u.ID == a.UserID {
		return u, true
	}
	if !a.Can(dialer.PermUserWrite) {
		s.fail(c, dialer.Forbidden("permission "+dialer.PermUserWrite+" required"))
		return u, false
	}
	if _, admin := dialer.EffectivePermissions(u.Roles, u.Permissions); admin && !a.Admin {
		s.fail(c, dialer.Forbidden("only an admin may change an admin"))
		return u, false
	}
	return u, true
}

// newUser validates a create request into a user ready to store.
func newUser(a dialer.Actor, req userRequest, v *dialer.Invalid) (dialer.NewUser, error) {
	u := dialer.User{TenantID: a.TenantID, CreatedBy: a.UserID, CreatedByCRN: a.CRN(), Active: 1, Roles: req.Roles, Permissions: req.Permissions}
	if u.Roles == nil {
		u.Roles = []int64{dialer.RoleUser}
	}
	if u.Permissions == nil {
		u.Permissions = []int64{}
	}
	req.apply(&u)
	dialer.ValidateUser(&u, v)
	pw := req.password()
	if pw == nil {
		v.Add("passwd", "required")
	} else {
		dialer.ValidatePassword("passwd", *pw, v)
	}
	if v.Has("roles") || v.Has("permissions") {
		return dialer.NewUser{}, nil
	}
	if err := mayGrant(a, u.Roles, u.Permissions); err != nil {
		return dialer.NewUser{}, err
	}
	return dialer.NewUser{User: u}, nil
}

func (s *Server) createUser(c *gin.Context) {
	var req userRequest
	if !s.bindJSON(c, &req) {
		return
	}
	var v dialer.Invalid
	nu, err := newUser(actor(c), req, &v)
	if err == nil {
		err = v.Err()
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if nu.Hash, err = dialer.HashPassword(*req.password(), s.cfg.PasswordCost); err != nil {
		s.fail(c, err)
		return
	}
	ids, err := s.deps.Users.CreateUsers(c.Request.Context(), []dialer.NewUser{nu})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"user_id": ids[0]})
}

func (s *Server) listUsers(c *gin.Context) {
	q, ok := s.listQuery(c)
	if !ok {
		return
	}
	a := actor(c)
	users := []dialer.User{}
	err := s.deps.Users.EachUser(c.Request.Context(), a.Scope(), q, func(u dialer.User) error {
		users = append(users, u)
		return nil
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, users)
}

func (s *Server) getUser(c *gin.Context) {
	if u, ok := s.visibleUser(c); ok {
		c.JSON(http.StatusOK, u)
	}
}

func (s *Server) updateUser(c *gin.Context) {
	u, ok := s.manageable(c)
	if !ok {
		return
	}
	var req userRequest
	if !s.bindJSON(c, &req) {
		return
	}
	a := actor(c)
	var v dialer.Invalid
	if req.password() != nil {
		v.Add("passwd", "change a password with PUT /users/{id}/password")
	}
	if req.Roles != nil || req.Permissions != nil {
		v.Add("roles", "change roles and permissions with /users/{id}/roles and /users/{id}/permissions")
	}
	if u.ID == a.UserID && req.Active != nil && *req.Active != u.Active {
		v.Add("active", "you cannot activate or deactivate yourself")
	}
	req.apply(&u)
	dialer.ValidateUser(&u, &v)
	if err := v.Err(); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.deps.Users.UpdateUser(c.Request.Context(), u); err != nil {
		s.fail(c, err)
		return
	}
	s.respondUser(c, u.ID)
}

func (s *Server) respondUser(c *gin.Context, id int64) {
	u, err := s.deps.Users.User(c.Request.Context(), actor(c).TenantID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, u)
}

func (s *Server) deleteUser(c *gin.Context) {
	u, ok := s.manageable(c)
	if !ok {
		return
	}
	if u.ID == actor(c).UserID {
		s.fail(c, dialer.Conflict("you cannot delete yourself"))
		return
	}
	if err := s.deps.Users.DeleteUser(c.Request.Context(), u.TenantID, u.ID); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}

func (s *Server) setPassword(c *gin.Context) {
	u, ok := s.manageable(c)
	if !ok {
		return
	}
	var req struct {
		Password *string `json:"password"`
		Passwd   *string `json:"passwd"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	pw := req.Password
	if pw == nil {
		pw = req.Passwd
	}
	var v dialer.Invalid
	if pw == nil {
		v.Add("password", "required")
	} else {
		dialer.ValidatePassword("password", *pw, &v)
	}
	if err := v.Err(); err != nil {
		s.fail(c, err)
		return
	}
	hash, err := dialer.HashPassword(*pw, s.cfg.PasswordCost)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.deps.Users.SetPassword(c.Request.Context(), u.TenantID, u.ID, hash); err != nil {
		s.fail(c, err)
		return
	}
	s.respondUser(c, u.ID)
}

func (s *Server) grantRole(on bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		u, ok := s.manageable(c)
		if !ok {
			return
		}
		roleID, ok := s.pathID(c, "role_id")
		if !ok {
			return
		}
		if _, known := dialer.RoleByID(roleID); !known {
			s.fail(c, dialer.NotFound("role"))
			return
		}
		if err := mayGrant(actor(c), []int64{roleID}, nil); err != nil {
			s.fail(c, err)
			return
		}
		if err := s.deps.Users.SetUserRole(c.Request.Context(), u.TenantID, u.ID, roleID, on); err != nil {
			s.fail(c, err)
			return
		}
		s.respondUser(c, u.ID)
	}
}

func (s *Server) grantPermission(on bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		u, ok := s.manageable(c)
		if !ok {
			return
		}
		permID, ok := s.pathID(c, "permission_id")
		if !ok {
			return
		}
		if _, known := dialer.PermissionByID(permID); !known {
			s.fail(c, dialer.NotFound("permission"))
			return
		}
		if err := mayGrant(actor(c), nil, []int64{permID}); err != nil {
			s.fail(c, err)
			return
		}
		if err := s.deps.Users.SetUserPermission(c.Request.Context(), u.TenantID, u.ID, permID, on); err != nil {
			s.fail(c, err)
			return
		}
		s.respondUser(c, u.ID)
	}
}

// userCSVColumns are the columns of /users/csv, export and import alike.
// Import also takes "passwd" (required); export never writes it.
var userCSVColumns = []string{"user_id", "username", "first_name", "last_name", "phone", "email", "address",
	"company", "country_id", "timezone_id", "active", "roles"}

// exportUsers streams the users as CSV, each cell guarded against formula
// injection (csvCell).
func (s *Server) exportUsers(c *gin.Context) {
	q, ok := s.listQuery(c)
	if !ok {
		return
	}
	a := actor(c)
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="users.csv"`)
	w := csv.NewWriter(c.Writer)
	wroteHeader := false
	err := s.deps.Users.EachUser(c.Request.Context(), a.Scope(), q, func(u dialer.User) error {
		if !wroteHeader {
			c.Status(http.StatusOK)
			wroteHeader = true
			if err := w.Write(userCSVColumns); err != nil {
				return err
			}
		}
		roles := make([]string, len(u.Roles))
		for i, r := range u.Roles {
			roles[i] = strconv.FormatInt(r, 10)
		}
		rec := []string{strconv.FormatInt(u.ID, 10), u.Username, u.FirstName, u.LastName, u.Phone, u.Email,
			u.Address, u.Company, strconv.FormatInt(u.CountryID, 10), strconv.FormatInt(u.TimezoneID, 10),
			strconv.Itoa(u.Active), strings.Join(roles, ";")}
		for i := range rec {
			rec[i] = csvCell(rec[i])
		}
		return w.Write(rec)
	})
	switch {
	case err != nil && !wroteHeader:
		s.fail(c, err)
		return
	case err != nil:
		// The status is sent; the client sees a short file. Say why here.
		s.log.ErrorContext(c.Request.Context(), "users CSV export cut short", "request_id", requestID(c), "err", err)
	case !wroteHeader:
		_ = w.Write(userCSVColumns) // an empty export is still a CSV with its header
	}
	w.Flush()
}

// maxUserImportRows bounds one import; every row costs a bcrypt hash.
const maxUserImportRows = 1000

// importUsers creates every user of a CSV body or none: the first row names
// the columns (username and passwd required), any row that fails validation
// is reported as "line N: field" and nothing is created.
func (s *Server) importUsers(c *gin.Context) {
	a := actor(c)
	r := csv.NewReader(c.Request.Body)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		s.badRequest(c, "a CSV body with a header row is required")
		return
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	if _, ok := col["password"]; ok {
		col["passwd"] = col["password"]
	}
	var v dialer.Invalid
	for _, need := range []string{"username", "passwd"} {
		if _, ok := col[need]; !ok {
			v.Add("header", "column "+need+" is required")
		}
	}
	if err := v.Err(); err != nil {
		s.fail(c, err)
		return
	}
	var users []dialer.NewUser
	var passwords []string
	seen := map[string]int{}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.badRequest(c, fmt.Sprintf("CSV line %d: %v", line, err))
			return
		}
		if len(users) >= maxUserImportRows {
			s.fail(c, dialer.InvalidField("body", fmt.Sprintf("at most %d users per import", maxUserImportRows)))
			return
		}
		field := func(name string) *string {
			if i, ok := col[name]; ok && i < len(rec) {
				val := strings.TrimSpace(rec[i])
				if name != "passwd" { // never exported, so never guarded
					val = csvValue(val)
				}
				return &val
			}
			return nil
		}
		req := userRequest{Username: field("username"), Passwd: field("passwd"), FirstName: field("first_name"),
			LastName: field("last_name"), Email: field("email"), Address: field("address"), Company: field("company")}
		if p := field("phone"); p != nil {
			ph := flexString(*p)
			req.Phone = &ph
		}
		var rowV dialer.Invalid
		if p := field("active"); p != nil && *p != "" {
			n, err := strconv.Atoi(*p)
			if err != nil {
				rowV.Add("active", "must be 0 or 1")
			}
			req.Active = &n
		}
		if p := field("roles"); p != nil && *p != "" {
			for _, part := range strings.Split(*p, ";") {
				id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
				if err != nil {
					rowV.Add("roles", "role ids separated by ;")
					break
				}
				req.Roles = append(req.Roles, id)
			}
		}
		nu, err := newUser(a, req, &rowV)
		if err != nil {
			s.fail(c, err)
			return
		}
		if prev, dup := seen[strings.ToLower(nu.User.Username)]; dup && nu.User.Username != "" {
			rowV.Add("username", fmt.Sprintf("repeats line %d", prev))
		}
		seen[strings.ToLower(nu.User.Username)] = line
		var de *dialer.Error
		if errors.As(rowV.Err(), &de) {
			for f, why := range de.Fields {
				v.Add(fmt.Sprintf("line %d: %s", line, f), why)
			}
			continue
		}
		users = append(users, nu)
		passwords = append(passwords, *req.Passwd)
	}
	if err := v.Err(); err != nil {
		s.fail(c, err)
		return
	}
	for i := range users {
		if users[i].Hash, err = dialer.HashPassword(passwords[i], s.cfg.PasswordCost); err != nil {
			s.fail(c, err)
			return
		}
	}
	ids, err := s.deps.Users.CreateUsers(c.Request.Context(), users)
	if err != nil {
		s.fail(c, err)
		return
	}
	slices.Sort(ids)
	c.JSON(http.StatusOK, gin.H{"created": len(ids), "user_ids": ids})
}
