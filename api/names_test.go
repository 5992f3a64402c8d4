package api

import (
	"fmt"
	"strings"
	"testing"
)

// badNames carry control characters: CR, LF and the rest of C0, DEL and C1.
var badNames = []string{"Eve\r\nX-Injected: 1", "Eve\nMallory", "Eve\rMallory", "Eve\tMallory", "Eve\x00",
	"Eve\x1b[31m", "Eve\x7f", "Ev\u0085e"}

// refused sends a request that must be a 412 naming field.
func refused(t *testing.T, e *env, method, path, field string, body map[string]any) {
	t.Helper()
	r := e.do(method, path, e.admin, body)
	if r.Status != 412 {
		t.Errorf("%s %s with %s %q: status %d, want 412: %.200s", method, path, field, body[field], r.Status, r.Body)
		return
	}
	if eb := r.errorBody(t); eb.Fields[field] == "" {
		t.Errorf("%s %s with %s %q: fields %v do not name it", method, path, field, body[field], eb.Fields)
	}
}

// Every name field refuses control characters: CR, LF and the rest of C0,
// DEL and C1. Free text (descriptions, addresses) may still hold line breaks.
func TestNamesRefuseControlCharacters(t *testing.T) {
	w := newPBXWorld(t)
	contact := w.createContact(w.admin, map[string]any{"first_name": "Ann", "phone": "4155552600"})
	userID, _ := w.createUser("ursula", nil)
	for _, bad := range badNames {
		for _, tc := range []struct {
			method, path, field string
			body                map[string]any
		}{
			{"POST", "/contacts", "first_name", map[string]any{"first_name": bad, "phone": "4155552601"}},
			{"POST", "/contacts", "last_name", map[string]any{"first_name": "Eve", "last_name": bad, "phone": "4155552601"}},
			{"PUT", contactPath(contact), "first_name", map[string]any{"first_name": bad}},
			{"POST", "/groups", "name", map[string]any{"name": bad}},
			{"POST", "/users", "first_name", map[string]any{"username": "eve", "passwd": "password-eve", "first_name": bad}},
			{"POST", "/users", "last_name", map[string]any{"username": "eve", "passwd": "password-eve", "last_name": bad}},
			{"PUT", fmt.Sprintf("/users/%d", userID), "first_name", map[string]any{"first_name": bad}},
			{"POST", "/users", "username", map[string]any{"username": bad, "passwd": "password-eve"}},
			{"POST", "/programs/voicetts", "name", map[string]any{"name": bad, "text": "Hello."}},
			{"POST", "/accounts", "first_name", map[string]any{"username": "2001", "first_name": bad}},
			{"POST", "/accounts", "username", map[string]any{"username": bad}},
			{"POST", "/providers", "name", mergeBody(fullProvider(), map[string]any{"name": bad})},
		} {
			refused(t, w.env, tc.method, tc.path, tc.field, tc.body)
		}
		// The PBX profiles surface answers validation with its own 400.
		w.pbxRejected("POST", w.pbxPath(w.tenant), w.admin, mergeBody(kazooBody(), map[string]any{"name": bad}), 400, "name")
	}
	// A CSV import refuses the row, naming the field.
	g := w.createGroup(w.admin, "g")
	res := w.importCSV(w.admin, g, "", []byte("phone,first_name,description\n4155552602,\"Eve\nMallory\",fine\n4155552603,Ann,\"two\nlines\"\n"), "text/csv", 200)
	if res.Imported != 1 || res.Failed != 1 || len(res.Errors) != 1 || res.Errors[0].Field != "first_name" {
		t.Errorf("import of a name with a line break: %+v", res)
	}
	// Free text keeps its line breaks.
	w.expect(w.do("POST", "/groups", w.admin, map[string]any{"name": "ok", "description": "two\r\nlines\tand a tab"}), 200)
	if strings.Contains(w.pbxSnapshot(), "Eve") {
		t.Error("a refused PBX profile was stored")
	}
}

func TestMessageNamesRefuseControlCharacters(t *testing.T) {
	e := newMessageEnv(t)
	for _, bad := range badNames {
		refused(t, e.env, "POST", "/messages/texts", "name", map[string]any{"name": bad, "data": "hi"})
		refused(t, e.env, "POST", "/messages/templates", "name", map[string]any{"name": bad, "subject": "s", "body": "b"})
	}
	e.expect(e.do("POST", "/messages/texts", e.admin, map[string]any{"name": "ok", "description": "two\nlines", "data": "hi"}), 200)
}
