package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// The tenant-accounts surface (seed 002, /api/accounts): an account is a
// tenant, the {tenantId} of the PBX profiles and the {ACCOUNT_ID} of the
// crossbar surfaces. Answers are the objects as the seed shows them;
// errors are {"statusCode", "error", "message"} (accountsFail).

// tenantStore is what the accounts surface and API-key authentication
// need of the store.
type tenantStore interface {
	DefaultTenant(ctx context.Context) (dialer.Tenant, error)
	CreateTenantAccount(ctx context.Context, t dialer.TenantAccount, owner int64) (dialer.TenantAccount, error)
	TenantAccount(ctx context.Context, id string) (dialer.TenantAccount, error)
	TenantAccounts(ctx context.Context) ([]dialer.TenantAccount, error)
	RenameTenant(ctx context.Context, id, name, by string, at time.Time) (dialer.TenantAccount, error)

	CreateAPIKey(ctx context.Context, k dialer.APIKey, secretHash string) (dialer.APIKey, error)
	APIKeys(ctx context.Context, tenantID string) ([]dialer.APIKey, error)
	SetAPIKeyEnabled(ctx context.Context, tenantID, name string, enabled bool, by string, at time.Time) (dialer.APIKey, error)
	APIKeyByHash(ctx context.Context, secretHash string) (dialer.APIKey, string, error)
	TouchAPIKey(ctx context.Context, id int64, at time.Time) error

	UpsertMember(ctx context.Context, m dialer.Member) (dialer.Member, error)
	Members(ctx context.Context, tenantID string) ([]dialer.Member, error)
	Member(ctx context.Context, tenantID string, userID int64) (dialer.Member, error)
	DeleteMember(ctx context.Context, tenantID string, userID int64) error
}

func (s *Server) tenantRoutes(e *gin.Engine) {
	if s.deps.Tenants == nil {
		return
	}
	// The limit counts the account a request acts in: the one of its path
	// when it has one.
	limit := s.accountsRateLimit()
	g := e.Group("/api/accounts", s.accountsReady(), s.accountsAuthenticate())
	g.POST("", limit, s.createTenant)
	g.GET("", limit, s.listTenants)
	one := g.Group("/:account_id", s.accountsTarget(), limit)
	one.GET("", s.getTenant)
	one.PUT("", s.accountsManage(), s.renameTenant)
	one.POST("/api-keys", s.accountsManage(), s.createAPIKey)
	one.GET("/api-keys", s.accountsManage(), s.listAPIKeys)
	one.PUT("/api-keys/:name", s.accountsManage(), s.setAPIKey)
	one.POST("/members", s.accountsManage(), s.upsertMember)
	one.GET("/members", s.accountsManage(), s.listMembers)
	one.DELETE("/members/:user_id", s.accountsManage(), s.deleteMember)
}

// accountsTime is the surface's timestamp: ISO-8601 UTC with milliseconds.
const accountsTime = "2006-01-02T15:04:05.000Z"

func stamp(t time.Time) string { return t.UTC().Format(accountsTime) }

// accountErrorBody is every error answer of the surface.
type accountErrorBody struct {
	StatusCode int    `json:"statusCode"`
	Error      string `json:"error"`
	Message    string `json:"message"`
}

// accountsStatus maps domain codes to the surface's statuses. As in the
// real system, an account or key that is missing or another's is 403.
func accountsStatus(code dialer.Code) int {
	switch code {
	case dialer.CodeInvalid:
		return http.StatusBadRequest
	case dialer.CodeUnauthorized:
		return http.StatusUnauthorized
	case dialer.CodeForbidden, dialer.CodeNotFound:
		return http.StatusForbidden
	case dialer.CodeConflict:
		return http.StatusConflict
	case dialer.CodeNotReady:
		return http.StatusServiceUnavailable
	case dialer.CodeTooMany:
		return http.StatusTooManyRequests
	case dialer.CodeNotImpl:
		return http.StatusNotImplemented
	default:
		return http.StatusInternalServerError
	}
}

