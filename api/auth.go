package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
)

// credentialStore is what authentication needs of the store.
type credentialStore interface {
	UserByUsername(ctx context.Context, username string) (dialer.Credentials, error)
	UserCredentials(ctx context.Context, id int64) (dialer.Credentials, error)
}

// tokenIssuer signs and checks dialerd's JWTs (HS256).
type tokenIssuer struct {
	key   []byte
	ttl   time.Duration
	now   func() time.Time
	users credentialStore
	// verified remembers checked signatures; nil remembers none.
	verified *verifiedTokens
}

const jwtIssuer = "dialerd"

type tokenClaims struct {
	TenantID string `json:"tid"`
	// Epoch is the user's password epoch when the token was issued: a
	// password change makes every older token invalid.
	Epoch int64 `json:"pwe"`
	jwt.RegisteredClaims
}

func (t *tokenIssuer) issue(c dialer.Credentials) (string, error) {
	now := t.now()
	claims := tokenClaims{
		TenantID: c.User.TenantID,
		Epoch:    c.Epoch,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    jwtIssuer,
			Subject:   strconv.FormatInt(c.User.ID, 10),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.key)
}

// bearer finds a token in the places clients put it: Authorization: Bearer,
// the ICTCore document's literal "Authentication: Bearer", and X-Auth-Token.
func bearer(r *http.Request) string {
	for _, h := range []string{"Authorization", "Authentication"} {
		if v := r.Header.Get(h); v != "" {
			scheme, tok, ok := strings.Cut(v, " ")
			if ok && strings.EqualFold(scheme, "Bearer") {
				return strings.TrimSpace(tok)
			}
		}
	}
	return strings.TrimSpace(r.Header.Get("X-Auth-Token"))
}

// actor checks a token and resolves its user as it is now: a deactivated or
// deleted user, or a changed password, ends the token's validity at once.
func (t *tokenIssuer) actor(ctx context.Context, raw string) (dialer.Actor, error) {
	claims, err := t.verify(raw)
	if err != nil {
		return dialer.Actor{}, err
	}
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil {
		return dialer.Actor{}, dialer.Unauthorized("invalid token")
	}
	cred, err := t.users.UserCredentials(ctx, id)
	if errors.Is(err, dialer.ErrNotFound) {
		return dialer.Actor{}, dialer.Unauthorized("invalid token")
	}
	if err != nil {
		return dialer.Actor{}, err
	}
	if cred.User.TenantID != claims.TenantID || cred.Epoch != claims.Epoch || cred.User.Active != 1 {
		return dialer.Actor{}, dialer.Unauthorized("invalid token")
	}
	return actorOf(cred.User, "jwt"), nil
}

// verify checks raw's signature, issuer and expiry, remembering the
// result for the token's life.
func (t *tokenIssuer) verify(raw string) (tokenClaims, error) {
	if c, ok := t.verified.get(raw, t.now()); ok {
		return c, nil
	}
	var claims tokenClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(jwtIssuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return claims, dialer.Unauthorized("token expired")
		}
		return claims, dialer.Unauthorized("invalid token")
	}
	t.verified.put(raw, claims)
	return claims, nil
}

func actorOf(u dialer.User, via string) dialer.Actor {
	perms, admin := dialer.EffectivePermissions(u.Roles, u.Permissions)
	return dialer.Actor{TenantID: u.TenantID, UserID: u.ID, Username: u.Username, Admin: admin, Perms: perms, Via: via}
}

// accountHeader names the tenant a request acts in, when its credential
// may reach more than its own (seed 002's X-Centrapay-Account).
const accountHeader = "X-Centrapay-Account"

// actorForSecret resolves a raw credential, a dialerd JWT or an API key's
// secret, to its actor: tenant, permissions, Via "jwt" or "api-key", and
// Platform for the platform admin. Every surface authenticates through it.
func (s *Server) actorForSecret(ctx context.Context, raw string) (dialer.Actor, error) {
	var a dialer.Actor
	secret, isKey, err := parseAPIKey(raw)
	switch {
	case err != nil:
		return a, err
	case isKey:
		a, err = s.keyActor(ctx, secret)
	default:
		a, err = s.tokens.actor(ctx, strings.TrimSpace(raw))
	}
	if err != nil {
		return a, err
	}
	if a, err = s.withMembership(ctx, a); err != nil {
		return a, err
	}
	a.Platform, err = s.isPlatform(ctx, a)
	return a, err
}

