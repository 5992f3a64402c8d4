package api

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// createContact creates a contact through the API and returns its id.
func (e *env) createContact(token string, body map[string]any) int64 {
	e.t.Helper()
	r := e.expect(e.do("POST", "/contacts", token, body), 200)
	var out struct {
		ContactID int64 `json:"contact_id"`
	}
	r.json(e.t, &out)
	if out.ContactID <= 0 {
		e.t.Fatalf("no contact_id in %s", r.Body)
	}
	return out.ContactID
}

// createGroup creates a group through the API and returns its id.
func (e *env) createGroup(token, name string) int64 {
	e.t.Helper()
	r := e.expect(e.do("POST", "/groups", token, map[string]any{"name": name}), 200)
	var out struct {
		GroupID int64 `json:"group_id"`
	}
	r.json(e.t, &out)
	if out.GroupID <= 0 {
		e.t.Fatalf("no group_id in %s", r.Body)
	}
	return out.GroupID
}

// snapshot is everything the tenant's admin can see of contacts and groups
// (with member counts), and what the other tenants' admins can see of
// theirs: two equal snapshots mean nothing changed.
func (e *env) snapshot(others ...string) string {
	e.t.Helper()
	var b bytes.Buffer
	for _, tok := range append([]string{e.admin}, others...) {
		for _, p := range []string{"/contacts?limit=1000", "/groups?limit=1000"} {
			b.Write(e.expect(e.do("GET", p, tok, nil), 200).Body)
		}
	}
	return b.String()
}

// rawDB opens the test's database directly, for rows no route of this
// family makes (transmissions, campaigns).
func (e *env) rawDB() *sql.DB {
	e.t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.db.Path()+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	return db
}

func exec(t testing.TB, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	res, err := db.ExecContext(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	return id
}

func contactPath(id int64) string { return "/contacts/" + strconv.FormatInt(id, 10) }
func groupPath(id int64) string   { return "/groups/" + strconv.FormatInt(id, 10) }

func TestContactLifecycle(t *testing.T) {
	e := newEnv(t)
	id := e.createContact(e.admin, map[string]any{
		"first_name": "  Jane ", "last_name": "Doe", "phone": "(415) 555-2671", "email": "jane@example.com",
		"address": "1 Main St", "custom1": "a", "custom2": "b", "custom3": "c", "description": "d",
		"timezone": "America/Los_Angeles",
	})
	var got map[string]any
	e.expect(e.do("GET", contactPath(id), e.admin, nil), 200).json(t, &got)
	want := map[string]any{
		"contact_id": float64(id), "first_name": "Jane", "last_name": "Doe", "phone": "+14155552671",
		"email": "jane@example.com", "address": "1 Main St", "custom1": "a", "custom2": "b", "custom3": "c",
		"description": "d", "timezone": "America/Los_Angeles",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}

	// The document types phone as a number: accepted, answered as a string.
	id2 := e.createContact(e.admin, map[string]any{"first_name": "Num", "phone": 4155550101})
	var list []map[string]any
	e.expect(e.do("GET", "/contacts", e.admin, nil), 200).json(t, &list)
	if len(list) != 2 || list[0]["contact_id"] != float64(id) || list[1]["phone"] != "+14155550101" {
		t.Fatalf("list = %v", list)
	}

	// PUT changes what it names and answers the updated object.
	var upd map[string]any
	e.expect(e.do("PUT", contactPath(id), e.admin, map[string]any{"phone": "+44 20 7946 0018", "timezone": ""}), 200).json(t, &upd)
	if upd["phone"] != "+442079460018" || upd["timezone"] != "" || upd["first_name"] != "Jane" || upd["contact_id"] != float64(id) {
		t.Errorf("updated contact = %v", upd)
	}

	var empty map[string]any
	e.expect(e.do("DELETE", contactPath(id2), e.admin, nil), 200).json(t, &empty)
	if len(empty) != 0 {
		t.Errorf("DELETE answered %v, want {}", empty)
	}
	e.expect(e.do("GET", contactPath(id2), e.admin, nil), 404).errorBody(t)
}

func TestContactValidation(t *testing.T) {
	e := newEnv(t)
	id := e.createContact(e.admin, map[string]any{"first_name": "Jane", "phone": "4155552671"})
	long := strings.Repeat("x", 256)
	for _, tc := range []struct {
		name  string
		body  any
		field string
		put   bool // also refused as an update of an existing contact
	}{
		{"no first name", map[string]any{"phone": "4155552671"}, "first_name", false},
		{"blank first name", map[string]any{"first_name": "  ", "phone": "4155552600"}, "first_name", false},
		{"no phone", map[string]any{"first_name": "A"}, "phone", false},
		{"letters", map[string]any{"first_name": "A", "phone": "call me"}, "phone", true},
		{"too short", map[string]any{"first_name": "A", "phone": "12345"}, "phone", true},
		{"too long", map[string]any{"first_name": "A", "phone": "+1234567890123456"}, "phone", true},
		{"injection", map[string]any{"first_name": "A", "phone": "4155552671,origination_caller_id_number=1"}, "phone", true},
		{"bad email", map[string]any{"first_name": "A", "phone": "4155552601", "email": "nobody"}, "email", true},
		{"named email", map[string]any{"first_name": "A", "phone": "4155552601", "email": "A <a@example.com>"}, "email", true},
		{"bad zone", map[string]any{"first_name": "A", "phone": "4155552601", "timezone": "Mars/Olympus"}, "timezone", true},
		{"host zone", map[string]any{"first_name": "A", "phone": "4155552601", "timezone": "Local"}, "timezone", true},
		{"long name", map[string]any{"first_name": long, "phone": "4155552601"}, "first_name", true},
		{"control chars", map[string]any{"first_name": "A\x00B", "phone": "4155552601"}, "first_name", true},
		{"wrong type", map[string]any{"first_name": 7, "phone": "4155552601"}, "first_name", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			before := e.snapshot()
			for _, req := range []struct{ method, path string }{{"POST", "/contacts"}, {"PUT", contactPath(id)}} {
				if req.method == "PUT" && !tc.put {
					continue
				}
				r := e.expect(e.do(req.method, req.path, e.admin, tc.body), 412)
				if eb := r.errorBody(t); eb.Fields[tc.field] == "" {
					t.Errorf("%s: fields %v do not name %s", req.method, eb.Fields, tc.field)
				}
			}
			if after := e.snapshot(); after != before {
				t.Errorf("a rejected request changed the store:\n%s\n%s", before, after)
			}
		})
	}
}