// accountsFail answers err in the surface's shape and stops the chain;
// every handler of the surface answers errors through it.
func (s *Server) accountsFail(c *gin.Context, err error) {
	var de *dialer.Error
	if !errors.As(err, &de) {
		de = &dialer.Error{Code: dialer.CodeInternal, Message: "internal error", Err: err}
	}
	status := accountsStatus(de.Code)
	msg := de.Message
	switch {
	case status == http.StatusInternalServerError:
		s.log.ErrorContext(c.Request.Context(), "request failed", "request_id", requestID(c), "err", err)
		msg = "internal error (request " + requestID(c) + ")"
	case len(de.Fields) > 0:
		var parts []string
		for _, f := range slices.Sorted(maps.Keys(de.Fields)) {
			parts = append(parts, f+": "+de.Fields[f])
		}
		msg = strings.Join(parts, "; ")
	}
	if ra, ok := c.Get(ctxRetryAfter); ok && de.Code == dialer.CodeTooMany {
		c.Header("Retry-After", strconv.Itoa(ra.(int)))
	}
	c.AbortWithStatusJSON(status, accountErrorBody{StatusCode: status, Error: http.StatusText(status), Message: msg})
}

// accountsBind decodes a JSON body, answering in the surface's shape
// when it cannot.
func (s *Server) accountsBind(c *gin.Context, dst any) bool {
	dec := json.NewDecoder(c.Request.Body)
	err := dec.Decode(dst)
	if err == nil {
		if _, extra := dec.Token(); !errors.Is(extra, io.EOF) {
			err = errors.New("unexpected data after the JSON value")
		}
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, accountErrorBody{StatusCode: http.StatusRequestEntityTooLarge,
			Error: http.StatusText(http.StatusRequestEntityTooLarge), Message: "request body too large"})
	case errors.Is(err, io.EOF):
		s.accountsFail(c, dialer.InvalidField("body", "a JSON object is required"))
	case errors.As(err, &typeErr):
		field := cmpOr(strings.TrimPrefix(typeErr.Field, "."), "body")
		s.accountsFail(c, dialer.InvalidField(field, "must be a "+typeErr.Type.Kind().String()))
	default:
		s.accountsFail(c, dialer.InvalidField("body", "malformed JSON"))
	}
	return false
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (s *Server) accountsReady() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !s.ready.Load() {
			s.accountsFail(c, dialer.NotReady("dialerd is starting or stopping"))
			return
		}
		c.Next()
	}
}

func (s *Server) accountsAuthenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		a, ok, err := s.requestActor(c)
		switch {
		case err != nil:
			s.accountsFail(c, err)
		case !ok:
			s.accountsFail(c, dialer.Unauthorized("Missing authentication"))
		default:
			c.Set(ctxActor, a)
			c.Next()
		}
	}
}

// accountsRateLimit allows each account (the one the request acts in)
// Config.AccountsRateLimit requests a minute; above it 429 with
// Retry-After in whole seconds.
func (s *Server) accountsRateLimit() gin.HandlerFunc {
	return func(c *gin.Context) {
		ok, wait := s.accountsLimit.allow(actor(c).TenantID)
		if !ok {
			c.Set(ctxRetryAfter, int((wait+time.Second-1)/time.Second))
			s.accountsFail(c, &dialer.Error{Code: dialer.CodeTooMany, Message: "too many requests for this account; retry later"})
			return
		}
		c.Next()
	}
}

// accountsTarget makes the request act in the account of its path, when
// the credential may reach it (actIn); any other is forbidden, existing
// or not.
func (s *Server) accountsTarget() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.Param("account_id")
		if !dialer.ValidTenantID(id) {
			s.accountsFail(c, dialer.Forbidden("no such account"))
			return
		}
		a, err := s.actIn(c.Request.Context(), actor(c), id)
		if err != nil {
			s.accountsFail(c, err)
			return
		}
		c.Set(ctxActor, a)
		c.Next()
	}
}

// accountsManage lets through the account's owners and admins.
func (s *Server) accountsManage() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !actor(c).ManagesTenant() {
			s.accountsFail(c, dialer.Forbidden("only the account's owners and admins may do this"))
			return
		}
		c.Next()
	}
}

// tenantView is an account as the seed shows it.
type tenantView struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	CreatedBy  string `json:"createdBy"`
	CreatedAt  string `json:"createdAt"`
	ModifiedAt string `json:"modifiedAt"`
	ModifiedBy string `json:"modifiedBy"`
	Version    string `json:"version"`
}

func viewTenant(t dialer.TenantAccount) tenantView {
	return tenantView{ID: t.ID, Name: t.Name, Type: t.Type, CreatedBy: t.CreatedBy, CreatedAt: stamp(t.CreatedAt),
		ModifiedAt: stamp(t.ModifiedAt), ModifiedBy: t.ModifiedBy, Version: strconv.FormatInt(t.Version, 10)}
}

