package api

import (
	"fmt"
	"testing"
)

// TestCreatedByNamesTheKey: what an API key creates on the ICTCore
// surface records and shows the key's CRN as created_by_crn (an API key
// has no user id, so created_by is 0); what a user creates shows its
// user CRN, and rows made before the column existed read as their
// created_by user's.
func TestCreatedByNamesTheKey(t *testing.T) {
	tt := newTwoTenants(t)
	keyCRN := "crn:" + tt.c + ":api-key:SeaTill"
	ownerCRN := "crn:" + tt.c + ":api-key:SeaOwner"
	byKey := func(key string) func(m, p string, b any) resp {
		return func(m, p string, b any) resp { return tt.do(m, p, "", b, "X-Api-Key", key) }
	}
	term, owner := byKey(tt.cTermKey), byKey(tt.cOwnerKey)
	cases := []struct {
		name      string
		do        func(m, p string, b any) resp
		create    string
		body      map[string]any
		idField   string
		item      string
		wantCRN   string
		wantByInt float64
	}{
		{"contact", term, "/contacts", map[string]any{"first_name": "k", "phone": "+12125550199"}, "contact_id", "/contacts/%d", keyCRN, 0},
		{"group", term, "/groups", map[string]any{"name": "kg"}, "group_id", "/groups/%d", keyCRN, 0},
		{"text", term, "/messages/texts", map[string]any{"name": "kt", "data": "hello"}, "text_id", "/messages/texts/%d", keyCRN, 0},
		{"template", term, "/messages/templates", map[string]any{"name": "km", "subject": "s", "body": "b"}, "template_id", "/messages/templates/%d", keyCRN, 0},
		{"user", owner, "/users", map[string]any{"username": "keymade", "passwd": "password-keymade"}, "user_id", "/users/%d", ownerCRN, 0},
		{"dnc list", owner, "/dnc", map[string]any{"name": "keylist"}, "dnc_id", "/dnc/%d", ownerCRN, 0},
	}
	for _, tc := range cases {
		r := tt.expect(tc.do("POST", tc.create, tc.body), 200)
		var out map[string]any
		r.json(t, &out)
		id, _ := out[tc.idField].(float64)
		if id <= 0 {
			t.Fatalf("%s: no %s in %s", tc.name, tc.idField, r.Body)
		}
		var got map[string]any
		tt.expect(tc.do("GET", fmt.Sprintf(tc.item, int64(id)), nil), 200).json(t, &got)
		if got["created_by_crn"] != tc.wantCRN || got["created_by"] != tc.wantByInt {
			t.Errorf("%s: created_by %v created_by_crn %v, want %v %q", tc.name, got["created_by"], got["created_by_crn"], tc.wantByInt, tc.wantCRN)
		}
	}
	// A CSV import by a key: its contacts are the key's too.
	var g struct {
		ID int64 `json:"group_id"`
	}
	tt.expect(term("POST", "/groups", map[string]any{"name": "imported"}), 200).json(t, &g)
	tt.expect(tt.do("POST", fmt.Sprintf("/groups/%d/csv", g.ID), "", "phone\n+12125550177\n", "X-Api-Key", tt.cTermKey, "Content-Type", "text/csv"), 200)
	var imported []map[string]any
	tt.expect(term("GET", fmt.Sprintf("/groups/%d/contacts", g.ID), nil), 200).json(t, &imported)
	if len(imported) != 1 || imported[0]["created_by_crn"] != keyCRN {
		t.Errorf("imported by a key: %v, want one contact by %s", imported, keyCRN)
	}
	// By JWT: the user's CRN.
	id := tt.env.createContact(tt.cAdmin, map[string]any{"first_name": "u", "phone": "+12125550198"})
	var c map[string]any
	tt.expect(tt.do("GET", fmt.Sprintf("/contacts/%d", id), tt.cAdmin, nil), 200).json(t, &c)
	if want := fmt.Sprintf("crn::user:%v", c["created_by"]); c["created_by_crn"] != want || c["created_by"] == float64(0) {
		t.Errorf("by JWT: created_by %v created_by_crn %v, want %s", c["created_by"], c["created_by_crn"], want)
	}
	// A row from before the column (the fixtures insert none) reads as its user's.
	var old map[string]any
	tt.expect(tt.do("GET", fmt.Sprintf("/contacts/%d", tt.bIDs["contact"]), tt.bAdmin, nil), 200).json(t, &old)
	if want := fmt.Sprintf("crn::user:%d", tt.bAdminID); old["created_by_crn"] != want {
		t.Errorf("old row: created_by_crn %v, want %s", old["created_by_crn"], want)
	}
}