// withMembership adds to a user's own rights those of its membership of
// its own tenant, if any: an account-owner member is its tenant's admin
// whatever its ICTCore roles.
func (s *Server) withMembership(ctx context.Context, a dialer.Actor) (dialer.Actor, error) {
	if a.Via != "jwt" || s.deps.Tenants == nil || a.ManagesTenant() {
		return a, nil
	}
	m, err := s.deps.Tenants.Member(ctx, a.TenantID, a.UserID)
	if errors.Is(err, dialer.ErrNotFound) {
		return a, nil
	}
	if err != nil {
		return a, err
	}
	perms, ok := dialer.AccountRolePerms(m.Role)
	if !ok {
		return a, nil
	}
	a.Admin = true
	a.Perms = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(a.Perms), perms...))))
	return a, nil
}

// isPlatform reports whether a is the platform admin: an admin of the
// default tenant (the bootstrap admin and admins it made) or an
// account-owner key of it.
func (s *Server) isPlatform(ctx context.Context, a dialer.Actor) (bool, error) {
	if !a.ManagesTenant() {
		return false, nil
	}
	id, err := s.platformTenant(ctx)
	if err != nil || id == "" {
		return false, err
	}
	return a.TenantID == id, nil
}

// platformTenant is the default tenant's id, read once; "" before the
// store is bootstrapped.
func (s *Server) platformTenant(ctx context.Context) (string, error) {
	if id := s.platformID.Load(); id != nil {
		return *id, nil
	}
	if s.deps.Tenants == nil {
		return "", nil
	}
	t, err := s.deps.Tenants.DefaultTenant(ctx)
	if errors.Is(err, dialer.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	s.platformID.Store(&t.ID)
	return t.ID, nil
}

// actAs applies the request's X-Centrapay-Account to a: absent or naming
// a's own tenant it changes nothing, otherwise a acts in that tenant if it
// may reach it (see actIn). Surfaces map its errors to their shapes.
func (s *Server) actAs(c *gin.Context, a dialer.Actor) (dialer.Actor, error) {
	id := strings.TrimSpace(c.GetHeader(accountHeader))
	if id == "" || id == a.TenantID {
		return a, nil
	}
	if !dialer.ValidTenantID(id) {
		return a, dialer.InvalidField(accountHeader, "not an account id (22 letters and digits)")
	}
	return s.actIn(c.Request.Context(), a, id)
}

// actIn makes a act in tenant id: the platform admin as that tenant's
// admin, a user who is a member of it with its member role. An API key
// acts in its own account only. Whether the tenant exists is not told to
// who may not reach it: every refusal is the same forbidden.
func (s *Server) actIn(ctx context.Context, a dialer.Actor, id string) (dialer.Actor, error) {
	if id == a.TenantID {
		return a, nil
	}
	refused := dialer.Forbidden("this credential cannot act in account " + id)
	if a.Via == "api-key" || s.deps.Tenants == nil {
		return a, refused
	}
	var perms []string
	if a.Platform {
		if _, err := s.deps.Tenants.TenantAccount(ctx, id); err != nil {
			if errors.Is(err, dialer.ErrNotFound) {
				return a, refused
			}
			return a, err
		}
		perms, _ = dialer.AccountRolePerms(dialer.RoleAccountOwner)
	} else {
		m, err := s.deps.Tenants.Member(ctx, id, a.UserID)
		if errors.Is(err, dialer.ErrNotFound) {
			return a, refused
		}
		if err != nil {
			return a, err
		}
		var ok bool
		if perms, ok = dialer.AccountRolePerms(m.Role); !ok {
			return a, refused
		}
	}
	return dialer.Actor{TenantID: id, UserID: a.UserID, Username: a.Username, Admin: true, Platform: a.Platform,
		Perms: perms, Via: a.Via}, nil
}

// requestActor authenticates a request: its bearer token (Authorization,
// Authentication or X-Auth-Token) or X-Api-Key, which may carry a JWT or
// a key's secret alike, then X-Centrapay-Account. ok=false: no credential.
func (s *Server) requestActor(c *gin.Context) (a dialer.Actor, ok bool, err error) {
	raw := bearer(c.Request)
	if raw == "" {
		raw = strings.TrimSpace(c.GetHeader(apiKeyHeader))
	}
	if raw == "" {
		return a, false, nil
	}
	if a, err = s.actorForSecret(c.Request.Context(), raw); err != nil {
		return a, true, err
	}
	a, err = s.actAs(c, a)
	return a, true, err
}

// authenticate requires a valid credential (see requestActor).
func (s *Server) authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		a, ok, err := s.requestActor(c)
		switch {
		case err != nil:
			s.fail(c, err)
		case !ok:
			s.fail(c, dialer.Unauthorized("authentication required"))
		default:
			c.Set(ctxActor, a)
			c.Next()
		}
	}
}

