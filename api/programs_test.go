package api

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/dialerd/dialerd/dialer"
)

// world is an API under test with the people the ownership rules are
// about: the admin, two plain users of its tenant (bob, carol), and the
// admin of another tenant (the stranger). raw reaches the database file
// directly, for rows whose API lives on other branches (messages,
// contacts, transmissions) and to check what a rejected request left.
type world struct {
	*env
	tenant, otherTenant string
	adminID             int64
	bob, carol          string
	bobID, carolID      int64
	stranger            string
	strangerID          int64
	raw                 *sql.DB
}

func newWorld(t *testing.T, with ...func(*Deps)) *world {
	t.Helper()
	e := newEnv(t, with...)
	ctx := context.Background()
	w := &world{env: e}
	tenant, err := e.db.DefaultTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.tenant = tenant.ID
	admin, err := e.db.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	w.adminID = admin.User.ID
	w.bobID, w.bob = e.createUser("bob", nil)
	w.carolID, w.carol = e.createUser("carol", nil)
	other, err := e.db.CreateTenant(ctx, "elsewhere", "org")
	if err != nil {
		t.Fatal(err)
	}
	w.otherTenant = other.ID
	hash, err := dialer.HashPassword("stranger-password", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := e.db.CreateUsers(ctx, []dialer.NewUser{{User: dialer.User{TenantID: other.ID, Username: "stranger", Active: 1,
		Roles: []int64{dialer.RoleAdmin}}, Hash: hash}})
	if err != nil {
		t.Fatal(err)
	}
	w.strangerID = ids[0]
	w.stranger = e.login("stranger", "stranger-password")
	w.raw, err = sql.Open("sqlite", "file:"+e.db.Path()+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.raw.Close() })
	return w
}

