package api

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// crossbarRows is every row of the crossbar tables, to prove a refused
// request changed nothing.
func (w *world) crossbarRows() string {
	w.t.Helper()
	var b strings.Builder
	for _, table := range []string{"centrex", "centrex_accounts", "services", "service_quantities", "service_audit", "service_ledger", "service_balances"} {
		dumpRows(w.t, &b, w.raw, table, `SELECT * FROM `+table)
	}
	return b.String()
}

// TestCrossbarEveryRoute walks every route of seeds 000 and 001 as the
// server declares them (so a route added later is walked too): another
// tenant's token is 403 forbidden on each, and each write with a body
// answers a body that is not JSON, and one whose data is not an object,
// with a 400 in the crossbar error envelope; none of it writes anything.
func TestCrossbarEveryRoute(t *testing.T) {
	w := newWorld(t)
	did := w.createAccount(w.admin, map[string]any{"type": "did", "phone": "+15550100"})
	in := w.createProgram(w.admin, "receivesms", map[string]any{"name": "in", "account_id": did})
	w.cb("PUT", w.cbPath(w.tenant, "/centrex"), w.admin, cbData(map[string]any{"id": "main", "name": "m", "callflow_id": fmt.Sprint(in)}), 201)
	w.cb("PUT", w.cbPath(w.tenant, "/centrex/main/centrex_accounts"), w.admin,
		cbData(map[string]any{"id": "acct1", "user_id": fmt.Sprint(w.bobID), "number_offnet": "+14155550101"}), 201)
	// Reads commit counted quantities: do one first, so the walk starts
	// from what the records say.
	w.cb("GET", w.cbPath(w.tenant, "/services/summary"), w.admin, nil, 200)
	// The setup's writes sync quantities in the background, stamping the
	// services row: let that finish, or it lands in the walk (it did,
	// whenever the walk crossed a second).
	w.srv.quantitiesQuiet(t)
	ids := strings.NewReplacer(":centrex_id", "main", ":centrex_account_id", "acct1", ":plan_id", "nosuchplan",
		":audit_id", "202601-00000000000000000000000000000000", ":source", "quantity")
	specs := append(w.srv.centrexSpecs(), w.srv.servicesSpecs()...)
	if len(specs) < 30 {
		t.Fatalf("%d crossbar routes: the walk lost some", len(specs))
	}
	before := w.crossbarRows()
	for _, sp := range specs {
		path := w.cbPath(w.tenant, ids.Replace(sp.path))
		var body any
		if sp.req != nil {
			body = cbData(map[string]any{})
		}
		if r := w.cb(sp.method, path, w.stranger, body, 403); r.Message != "forbidden" {
			t.Errorf("stranger %s %s: %+v", sp.method, sp.path, r)
		}
		if sp.req == nil || sp.method == "GET" {
			continue
		}
		if r := w.cb(sp.method, path, w.admin, "{nope", 400); r.Message != "parse_error" {
			t.Errorf("%s %s with bad JSON: %+v", sp.method, sp.path, r)
		}
		w.cb(sp.method, path, w.admin, map[string]any{"data": 5}, 400)
	}
	if after := w.crossbarRows(); after != before {
		t.Errorf("refused requests wrote:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// quantitiesQuiet waits until no background quantity sync runs.
func (s *Server) quantitiesQuiet(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.quantities.mu.Lock()
		n := len(s.quantities.running)
		s.quantities.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("background quantity syncs never finished")
		}
		time.Sleep(time.Millisecond)
	}
}
