package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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

// A credentialVerifier turns one kind of credential carried by a request
// into an Actor. It returns ok=false, err=nil when the request carries no
// credential of its kind, so the next verifier may try; an err means the
// request carried one and it is wrong. API keys slot in as a second verifier.
type credentialVerifier interface {
	verify(c *gin.Context) (a dialer.Actor, ok bool, err error)
}

// tokenIssuer signs and checks dialerd's JWTs (HS256).
type tokenIssuer struct {
	key   []byte
	ttl   time.Duration
	now   func() time.Time
	users credentialStore
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

func (t *tokenIssuer) verify(c *gin.Context) (dialer.Actor, bool, error) {
	raw := bearer(c.Request)
	if raw == "" {
		return dialer.Actor{}, false, nil
	}
	a, err := t.actor(c.Request.Context(), raw)
	return a, true, err
}

// actor checks a token and resolves its user as it is now: a deactivated or
// deleted user, or a changed password, ends the token's validity at once.
func (t *tokenIssuer) actor(ctx context.Context, raw string) (dialer.Actor, error) {
	var claims tokenClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(jwtIssuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return dialer.Actor{}, dialer.Unauthorized("token expired")
		}
		return dialer.Actor{}, dialer.Unauthorized("invalid token")
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

func actorOf(u dialer.User, via string) dialer.Actor {
	perms, admin := dialer.EffectivePermissions(u.Roles, u.Permissions)
	return dialer.Actor{TenantID: u.TenantID, UserID: u.ID, Username: u.Username, Admin: admin, Perms: perms, Via: via}
}

// authenticate requires a valid credential of any kind the server knows.
func (s *Server) authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		for _, v := range s.verifiers {
			a, ok, err := v.verify(c)
			if err != nil {
				s.fail(c, err)
				return
			}
			if ok {
				c.Set(ctxActor, a)
				c.Next()
				return
			}
		}
		s.fail(c, dialer.Unauthorized("authentication required"))
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
	Username string `json:"username"`
	Password string `json:"password"`
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
