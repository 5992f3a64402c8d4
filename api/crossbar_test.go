package api

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// cbResp is a decoded crossbar answer, success or error.
type cbResp struct {
	Data         json.RawMessage `json:"data"`
	Status       string          `json:"status"`
	Error        string          `json:"error"`
	Message      string          `json:"message"`
	RequestID    string          `json:"request_id"`
	Revision     string          `json:"revision"`
	AuthToken    string          `json:"auth_token"`
	Node         string          `json:"node"`
	Timestamp    string          `json:"timestamp"`
	Version      string          `json:"version"`
	PageSize     *int            `json:"page_size"`
	NextStartKey string          `json:"next_start_key"`
}

// cb sends a crossbar request with X-Auth-Token and checks the envelope:
// the status wanted, "success" or "error" to match, a request id, the
// caller's token echoed.
func (w *world) cb(method, path, token string, body any, want int, headers ...string) cbResp {
	w.t.Helper()
	r := w.do(method, path, "", body, append([]string{"X-Auth-Token", token}, headers...)...)
	if r.Status != want {
		w.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	var out cbResp
	r.json(w.t, &out)
	status := "success"
	if want >= 300 {
		status = "error"
		if out.Error != fmt.Sprint(want) || out.Message == "" {
			w.t.Errorf("%s %s: error envelope %s", method, path, r.Body)
		}
	}
	if out.Status != status || out.RequestID == "" || out.Timestamp == "" || out.Node == "" || (token != "" && want != 401 && out.AuthToken != token) {
		w.t.Errorf("%s %s: envelope %s", method, path, r.Body)
	}
	return out
}

func (r cbResp) into(t testing.TB, dst any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, dst); err != nil {
		t.Fatalf("data %s: %v", r.Data, err)
	}
}

// cbData wraps a request body as crossbar clients send it.
func cbData(fields map[string]any) map[string]any { return map[string]any{"data": fields} }

func (w *world) cbPath(tenant, rest string) string { return "/v2/accounts/" + tenant + rest }

// validationRule reads {field: {rule: {message}}} and returns the field's rule.
func validationRule(t testing.TB, r cbResp, field string) string {
	t.Helper()
	var v map[string]map[string]struct{ Message string }
	r.into(t, &v)
	for rule, m := range v[field] {
		if m.Message == "" {
			t.Errorf("%s.%s has no message: %s", field, rule, r.Data)
		}
		return rule
	}
	t.Fatalf("no rule for %s in %s", field, r.Data)
	return ""
}

// collect reads every page of a crossbar list of page size n.
func (w *world) collect(path, token string, n int) (ids []string, pages int) {
	w.t.Helper()
	key := ""
	for {
		q := url.Values{"page_size": {fmt.Sprint(n)}}
		if key != "" {
			q.Set("start_key", key)
		}
		r := w.cb("GET", path+"?"+q.Encode(), token, nil, 200)
		var rows []struct{ ID string }
		r.into(w.t, &rows)
		if r.PageSize == nil || *r.PageSize != len(rows) || len(rows) > n {
			w.t.Fatalf("page_size %v for %d rows", r.PageSize, len(rows))
		}
		for _, row := range rows {
			ids = append(ids, row.ID)
		}
		pages++
		if r.NextStartKey == "" {
			return ids, pages
		}
		key = r.NextStartKey
		if pages > 100 {
			w.t.Fatal("paging does not end")
		}
	}
}

