package api

import (
	"sync"
	"time"
)

// verifiedTokens remembers the claims of tokens whose signature was
// checked, until they expire: parsing and verifying a JWT costs more than
// reading its user, and a dashboard sends the same token with every
// request. Only the signature check is remembered; the user is read on
// every request, so a deactivation or password change still ends the
// token at once. The bound makes a flood of distinct valid tokens cost
// re-verification, never memory.
type verifiedTokens struct {
	mu  sync.Mutex
	m   map[string]tokenClaims
	max int
}

func newVerifiedTokens(max int) *verifiedTokens {
	return &verifiedTokens{m: make(map[string]tokenClaims), max: max}
}

// get is raw's claims if it was verified and has not expired at now.
func (v *verifiedTokens) get(raw string, now time.Time) (tokenClaims, bool) {
	if v == nil {
		return tokenClaims{}, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.m[raw]
	if !ok {
		return c, false
	}
	// As the JWT library judges exp: valid while now is before it.
	if c.ExpiresAt == nil || !now.Before(c.ExpiresAt.Time) {
		delete(v.m, raw)
		return tokenClaims{}, false
	}
	return c, true
}

// put remembers raw's verified claims, dropping another token's when full.
func (v *verifiedTokens) put(raw string, c tokenClaims) {
	if v == nil || c.ExpiresAt == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.m[raw]; !ok && len(v.m) >= v.max {
		for k := range v.m {
			delete(v.m, k)
			break
		}
	}
	v.m[raw] = c
}

// verifiedTokensMax bounds the remembered tokens: a few hundred bytes each.
const verifiedTokensMax = 4096