// actor is the authenticated caller; only valid behind authenticate.
func actor(c *gin.Context) dialer.Actor {
	return c.MustGet(ctxActor).(dialer.Actor)
}

// require lets the request through only when the actor holds perm.
func (s *Server) require(perm string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !actor(c).Can(perm) {
			s.fail(c, dialer.Forbidden("permission "+perm+" required"))
			return
		}
		c.Next()
	}
}

type loginRequest struct {
	Username string `json:"username" required:"always" example:"admin"`
	Password string `json:"password" required:"always"`
}

// login is POST /authenticate.
func (s *Server) login(c *gin.Context) {
	var req loginRequest
	if !s.bindJSON(c, &req) {
		return
	}
	var v dialer.Invalid
	if req.Username == "" {
		v.Add("username", "required")
	}
	if req.Password == "" {
		v.Add("password", "required")
	}
	if err := v.Err(); err != nil {
		s.fail(c, err)
		return
	}
	name, addr := strings.ToLower(req.Username), c.ClientIP()
	ctx := c.Request.Context()
	if err := s.throttle.slow(ctx, addr); err != nil {
		s.fail(c, err)
		return
	}
	done, wait, err := s.throttle.admit(ctx, name, addr)
	if err != nil {
		s.fail(c, err)
		return
	}
	if wait > 0 {
		c.Set(ctxRetryAfter, int((wait+time.Second-1)/time.Second))
		s.fail(c, &dialer.Error{Code: dialer.CodeTooMany, Message: "too many failed logins; try again later"})
		return
	}
	outcome := attemptFailed
	defer func() { done(outcome) }()
	cred, err := s.tokens.users.UserByUsername(ctx, req.Username)
	switch {
	case errors.Is(err, dialer.ErrNotFound):
		// Spend a password check anyway, so response time does not tell
		// which usernames exist.
		s.checkPassword(s.dummyHash, req.Password)
	case err != nil:
		outcome = attemptVoid // the store's failure is no guess
		s.fail(c, err)
		return
	}
	if err != nil || !s.checkPassword(cred.Hash, req.Password) || cred.User.Active != 1 {
		s.log.WarnContext(ctx, "login failed", "username", req.Username, "remote", addr)
		s.fail(c, dialer.Unauthorized("invalid username or password"))
		return
	}
	outcome = attemptSucceeded
	tok, err := s.tokens.issue(cred)
	if err != nil {
		s.fail(c, dialer.Internal(fmt.Errorf("sign token: %w", err)))
		return
	}
	c.JSON(http.StatusOK, gin.H{"token": tok})
}

// metricsPlatform reports whether the request's credential (a JWT or an
// API key, in any of the usual headers) is the platform admin's.
func (s *Server) metricsPlatform(c *gin.Context) bool {
	a, ok, err := s.requestActor(c)
	return ok && err == nil && a.Platform
}