func TestContactPhoneIsUniqueInTenant(t *testing.T) {
	e := newEnv(t)
	other := e.otherTenantAdmin("zed")
	a := e.createContact(e.admin, map[string]any{"first_name": "A", "phone": "+1 415 555 2671"})
	b := e.createContact(e.admin, map[string]any{"first_name": "B", "phone": "4155552672"})
	before := e.snapshot(other)
	// The same number written another way is the same number.
	r := e.expect(e.do("POST", "/contacts", e.admin, map[string]any{"first_name": "C", "phone": "1-415-555-2671"}), 409)
	if msg := r.errorBody(t).Message; !strings.Contains(msg, strconv.FormatInt(a, 10)) {
		t.Errorf("conflict message %q does not name contact %d", msg, a)
	}
	e.expect(e.do("PUT", contactPath(b), e.admin, map[string]any{"phone": "(415) 555-2671"}), 409).errorBody(t)
	if after := e.snapshot(other); after != before {
		t.Errorf("a rejected request changed the store")
	}
	// Re-saving a contact's own number is no conflict; another tenant has its own numbers.
	e.expect(e.do("PUT", contactPath(b), e.admin, map[string]any{"phone": "+14155552672"}), 200)
	e.createContact(other, map[string]any{"first_name": "A", "phone": "+1 415 555 2671"})
}