// tenantRequest is POST and PUT /api/accounts[/{id}]. owner is a user id,
// as a string (the seed's) or a number.
type tenantRequest struct {
	Name  *string     `json:"name" required:"create" example:"Centrapay Cafe"`
	Type  *string     `json:"type" required:"create" enum:"org,individual"`
	Owner *flexString `json:"owner"`
}

// userRef reads a user id sent as a string or a number.
func userRef(field string, v *flexString) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(string(*v)), 10, 64)
	if err != nil || id <= 0 {
		return 0, dialer.InvalidField(field, "not a user id")
	}
	return id, nil
}

func (s *Server) createTenant(c *gin.Context) {
	a := actor(c)
	if !a.Platform {
		s.accountsFail(c, dialer.Forbidden("only the platform admin creates accounts"))
		return
	}
	var req tenantRequest
	if !s.accountsBind(c, &req) {
		return
	}
	t := dialer.TenantAccount{CreatedAt: s.cfg.Now(), CreatedBy: a.CRN()}
	setString(&t.Name, req.Name)
	setString(&t.Type, req.Type)
	var v dialer.Invalid
	dialer.ValidateTenantAccount(&t, &v)
	var owner int64
	if req.Owner != nil {
		id, err := userRef("owner", req.Owner)
		if err != nil {
			v.Add("owner", "not a user id")
		}
		owner = id
	}
	if err := v.Err(); err != nil {
		s.accountsFail(c, err)
		return
	}
	t, err := s.deps.Tenants.CreateTenantAccount(c.Request.Context(), t, owner)
	if err != nil {
		s.accountsFail(c, err)
		return
	}
	c.JSON(http.StatusOK, viewTenant(t))
}

// listTenants answers every account to the platform admin, and to anyone
// else the account it acts in.
func (s *Server) listTenants(c *gin.Context) {
	a := actor(c)
	ctx := c.Request.Context()
	if !a.Platform {
		t, err := s.deps.Tenants.TenantAccount(ctx, a.TenantID)
		if err != nil {
			s.accountsFail(c, err)
			return
		}
		c.JSON(http.StatusOK, []tenantView{viewTenant(t)})
		return
	}
	list, err := s.deps.Tenants.TenantAccounts(ctx)
	if err != nil {
		s.accountsFail(c, err)
		return
	}
	out := make([]tenantView, 0, len(list))
	for _, t := range list {
		out = append(out, viewTenant(t))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) getTenant(c *gin.Context) {
	t, err := s.deps.Tenants.TenantAccount(c.Request.Context(), actor(c).TenantID)
	if err != nil {
		s.accountsFail(c, err)
		return
	}
	c.JSON(http.StatusOK, viewTenant(t))
}

func (s *Server) renameTenant(c *gin.Context) {
	a := actor(c)
	var req tenantRequest
	if !s.accountsBind(c, &req) {
		return
	}
	ctx := c.Request.Context()
	t, err := s.deps.Tenants.TenantAccount(ctx, a.TenantID)
	if err != nil {
		s.accountsFail(c, err)
		return
	}
	if req.Name == nil {
		s.accountsFail(c, dialer.InvalidField("name", "required"))
		return
	}
	t.Name = *req.Name
	var v dialer.Invalid
	dialer.ValidateTenantAccount(&t, &v)
	if err := v.Err(); err != nil {
		s.accountsFail(c, err)
		return
	}
	t, err = s.deps.Tenants.RenameTenant(ctx, a.TenantID, t.Name, a.CRN(), s.cfg.Now())
	if err != nil {
		s.accountsFail(c, err)
		return
	}
	c.JSON(http.StatusOK, viewTenant(t))
}

// apiKeyView is an API key as the seed shows it; Secret only in the
// answer that creates it.
type apiKeyView struct {
	AccountID  string `json:"accountId"`
	Name       string `json:"name"`
	Role       string `json:"role"`
	Enabled    bool   `json:"enabled"`
	CreatedAt  string `json:"createdAt"`
	CreatedBy  string `json:"createdBy"`
	ModifiedAt string `json:"modifiedAt"`
	ModifiedBy string `json:"modifiedBy"`
	Version    string `json:"version"`
	LastUsedAt string `json:"lastUsedAt,omitempty"`
	Secret     string `json:"secret,omitempty"`
}

func viewAPIKey(k dialer.APIKey) apiKeyView {
	v := apiKeyView{AccountID: k.TenantID, Name: k.Name, Role: k.Role, Enabled: k.Enabled, CreatedAt: stamp(k.CreatedAt),
		CreatedBy: k.CreatedBy, ModifiedAt: stamp(k.ModifiedAt), ModifiedBy: k.ModifiedBy, Version: strconv.FormatInt(k.Version, 10)}
	if !k.LastUsedAt.IsZero() {
		v.LastUsedAt = stamp(k.LastUsedAt)
	}
	return v
}

type apiKeyRequest struct {
	Name    *string `json:"name" required:"create" example:"Dashboard" doc:"1-64 letters or digits, unique in the account"`
	Role    *string `json:"role" required:"create" enum:"account-owner,merchant-terminal"`
	Enabled *bool   `json:"enabled"`
}

func (s *Server) createAPIKey(c *gin.Context) {
	a := actor(c)
	var req apiKeyRequest
	if !s.accountsBind(c, &req) {
		return
	}
	k := dialer.APIKey{TenantID: a.TenantID, CreatedAt: s.cfg.Now(), CreatedBy: a.CRN()}
	setString(&k.Name, req.Name)
	setString(&k.Role, req.Role)
	var v dialer.Invalid
	dialer.ValidateAPIKey(&k, &v)
	if err := v.Err(); err != nil {
		s.accountsFail(c, err)
		return
	}
	secret := newAPIKeySecret()
	k, err := s.deps.Tenants.CreateAPIKey(c.Request.Context(), k, s.keyHash.hash(secret))
	if err != nil {
		s.accountsFail(c, err)
		return
	}
	view := viewAPIKey(k)
	view.Secret = secret
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, view)
}

