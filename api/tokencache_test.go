package api

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A token remembered as verified still expires on time. (That its user
// is still read on every request is TestLiveRefusesExpiredTokenAndInactiveUser
// and the password tests.)
func TestVerifiedTokenStillExpires(t *testing.T) {
	e := newEnv(t)
	e.expect(e.do("GET", "/users", e.admin, nil), 200) // verified and remembered
	e.clock.Add(25 * time.Hour)
	r := e.expect(e.do("GET", "/users", e.admin, nil), 401)
	if msg := r.errorBody(t).Message; !strings.Contains(msg, "expired") {
		t.Errorf("expired token message %q", msg)
	}
}

func TestVerifiedTokensBounded(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	v := newVerifiedTokens(3)
	claims := func(exp time.Time) tokenClaims {
		return tokenClaims{RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(exp)}}
	}
	for i := range 10 {
		v.put("t"+strconv.Itoa(i), claims(now.Add(time.Hour)))
	}
	if len(v.m) != 3 {
		t.Fatalf("%d remembered, want the bound 3", len(v.m))
	}
	v.put("no-exp", tokenClaims{})
	if _, ok := v.get("no-exp", now); ok {
		t.Error("a token without exp was remembered")
	}
	v.put("short", claims(now.Add(time.Second)))
	if _, ok := v.get("short", now); !ok {
		t.Error("a fresh token was not remembered")
	}
	if _, ok := v.get("short", now.Add(time.Second)); ok {
		t.Error("a token was valid at its exp; the JWT library ends it there")
	}
	var none *verifiedTokens
	none.put("x", claims(now.Add(time.Hour)))
	if _, ok := none.get("x", now); ok {
		t.Error("nil remembers")
	}
}
