package api

import (
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// BenchmarkActorForSecret is the cost of authenticating one request by a
// JWT and by an API key against a real SQLite store (the key: its keyed
// hash and one indexed read; the JWT: its signature and the user's read).
func BenchmarkActorForSecret(b *testing.B) {
	e := newEnv(b)
	w := &world{env: e}
	tenant, err := e.db.DefaultTenant(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	key := w.newKey(e.admin, tenant.ID, "Bench", dialer.RoleMerchantTerminal)
	for _, tc := range []struct{ name, secret string }{{"jwt", e.admin}, {"api-key", key}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := e.srv.actorForSecret(b.Context(), tc.secret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