func (s *Server) listAPIKeys(c *gin.Context) {
	keys, err := s.deps.Tenants.APIKeys(c.Request.Context(), actor(c).TenantID)
	if err != nil {
		s.accountsFail(c, err)
		return
	}
	out := make([]apiKeyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, viewAPIKey(k))
	}
	c.JSON(http.StatusOK, out)
}

// setAPIKey is PUT …/api-keys/{name} {"enabled": bool}.
func (s *Server) setAPIKey(c *gin.Context) {
	a := actor(c)
	var req apiKeyRequest
	if !s.accountsBind(c, &req) {
		return
	}
	if req.Enabled == nil {
		s.accountsFail(c, dialer.InvalidField("enabled", "required: true or false"))
		return
	}
	k, err := s.deps.Tenants.SetAPIKeyEnabled(c.Request.Context(), a.TenantID, c.Param("name"), *req.Enabled, a.CRN(), s.cfg.Now())
	if err != nil {
		s.accountsFail(c, err)
		return
	}
	c.JSON(http.StatusOK, viewAPIKey(k))
}

// memberView is a membership as the seed shows it; userId is the ICTCore
// user's id, as a string.
type memberView struct {
	AccountID  string `json:"accountId"`
	UserID     string `json:"userId"`
	Role       string `json:"role"`
	CreatedAt  string `json:"createdAt"`
	CreatedBy  string `json:"createdBy"`
	ModifiedAt string `json:"modifiedAt"`
	ModifiedBy string `json:"modifiedBy"`
	Version    string `json:"version"`
}

func viewMember(m dialer.Member) memberView {
	return memberView{AccountID: m.TenantID, UserID: strconv.FormatInt(m.UserID, 10), Role: m.Role, CreatedAt: stamp(m.CreatedAt),
		CreatedBy: m.CreatedBy, ModifiedAt: stamp(m.ModifiedAt), ModifiedBy: m.ModifiedBy, Version: strconv.FormatInt(m.Version, 10)}
}

type memberRequest struct {
	UserID *flexString `json:"userId" required:"create"`
	Role   *string     `json:"role" required:"create" enum:"account-owner,merchant-terminal"`
}

