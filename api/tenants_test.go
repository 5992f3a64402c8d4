package api

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

var (
	accountsTimePattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	accountIDPattern    = regexp.MustCompile(`^[0-9A-Za-z]{22}$`)
)

// acct sends a request to the accounts surface with a bearer token.
func (w *world) acct(method, path, token string, body any, headers ...string) resp {
	w.t.Helper()
	return w.do(method, path, token, body, headers...)
}

// withKey sends a request authenticated by an API key's secret.
func (w *world) withKey(method, path, secret string, body any, headers ...string) resp {
	w.t.Helper()
	return w.do(method, path, "", body, append([]string{"X-Api-Key", secret}, headers...)...)
}

// accountsError checks r is the surface's error shape with status and a
// message containing want.
func accountsError(t *testing.T, r resp, status int, want string) {
	t.Helper()
	var e accountErrorBody
	r.json(t, &e)
	if r.Status != status || e.StatusCode != status || e.Error != httpStatusText(status) || !strings.Contains(e.Message, want) {
		t.Errorf("status %d %s, want %d with %q", r.Status, r.Body, status, want)
	}
}

func httpStatusText(code int) string {
	return map[int]string{400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 409: "Conflict", 429: "Too Many Requests"}[code]
}

// newAccount makes a tenant as the platform admin and returns it.
func (w *world) newAccount(name string, owner int64) tenantView {
	w.t.Helper()
	body := map[string]any{"name": name, "type": "org"}
	if owner != 0 {
		body["owner"] = strconv.FormatInt(owner, 10)
	}
	var t tenantView
	w.expect(w.acct("POST", "/api/accounts", w.admin, body), 200).json(w.t, &t)
	return t
}

// newKey makes an API key in account as token and returns its secret.
func (w *world) newKey(token, account, name, role string, headers ...string) string {
	w.t.Helper()
	var k apiKeyView
	w.expect(w.acct("POST", "/api/accounts/"+account+"/api-keys", token, map[string]any{"name": name, "role": role}, headers...), 200).json(w.t, &k)
	if !strings.HasPrefix(k.Secret, apiKeyPrefix) || len(k.Secret) != apiKeyLen || k.AccountID != account || !k.Enabled || k.Role != role {
		w.t.Fatalf("key answered %+v", k)
	}
	return k.Secret
}

