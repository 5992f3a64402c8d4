package api

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
	"github.com/dialerd/dialerd/dialer/memgateway"
	"github.com/dialerd/dialerd/store"
)

// twoTenants is a whole API (every surface, the engine, the live stream,
// token-guarded metrics) over one store holding two tenants besides the
// platform's: B, whose resources are attacked, and C, the attacker.
type twoTenants struct {
	*env
	live                  *liveEnv
	bus                   *dialer.Bus
	b, c                  string // tenant ids
	bAdmin, cAdmin        string // JWTs
	cOwnerKey, cTermKey   string // C's API keys
	platformKey           string // an account-owner key of the platform tenant
	bIDs                  map[string]int64
	bAdminID, bSecondUser int64
}

const testMetricsToken = "metrics-token-0123456789"

func newTwoTenants(t *testing.T) *twoTenants {
	t.Helper()
	bus := dialer.NewBus()
	p := startEngineParts(t, memgateway.Script{Kind: memgateway.Answer, Ring: time.Second, Talk: time.Second}, bus)
	db := p.db
	files, err := store.OpenFiles(filepath.Join(filepath.Dir(p.path), "media"))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := store.Open(context.Background(), p.path, store.WithSealKey(bytes.Repeat([]byte("s"), store.SealKeySize)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sealed.Close() })
	clock := &testClock{now: time.Now()}
	srv, err := New(Config{TokenKey: bytes.Repeat([]byte("k"), 32), TokenTTL: time.Hour, MaxBodyBytes: 64 << 10,
		PasswordCost: bcrypt.MinCost, Now: clock.Now, Metrics: MetricsConfig{Access: MetricsToken, Token: testMetricsToken}},
		slog.New(slog.NewTextHandler(io.Discard, nil)),
		Deps{Users: sealed, Contacts: sealed, Groups: sealed, Messages: store.NewMessages(sealed, files), Programs: sealed,
			Accounts: sealed, Providers: sealed, PBX: sealed, Tenants: sealed, Transmissions: db, Campaigns: db, Engine: p.eng,
			Events: bus, Checks: []ReadyCheck{{Name: "store", Check: db.Ping}}, Compliance: sealed,
			Crossbar: sealed, Centrex: sealed, Services: sealed})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	srv.Start(t.Context())
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); hs.Close() })
	e := &env{t: t, srv: srv, http: hs, db: sealed, clock: clock}
	e.admin = e.login("admin", adminPassword)
	w := &world{env: e}
	tt := &twoTenants{env: e, live: &liveEnv{env: e, bus: bus}, bus: bus, bIDs: map[string]int64{}}

	// B and C, each with an admin, made the documented way: the platform
	// admin creates the tenant, then its first user with X-Centrapay-Account.
	mk := func(name string) (id, token string, adminID int64) {
		id = w.newAccount(name, 0).ID
		r := e.expect(e.do("POST", "/users", e.admin, map[string]any{"username": name + "admin", "passwd": "password-" + name,
			"roles": []int64{dialer.RoleAdmin}}, accountHeader, id), 200)
		var out struct {
			UserID int64 `json:"user_id"`
		}
		r.json(t, &out)
		return id, e.login(name+"admin", "password-"+name), out.UserID
	}
	tt.b, tt.bAdmin, tt.bAdminID = mk("bee")
	tt.c, tt.cAdmin, _ = mk("sea")
	tt.cOwnerKey = w.newKey(tt.cAdmin, tt.c, "SeaOwner", dialer.RoleAccountOwner)
	tt.cTermKey = w.newKey(tt.cAdmin, tt.c, "SeaTill", dialer.RoleMerchantTerminal)
	platform, err := db.DefaultTenant(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tt.platformKey = w.newKey(e.admin, platform.ID, "Platform", dialer.RoleAccountOwner)

	// One of every resource kind in B.
	f := dialertest.NewFixtures(t, p.path)
	owner := tt.bAdminID
	id := func(kind string, v int64) { tt.bIDs[kind] = v }
	id("contact", f.Exec(`INSERT INTO contacts (tenant_id, created_by, first_name, phone, created_at, updated_at) VALUES (?, ?, 'zebra', '+12125550100', 0, 0)`, tt.b, owner))
	id("group", f.Group(tt.b, owner, tt.bIDs["contact"]))
	id("text", f.Exec(`INSERT INTO texts (tenant_id, created_by, name, data, created_at, updated_at) VALUES (?, ?, 'zebra', 'hi', 0, 0)`, tt.b, owner))
	for _, table := range []string{"documents", "recordings", "templates"} {
		id(table, f.Exec(`INSERT INTO `+table+` (tenant_id, created_by, name, created_at, updated_at) VALUES (?, ?, 'zebra', 0, 0)`, tt.b, owner))
	}
	id("program", f.Program(tt.b, owner, dialer.ProgramVoiceMessage))
	id("transmission", f.Transmission(tt.b, owner, tt.bIDs["contact"], tt.bIDs["program"], 1, time.Time{}))
	id("campaign", f.Campaign(tt.b, owner, tt.bIDs["program"], tt.bIDs["group"], 60, 1, 60))
	id("provider", f.Provider(tt.b, owner, "zebra", dialer.ServiceVoice, 1, 0, ""))
	var created struct {
		ID int64 `json:"account_id"`
	}
	e.expect(e.do("POST", "/accounts", tt.bAdmin, map[string]any{"username": "zebra1001", "passwd": extPasswd}), 200).json(t, &created)
	id("account", created.ID)
	var pbx struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	e.expect(e.do("POST", "/api/v1.0/customers/"+tt.b+"/pbxs", tt.bAdmin, kazooBody()), 201).json(t, &pbx)
	fmt.Sscan(pbx.Data.ID, &created.ID)
	id("pbx", created.ID)
	var u struct {
		UserID int64 `json:"user_id"`
	}
	e.expect(e.do("POST", "/users", tt.bAdmin, map[string]any{"username": "zebrauser", "passwd": "password-zebra"}), 200).json(t, &u)
	tt.bSecondUser = u.UserID
	w.newKey(tt.bAdmin, tt.b, "BeeKey", dialer.RoleAccountOwner)
	e.expect(e.do("POST", "/api/accounts/"+tt.b+"/members", tt.bAdmin, map[string]any{"userId": u.UserID, "role": dialer.RoleAccountOwner}), 200)

	// A do-not-call list with a number, and a centrex with an account.
	var dnc dialer.DNCList
	e.expect(e.do("POST", "/dnc", tt.bAdmin, map[string]any{"name": "zebra"}), 200).json(t, &dnc)
	id("dnc", dnc.ID)
	e.expect(e.do("POST", fmt.Sprintf("/dnc/%d/numbers", dnc.ID), tt.bAdmin,
		map[string]any{"numbers": []map[string]any{{"number": bDNCNumber, "note": "zebra"}}}), 200)
	e.expect(e.do("POST", "/accounts", tt.bAdmin, map[string]any{"type": "did", "phone": "+12125550177"}), 200).json(t, &created)
	in := w.createProgram(tt.bAdmin, "receivesms", map[string]any{"name": "zebra-in", "account_id": created.ID})
	w.cb("PUT", w.cbPath(tt.b, "/centrex"), tt.bAdmin, cbData(map[string]any{"id": "zebra", "name": "zebra", "callflow_id": fmt.Sprint(in)}), 201)
	w.cb("PUT", w.cbPath(tt.b, "/centrex/zebra/centrex_accounts"), tt.bAdmin, cbData(map[string]any{"id": "zebra1", "name": "zebra",
		"user_id": fmt.Sprint(u.UserID), "number_offnet": "+12125550188"}), 201)
	w.cb("POST", w.cbPath(tt.b, "/services/topup"), tt.bAdmin, cbData(map[string]any{"amount": 1}), 200)
	return tt
}