func TestContactOwnership(t *testing.T) {
	e := newEnv(t)
	_, alice := e.createUser("alice", nil)
	_, bob := e.createUser("bob", nil)
	other := e.otherTenantAdmin("zed")
	ca := e.createContact(alice, map[string]any{"first_name": "A", "phone": "4155552671"})
	cb := e.createContact(bob, map[string]any{"first_name": "B", "phone": "4155552672"})
	ga := e.createGroup(alice, "alice's")
	gb := e.createGroup(bob, "bob's")
	before := e.snapshot(other)

	for _, tc := range []struct {
		token  string
		status int
	}{{bob, 403}, {other, 404}} {
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"GET", contactPath(ca), nil},
			{"PUT", contactPath(ca), map[string]any{"first_name": "X"}},
			{"DELETE", contactPath(ca), nil},
			{"PUT", contactPath(ca) + "/link/" + strconv.FormatInt(gb, 10), nil},
			{"DELETE", contactPath(ca) + "/link/" + strconv.FormatInt(gb, 10), nil},
		} {
			r := e.do(req.method, req.path, tc.token, req.body)
			if r.Status != tc.status {
				t.Errorf("%s %s: status %d, want %d: %s", req.method, req.path, r.Status, tc.status, r.Body)
				continue
			}
			r.errorBody(t)
		}
	}
	// bob may not put his contact into alice's group either.
	e.expect(e.do("PUT", contactPath(cb)+"/link/"+strconv.FormatInt(ga, 10), bob, nil), 403).errorBody(t)
	if after := e.snapshot(other); after != before {
		t.Errorf("a rejected request changed the store")
	}

	// Lists show each user their own; the admin sees the tenant; another
	// tenant sees none of it.
	for _, tc := range []struct {
		token string
		want  []int64
	}{{alice, []int64{ca}}, {bob, []int64{cb}}, {e.admin, []int64{ca, cb}}, {other, nil}} {
		var list []struct {
			ContactID int64 `json:"contact_id"`
		}
		e.expect(e.do("GET", "/contacts", tc.token, nil), 200).json(t, &list)
		if fmt.Sprint(list) != fmt.Sprint(idsOf(tc.want)) {
			t.Errorf("list = %v, want %v", list, tc.want)
		}
	}
	// The admin may change anyone's contact in its tenant.
	e.expect(e.do("PUT", contactPath(ca), e.admin, map[string]any{"last_name": "Admin-set"}), 200)
}

func idsOf(ids []int64) []struct{ ContactID int64 } {
	out := []struct{ ContactID int64 }{}
	for _, id := range ids {
		out = append(out, struct{ ContactID int64 }{id})
	}
	return out
}

func TestContactPermissions(t *testing.T) {
	e := newEnv(t)
	// A user with no role holds no contact permission.
	_, nobody := e.createUser("nobody", map[string]any{"roles": []int64{}})
	id := e.createContact(e.admin, map[string]any{"first_name": "A", "phone": "4155552671"})
	for _, req := range []struct{ method, path string }{
		{"POST", "/contacts"}, {"GET", "/contacts"}, {"GET", contactPath(id)}, {"PUT", contactPath(id)},
		{"DELETE", contactPath(id)}, {"PUT", contactPath(id) + "/link/1"}, {"DELETE", contactPath(id) + "/link/1"},
		{"POST", "/groups"}, {"GET", "/groups"}, {"GET", "/groups/1"}, {"GET", "/groups/sample/csv"},
		{"POST", "/groups/1/csv"}, {"GET", "/groups/1/csv"}, {"GET", "/groups/1/contacts"},
	} {
		r := e.do(req.method, req.path, nobody, map[string]any{"first_name": "X", "phone": "4155552600"})
		if r.Status != 403 {
			t.Errorf("%s %s without permission: status %d", req.method, req.path, r.Status)
		}
		if r := e.do(req.method, req.path, "", nil); r.Status != 401 {
			t.Errorf("%s %s without a token: status %d", req.method, req.path, r.Status)
		}
	}
}

func TestContactNotFound(t *testing.T) {
	e := newEnv(t)
	id := e.createContact(e.admin, map[string]any{"first_name": "A", "phone": "4155552671"})
	g := e.createGroup(e.admin, "g")
	for _, req := range []struct{ method, path string }{
		{"GET", "/contacts/999"}, {"PUT", "/contacts/999"}, {"DELETE", "/contacts/999"},
		{"GET", "/contacts/abc"}, {"GET", "/contacts/-1"}, {"GET", "/contacts/0"},
		{"PUT", "/contacts/999/link/" + strconv.FormatInt(g, 10)},
		{"PUT", contactPath(id) + "/link/999"}, {"DELETE", contactPath(id) + "/link/999"},
		{"PUT", contactPath(id) + "/link/x"},
	} {
		e.expect(e.do(req.method, req.path, e.admin, map[string]any{"first_name": "B"}), 404).errorBody(t)
	}
}

