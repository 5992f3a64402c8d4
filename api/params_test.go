package api

import (
	"testing"
)

// Page parameters are bounded: a page far past any list is refused, never
// wrapped round to an offset that answers the first page.
func TestPageParamsBounded(t *testing.T) {
	e := newEnv(t)
	e.createContact(e.admin, map[string]any{"first_name": "Ann", "phone": "4155552600"})
	for _, tc := range []struct{ query, field string }{
		{"page=9223372036854775807", "page"},
		{"page=9223372036854775807&per_page=1000", "page"},
		{"page=4611686018427387905&per_page=2", "page"},
		{"page=99999999999999999999", "page"},
		{"page=2&per_page=1001", "per_page"},
		{"offset=9223372036854775807", "offset"},
		{"offset=1000000001", "offset"},
		{"limit=9223372036854775807", "limit"},
		{"limit=0", "limit"},
		{"offset=-1", "offset"},
		{"page=0", "page"},
	} {
		for _, path := range []string{"/contacts", "/users", "/groups"} {
			r := e.do("GET", path+"?"+tc.query, e.admin, nil)
			if r.Status != 412 {
				t.Errorf("%s?%s: status %d, want 412: %.200s", path, tc.query, r.Status, r.Body)
				continue
			}
			if eb := r.errorBody(t); eb.Fields[tc.field] == "" {
				t.Errorf("%s?%s: fields %v do not name %s", path, tc.query, eb.Fields, tc.field)
			}
		}
	}
	for _, q := range []string{"page=1000001&per_page=1000", "offset=1000000000", "page=2&per_page=1000"} {
		var list []map[string]any
		e.expect(e.do("GET", "/contacts?"+q, e.admin, nil), 200).json(t, &list)
		if len(list) != 0 {
			t.Errorf("?%s: %d contacts on a page past the end", q, len(list))
		}
	}
}