func TestTenantAccountsCRUD(t *testing.T) {
	w := newWorld(t)
	a := w.newAccount("Centrapay Cafe", w.bobID)
	if !accountIDPattern.MatchString(a.ID) || a.Name != "Centrapay Cafe" || a.Type != "org" || a.Version != "1" ||
		a.CreatedBy != "crn::user:"+strconv.FormatInt(w.adminID, 10) || a.ModifiedBy != a.CreatedBy ||
		!accountsTimePattern.MatchString(a.CreatedAt) || a.ModifiedAt != a.CreatedAt {
		t.Errorf("created %+v", a)
	}
	var got tenantView
	w.expect(w.acct("GET", "/api/accounts/"+a.ID, w.admin, nil), 200).json(t, &got)
	if got != a {
		t.Errorf("read back %+v, want %+v", got, a)
	}
	w.clock.Add(1500 * time.Millisecond)
	var renamed tenantView
	w.expect(w.acct("PUT", "/api/accounts/"+a.ID, w.admin, map[string]any{"name": "Shortland St Cafe"}), 200).json(t, &renamed)
	if renamed.Name != "Shortland St Cafe" || renamed.Version != "2" || renamed.CreatedAt != a.CreatedAt || renamed.ModifiedAt == a.ModifiedAt {
		t.Errorf("renamed %+v", renamed)
	}
	// The owner is an account-owner member.
	var members []memberView
	w.expect(w.acct("GET", "/api/accounts/"+a.ID+"/members", w.admin, nil), 200).json(t, &members)
	if len(members) != 1 || members[0].UserID != strconv.FormatInt(w.bobID, 10) || members[0].Role != dialer.RoleAccountOwner {
		t.Errorf("members %+v", members)
	}
	// The platform admin lists every account; others the one they act in.
	var list []tenantView
	w.expect(w.acct("GET", "/api/accounts", w.admin, nil), 200).json(t, &list)
	if len(list) != 3 || list[0].ID != w.tenant || !slices.ContainsFunc(list, func(t tenantView) bool { return t == renamed }) {
		t.Errorf("platform list %+v", list)
	}
	w.expect(w.acct("GET", "/api/accounts", w.stranger, nil), 200).json(t, &list)
	if len(list) != 1 || list[0].ID != w.otherTenant {
		t.Errorf("stranger's list %+v", list)
	}

	// Validation, in the surface's shape, naming the field; nothing made.
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{"type": "org"}, "name"},
		{map[string]any{"name": "x", "type": "company"}, "type"},
		{map[string]any{"name": "x", "type": "org", "owner": "nobody"}, "owner"},
		{map[string]any{"name": "x", "type": "org", "owner": "999999"}, "owner"},
		{map[string]any{"name": 5, "type": "org"}, "name"},
		{`{"name": "x"`, "body"},
	} {
		accountsError(t, w.acct("POST", "/api/accounts", w.admin, tc.body), 400, tc.field)
	}
	accountsError(t, w.acct("PUT", "/api/accounts/"+a.ID, w.admin, map[string]any{}), 400, "name")
	w.expect(w.acct("GET", "/api/accounts", w.admin, nil), 200).json(t, &list)
	if len(list) != 3 {
		t.Errorf("a refused create made an account: %d", len(list))
	}

	// Who may not: no credential, a bad one, a tenant admin creating
	// tenants or reaching another's, a plain user managing its own.
	accountsError(t, w.acct("GET", "/api/accounts", "", nil), 401, "Missing authentication")
	accountsError(t, w.acct("GET", "/api/accounts", "", nil, "X-Api-Key", apiKeyPrefix+"x"), 401, "invalid API key")
	accountsError(t, w.acct("POST", "/api/accounts", w.stranger, map[string]any{"name": "x", "type": "org"}), 403, "platform")
	for _, id := range []string{a.ID, w.tenant, "AAAAAAAAAAAAAAAAAAAAAA", "not-an-id"} {
		accountsError(t, w.acct("GET", "/api/accounts/"+id, w.stranger, nil), 403, "")
		accountsError(t, w.acct("PUT", "/api/accounts/"+id, w.stranger, map[string]any{"name": "mine"}), 403, "")
	}
	accountsError(t, w.acct("PUT", "/api/accounts/"+w.tenant, w.carol, map[string]any{"name": "mine"}), 403, "owners and admins")
	w.expect(w.acct("GET", "/api/accounts/"+a.ID, w.admin, nil), 200).json(t, &got)
	if got.Name != "Shortland St Cafe" {
		t.Errorf("a refused change took: %+v", got)
	}
}