func TestContactLinks(t *testing.T) {
	e := newEnv(t)
	id := e.createContact(e.admin, map[string]any{"first_name": "A", "phone": "4155552671"})
	g1, g2 := e.createGroup(e.admin, "one"), e.createGroup(e.admin, "two")
	link := func(method string, g int64) {
		t.Helper()
		var c map[string]any
		e.expect(e.do(method, contactPath(id)+"/link/"+strconv.FormatInt(g, 10), e.admin, nil), 200).json(t, &c)
		if c["contact_id"] != float64(id) {
			t.Errorf("link answered %v, want the contact", c)
		}
	}
	total := func(g int64) float64 {
		t.Helper()
		var out map[string]any
		e.expect(e.do("GET", groupPath(g), e.admin, nil), 200).json(t, &out)
		return out["contact_total"].(float64)
	}
	link("PUT", g1)
	link("PUT", g1) // idempotent
	link("PUT", g2)
	if total(g1) != 1 || total(g2) != 1 {
		t.Fatalf("totals %v %v, want 1 1", total(g1), total(g2))
	}
	link("DELETE", g2)
	link("DELETE", g2)
	if total(g1) != 1 || total(g2) != 0 {
		t.Fatalf("after unlink: totals %v %v, want 1 0", total(g1), total(g2))
	}
	// Deleting a contact takes it out of every group.
	link("PUT", g2)
	e.expect(e.do("DELETE", contactPath(id), e.admin, nil), 200)
	if total(g1) != 0 || total(g2) != 0 {
		t.Fatalf("after delete: totals %v %v, want 0 0", total(g1), total(g2))
	}
}

func TestContactUsedByTransmissionStays(t *testing.T) {
	e := newEnv(t)
	id := e.createContact(e.admin, map[string]any{"first_name": "A", "phone": "4155552671"})
	g := e.createGroup(e.admin, "g")
	e.expect(e.do("PUT", contactPath(id)+"/link/"+strconv.FormatInt(g, 10), e.admin, nil), 200)
	raw := e.rawDB()
	var tenant string
	if err := raw.QueryRow(`SELECT tenant_id FROM contacts WHERE contact_id = ?`, id).Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	prog := exec(t, raw, `INSERT INTO programs (tenant_id, created_by, name, type, created_at, updated_at) VALUES (?, 1, 'p', 'voicemessage', ?, ?)`, tenant, now, now)
	exec(t, raw, `INSERT INTO transmissions (tenant_id, created_by, contact_id, program_id, created_at, updated_at) VALUES (?, 1, ?, ?, ?, ?)`, tenant, id, prog, now, now)
	before := e.snapshot()
	r := e.expect(e.do("DELETE", contactPath(id), e.admin, nil), 409)
	if msg := r.errorBody(t).Message; !strings.Contains(msg, "transmission") {
		t.Errorf("conflict message %q does not say why", msg)
	}
	if e.snapshot() != before {
		t.Errorf("a refused delete changed the store")
	}
	e.expect(e.do("GET", contactPath(id), e.admin, nil), 200)
}

func TestContactSearch(t *testing.T) {
	e := newEnv(t)
	var ids []int64
	for i := range 5 {
		ids = append(ids, e.createContact(e.admin, map[string]any{
			"first_name": fmt.Sprintf("n%d", i%2), "phone": fmt.Sprintf("415555%04d", 2600+i)}))
	}
	list := func(query string) []int64 {
		t.Helper()
		var out []struct {
			ContactID int64 `json:"contact_id"`
		}
		e.expect(e.do("GET", "/contacts"+query, e.admin, nil), 200).json(t, &out)
		var got []int64
		for _, c := range out {
			got = append(got, c.ContactID)
		}
		return got
	}
	for _, tc := range []struct {
		query string
		want  []int64
	}{
		{"?first_name=n0", []int64{ids[0], ids[2], ids[4]}},
		{"?first_name=n0&limit=2", []int64{ids[0], ids[2]}},
		{"?first_name=n0&limit=2&offset=2", []int64{ids[4]}},
		{"?page=2&per_page=2", []int64{ids[2], ids[3]}},
		{"?phone=(415)%20555-2603", []int64{ids[3]}},
		{"?phone=%2B14155552603", []int64{ids[3]}},
		{"?contact_id=" + strconv.FormatInt(ids[1], 10), []int64{ids[1]}},
	} {
		if got := list(tc.query); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	e.expect(e.do("GET", "/contacts?no_such_field=1", e.admin, nil), 412).errorBody(t)
	e.expect(e.do("GET", "/contacts?limit=0", e.admin, nil), 412).errorBody(t)
}
