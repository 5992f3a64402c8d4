package api

import (
	"fmt"
	"strings"
	"testing"
)

// The plan's contacts limit holds for a CSV import as for one contact:
// rows beyond it are refused on their lines with a summary, nothing is
// written beyond it, and an atomic import beyond it writes nothing (403 in
// the ICTCore shape, each refused line a field).
func TestImportWithinPlanContactsLimit(t *testing.T) {
	w := newServicesWorld(t)
	e := w.env
	sv := w.cbPath(w.tenant, "/services")
	w.cb("POST", sv+"/overrides", w.admin, cbData(map[string]any{"limits": map[string]any{"contacts": map[string]any{"value": 3}}}), 200)
	g := e.createGroup(e.admin, "imported")
	rows := func(from, n int) []byte {
		var b strings.Builder
		b.WriteString("first_name,phone\n")
		for i := range n {
			fmt.Fprintf(&b, "c%d,+1415555%04d\n", from+i, from+i)
		}
		return []byte(b.String())
	}
	res := e.importCSV(e.admin, g, "", rows(0, 5), "text/csv", 200)
	if res.Imported != 3 || res.Failed != 2 || res.OverLimit != 2 || len(res.Errors) != 2 || res.Errors[0].Line != 5 ||
		!strings.Contains(res.Limit, "allows 3 contacts") {
		t.Errorf("import beyond the limit: %+v", res)
	}
	if n := w.count(`SELECT COUNT(*) FROM contacts WHERE tenant_id = ?`, w.tenant); n != 3 {
		t.Errorf("%d contacts, the plan allows 3", n)
	}
	// Existing numbers still link at the limit; a new one is refused.
	res = e.importCSV(e.admin, g, "", rows(1, 2), "text/csv", 200)
	if res.Imported != 0 || res.Existing != 2 || res.Failed != 0 {
		t.Errorf("existing rows at the limit: %+v", res)
	}
	r := e.do("POST", groupPath(g)+"/csv?atomic=true", e.admin, rows(2, 3), "Content-Type", "text/csv")
	body := r.errorBody(t)
	if r.Status != 403 || !strings.Contains(body.Message, "nothing was imported") || body.Fields["line 4: phone"] == "" {
		t.Errorf("atomic import beyond the limit: %d %s", r.Status, r.Body)
	}
	if n := w.count(`SELECT COUNT(*) FROM contacts WHERE tenant_id = ?`, w.tenant); n != 3 {
		t.Errorf("%d contacts after a refused atomic import", n)
	}
	// The one-contact create answers the same limit.
	if r := e.do("POST", "/contacts", e.admin, map[string]any{"first_name": "d", "phone": "+14155559999"}); r.Status != 403 {
		t.Errorf("one contact beyond the limit: %d %s", r.Status, r.Body)
	}
}

func (w *world) count(query string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.raw.QueryRow(query, args...).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}