func TestCrossbarEnvelopeAndAuth(t *testing.T) {
	w := newWorld(t)
	base := w.cbPath(w.tenant, "/centrex")
	// No token, a bad token.
	if r := w.cb("GET", base, "", nil, 401); r.Message != "invalid_credentials" {
		t.Errorf("no token: %+v", r)
	}
	if r := w.cb("GET", base, "nonsense", nil, 401); r.Message != "invalid_credentials" {
		t.Errorf("bad token: %+v", r)
	}
	// Another tenant's account is 403 forbidden, existing or not.
	for _, acct := range []string{w.tenant, "NOSUCHTENANT"} {
		if r := w.cb("GET", w.cbPath(acct, "/centrex"), w.stranger, nil, 403); r.Message != "forbidden" {
			t.Errorf("stranger on %s: %+v", acct, r)
		}
	}
	// The platform admin may act in another tenant; an unknown one is 404.
	w.cb("GET", w.cbPath(w.otherTenant, "/centrex"), w.admin, nil, 200)
	if r := w.cb("GET", w.cbPath("NOSUCHTENANT", "/centrex"), w.admin, nil, 404); r.Message != "bad_identifier" {
		t.Errorf("unknown account: %+v", r)
	}
	// A method the path does not serve.
	if r := w.cb("POST", base, w.admin, cbData(map[string]any{}), 405); r.Message != "invalid_method" {
		t.Errorf("POST /centrex: %+v", r)
	}
	// A path crossbar does not have is 404 in its envelope.
	// (It is answered before authentication: no token is echoed.)
	nr := w.do("GET", w.cbPath(w.tenant, "/nosuch"), w.admin, nil)
	var nf cbResp
	nr.json(t, &nf)
	if nr.Status != 404 || nf.Message != "bad_identifier" || nf.Status != "error" || nf.Error != "404" || nf.RequestID == "" {
		t.Errorf("unknown path: %d %s", nr.Status, nr.Body)
	}
	// A body that is not JSON.
	if r := w.cb("PUT", base, w.admin, "{nope", 400); r.Message != "parse_error" {
		t.Errorf("bad JSON: %+v", r)
	}
	// Authorization: Bearer works as well as X-Auth-Token; an authenticated
	// answer carries the version.
	r := w.do("GET", base, w.admin, nil)
	var env cbResp
	r.json(t, &env)
	if r.Status != 200 || env.Version == "" || env.Status != "success" {
		t.Errorf("bearer: %d %s", r.Status, r.Body)
	}
}