// bDNCNumber is on tenant B's do-not-call list.
const bDNCNumber = "+12125550199"

// snapshotTenant dumps every row of every table that holds tenant's
// rows, so a refused request can be shown to have changed nothing.
func (tt *twoTenants) snapshotTenant(tenant string) string {
	tt.t.Helper()
	raw := tt.env.rawDB()
	rows, err := raw.Query(`SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c WHERE m.type = 'table' AND c.name = 'tenant_id' ORDER BY 1`)
	if err != nil {
		tt.t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var b strings.Builder
	for _, table := range tables {
		dumpRows(tt.t, &b, raw, table, `SELECT * FROM "`+table+`" WHERE tenant_id = ? ORDER BY 1`, tenant)
	}
	return b.String()
}

// dumpRows writes every row query answers to b, one line each labelled
// label, so that two dumps compare equal only if nothing changed.
func dumpRows(t testing.TB, b *strings.Builder, db *sql.DB, label, query string, args ...any) {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(b, "%s %v\n", label, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestTenantIsolation: tenant C, by its admin's JWT and by its two API
// keys, cannot read, list, change or delete anything of tenant B on any
// surface, nor hear B's live events nor read the platform's metrics; and
// asking to act in B (X-Centrapay-Account) is refused.
func TestTenantIsolation(t *testing.T) {
	tt := newTwoTenants(t)
	ids := tt.bIDs
	item := func(format, kind string) string { return fmt.Sprintf(format, ids[kind]) }
	// Item routes of every kind, each tried with GET, PUT and DELETE.
	items := []string{
		item("/contacts/%d", "contact"), item("/groups/%d", "group"), item("/groups/%d/contacts", "group"),
		item("/messages/texts/%d", "text"), item("/messages/documents/%d", "documents"), item("/messages/documents/%d/media", "documents"),
		item("/messages/recordings/%d", "recordings"), item("/messages/recordings/%d/media", "recordings"),
		item("/messages/templates/%d", "templates"), item("/messages/templates/%d/media", "templates"),
		item("/transmissions/%d/status", "transmission"), item("/transmissions/%d/detail", "transmission"),
		item("/transmissions/%d/result", "transmission"), item("/transmissions/%d/clone", "transmission"),
		item("/programs/%d", "program"), item("/programs/%d/transmissions", "program"),
		item("/transmissions/%d", "transmission"), item("/campaigns/%d", "campaign"), item("/providers/%d", "provider"),
		item("/accounts/%d", "account"), fmt.Sprintf("/users/%d", tt.bAdminID), fmt.Sprintf("/users/%d", tt.bSecondUser),
		fmt.Sprintf("/api/v1.0/customers/%s/pbxs/%d", tt.c, ids["pbx"]), fmt.Sprintf("/api/v1.0/customers/%s/pbxs/%d", tt.b, ids["pbx"]),
		"/api/accounts/" + tt.b, "/api/accounts/" + tt.b + "/api-keys", "/api/accounts/" + tt.b + "/api-keys/BeeKey",
		"/api/accounts/" + tt.b + "/members", fmt.Sprintf("/api/accounts/%s/members/%d", tt.b, tt.bSecondUser),
	}
	actions := []struct{ method, path string }{
		{"POST", item("/transmissions/%d/send", "transmission")}, {"POST", item("/transmissions/%d/retry", "transmission")},
		{"PUT", item("/campaigns/%d/start", "campaign")}, {"PUT", item("/campaigns/%d/stop", "campaign")},
		{"POST", "/api/v1.0/customers/" + tt.b + "/pbxs"}, {"POST", "/api/accounts/" + tt.b + "/api-keys"},
		{"POST", "/api/accounts/" + tt.b + "/members"}, {"GET", "/api/v1.0/customers/" + tt.b + "/pbxs"},
		{"POST", "/transmissions"}, {"POST", "/campaigns"},
	}
	// Lists the attacker's tenant must answer without B's rows.
	lists := []string{"/contacts", "/groups", "/messages/texts", "/messages/documents", "/messages/recordings", "/messages/templates", "/programs", "/transmissions", "/campaigns",
		"/providers", "/accounts", "/users", "/api/v1.0/customers/" + tt.c + "/pbxs", "/api/accounts", "/api/accounts/" + tt.c + "/api-keys"}
	body := map[string]any{"name": "pwned", "first_name": "pwned", "enabled": false, "username": "pwned", "userId": tt.bSecondUser,
		"role": dialer.RoleAccountOwner, "contact_id": ids["contact"], "program_id": ids["program"], "group_id": ids["group"]}

	tt.quantitiesSettled()
	before := tt.snapshotTenant(tt.b)
	attackers := []struct {
		name string
		do   func(method, path string, body any, headers ...string) resp
	}{
		{"jwt", func(m, p string, b any, h ...string) resp { return tt.do(m, p, tt.cAdmin, b, h...) }},
		{"owner key", func(m, p string, b any, h ...string) resp {
			return tt.do(m, p, "", b, append([]string{"X-Api-Key", tt.cOwnerKey}, h...)...)
		}},
		{"terminal key", func(m, p string, b any, h ...string) resp {
			return tt.do(m, p, "", b, append([]string{"X-Api-Key", tt.cTermKey}, h...)...)
		}},
	}
	for _, a := range attackers {
		refused := func(r resp, method, path string) {
			t.Helper()
			if r.Status < 400 || r.Status >= 500 || bytes.Contains(r.Body, []byte("zebra")) {
				t.Errorf("%s: %s %s answered %d: %s", a.name, method, path, r.Status, r.Body)
			}
		}
		for _, p := range items {
			for _, m := range []string{"GET", "PUT", "DELETE"} {
				refused(a.do(m, p, body), m, p)
			}
		}
		for _, act := range actions {
			if act.path == "/transmissions" || act.path == "/campaigns" {
				// B's references in C's create are invalid.
				refused(a.do(act.method, act.path, body), act.method, act.path)
				continue
			}
			refused(a.do(act.method, act.path, body), act.method, act.path)
		}
		// Asking to act in B is refused on every surface.
		for _, p := range []string{"/contacts", "/users", "/api/accounts/" + tt.b, "/api/v1.0/customers/" + tt.b + "/pbxs"} {
			refused(a.do("GET", p, nil, accountHeader, tt.b), "GET", p+" as B")
		}
		for _, p := range lists {
			r := a.do("GET", p, nil)
			if r.Status == 403 && a.name == "terminal key" && (p == "/users" || strings.HasPrefix(p, "/api/accounts/")) {
				continue // not the terminal's to list at all
			}
			if r.Status != 200 || bytes.Contains(r.Body, []byte("zebra")) || bytes.Contains(r.Body, []byte(tt.b)) {
				t.Errorf("%s: list %s: %d %s", a.name, p, r.Status, r.Body)
			}
			var list []map[string]any
			if json.Unmarshal(r.Body, &list) == nil && len(list) > 0 && p != "/users" && p != "/api/accounts" && !strings.HasSuffix(p, "/api-keys") {
				t.Errorf("%s: list %s shows rows of another tenant: %s", a.name, p, r.Body)
			}
		}
		// Metrics are the platform's: no tenant's credential reads them.
		if r := a.do("GET", "/metrics", nil); r.Status != 403 {
			t.Errorf("%s: /metrics answered %d", a.name, r.Status)
		}
	}
	if after := tt.snapshotTenant(tt.b); after != before {
		t.Errorf("refused requests changed tenant B:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// B itself still reaches all of it.
	for _, p := range []string{item("/contacts/%d", "contact"), item("/groups/%d", "group"), item("/messages/texts/%d", "text"),
		item("/messages/documents/%d", "documents"), item("/messages/recordings/%d", "recordings"), item("/messages/templates/%d", "templates"),
		item("/programs/%d", "program"), item("/transmissions/%d", "transmission"), item("/campaigns/%d", "campaign"),
		item("/providers/%d", "provider"), item("/accounts/%d", "account"), fmt.Sprintf("/users/%d", tt.bSecondUser),
		fmt.Sprintf("/api/v1.0/customers/%s/pbxs/%d", tt.b, ids["pbx"]), "/api/accounts/" + tt.b} {
		tt.expect(tt.do("GET", p, tt.bAdmin, nil), 200)
	}
	// The platform reads metrics by its JWT, its key, or the metrics token.
	for _, h := range [][]string{{"Authorization", "Bearer " + tt.admin}, {"X-Api-Key", tt.platformKey}, {"Authorization", "Bearer " + testMetricsToken}} {
		if r := tt.do("GET", "/metrics", "", nil, h...); r.Status != 200 {
			t.Errorf("metrics with %s: %d %s", h[0], r.Status, r.Body)
		}
	}
}

// TestLiveEventsStayInTheirTenant: C's websocket, by JWT (?token=) and by
// API key (X-Api-Key header), hears C's events and never B's.
func TestLiveEventsStayInTheirTenant(t *testing.T) {
	tt := newTwoTenants(t)
	jwtConn := tt.live.mustDial(tt.cAdmin)
	keyConn, res, err := tt.live.dial("/ws", http.Header{"X-Api-Key": {tt.cTermKey}})
	if err != nil {
		t.Fatalf("dial with a key: %v (%v)", err, res)
	}
	tt.live.dials++
	for tt.srv.live.count.Load() < int64(tt.live.dials) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, res, err := tt.live.dial("/ws", http.Header{"X-Api-Key": {tt.cTermKey}, accountHeader: {tt.b}}); err == nil || res.StatusCode != 403 {
		t.Errorf("a key dialled B's stream: %v", res)
	}
	now := time.Now()
	tt.bus.Publish(dialer.Event{Type: dialer.EventSpoolEnded, At: now, TenantID: tt.b, CampaignID: 1, SpoolID: 1, Status: "completed"})
	tt.bus.Publish(dialer.Event{Type: dialer.EventSpoolEnded, At: now, TenantID: tt.c, CampaignID: 2, SpoolID: 2, Status: "completed"})
	for name, conn := range map[string]*websocket.Conn{"jwt": jwtConn, "key": keyConn} {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var ev map[string]any
		if err := conn.ReadJSON(&ev); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ev["tenant_id"] != tt.c || ev["spool_id"] != float64(2) {
			t.Errorf("%s: first event heard is %v, want C's", name, ev)
		}
	}
}

// TestTenantIsolationComplianceCrossbar: the surfaces TestTenantIsolation
// does not reach — do-not-call lists and numbers, the campaign report, the
// crossbar centrex, centrex accounts and services, the live stream by an
// owner key — refuse tenant C's JWT and keys on B's resources, and C's own
// lists hold nothing of B's.
func TestTenantIsolationComplianceCrossbar(t *testing.T) {
	tt := newTwoTenants(t)
	ids := tt.bIDs
	dnc := fmt.Sprintf("/dnc/%d", ids["dnc"])
	ictcore := []string{dnc, dnc + "/numbers", dnc + "/numbers/" + bDNCNumber, dnc + "/csv",
		fmt.Sprintf("/campaigns/%d/report", ids["campaign"]), fmt.Sprintf("/campaigns/%d/report?format=csv", ids["campaign"])}
	cb := func(rest string) string { return "/v2/accounts/" + tt.b + rest }
	crossbar := []string{cb("/centrex"), cb("/centrex/zebra"), cb("/centrex/zebra/centrex_accounts"),
		cb("/centrex/zebra/centrex_accounts/zebra1"), cb("/services"), cb("/services/status"), cb("/services/audit"),
		cb("/services/audit/summary"), cb("/services/audit_summary"), cb("/services/manual"), cb("/services/overrides"),
		cb("/services/quote"), cb("/services/summary"), cb("/services/available"), cb("/services/editable"),
		cb("/services/reconciliation"), cb("/services/synchronization"), cb("/services/topup"), cb("/services/basic")}
	body := map[string]any{"name": "pwned", "numbers": []map[string]any{{"number": "+12125550111"}},
		"data": map[string]any{"name": "pwned", "amount": 5, "add": []string{"basic"}, "plans": []string{"basic"}}}

	// B's own writes above commit their quantities after they answer:
	// those must be in before B is compared.
	tt.quantitiesSettled()
	before := tt.snapshotTenant(tt.b)
	type attacker struct {
		name    string
		headers []string // the credential; the crossbar's is X-Auth-Token
		ictcore []string
	}
	attackers := []attacker{
		{"jwt", []string{"X-Auth-Token", tt.cAdmin}, []string{"Authorization", "Bearer " + tt.cAdmin}},
		{"owner key", []string{"X-Auth-Token", tt.cOwnerKey}, []string{"X-Api-Key", tt.cOwnerKey}},
		{"owner key as X-Api-Key", []string{"X-Api-Key", tt.cOwnerKey}, []string{"X-Api-Key", tt.cOwnerKey}},
		{"terminal key", []string{"X-Auth-Token", tt.cTermKey}, []string{"X-Api-Key", tt.cTermKey}},
	}
	refused := func(a attacker, r resp, method, path string) {
		t.Helper()
		if r.Status < 400 || r.Status >= 500 || bytes.Contains(r.Body, []byte("zebra")) || bytes.Contains(r.Body, []byte(bDNCNumber)) {
			t.Errorf("%s: %s %s answered %d: %s", a.name, method, path, r.Status, r.Body)
		}
	}
	for _, a := range attackers {
		for _, p := range ictcore {
			for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
				r := tt.do(m, p, "", body, a.ictcore...)
				if r.Status == 405 {
					continue // no such route: nothing to refuse
				}
				refused(a, r, m, p)
			}
		}
		for _, p := range crossbar {
			for _, m := range []string{"GET", "PUT", "POST", "PATCH", "DELETE"} {
				r := tt.do(m, p, "", body, a.headers...)
				if r.Status == 405 {
					continue // no such route: nothing to refuse
				}
				refused(a, r, m, p)
			}
		}
		// Asking to act in B by header is refused here too.
		refused(a, tt.do("GET", "/dnc", "", nil, append(slices.Clone(a.ictcore), accountHeader, tt.b)...), "GET", "/dnc as B")
		// C's own lists answer without B's rows.
		for _, p := range []string{"/dnc"} {
			r := tt.do("GET", p, "", nil, a.ictcore...)
			if r.Status != 200 || bytes.Contains(r.Body, []byte("zebra")) {
				t.Errorf("%s: list %s: %d %s", a.name, p, r.Status, r.Body)
			}
		}
		for _, p := range []string{"/centrex", "/services/audit", "/services/summary"} {
			r := tt.do("GET", "/v2/accounts/"+tt.c+p, "", nil, a.headers...)
			if r.Status == 403 && a.name == "terminal key" && strings.HasPrefix(p, "/services") {
				continue // services are the account admins'
			}
			if r.Status != 200 || bytes.Contains(r.Body, []byte("zebra")) || bytes.Contains(r.Body, []byte(tt.b)) {
				t.Errorf("%s: crossbar %s of its own account: %d %s", a.name, p, r.Status, r.Body)
			}
		}
	}
	if after := tt.snapshotTenant(tt.b); after != before {
		t.Errorf("refused requests changed tenant B:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// B reaches all of it.
	for _, p := range []string{dnc, dnc + "/numbers", dnc + "/csv", ictcore[4]} {
		tt.expect(tt.do("GET", p, tt.bAdmin, nil), 200)
	}
	for _, p := range crossbar[:9] {
		if r := tt.do("GET", p, "", nil, "X-Auth-Token", tt.bAdmin); r.Status != 200 {
			t.Errorf("B: GET %s: %d %s", p, r.Status, r.Body)
		}
	}
}

// TestLiveEventsStayInTheirTenantByOwnerKey: an account-owner key's
// stream hears its tenant only, and cannot ask for B's.
func TestLiveEventsStayInTheirTenantByOwnerKey(t *testing.T) {
	tt := newTwoTenants(t)
	conn, res, err := tt.live.dial("/ws", http.Header{"X-Api-Key": {tt.cOwnerKey}})
	if err != nil {
		t.Fatalf("dial with a key: %v (%v)", err, res)
	}
	tt.live.dials++
	for tt.srv.live.count.Load() < int64(tt.live.dials) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, res, err := tt.live.dial("/ws", http.Header{"X-Api-Key": {tt.cOwnerKey}, accountHeader: {tt.b}}); err == nil || res.StatusCode != 403 {
		t.Errorf("an owner key dialled B's stream: %v", res)
	}
	now := time.Now()
	tt.bus.Publish(dialer.Event{Type: dialer.EventSpoolEnded, At: now, TenantID: tt.b, CampaignID: 1, SpoolID: 1, Status: "completed"})
	tt.bus.Publish(dialer.Event{Type: dialer.EventSpoolEnded, At: now, TenantID: tt.c, CampaignID: 2, SpoolID: 2, Status: "completed"})
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ev map[string]any
	if err := conn.ReadJSON(&ev); err != nil {
		t.Fatal(err)
	}
	if ev["tenant_id"] != tt.c || ev["spool_id"] != float64(2) {
		t.Errorf("first event heard is %v, want C's", ev)
	}
}

// quantitiesSettled waits until no quantity sync after a write is running.
func (tt *twoTenants) quantitiesSettled() {
	tt.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w := &tt.srv.quantities
		w.mu.Lock()
		n := len(w.running)
		w.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			tt.t.Fatal("quantity syncs still running after 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
