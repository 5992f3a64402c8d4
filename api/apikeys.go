package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// An API key's secret is apiKeyPrefix and 43 base62 characters drawn by a
// CSPRNG (256 bits). The prefix lets secret scanners find a leaked key and
// lets dialerd tell a key from a JWT without trying both.
const (
	apiKeyPrefix     = "dlrd_"
	apiKeySecretLen  = 43
	apiKeyLen        = len(apiKeyPrefix) + apiKeySecretLen
	apiKeyHeader     = "X-Api-Key"
	apiKeyTouchEvery = time.Minute // last-used is recorded to the minute
)

func newAPIKeySecret() string { return apiKeyPrefix + dialer.RandomBase62(apiKeySecretLen) }

// errBadAPIKey is every refusal of a key's secret: which part was wrong is
// not the caller's business.
var errBadAPIKey = dialer.Unauthorized("invalid API key")

// parseAPIKey reads an API key's secret as a client sent it (surrounding
// blanks ignored). ok=false means raw is no API key at all (a JWT, say); an
// error means it claims to be one and is malformed.
func parseAPIKey(raw string) (secret string, ok bool, err error) {
	raw = strings.TrimSpace(raw)
	if !strings.HasPrefix(raw, apiKeyPrefix) {
		return "", false, nil
	}
	if len(raw) != apiKeyLen {
		return "", true, errBadAPIKey
	}
	for i := len(apiKeyPrefix); i < len(raw); i++ {
		c := raw[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return "", true, errBadAPIKey
		}
	}
	return raw, true, nil
}

// apiKeyHasher is the keyed hash under which secrets are stored:
// HMAC-SHA-256 with a key derived from the token key. A fast keyed hash
// is right for 256-bit random secrets (no dictionary to try, unlike
// passwords) and lets a request find its key by one indexed read; without
// the server's key a stolen database reveals nothing. Changing the token
// key therefore invalidates every API key, as it does every token.
type apiKeyHasher struct{ key []byte }

func newAPIKeyHasher(tokenKey []byte) apiKeyHasher {
	m := hmac.New(sha256.New, tokenKey)
	m.Write([]byte("dialerd api-key hash v1"))
	return apiKeyHasher{key: m.Sum(nil)}
}

func (h apiKeyHasher) hash(secret string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(secret))
	return hex.EncodeToString(m.Sum(nil))
}

// keyActor resolves a well-formed secret to the actor of its key, as the
// key is now: a disabled key fails at once (the store remembers a key only
// until the next write through it).
func (s *Server) keyActor(ctx context.Context, secret string) (dialer.Actor, error) {
	if s.deps.Tenants == nil {
		return dialer.Actor{}, errBadAPIKey
	}
	want := s.keyHash.hash(secret)
	k, stored, err := s.deps.Tenants.APIKeyByHash(ctx, want)
	if errors.Is(err, dialer.ErrNotFound) {
		return dialer.Actor{}, errBadAPIKey
	}
	if err != nil {
		return dialer.Actor{}, err
	}
	if subtle.ConstantTimeCompare([]byte(stored), []byte(want)) != 1 {
		return dialer.Actor{}, errBadAPIKey
	}
	if !k.Enabled {
		return dialer.Actor{}, dialer.Unauthorized("API key disabled")
	}
	perms, ok := dialer.AccountRolePerms(k.Role)
	if !ok {
		return dialer.Actor{}, errBadAPIKey
	}
	if now := s.cfg.Now(); now.Sub(k.LastUsedAt) >= apiKeyTouchEvery {
		// Best effort: a failed record of use does not fail the request.
		if err := s.deps.Tenants.TouchAPIKey(ctx, k.ID, now); err != nil {
			s.log.WarnContext(ctx, "record api key use", "err", err)
		}
	}
	return dialer.Actor{TenantID: k.TenantID, Admin: true, Perms: perms, Via: "api-key", KeyName: k.Name}, nil
}