func TestAPIKeys(t *testing.T) {
	w := newWorld(t)
	a := w.newAccount("Keys Inc", 0)
	path := "/api/accounts/" + a.ID + "/api-keys"
	owner := w.newKey(w.admin, a.ID, "Owner1", dialer.RoleAccountOwner)
	// The owner key manages its account: a user, a terminal key.
	w.expect(w.withKey("POST", "/users", owner, map[string]any{"username": "keysadmin", "passwd": "password-keysadmin",
		"roles": []int64{dialer.RoleAdmin}}), 200)
	term := w.newKey("", a.ID, "Till1", dialer.RoleMerchantTerminal, "X-Api-Key", owner)

	var keys []apiKeyView
	r := w.expect(w.acct("GET", path, w.admin, nil), 200)
	r.json(t, &keys)
	if bytes.Contains(r.Body, []byte(owner)) || bytes.Contains(r.Body, []byte(term)) || bytes.Contains(r.Body, []byte(`"secret"`)) {
		t.Errorf("the list shows secrets: %s", r.Body)
	}
	if len(keys) != 2 || keys[0].Name != "Owner1" || keys[1].CreatedBy != "crn:"+a.ID+":api-key:Owner1" || keys[0].LastUsedAt == "" {
		t.Errorf("keys %+v", keys)
	}

	// Validation and uniqueness.
	for _, tc := range []struct {
		body   map[string]any
		status int
		want   string
	}{
		{map[string]any{"name": "Owner1", "role": dialer.RoleAccountOwner}, 409, "Owner1"},
		{map[string]any{"name": "owner1", "role": dialer.RoleAccountOwner}, 409, "owner1"},
		{map[string]any{"name": "my key", "role": dialer.RoleAccountOwner}, 400, "name"},
		{map[string]any{"name": "", "role": dialer.RoleAccountOwner}, 400, "name"},
		{map[string]any{"name": "K2", "role": "admin"}, 400, "role"},
	} {
		accountsError(t, w.acct("POST", path, w.admin, tc.body), tc.status, tc.want)
	}
	accountsError(t, w.acct("PUT", path+"/Till1", w.admin, map[string]any{}), 400, "enabled")
	accountsError(t, w.acct("PUT", path+"/Nope", w.admin, map[string]any{"enabled": false}), 403, "")

	// What a terminal key may and may not do.
	w.expect(w.withKey("POST", "/contacts", term, map[string]any{"first_name": "Ann", "phone": "+12125551234"}), 200)
	w.expect(w.withKey("GET", "/contacts", term, nil), 200)
	for _, tc := range []struct{ method, path string }{
		{"POST", "/users"}, {"GET", "/users"}, {"POST", "/providers"},
		{"POST", path}, {"GET", path}, {"PUT", "/api/accounts/" + a.ID},
		{"GET", "/api/accounts/" + a.ID + "/members"},
	} {
		if r := w.withKey(tc.method, tc.path, term, map[string]any{"name": "x", "role": dialer.RoleAccountOwner}); r.Status != 403 {
			t.Errorf("terminal key %s %s: %d %s", tc.method, tc.path, r.Status, r.Body)
		}
	}
	// A key acts in its account only, whatever the header says.
	for _, r := range []resp{
		w.withKey("GET", "/api/accounts/"+w.tenant, owner, nil),
		w.withKey("GET", "/contacts", owner, nil, accountHeader, w.tenant),
		w.withKey("POST", "/api/accounts", owner, map[string]any{"name": "x", "type": "org"}),
	} {
		if r.Status != 403 {
			t.Errorf("key outside its account: %d %s", r.Status, r.Body)
		}
	}
	// A key in Authorization: Bearer or X-Auth-Token works as well.
	w.expect(w.do("GET", "/contacts", term, nil), 200)
	w.expect(w.do("GET", "/contacts", "", nil, "X-Auth-Token", term), 200)

	// /ws takes the key (this server streams nothing: 423, past authentication).
	if r := w.withKey("GET", "/ws", term, nil); r.Status != 423 {
		t.Errorf("/ws with a key: %d %s", r.Status, r.Body)
	}
	// Disabling takes effect on the next request, on every surface.
	var k apiKeyView
	w.expect(w.acct("PUT", path+"/Till1", owner, map[string]any{"enabled": false}, "X-Api-Key", owner), 200).json(t, &k)
	if k.Enabled || k.Version != "2" || k.ModifiedBy != "crn:"+a.ID+":api-key:Owner1" {
		t.Errorf("disabled %+v", k)
	}
	for _, p := range []string{"/contacts", "/api/accounts/" + a.ID, "/api/v1.0/customers/" + a.ID + "/pbxs", "/ws", "/ws?token=" + term,
		"/v2/accounts/" + a.ID + "/centrex"} {
		if r := w.withKey("GET", p, term, nil); r.Status != 401 {
			t.Errorf("disabled key on %s: %d %s", p, r.Status, r.Body)
		}
	}
	if r := w.do("GET", "/v2/accounts/"+a.ID+"/centrex", "", nil, "X-Auth-Token", term); r.Status != 401 {
		t.Errorf("disabled key as X-Auth-Token: %d %s", r.Status, r.Body)
	}
	w.expect(w.acct("PUT", path+"/Till1", w.admin, map[string]any{"enabled": true}), 200)
	w.expect(w.withKey("GET", "/contacts", term, nil), 200)
}

// The database never holds a key's secret or a password in clear.
func TestSecretsNotInDatabase(t *testing.T) {
	w := newWorld(t)
	a := w.newAccount("Grep Ltd", 0)
	secret := w.newKey(w.admin, a.ID, "Grep", dialer.RoleAccountOwner)
	w.expect(w.withKey("GET", "/contacts", secret, nil), 200)
	var found []string
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(w.db.Path() + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, s := range []string{secret, secret[len(apiKeyPrefix):], adminPassword} {
			if bytes.Contains(b, []byte(s)) {
				found = append(found, suffix+":"+s)
			}
		}
		if bytes.Contains(b, []byte(w.srv.keyHash.hash(secret))) {
			found = append(found, "hash") // expected: the hash is what is kept
		}
	}
	if len(found) != 1 || found[0] != "hash" {
		t.Errorf("database file holds %v, want only the keyed hash", found)
	}
}

