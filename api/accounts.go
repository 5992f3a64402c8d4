package api

import (
	"context"
	"net/http"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// accountStore is what the account handlers need of the store. Every
// method takes the caller's scope and answers not found for another
// tenant's account, forbidden for one neither created by nor assigned to
// a non-admin caller.
type accountStore interface {
	CreateAccount(ctx context.Context, a dialer.Account, s dialer.AccountSecrets) (int64, error)
	Account(ctx context.Context, scope dialer.Scope, id int64) (dialer.Account, error)
	Accounts(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Account, error)
	UpdateAccount(ctx context.Context, scope dialer.Scope, a dialer.Account, s dialer.AccountSecrets) error
	DeleteAccount(ctx context.Context, scope dialer.Scope, id int64) error
	SetAccountProgram(ctx context.Context, scope dialer.Scope, accountID, programID int64, on bool) error
	ClearAccountPrograms(ctx context.Context, scope dialer.Scope, accountID int64) error
	AssignAccount(ctx context.Context, scope dialer.Scope, accountID, userID int64) error
	AccountSetting(ctx context.Context, scope dialer.Scope, accountID int64, name string) (string, error)
	SetAccountSetting(ctx context.Context, scope dialer.Scope, accountID int64, name, value string) error
	DeleteAccountSetting(ctx context.Context, scope dialer.Scope, accountID int64, name string) error
}

func (s *Server) accountRoutes(r *gin.RouterGroup) {
	read, write := s.require(dialer.PermAccountRead), s.require(dialer.PermAccountWrite)
	r.POST("/accounts", write, s.createAccount)
	r.GET("/accounts", read, s.listAccounts)
	r.GET("/accounts/:account_id", read, s.getAccount)
	r.PUT("/accounts/:account_id", write, s.updateAccount)
	r.DELETE("/accounts/:account_id", write, s.deleteAccount)
	r.PUT("/accounts/:account_id/programs/:program_id", write, s.subscribeAccount(true))
	r.DELETE("/accounts/:account_id/programs/:program_id", write, s.subscribeAccount(false))
	r.DELETE("/accounts/:account_id/programs", write, s.clearAccountPrograms)
	r.PUT("/accounts/:account_id/users/:user_id", write, s.assignAccount)
	r.DELETE("/accounts/:account_id/users", write, s.freeAccount)
	r.GET("/accounts/:account_id/settings/:name", read, s.getAccountSetting)
	r.PUT("/accounts/:account_id/settings/:name", write, s.setAccountSetting)
	r.DELETE("/accounts/:account_id/settings/:name", write, s.deleteAccountSetting)
}

// accountRequest is the Account object as clients send it; nil fields are
// left as they are on update. Fields the client does not set (account_id,
// user_id, programs, dates) are ignored, so a client may send back what it
// read. "password" is accepted for "passwd", as on users.
type accountRequest struct {
	Type      *string     `json:"type"`
	Username  *string     `json:"username"`
	Passwd    *string     `json:"passwd"`
	Password  *string     `json:"password"`
	PasswdPin *flexString `json:"passwd_pin"`
	FirstName *string     `json:"first_name"`
	LastName  *string     `json:"last_name"`
	Phone     *flexString `json:"phone"`
	Email     *string     `json:"email"`
	Address   *string     `json:"address"`
	Active    *int        `json:"active"`
}

func (r *accountRequest) apply(a *dialer.Account) {
	for dst, src := range map[*string]*string{
		&a.Type: r.Type, &a.Username: r.Username, &a.FirstName: r.FirstName, &a.LastName: r.LastName,
		&a.Email: r.Email, &a.Address: r.Address,
	} {
		if src != nil {
			*dst = *src
		}
	}
	if r.Phone != nil {
		a.Phone = string(*r.Phone)
	}
	if r.Active != nil {
		a.Active = *r.Active
	}
}

// validate checks the account r produced and the secrets r carries, and
// returns those secrets.
func (r *accountRequest) validate(acc *dialer.Account) (dialer.AccountSecrets, error) {
	var v dialer.Invalid
	dialer.ValidateAccount(acc, &v)
	secrets := r.secrets()
	dialer.ValidateAccountSecrets(secrets, &v)
	return secrets, v.Err()
}

func (r *accountRequest) secrets() dialer.AccountSecrets {
	s := dialer.AccountSecrets{Passwd: r.Passwd}
	if s.Passwd == nil {
		s.Passwd = r.Password
	}
	if r.PasswdPin != nil {
		pin := string(*r.PasswdPin)
		s.Pin = &pin
	}
	return s
}

// accountCreated is the answer of POST /accounts.
type accountCreated struct {
	AccountID int64 `json:"account_id"`
}

// accountSetting is a setting's value, read and written alike. The
// document leaves the PUT body unspecified; dialerd takes what GET answers.
type accountSetting struct {
	Value string `json:"value"`
}

func (s *Server) createAccount(c *gin.Context) {
	var req accountRequest
	if !s.bindJSON(c, &req) {
		return
	}
	a := actor(c)
	acc := dialer.Account{TenantID: a.TenantID, CreatedBy: a.UserID, CreatedByCRN: a.CRN(), Type: dialer.AccountExtension, Active: 1}
	req.apply(&acc)
	secrets, err := req.validate(&acc)
	if err != nil {
		s.fail(c, err)
		return
	}
	id, err := s.deps.Accounts.CreateAccount(c.Request.Context(), acc, secrets)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.configChanged(a.TenantID) // a new DID is a caller id the tenant may present
	c.JSON(http.StatusOK, accountCreated{AccountID: id})
}

func (s *Server) listAccounts(c *gin.Context) { listInScope(s, c, s.deps.Accounts.Accounts) }

// respondAccount answers with the account as it is now.
func (s *Server) respondAccount(c *gin.Context, id int64) {
	acc, err := s.deps.Accounts.Account(c.Request.Context(), actor(c).Scope(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, acc)
}

// respondAccountChanged answers the account as it is after a change, or
// the change's failure.
func (s *Server) respondAccountChanged(c *gin.Context, id int64, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	s.respondAccount(c, id)
}

func (s *Server) getAccount(c *gin.Context) {
	if id, ok := s.pathID(c, "account_id"); ok {
		s.respondAccount(c, id)
	}
}

func (s *Server) updateAccount(c *gin.Context) {
	id, ok := s.pathID(c, "account_id")
	if !ok {
		return
	}
	scope := actor(c).Scope()
	acc, err := s.deps.Accounts.Account(c.Request.Context(), scope, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	var req accountRequest
	if !s.bindJSON(c, &req) {
		return
	}
	req.apply(&acc)
	secrets, err := req.validate(&acc)
	if err != nil {
		s.fail(c, err)
		return
	}
	err = s.deps.Accounts.UpdateAccount(c.Request.Context(), scope, acc, secrets)
	if err == nil {
		s.configChanged(scope.TenantID) // its phone or type may change the caller ids allowed
	}
	s.respondAccountChanged(c, id, err)
}

func (s *Server) deleteAccount(c *gin.Context) {
	deleteInScope(s, c, "account_id", s.deps.Accounts.DeleteAccount)
}

func (s *Server) subscribeAccount(on bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := s.pathID(c, "account_id")
		if !ok {
			return
		}
		programID, ok := s.pathID(c, "program_id")
		if !ok {
			return
		}
		err := s.deps.Accounts.SetAccountProgram(c.Request.Context(), actor(c).Scope(), id, programID, on)
		s.respondAccountChanged(c, id, err)
	}
}

func (s *Server) clearAccountPrograms(c *gin.Context) {
	id, ok := s.pathID(c, "account_id")
	if !ok {
		return
	}
	s.respondAccountChanged(c, id, s.deps.Accounts.ClearAccountPrograms(c.Request.Context(), actor(c).Scope(), id))
}

func (s *Server) assignAccount(c *gin.Context) {
	id, ok := s.pathID(c, "account_id")
	if !ok {
		return
	}
	userID, ok := s.pathID(c, "user_id")
	if !ok {
		return
	}
	s.respondAccountChanged(c, id, s.deps.Accounts.AssignAccount(c.Request.Context(), actor(c).Scope(), id, userID))
}

// freeAccount dissociates an account from its user. The caller may lose
// sight of it (a non-admin who was only its assignee): the answer is then
// the account as it was freed, not a 403.
func (s *Server) freeAccount(c *gin.Context) {
	id, ok := s.pathID(c, "account_id")
	if !ok {
		return
	}
	scope := actor(c).Scope()
	acc, err := s.deps.Accounts.Account(c.Request.Context(), scope, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.deps.Accounts.AssignAccount(c.Request.Context(), scope, id, 0); err != nil {
		s.fail(c, err)
		return
	}
	if scope.OwnerID == 0 || acc.CreatedBy == scope.OwnerID {
		s.respondAccount(c, id)
		return
	}
	acc.UserID = nil
	c.JSON(http.StatusOK, acc)
}

// settingName reads the {name} of a settings route. A name no setting can
// have is not found on GET and DELETE, and invalid on PUT.
func (s *Server) settingName(c *gin.Context) (string, bool) {
	name := c.Param("name")
	if !dialer.ValidAccountSettingName(name) {
		s.fail(c, dialer.NotFound("setting"))
		return "", false
	}
	return name, true
}

func (s *Server) getAccountSetting(c *gin.Context) {
	id, ok := s.pathID(c, "account_id")
	if !ok {
		return
	}
	name, ok := s.settingName(c)
	if !ok {
		return
	}
	value, err := s.deps.Accounts.AccountSetting(c.Request.Context(), actor(c).Scope(), id, name)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, accountSetting{Value: value})
}

func (s *Server) setAccountSetting(c *gin.Context) {
	id, ok := s.pathID(c, "account_id")
	if !ok {
		return
	}
	var req struct {
		Value *string `json:"value"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	name := c.Param("name")
	var v dialer.Invalid
	if req.Value == nil {
		v.Add("value", "required: send {\"value\": \"...\"}")
		req.Value = new(string)
	}
	dialer.ValidateAccountSetting(name, *req.Value, &v)
	if err := v.Err(); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.deps.Accounts.SetAccountSetting(c.Request.Context(), actor(c).Scope(), id, name, *req.Value); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, accountSetting{Value: *req.Value})
}

func (s *Server) deleteAccountSetting(c *gin.Context) {
	id, ok := s.pathID(c, "account_id")
	if !ok {
		return
	}
	name, ok := s.settingName(c)
	if !ok {
		return
	}
	if err := s.deps.Accounts.DeleteAccountSetting(c.Request.Context(), actor(c).Scope(), id, name); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}
