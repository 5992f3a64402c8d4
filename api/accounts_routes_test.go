package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// TestAccountsEveryRoute walks every route of seed 002 as the OpenAPI
// declares them (so a route added later is walked too): another tenant's
// owner key is 403 on each route of account B and a disabled key of B is
// 401, both in the surface's own error shape; each write with a body that
// is not JSON is a 400 in that shape; none of it changes anything.
func TestAccountsEveryRoute(t *testing.T) {
	w := newWorld(t)
	b := w.newAccount("Bee Inc", 0)
	c := w.newAccount("Sea Inc", 0)
	bKey := w.newKey(w.admin, b.ID, "BeeOwner", dialer.RoleAccountOwner)
	bOff := w.newKey(w.admin, b.ID, "BeeOff", dialer.RoleAccountOwner)
	cKey := w.newKey(w.admin, c.ID, "SeaOwner", dialer.RoleAccountOwner)
	var u struct {
		ID int64 `json:"user_id"`
	}
	w.expect(w.withKey("POST", "/users", bKey, map[string]any{"username": "beeowner", "passwd": "password-beeowner"}), 200).json(t, &u)
	w.expect(w.withKey("POST", "/api/accounts/"+b.ID+"/members", bKey, map[string]any{"userId": u.ID, "role": dialer.RoleAccountOwner}), 200)
	w.expect(w.acct("PUT", "/api/accounts/"+b.ID+"/api-keys/BeeOff", w.admin, map[string]any{"enabled": false}), 200)
	ids := strings.NewReplacer(":account_id", b.ID, ":name", "BeeOwner", ":user_id", fmt.Sprint(u.ID))
	rows := func() string {
		var s strings.Builder
		for _, table := range []string{"tenants", "api_keys", "account_members"} {
			var n, v int64
			if err := w.raw.QueryRow(`SELECT COUNT(*), COALESCE(SUM(version), 0) FROM `+table).Scan(&n, &v); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&s, "%s %d rows, versions %d; ", table, n, v)
		}
		return s.String()
	}
	docs := tenantDocs()
	if len(docs) < 10 {
		t.Fatalf("%d account routes: the walk lost some", len(docs))
	}
	before := rows()
	for _, d := range docs {
		path := ids.Replace(d.path)
		var body any
		if d.req != nil {
			body = map[string]any{"name": "pwned", "role": dialer.RoleAccountOwner, "userId": u.ID, "enabled": false, "type": "org"}
		}
		r := w.withKey(d.method, path, bOff, body)
		accountsError(t, r, 401, "")
		if strings.Contains(d.path, ":account_id") {
			accountsError(t, w.withKey(d.method, path, cKey, body), 403, "")
		} else if d.method == "POST" {
			accountsError(t, w.withKey(d.method, path, cKey, body), 403, "") // only the platform creates tenants
		}
		if d.req != nil {
			accountsError(t, w.acct(d.method, path, w.admin, "{nope"), 400, "")
		}
	}
	if after := rows(); after != before {
		t.Errorf("refused requests changed accounts: %s -> %s", before, after)
	}
}