func TestMembersAndLastOwner(t *testing.T) {
	w := newWorld(t)
	a := w.newAccount("Members Co", w.bobID)
	path := "/api/accounts/" + a.ID + "/members"
	bob := strconv.FormatInt(w.bobID, 10)
	carol := strconv.FormatInt(w.carolID, 10)

	// Bob, its owner, acts in it with X-Centrapay-Account: a user there.
	r := w.expect(w.do("POST", "/users", w.bob, map[string]any{"username": "till", "passwd": "password-till"}, accountHeader, a.ID), 200)
	var made struct {
		UserID int64 `json:"user_id"`
	}
	r.json(t, &made)
	till := strconv.FormatInt(made.UserID, 10)
	// The path names the account on the PBX surface: a member reaches it.
	w.expect(w.do("GET", "/api/v1.0/customers/"+a.ID+"/pbxs", w.bob, nil), 200)
	// The last owner cannot leave or be demoted.
	accountsError(t, w.acct("DELETE", path+"/"+bob, w.bob, nil, accountHeader, a.ID), 403, dialer.ErrLastOwner)
	accountsError(t, w.acct("POST", path, w.bob, map[string]any{"userId": bob, "role": dialer.RoleMerchantTerminal}, accountHeader, a.ID), 403, dialer.ErrLastOwner)
	// Upsert: add the account's own user, then change its role.
	var m memberView
	w.expect(w.acct("POST", path, w.bob, map[string]any{"userId": made.UserID, "role": dialer.RoleMerchantTerminal}), 200).json(t, &m)
	if m.UserID != till || m.Role != dialer.RoleMerchantTerminal || m.Version != "1" || m.CreatedBy != "crn::user:"+bob || !accountsTimePattern.MatchString(m.CreatedAt) {
		t.Errorf("member %+v", m)
	}
	w.expect(w.acct("POST", path, w.bob, map[string]any{"userId": till, "role": dialer.RoleAccountOwner}), 200).json(t, &m)
	if m.Role != dialer.RoleAccountOwner || m.Version != "2" {
		t.Errorf("upserted %+v", m)
	}
	// With two owners, one may go.
	w.expect(w.acct("DELETE", path+"/"+bob, w.admin, nil), 200)
	accountsError(t, w.acct("DELETE", path+"/"+till, w.admin, nil), 403, dialer.ErrLastOwner)
	accountsError(t, w.acct("DELETE", path+"/"+bob, w.admin, nil), 403, "")
	// Bob is no member now: his header reaches nothing.
	if r := w.do("GET", "/contacts", w.bob, nil, accountHeader, a.ID); r.Status != 403 {
		t.Errorf("a former member acts in the account: %d %s", r.Status, r.Body)
	}

	// Validation; another tenant's user is no user of this account.
	tillToken := w.login("till", "password-till")
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"role": dialer.RoleAccountOwner}, "userId"},
		{map[string]any{"userId": "abc", "role": dialer.RoleAccountOwner}, "userId"},
		{map[string]any{"userId": till, "role": "owner"}, "role"},
		{map[string]any{"userId": carol, "role": dialer.RoleAccountOwner}, "userId"},
		{map[string]any{"userId": "424242", "role": dialer.RoleAccountOwner}, "userId"},
	} {
		accountsError(t, w.acct("POST", path, tillToken, tc.body), 400, tc.field)
	}
	var list []memberView
	w.expect(w.acct("GET", path, tillToken, nil), 200).json(t, &list)
	if len(list) != 1 || list[0].UserID != till {
		t.Errorf("members %+v", list)
	}
	// The platform admin may make a user of any tenant a member.
	w.expect(w.acct("POST", path, w.admin, map[string]any{"userId": carol, "role": dialer.RoleMerchantTerminal}), 200)
	w.expect(w.do("GET", "/contacts", w.carol, nil, accountHeader, a.ID), 200)
	if r := w.do("POST", "/users", w.carol, map[string]any{"username": "x1", "passwd": "password-x1"}, accountHeader, a.ID); r.Status != 403 {
		t.Errorf("a terminal member made a user: %d %s", r.Status, r.Body)
	}
	// Another tenant's admin sees none of it.
	accountsError(t, w.acct("GET", path, w.stranger, nil), 403, "")
	accountsError(t, w.acct("DELETE", path+"/"+till, w.stranger, nil), 403, "")
}

