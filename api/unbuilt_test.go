package api

import "testing"

// The surfaces no issue has asked for answer a 501 in their own error shape.
func TestUnbuiltSurfacesAnswer501(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path string
		field        string // a field the surface's error body has
	}{

	} {
		r := e.do(tc.method, tc.path, "", nil)
		var body map[string]any
		r.json(t, &body)
		if r.Status != 501 || body[tc.field] == nil {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, r.Status, r.Body)
		}
	}
	// The PBX profiles under /api/v1.0 are served, not swallowed.
	if r := e.do("GET", "/api/v1.0/customers/x/pbxs", e.admin, nil); r.Status == 501 {
		t.Errorf("PBX profiles answered 501: %s", r.Body)
	}
}