// insert adds a row with tenant_id, created_by and the timestamps set, and
// returns its id.
func (w *world) insert(table, tenant string, createdBy int64, cols map[string]any) int64 {
	w.t.Helper()
	names := []string{"tenant_id", "created_by", "created_at", "updated_at"}
	args := []any{tenant, createdBy, 0, 0}
	for k, v := range cols {
		names = append(names, k)
		args = append(args, v)
	}
	res, err := w.raw.Exec(`INSERT INTO `+table+` (`+strings.Join(names, ", ")+`) VALUES (?`+strings.Repeat(", ?", len(names)-1)+`)`, args...)
	if err != nil {
		w.t.Fatal(err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

// message adds a text, template, document or recording.
func (w *world) message(table, tenant string, createdBy int64) int64 {
	return w.insert(table, tenant, createdBy, map[string]any{"name": table + " message"})
}

// snapshot is every row of the tables these routes write, to prove a
// rejected request changed nothing.
func (w *world) snapshot() string {
	w.t.Helper()
	var b strings.Builder
	for _, table := range []string{"programs", "accounts", "account_settings", "account_programs", "providers"} {
		rows, err := w.raw.Query(`SELECT * FROM ` + table + ` ORDER BY 1, 2`)
		if err != nil {
			w.t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				w.t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %v\n", table, vals)
		}
		rows.Close()
	}
	return b.String()
}

// rejected sends a request that must fail with status and leave the store
// as it was; for 412 it checks the failing field is named.
func (w *world) rejected(method, path, token string, body any, status int, field string) {
	w.t.Helper()
	before := w.snapshot()
	r := w.expect(w.do(method, path, token, body), status)
	eb := r.errorBody(w.t)
	if field != "" {
		if _, ok := eb.Fields[field]; !ok {
			w.t.Errorf("%s %s: error fields %v lack %q", method, path, eb.Fields, field)
		}
	}
	if after := w.snapshot(); after != before {
		w.t.Errorf("%s %s was refused (%d) but changed the store:\nbefore:\n%safter:\n%s", method, path, status, before, after)
	}
	// An error may name the field passwd, never carry a secret's value.
	for _, s := range append(testSecrets(), "v1:", "$2a$", "$2b$") {
		if bytes.Contains(r.Body, []byte(s)) {
			w.t.Errorf("error response carries the secret %q: %s", s, r.Body)
		}
	}
}

// testSecrets are the credentials the tests send, which no response may echo.
func testSecrets() []string { return []string{extPasswd, extPin, providerSecret, "Another-Passw0rd"} }

// noSecrets fails when a body carries a password, a hash, a sealed value
// or any of the given secrets.
func noSecrets(t testing.TB, body []byte, secrets ...string) {
	t.Helper()
	assertNoSecrets(t, body)
	for _, s := range append(append(secrets, testSecrets()...), "v1:") {
		if bytes.Contains(body, []byte(s)) {
			t.Errorf("response carries the secret %q: %s", s, body)
		}
	}
}

func idPath(format string, ids ...any) string { return fmt.Sprintf(format, ids...) }

func (w *world) createProgram(token, typ string, body map[string]any) int64 {
	w.t.Helper()
	r := w.expect(w.do("POST", "/programs/"+typ, token, body), 200)
	var out map[string]any
	r.json(w.t, &out)
	id, ok := out["program_id"].(float64)
	if len(out) != 1 || !ok || id <= 0 {
		w.t.Fatalf("create %s answered %s", typ, r.Body)
	}
	return int64(id)
}

func TestProgramCreators(t *testing.T) {
	w := newWorld(t)
	// What each type points at: the admin's own, bob's, and another tenant's.
	refTable := map[string]string{"text_id": "texts", "template_id": "templates", "document_id": "documents", "recording_id": "recordings"}
	own, bobs, foreign := map[string]int64{}, map[string]int64{}, map[string]int64{}
	for field, table := range refTable {
		own[field] = w.message(table, w.tenant, w.adminID)
		bobs[field] = w.message(table, w.tenant, w.bobID)
		foreign[field] = w.message(table, w.otherTenant, w.strangerID)
	}
	own["account_id"] = w.insert("accounts", w.tenant, w.adminID, map[string]any{"type": "did", "phone": "+15550100"})
	bobs["account_id"] = w.insert("accounts", w.tenant, w.bobID, map[string]any{"type": "did", "phone": "+15550101"})
	foreign["account_id"] = w.insert("accounts", w.otherTenant, w.strangerID, map[string]any{"type": "did", "phone": "+15550102"})

	for _, typ := range dialer.ProgramTypes() {
		ref := typ.Reference()
		t.Run(string(typ), func(t *testing.T) {
			body := map[string]any{"name": "p " + string(typ), ref: own[ref]}
			id := w.createProgram(w.admin, string(typ), body)
			var p map[string]any
			w.expect(w.do("GET", idPath("/programs/%d", id), w.admin, nil), 200).json(t, &p)
			if p["type"] != string(typ) || p[ref] != float64(own[ref]) || p["program_id"] != float64(id) || p["parent_id"] != nil {
				t.Errorf("reads back as %v", p)
			}
			// A child program, with the type repeated in the body.
			child := w.createProgram(w.admin, string(typ), map[string]any{"name": "child", "type": string(typ), "parent_id": id, ref: own[ref]})
			p = nil
			w.expect(w.do("GET", idPath("/programs/%d", child), w.admin, nil), 200).json(t, &p)
			if p["parent_id"] != float64(id) {
				t.Errorf("child reads back as %v", p)
			}
			// Bob's own reference works for bob; the admin's does not.
			w.createProgram(w.bob, string(typ), map[string]any{"name": "bob's", ref: bobs[ref]})

			path := "/programs/" + string(typ)
			missing := ref
			if typ == dialer.ProgramVoiceTTS {
				missing = "text" // text or text_id
			}
			w.rejected("POST", path, w.admin, map[string]any{"name": "x"}, 412, missing)
			w.rejected("POST", path, w.admin, map[string]any{ref: own[ref]}, 412, "name")
			w.rejected("POST", path, w.admin, map[string]any{"name": "x", ref: 99999}, 412, ref)
			w.rejected("POST", path, w.admin, map[string]any{"name": "x", ref: foreign[ref]}, 412, ref)
			w.rejected("POST", path, w.bob, map[string]any{"name": "x", ref: own[ref]}, 412, ref)
			w.rejected("POST", path, w.admin, map[string]any{"name": "x", ref: own[ref], "parent_id": 99999}, 412, "parent_id")
			w.rejected("POST", path, w.bob, map[string]any{"name": "x", ref: bobs[ref], "parent_id": id}, 412, "parent_id")
			w.rejected("POST", path, w.admin, map[string]any{"name": "x", ref: own[ref], "type": "sendsmsx"}, 412, "type")
			w.rejected("POST", path, w.admin, map[string]any{"name": "x", ref: "one"}, 412, ref)
			w.rejected("POST", path, w.admin, map[string]any{"name": 5, ref: own[ref]}, 412, "name")
			w.rejected("POST", path, w.stranger, map[string]any{"name": "x", ref: own[ref]}, 412, ref)
			w.rejected("POST", path, "", map[string]any{"name": "x", ref: own[ref]}, 401, "")
			w.rejected("POST", path, w.admin, `{"name": "x",`, 400, "")
		})
	}
}

func TestProgramVoiceTTS(t *testing.T) {
	w := newWorld(t)
	text := w.message("texts", w.tenant, w.adminID)
	id := w.createProgram(w.admin, "voicetts", map[string]any{"name": "greeting", "text": "Hello, this is dialerd. Press 1.",
		"voice": "slt", "language": "en-us"})
	var p map[string]any
	w.expect(w.do("GET", idPath("/programs/%d", id), w.admin, nil), 200).json(t, &p)
	if p["text"] != "Hello, this is dialerd. Press 1." || p["voice"] != "slt" || p["language"] != "en-US" || p["text_id"] != nil {
		t.Errorf("voicetts reads back as %v", p)
	}
	stored := w.createProgram(w.admin, "voicetts", map[string]any{"name": "stored", "text_id": text, "language": "fr"})
	p = nil
	w.expect(w.do("GET", idPath("/programs/%d", stored), w.admin, nil), 200).json(t, &p)
	if p["text_id"] != float64(text) || p["text"] != nil {
		t.Errorf("voicetts with text_id reads back as %v", p)
	}
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": "x"}, "text"},
		{map[string]any{"name": "x", "text": "a", "text_id": text}, "text"},
		{map[string]any{"name": "x", "text": "   "}, "text"},
		{map[string]any{"name": "x", "text": "hi\nexit"}, "text"},
		{map[string]any{"name": "x", "text": strings.Repeat("a", dialer.MaxTTSText+1)}, "text"},
		{map[string]any{"name": "x", "text": "hi", "voice": "kal|flite"}, "voice"},
		{map[string]any{"name": "x", "text": "hi", "voice": strings.Repeat("v", 65)}, "voice"},
		{map[string]any{"name": "x", "text": "hi", "language": "english"}, "language"},
		{map[string]any{"name": "x", "text": "hi", "language": "en_US"}, "language"},
		{map[string]any{"name": "x", "text": 5}, "text"},
		{map[string]any{"name": "x", "text_id": 4242}, "text_id"},
	} {
		w.rejected("POST", "/programs/voicetts", w.admin, tc.body, 412, tc.field)
	}
}

func TestProgramReadAndDelete(t *testing.T) {
	w := newWorld(t)
	text := w.message("texts", w.tenant, w.adminID)
	bobText := w.message("texts", w.tenant, w.bobID)
	mine := w.createProgram(w.admin, "sendsms", map[string]any{"name": "admin sms", "text_id": text})
	tts := w.createProgram(w.admin, "voicetts", map[string]any{"name": "admin tts", "text": "hello"})
	bobs := w.createProgram(w.bob, "sendsms", map[string]any{"name": "bob sms", "text_id": bobText})

	list := func(token, query string) []int64 {
		t.Helper()
		var ps []dialer.Program
		w.expect(w.do("GET", "/programs"+query, token, nil), 200).json(t, &ps)
		ids := []int64{}
		for _, p := range ps {
			ids = append(ids, p.ID)
		}
		return ids
	}
	for _, tc := range []struct {
		token, query string
		want         []int64
	}{
		{w.admin, "", []int64{mine, tts, bobs}},
		{w.bob, "", []int64{bobs}},
		{w.carol, "", []int64{}},
		{w.stranger, "", []int64{}},
		{w.admin, "?type=voicetts", []int64{tts}},
		{w.admin, "?name=" + url.QueryEscape("bob sms"), []int64{bobs}},
		{w.admin, idPath("?text_id=%d", text), []int64{mine}},
		{w.admin, "?limit=1&offset=1", []int64{tts}},
		{w.admin, "?page=2&per_page=2", []int64{bobs}},
	} {
		if got := list(tc.token, tc.query); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("GET /programs%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	w.rejected("GET", "/programs?tts_text=x", w.admin, nil, 412, "tts_text")
	w.rejected("GET", "/programs?limit=0", w.admin, nil, 412, "limit")

	w.expect(w.do("GET", idPath("/programs/%d", bobs), w.admin, nil), 200)
	w.expect(w.do("GET", idPath("/programs/%d", bobs), w.bob, nil), 200)
	w.expect(w.do("GET", idPath("/programs/%d", mine), w.bob, nil), 403).errorBody(t)
	w.expect(w.do("GET", idPath("/programs/%d", bobs), w.carol, nil), 403).errorBody(t)
	w.expect(w.do("GET", idPath("/programs/%d", mine), w.stranger, nil), 404).errorBody(t)
	w.expect(w.do("GET", "/programs/424242", w.admin, nil), 404).errorBody(t)
	w.expect(w.do("GET", "/programs/abc", w.admin, nil), 404).errorBody(t)

	w.rejected("DELETE", idPath("/programs/%d", mine), w.bob, nil, 403, "")
	w.rejected("DELETE", idPath("/programs/%d", mine), w.stranger, nil, 404, "")
	w.rejected("DELETE", "/programs/424242", w.admin, nil, 404, "")
	w.rejected("DELETE", idPath("/programs/%d", mine), "", nil, 401, "")

	// A program a transmission or campaign uses stays: 409.
	contact := w.insert("contacts", w.tenant, w.adminID, map[string]any{"phone": "+15550199"})
	group := w.insert("groups", w.tenant, w.adminID, map[string]any{"name": "g"})
	tx := w.insert("transmissions", w.tenant, w.adminID, map[string]any{"contact_id": contact, "program_id": mine})
	campaign := w.insert("campaigns", w.tenant, w.adminID, map[string]any{"program_id": tts, "group_id": group})
	w.rejected("DELETE", idPath("/programs/%d", mine), w.admin, nil, 409, "")
	w.rejected("DELETE", idPath("/programs/%d", tts), w.admin, nil, 409, "")
	if _, err := w.raw.Exec(`DELETE FROM transmissions WHERE transmission_id = ?`, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.raw.Exec(`DELETE FROM campaigns WHERE campaign_id = ?`, campaign); err != nil {
		t.Fatal(err)
	}

	var out map[string]any
	w.expect(w.do("DELETE", idPath("/programs/%d", mine), w.admin, nil), 200).json(t, &out)
	if len(out) != 0 {
		t.Errorf("delete answered %v, want {}", out)
	}
	w.expect(w.do("GET", idPath("/programs/%d", mine), w.admin, nil), 404)
	w.expect(w.do("DELETE", idPath("/programs/%d", bobs), w.bob, nil), 200)
	w.expect(w.do("DELETE", idPath("/programs/%d", tts), w.admin, nil), 200)
	if got := list(w.admin, ""); len(got) != 0 {
		t.Errorf("programs left: %v", got)
	}
}