func TestAccountsRateLimit(t *testing.T) {
	w := newWorld(t)
	w.srv.accountsLimit = newRateLimiter(3, w.clock.Now)
	for range 3 {
		w.expect(w.acct("GET", "/api/accounts/"+w.tenant, w.admin, nil), 200)
	}
	r := w.acct("GET", "/api/accounts/"+w.tenant, w.admin, nil)
	accountsError(t, r, 429, "too many")
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 1 || ra > 20 {
		t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	// Per account: another tenant is not held up, nor is the platform
	// admin's work in another account.
	w.expect(w.acct("GET", "/api/accounts/"+w.otherTenant, w.stranger, nil), 200)
	w.expect(w.acct("GET", "/api/accounts/"+w.otherTenant, w.admin, nil), 200)
	accountsError(t, w.acct("GET", "/api/accounts", w.admin, nil), 429, "too many")
	w.clock.Add(20 * time.Second)
	w.expect(w.acct("GET", "/api/accounts/"+w.tenant, w.admin, nil), 200)
}

func TestRateLimiterSpacing(t *testing.T) {
	now := time.Unix(1e9, 0)
	l := newRateLimiter(0, func() time.Time { return now })
	for i := range DefaultAccountsRateLimit {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d of the minute refused", i+1)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait != 300*time.Millisecond {
		t.Errorf("201st: ok=%v wait=%v, want refused for 300ms", ok, wait)
	}
	now = now.Add(300 * time.Millisecond)
	if ok, _ := l.allow("a"); !ok {
		t.Error("refused after its wait")
	}
	if newRateLimiter(-1, time.Now) != nil {
		t.Error("a negative limit limits")
	}
}

func FuzzParseAPIKey(f *testing.F) {
	for _, s := range []string{"", newAPIKeySecret(), " " + newAPIKeySecret() + "\t", apiKeyPrefix, apiKeyPrefix + strings.Repeat("a", 42) + "-",
		"eyJhbGciOiJIUzI1NiJ9.e30.x", apiKeyPrefix + strings.Repeat("é", 22)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		secret, isKey, err := parseAPIKey(raw)
		if !isKey && (err != nil || secret != "") {
			t.Fatalf("%q: not a key but %q, %v", raw, secret, err)
		}
		if err == nil && isKey {
			if len(secret) != apiKeyLen || !strings.HasPrefix(secret, apiKeyPrefix) || !accountIDPattern.MatchString(secret[len(apiKeyPrefix):len(apiKeyPrefix)+22]) {
				t.Fatalf("%q accepted as %q", raw, secret)
			}
			for _, c := range []byte(secret[len(apiKeyPrefix):]) {
				if !strings.ContainsRune(base62Chars, rune(c)) {
					t.Fatalf("%q accepted with %q", raw, c)
				}
			}
			if again, ok, err := parseAPIKey(secret); again != secret || !ok || err != nil {
				t.Fatalf("%q does not parse as itself", secret)
			}
		}
	})
}

const base62Chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Usernames are unique across dialerd (a login names no tenant): taking
// one that another tenant uses answers exactly as taking one of your own
// tenant, so nothing tells that the other tenant has it.
func TestUsernameTakenRevealsNoTenant(t *testing.T) {
	w := newWorld(t)
	body := func(name string) map[string]any { return map[string]any{"username": name, "passwd": "password-123"} }
	own := w.do("POST", "/users", w.admin, body("bob"))          // bob is of this tenant
	other := w.do("POST", "/users", w.stranger, body("carol"))   // carol is of the admin's tenant, not the stranger's
	mine := w.do("POST", "/users", w.stranger, body("stranger")) // the stranger's own name
	for _, r := range []resp{own, other, mine} {
		if r.Status != 409 || bytes.Contains(r.Body, []byte(w.tenant)) || bytes.Contains(r.Body, []byte(w.otherTenant)) {
			t.Errorf("taken username answered %d %s", r.Status, r.Body)
		}
	}
	if strings.Replace(string(other.Body), "carol", "X", 1) != strings.Replace(string(mine.Body), "stranger", "X", 1) {
		t.Errorf("another tenant's username answers %s, one's own %s", other.Body, mine.Body)
	}
}

func TestOpenAPIDescribesAccounts(t *testing.T) {
	w := newWorld(t)
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []map[string]any `json:"parameters"`
			Security   []map[string]any `json:"security"`
			Responses  map[string]any   `json:"responses"`
		} `json:"paths"`
	}
	w.expect(w.do("GET", "/openapi.json", "", nil), 200).json(t, &doc)
	op, ok := doc.Paths["/api/accounts/{account_id}/api-keys"]["post"]
	if !ok {
		t.Fatal("POST /api/accounts/{account_id}/api-keys is not described")
	}
	if len(op.Parameters) != 1 || op.Parameters[0]["schema"].(map[string]any)["type"] != "string" {
		t.Errorf("account_id described as %v", op.Parameters)
	}
	if len(op.Security) != 2 || op.Security[1]["apiKey"] == nil {
		t.Errorf("security %v, want bearer or apiKey", op.Security)
	}
	if !strings.Contains(fmt.Sprint(op.Responses["default"]), "AccountErrorBody") {
		t.Errorf("default response %v is not the surface's error", op.Responses["default"])
	}
}