func TestCentrexLifecycle(t *testing.T) {
	w := newWorld(t)
	did := w.createAccount(w.admin, map[string]any{"type": "did", "phone": "+15550100"})
	in := w.createProgram(w.admin, "receivesms", map[string]any{"name": "in", "account_id": did})
	tts := w.createProgram(w.admin, "voicetts", map[string]any{"name": "tts", "text": "hi"})
	base := w.cbPath(w.tenant, "/centrex")

	// Validation in crossbar form: a missing name, a callflow that does not
	// receive, one that does not exist.
	r := w.cb("PUT", base, w.admin, cbData(map[string]any{"callflow_id": in}), 400)
	if r.Message != "validation error" || validationRule(t, r, "name") != "required" {
		t.Errorf("no name: %s", r.Data)
	}
	r = w.cb("PUT", base, w.admin, cbData(map[string]any{"name": "x", "callflow_id": fmt.Sprint(tts)}), 400)
	if validationRule(t, r, "callflow_id") != "pattern" {
		t.Errorf("outbound callflow: %s", r.Data)
	}
	r = w.cb("PUT", base, w.admin, cbData(map[string]any{"name": "x", "callflow_id": "999999"}), 400)
	if validationRule(t, r, "callflow_id") != "not_found" {
		t.Errorf("unknown callflow: %s", r.Data)
	}
	r = w.cb("PUT", base, w.admin, cbData(map[string]any{"name": strings.Repeat("n", 129), "callflow_id": in}), 400)
	if validationRule(t, r, "name") != "maxLength" {
		t.Errorf("long name: %s", r.Data)
	}
	// A plain user may read but not write.
	w.cb("PUT", base, w.bob, cbData(map[string]any{"name": "x", "callflow_id": in}), 403)

	// Create with a chosen id, and without.
	r = w.cb("PUT", base, w.admin, cbData(map[string]any{"id": "main", "name": "centrex_main_service",
		"description": "Centrex main service", "callflow_id": fmt.Sprint(in)}), 201)
	var cx centrexDoc
	r.into(t, &cx)
	if cx.ID != "main" || cx.CallflowID != fmt.Sprint(in) || cx.Name != "centrex_main_service" || r.Revision == "" {
		t.Errorf("created %+v rev %q", cx, r.Revision)
	}
	firstRev := r.Revision
	w.cb("PUT", base, w.admin, cbData(map[string]any{"id": "main", "name": "again", "callflow_id": in}), 409)
	r = w.cb("PUT", base, w.admin, map[string]any{"name": "bare body", "callflow_id": in}, 201)
	var bare centrexDoc
	r.into(t, &bare)
	if len(bare.ID) != 32 {
		t.Errorf("generated id %q", bare.ID)
	}
	w.cb("GET", base+"/main", w.bob, nil, 200)

	// PATCH merges (null clears the description); POST replaces.
	r = w.cb("PATCH", base+"/main", w.admin, cbData(map[string]any{"name": "centrex_main_service_fix", "description": nil}), 200,
		"If-Match", firstRev)
	r.into(t, &cx)
	if cx.Name != "centrex_main_service_fix" || cx.Description != "" || cx.CallflowID != fmt.Sprint(in) {
		t.Errorf("patched %+v", cx)
	}
	// A stale revision is 409 datastore_conflict and changes nothing.
	if r := w.cb("POST", base+"/main", w.admin, cbData(map[string]any{"name": "stale", "callflow_id": in}), 409,
		"If-Match", firstRev); r.Message != "datastore_conflict" {
		t.Errorf("stale: %+v", r)
	}
	r = w.cb("POST", base+"/main", w.admin, cbData(map[string]any{"name": "replaced"}), 400) // POST replaces: callflow_id required
	if validationRule(t, r, "callflow_id") != "required" {
		t.Errorf("replace without callflow: %s", r.Data)
	}
	r = w.cb("GET", base+"/main", w.admin, nil, 200)
	r.into(t, &cx)
	if cx.Name != "centrex_main_service_fix" {
		t.Errorf("a refused write changed %+v", cx)
	}

	// Centrex accounts.
	accts := base + "/main/centrex_accounts"
	r = w.cb("PUT", accts, w.admin, cbData(map[string]any{"user_id": w.bobID, "number_offnet": "not a number"}), 400)
	if validationRule(t, r, "number_offnet") != "pattern" {
		t.Errorf("bad number: %s", r.Data)
	}
	r = w.cb("PUT", accts, w.admin, cbData(map[string]any{"user_id": fmt.Sprint(w.strangerID), "number_offnet": "+14155550101"}), 400)
	if validationRule(t, r, "user_id") != "not_found" {
		t.Errorf("another tenant's user: %s", r.Data)
	}
	r = w.cb("PUT", accts, w.admin, cbData(map[string]any{"id": "acct1", "centrex_id": "ignored", "name": "centrex_account_name_test",
		"user_id": fmt.Sprint(w.bobID), "number_offnet": "(415) 555-0101", "description": "centrex test user account"}), 201)
	var ca centrexAccountDoc
	r.into(t, &ca)
	if ca.CentrexID != "main" || ca.NumberOffnet != "+14155550101" || ca.UserID != fmt.Sprint(w.bobID) {
		t.Errorf("account %+v", ca)
	}
	// E.164 unique in the tenant, whatever its spelling.
	r = w.cb("PUT", accts, w.admin, cbData(map[string]any{"user_id": w.bobID, "number_offnet": "+1 415 555 0101"}), 400)
	if validationRule(t, r, "number_offnet") != "unique" {
		t.Errorf("duplicate number: %s", r.Data)
	}
	// The same number in another tenant is fine (the platform admin writes there).
	otherIn := w.insert("programs", w.otherTenant, w.strangerID, map[string]any{"name": "in", "type": "receivesms",
		"account_id": w.insert("accounts", w.otherTenant, w.strangerID, map[string]any{"type": "did", "phone": "+15550199"})})
	w.cb("PUT", w.cbPath(w.otherTenant, "/centrex"), w.stranger, cbData(map[string]any{"id": "main", "name": "x", "callflow_id": otherIn}), 201)
	w.cb("PUT", w.cbPath(w.otherTenant, "/centrex/main/centrex_accounts"), w.stranger,
		cbData(map[string]any{"user_id": w.strangerID, "number_offnet": "+14155550101"}), 201)
	// The stranger sees none of this tenant's centrex.
	w.cb("GET", accts, w.stranger, nil, 403)
	w.cb("GET", w.cbPath(w.otherTenant, "/centrex/"+bare.ID), w.stranger, nil, 404)

	for i := 2; i <= 5; i++ {
		w.cb("PUT", accts, w.admin, cbData(map[string]any{"id": fmt.Sprintf("acct%d", i), "user_id": w.bobID,
			"number_offnet": fmt.Sprintf("+1415555010%d", i)}), 201)
	}
	// Paging across pages: 5 accounts by 2.
	ids, pages := w.collect(accts, w.admin, 2)
	if strings.Join(ids, ",") != "acct1,acct2,acct3,acct4,acct5" || pages != 3 {
		t.Errorf("pages %d: %v", pages, ids)
	}
	r = w.cb("GET", accts+"?paginate=false", w.admin, nil, 200)
	var rows []centrexAccountRow
	r.into(t, &rows)
	if len(rows) != 5 || rows[0].Key != "main" || rows[0].Value.Number != "+14155550101" || r.NextStartKey != "" {
		t.Errorf("rows %+v", rows)
	}
	w.cb("GET", accts+"?page_size=0", w.admin, nil, 400)
	w.cb("GET", accts+"?start_key=***", w.admin, nil, 400)

	// Update an account: PATCH the number, POST replaces.
	r = w.cb("PATCH", accts+"/acct2", w.admin, cbData(map[string]any{"number_offnet": "+14155550199"}), 200)
	r.into(t, &ca)
	if ca.NumberOffnet != "+14155550199" || ca.UserID != fmt.Sprint(w.bobID) {
		t.Errorf("patched account %+v", ca)
	}
	r = w.cb("POST", accts+"/acct2", w.admin, cbData(map[string]any{"user_id": w.carolID, "number_offnet": "+14155550198",
		"name": "centrex_account_name_test_fix"}), 200)
	r.into(t, &ca)
	if ca.UserID != fmt.Sprint(w.carolID) || ca.Name != "centrex_account_name_test_fix" {
		t.Errorf("replaced account %+v", ca)
	}

	// Soft delete: the answer is the document marked deleted, then 404.
	r = w.cb("DELETE", accts+"/acct1", w.admin, cbData(map[string]any{}), 200)
	var del map[string]any
	r.into(t, &del)
	if ro, _ := del["_read_only"].(map[string]any); ro["deleted"] != true || del["id"] != "acct1" {
		t.Errorf("deleted %s", r.Data)
	}
	if r := w.cb("GET", accts+"/acct1", w.admin, nil, 404); r.Message != "bad_identifier" {
		t.Errorf("after delete: %+v", r)
	} else {
		var d map[string]string
		r.into(t, &d)
		if d["cause"] != "acct1" || d["message"] != "bad identifier" {
			t.Errorf("404 data %v", d)
		}
	}
	// Its number is free again.
	w.cb("PUT", accts, w.admin, cbData(map[string]any{"id": "acct6", "user_id": w.bobID, "number_offnet": "+14155550101"}), 201)
	// DELETE all.
	r = w.cb("DELETE", accts, w.admin, nil, 200)
	var all []centrexAccountDoc
	r.into(t, &all)
	if len(all) != 5 || all[0].ReadOnly == nil || !all[0].ReadOnly.Deleted {
		t.Errorf("deleted all: %s", r.Data)
	}
	ids, _ = w.collect(accts, w.admin, 2)
	if len(ids) != 0 {
		t.Errorf("left after delete all: %v", ids)
	}

	// The centrex list pages too; deleting a centrex hides it and its accounts.
	for i := range 3 {
		w.cb("PUT", base, w.admin, cbData(map[string]any{"id": fmt.Sprintf("z%d", i), "name": "z", "callflow_id": in}), 201)
	}
	ids, pages = w.collect(base, w.admin, 2)
	if len(ids) != 5 || pages != 3 {
		t.Errorf("centrex pages %d: %v", pages, ids)
	}
	w.cb("PUT", accts, w.admin, cbData(map[string]any{"user_id": w.bobID, "number_offnet": "+14155550111"}), 201)
	r = w.cb("DELETE", base+"/main", w.admin, nil, 200)
	r.into(t, &cx)
	if cx.ReadOnly == nil || !cx.ReadOnly.Deleted {
		t.Errorf("deleted centrex %s", r.Data)
	}
	w.cb("GET", base+"/main", w.admin, nil, 404)
	w.cb("PATCH", base+"/main", w.admin, cbData(map[string]any{"name": "x"}), 404)
	w.cb("GET", accts, w.admin, nil, 404)
	ids, _ = w.collect(base, w.admin, 10)
	if strings.Contains(strings.Join(ids, ","), "main") {
		t.Errorf("deleted centrex listed: %v", ids)
	}
}