// upsertMember adds a member or changes its role. A tenant's admin adds
// users of its own tenant; only the platform admin makes a user a member
// of another tenant's account, so no tenant learns of another's users.
func (s *Server) upsertMember(c *gin.Context) {
	a := actor(c)
	var req memberRequest
	if !s.accountsBind(c, &req) {
		return
	}
	var v dialer.Invalid
	var userID int64
	if req.UserID == nil {
		v.Add("userId", "required")
	} else if id, err := userRef("userId", req.UserID); err != nil {
		v.Add("userId", "not a user id")
	} else {
		userID = id
	}
	role := ""
	setString(&role, req.Role)
	if _, ok := dialer.AccountRolePerms(role); !ok {
		v.Add("role", "must be one of "+strings.Join(dialer.AccountRoles(), ", "))
	}
	if err := v.Err(); err != nil {
		s.accountsFail(c, err)
		return
	}
	ctx := c.Request.Context()
	if !a.Platform {
		// A user of the account, or one that is a member already.
		_, err := s.deps.Users.User(ctx, a.TenantID, userID)
		if errors.Is(err, dialer.ErrNotFound) {
			_, err = s.deps.Tenants.Member(ctx, a.TenantID, userID)
		}
		if errors.Is(err, dialer.ErrNotFound) {
			s.accountsFail(c, dialer.InvalidField("userId", "no user of this account has this id"))
			return
		}
		if err != nil {
			s.accountsFail(c, err)
			return
		}
	}
	m, err := s.deps.Tenants.UpsertMember(ctx, dialer.Member{TenantID: a.TenantID, UserID: userID, Role: role,
		CreatedAt: s.cfg.Now(), CreatedBy: a.CRN()})
	if errors.Is(err, dialer.ErrNotFound) {
		err = dialer.InvalidField("userId", "no user of this account has this id")
	}
	if err != nil {
		s.accountsFail(c, err)
		return
	}
	c.JSON(http.StatusOK, viewMember(m))
}

func (s *Server) listMembers(c *gin.Context) {
	list, err := s.deps.Tenants.Members(c.Request.Context(), actor(c).TenantID)
	if err != nil {
		s.accountsFail(c, err)
		return
	}
	out := make([]memberView, 0, len(list))
	for _, m := range list {
		out = append(out, viewMember(m))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) deleteMember(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("user_id"), 10, 64)
	if err != nil || id <= 0 {
		s.accountsFail(c, dialer.Forbidden("no such member"))
		return
	}
	a := actor(c)
	ctx := c.Request.Context()
	m, err := s.deps.Tenants.Member(ctx, a.TenantID, id)
	if err == nil {
		err = s.deps.Tenants.DeleteMember(ctx, a.TenantID, id)
	}
	if err != nil {
		s.accountsFail(c, err)
		return
	}
	c.JSON(http.StatusOK, viewMember(m))
}

// tenantDocs documents the surface for /openapi.json.
func tenantDocs() []routeDoc {
	const tag = "Tenant accounts"
	return []routeDoc{
		{"POST", "/api/accounts", tag, "Create an account (a tenant): platform admin only; owner (a user id) becomes its account-owner member", needsToken, tenantRequest{}, tenantView{}},
		{"GET", "/api/accounts", tag, "List accounts: all to the platform admin, else the one the request acts in", needsToken, nil, []tenantView{}},
		{"GET", "/api/accounts/:account_id", tag, "View an account (403 when missing or not reachable)", needsToken, nil, tenantView{}},
		{"PUT", "/api/accounts/:account_id", tag, "Rename an account (owners and admins)", needsToken, tenantRequest{}, tenantView{}},
		{"POST", "/api/accounts/:account_id/api-keys", tag, "Create an API key (name alphanumeric, unique; role account-owner or merchant-terminal); the secret is answered once", needsToken, apiKeyRequest{}, apiKeyView{}},
		{"GET", "/api/accounts/:account_id/api-keys", tag, "List the account's API keys, without secrets", needsToken, nil, []apiKeyView{}},
		{"PUT", "/api/accounts/:account_id/api-keys/:name", tag, "Enable or disable an API key ({\"enabled\": false} takes effect on the next request)", needsToken, apiKeyRequest{}, apiKeyView{}},
		{"POST", "/api/accounts/:account_id/members", tag, "Add a member or change its role (upsert); demoting the last owner is 403 LAST_OWNER_NOT_REVOKABLE", needsToken, memberRequest{}, memberView{}},
		{"GET", "/api/accounts/:account_id/members", tag, "List the account's members", needsToken, nil, []memberView{}},
		{"DELETE", "/api/accounts/:account_id/members/:user_id", tag, "Remove a member; the last owner is 403 LAST_OWNER_NOT_REVOKABLE", needsToken, nil, memberView{}},
	}
}
