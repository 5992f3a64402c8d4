package api

import (
	"context"
	"testing"

	"github.com/dialerd/dialerd/dialer"
)

// Secrets the account tests send, which no response may echo.
const (
	extPasswd = "Ext-Passw0rd-1001"
	extPin    = "48213"
)

func (w *world) createAccount(token string, body map[string]any) int64 {
	w.t.Helper()
	r := w.expect(w.do("POST", "/accounts", token, body), 200)
	noSecrets(w.t, r.Body, extPasswd, extPin)
	var out map[string]any
	r.json(w.t, &out)
	id, ok := out["account_id"].(float64)
	if len(out) != 1 || !ok || id <= 0 {
		w.t.Fatalf("create account answered %s", r.Body)
	}
	return int64(id)
}

// account reads an account, checking the body carries no secret.
func (w *world) account(token string, id int64, status int) dialer.Account {
	w.t.Helper()
	r := w.expect(w.do("GET", idPath("/accounts/%d", id), token, nil), status)
	noSecrets(w.t, r.Body, extPasswd, extPin)
	var a dialer.Account
	if status == 200 {
		r.json(w.t, &a)
	}
	return a
}

func TestAccountCRUD(t *testing.T) {
	w := newWorld(t)
	ext := w.createAccount(w.admin, map[string]any{"username": "1001", "passwd": extPasswd, "passwd_pin": 48213,
		"first_name": "Front", "last_name": "Desk", "phone": 1001, "email": "desk@example.com", "address": "Hall"})
	did := w.createAccount(w.admin, map[string]any{"type": "did", "phone": "+923001234567"})
	mail := w.createAccount(w.bob, map[string]any{"type": "email", "email": "bob@example.com", "password": extPasswd})

	a := w.account(w.admin, ext, 200)
	if a.Type != "extension" || a.Username != "1001" || a.Phone != "1001" || a.FirstName != "Front" || a.Active != 1 ||
		a.UserID != nil || len(a.Programs) != 0 || a.CreatedBy != w.adminID || a.ID != ext {
		t.Errorf("extension reads back as %+v", a)
	}
	creds, err := w.db.AccountCredentials(context.Background(), w.tenant, ext)
	if err != nil || creds.Passwd != extPasswd || creds.Pin != extPin {
		t.Errorf("stored credentials %+v, %v", creds, err)
	}
	// "password" is taken for "passwd".
	if creds, _ := w.db.AccountCredentials(context.Background(), w.tenant, mail); creds.Passwd != extPasswd {
		t.Errorf("password alias not stored: %+v", creds)
	}

	// Lists: the admin sees all, bob his own, another tenant nothing.
	for _, tc := range []struct {
		token, query string
		want         []int64
	}{
		{w.admin, "", []int64{ext, did, mail}},
		{w.bob, "", []int64{mail}},
		{w.carol, "", nil},
		{w.stranger, "", nil},
		{w.admin, "?type=did", []int64{did}},
		{w.admin, "?phone=%2B923001234567", []int64{did}},
		{w.admin, "?limit=2", []int64{ext, did}},
		{w.admin, "?page=2&per_page=2", []int64{mail}},
	} {
		r := w.expect(w.do("GET", "/accounts"+tc.query, tc.token, nil), 200)
		noSecrets(t, r.Body, extPasswd, extPin)
		var list []dialer.Account
		r.json(t, &list)
		if len(list) != len(tc.want) {
			t.Errorf("GET /accounts%s: %d accounts, want %v", tc.query, len(list), tc.want)
			continue
		}
		for i := range list {
			if list[i].ID != tc.want[i] {
				t.Errorf("GET /accounts%s: %+v, want %v", tc.query, list, tc.want)
				break
			}
		}
	}
	w.rejected("GET", "/accounts?passwd_sealed=x", w.admin, nil, 412, "passwd_sealed")

	// Update: partial, validated, answers the account; secrets replaced
	// when sent, kept when not.
	r := w.expect(w.do("PUT", idPath("/accounts/%d", ext), w.admin, map[string]any{"first_name": "Back", "passwd": "Another-Passw0rd"}), 200)
	noSecrets(t, r.Body, extPasswd, extPin, "Another-Passw0rd")
	r.json(t, &a)
	if a.FirstName != "Back" || a.LastName != "Desk" || a.Username != "1001" {
		t.Errorf("update answered %+v", a)
	}
	if creds, _ := w.db.AccountCredentials(context.Background(), w.tenant, ext); creds.Passwd != "Another-Passw0rd" || creds.Pin != extPin {
		t.Errorf("after update: %+v", creds)
	}
	// Sending back what was read (with ids and dates) changes nothing else.
	w.expect(w.do("PUT", idPath("/accounts/%d", ext), w.admin, a), 200)

	path := idPath("/accounts/%d", ext)
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"type": "fax"}, "type"},
		{map[string]any{"username": "a b"}, "username"},
		{map[string]any{"username": ""}, "username"},
		{map[string]any{"email": "not-an-address"}, "email"},
		{map[string]any{"phone": "12-34"}, "phone"},
		{map[string]any{"passwd": "short"}, "passwd"},
		{map[string]any{"passwd_pin": "12ab"}, "passwd_pin"},
		{map[string]any{"active": 2}, "active"},
		{map[string]any{"first_name": 7}, "first_name"},
		{map[string]any{"type": "did"}, "phone"}, // a DID needs an E.164 number
	} {
		w.rejected("PUT", path, w.admin, tc.body, 412, tc.field)
		w.rejected("POST", "/accounts", w.admin, mergeBody(map[string]any{"username": "2001"}, tc.body), 412, tc.field)
	}
	w.rejected("POST", "/accounts", w.admin, map[string]any{"type": "did", "phone": 923001234568}, 412, "phone")
	w.rejected("POST", "/accounts", w.admin, map[string]any{"type": "email"}, 412, "email")
	w.rejected("POST", "/accounts", w.admin, map[string]any{"type": "did", "phone": "+923001234567"}, 409, "")
	w.rejected("POST", "/accounts", w.admin, map[string]any{"username": "1001"}, 409, "")
	w.rejected("PUT", idPath("/accounts/%d", did), w.admin, map[string]any{"type": "extension", "username": "1001"}, 409, "")
	w.rejected("POST", "/accounts", w.admin, "", 400, "")

	// Ownership: bob may not touch the admin's account; another tenant
	// does not see it; a missing one is not found.
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"GET", path, nil},
		{"PUT", path, map[string]any{"first_name": "Hacked"}},
		{"DELETE", path, nil},
	} {
		w.rejected(tc.method, tc.path, w.bob, tc.body, 403, "")
		w.rejected(tc.method, tc.path, w.stranger, tc.body, 404, "")
		w.rejected(tc.method, "/accounts/424242", w.admin, tc.body, 404, "")
	}
	w.rejected("POST", "/accounts", "", map[string]any{"username": "3001"}, 401, "")

	var out map[string]any
	w.expect(w.do("DELETE", path, w.admin, nil), 200).json(t, &out)
	if len(out) != 0 {
		t.Errorf("delete answered %v", out)
	}
	w.account(w.admin, ext, 404)
	w.expect(w.do("DELETE", idPath("/accounts/%d", mail), w.bob, nil), 200)
}

func mergeBody(base, extra map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func TestAccountSubscriptionsAndOwnership(t *testing.T) {
	w := newWorld(t)
	acc := w.createAccount(w.admin, map[string]any{"type": "did", "phone": "+15550100", "passwd": extPasswd})
	bobAcc := w.createAccount(w.bob, map[string]any{"username": "2001", "passwd_pin": extPin})
	strangerAcc := w.createAccount(w.stranger, map[string]any{"username": "9001"})
	in := w.createProgram(w.admin, "receivesms", map[string]any{"name": "in", "account_id": acc})
	tts := w.createProgram(w.admin, "voicetts", map[string]any{"name": "tts", "text": "hi"})
	bobTTS := w.createProgram(w.bob, "voicetts", map[string]any{"name": "bob tts", "text": "hi"})

	subscribe := func(method, path, token string, want []int64) {
		t.Helper()
		r := w.expect(w.do(method, path, token, nil), 200)
		noSecrets(t, r.Body, extPasswd, extPin)
		var a dialer.Account
		r.json(t, &a)
		if len(a.Programs) != len(want) {
			t.Fatalf("%s %s: programs %v, want %v", method, path, a.Programs, want)
		}
		for i := range want {
			if a.Programs[i] != want[i] {
				t.Fatalf("%s %s: programs %v, want %v", method, path, a.Programs, want)
			}
		}
	}
	subscribe("PUT", idPath("/accounts/%d/programs/%d", acc, tts), w.admin, []int64{tts})
	subscribe("PUT", idPath("/accounts/%d/programs/%d", acc, in), w.admin, []int64{in, tts})
	subscribe("PUT", idPath("/accounts/%d/programs/%d", acc, in), w.admin, []int64{in, tts})
	subscribe("DELETE", idPath("/accounts/%d/programs/%d", acc, tts), w.admin, []int64{in})
	subscribe("PUT", idPath("/accounts/%d/programs/%d", acc, bobTTS), w.admin, []int64{in, bobTTS})
	subscribe("DELETE", idPath("/accounts/%d/programs", acc), w.admin, nil)
	subscribe("PUT", idPath("/accounts/%d/programs/%d", bobAcc, bobTTS), w.bob, []int64{bobTTS})

	for _, m := range []string{"PUT", "DELETE"} {
		w.rejected(m, idPath("/accounts/%d/programs/%d", bobAcc, tts), w.bob, nil, 403, "")   // the admin's program
		w.rejected(m, idPath("/accounts/%d/programs/%d", acc, bobTTS), w.bob, nil, 403, "")   // the admin's account
		w.rejected(m, idPath("/accounts/%d/programs/%d", acc, tts), w.stranger, nil, 404, "") // another tenant's
		w.rejected(m, idPath("/accounts/%d/programs/%d", strangerAcc, tts), w.stranger, nil, 404, "")
		w.rejected(m, idPath("/accounts/%d/programs/424242", acc), w.admin, nil, 404, "")
		w.rejected(m, idPath("/accounts/424242/programs/%d", tts), w.admin, nil, 404, "")
	}
	w.rejected("DELETE", idPath("/accounts/%d/programs", bobAcc), w.carol, nil, 403, "")
	w.rejected("DELETE", idPath("/accounts/%d/programs", bobAcc), w.stranger, nil, 404, "")
	w.rejected("DELETE", "/accounts/424242/programs", w.admin, nil, 404, "")

	// The program receives for the account: the account cannot go.
	w.rejected("DELETE", idPath("/accounts/%d", acc), w.admin, nil, 409, "")
	// A deleted program leaves the subscriptions.
	w.expect(w.do("DELETE", idPath("/programs/%d", bobTTS), w.bob, nil), 200)
	if a := w.account(w.bob, bobAcc, 200); len(a.Programs) != 0 {
		t.Errorf("subscription outlived its program: %v", a.Programs)
	}

	// Ownership: the admin gives the DID to bob, who then sees and uses it.
	r := w.expect(w.do("PUT", idPath("/accounts/%d/users/%d", acc, w.bobID), w.admin, nil), 200)
	noSecrets(t, r.Body, extPasswd)
	var a dialer.Account
	r.json(t, &a)
	if a.UserID == nil || *a.UserID != w.bobID {
		t.Fatalf("assigned account %+v", a)
	}
	w.account(w.bob, acc, 200)
	w.account(w.carol, acc, 403)
	w.expect(w.do("PUT", idPath("/accounts/%d/settings/forward", acc), w.bob, map[string]string{"value": "+15550111"}), 200)
	// Bob may not hand it to the admin (a user he did not create), nor
	// to a user of another tenant; carol may not take it.
	w.rejected("PUT", idPath("/accounts/%d/users/%d", acc, w.adminID), w.bob, nil, 403, "")
	w.rejected("PUT", idPath("/accounts/%d/users/%d", acc, w.strangerID), w.admin, nil, 404, "")
	w.rejected("PUT", idPath("/accounts/%d/users/%d", acc, w.carolID), w.carol, nil, 403, "")
	w.rejected("PUT", idPath("/accounts/%d/users/%d", acc, w.strangerID), w.stranger, nil, 404, "")
	w.rejected("PUT", idPath("/accounts/%d/users/424242", acc), w.admin, nil, 404, "")
	w.rejected("PUT", idPath("/accounts/424242/users/%d", w.bobID), w.admin, nil, 404, "")
	w.rejected("DELETE", idPath("/accounts/%d/users", acc), w.carol, nil, 403, "")
	w.rejected("DELETE", idPath("/accounts/%d/users", acc), w.stranger, nil, 404, "")
	w.rejected("DELETE", "/accounts/424242/users", w.admin, nil, 404, "")

	// Bob frees it: the answer shows it free, and bob no longer sees it.
	r = w.expect(w.do("DELETE", idPath("/accounts/%d/users", acc), w.bob, nil), 200)
	noSecrets(t, r.Body, extPasswd)
	a = dialer.Account{}
	r.json(t, &a)
	if a.UserID != nil || a.ID != acc {
		t.Errorf("freed account answered %+v", a)
	}
	w.account(w.bob, acc, 403)
	if a := w.account(w.admin, acc, 200); a.UserID != nil {
		t.Errorf("freed account reads %+v", a)
	}
}

func TestAccountSettings(t *testing.T) {
	w := newWorld(t)
	acc := w.createAccount(w.admin, map[string]any{"username": "1001", "passwd": extPasswd})
	path := idPath("/accounts/%d/settings/", acc)
	var got accountSetting
	w.expect(w.do("PUT", path+"voicemail.greeting", w.admin, map[string]string{"value": "Hello, leave a message"}), 200).json(t, &got)
	if got.Value != "Hello, leave a message" {
		t.Errorf("PUT answered %+v", got)
	}
	got = accountSetting{}
	w.expect(w.do("GET", path+"voicemail.greeting", w.admin, nil), 200).json(t, &got)
	if got.Value != "Hello, leave a message" {
		t.Errorf("GET answered %+v", got)
	}
	w.expect(w.do("PUT", path+"voicemail.greeting", w.admin, map[string]string{"value": ""}), 200)
	got = accountSetting{Value: "stale"}
	w.expect(w.do("GET", path+"voicemail.greeting", w.admin, nil), 200).json(t, &got)
	if got.Value != "" {
		t.Errorf("replaced setting reads %+v", got)
	}

	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"Bad.Name", map[string]string{"value": "x"}, "name"},
		{"ok", map[string]any{"value": 5}, "value"},
		{"ok", map[string]any{}, "value"},
		{"ok", map[string]any{"value": "a\nb"}, "value"},
	} {
		w.rejected("PUT", path+tc.name, w.admin, tc.body, 412, tc.field)
	}
	w.rejected("PUT", path+"ok", w.admin, `{"value":`, 400, "")
	w.rejected("GET", path+"missing", w.admin, nil, 404, "")
	w.rejected("GET", path+"Bad%20Name", w.admin, nil, 404, "")
	w.rejected("DELETE", path+"missing", w.admin, nil, 404, "")
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		body := map[string]string{"value": "x"}
		w.rejected(m, path+"voicemail.greeting", w.bob, body, 403, "")
		w.rejected(m, path+"voicemail.greeting", w.stranger, body, 404, "")
		w.rejected(m, "/accounts/424242/settings/voicemail.greeting", w.admin, body, 404, "")
	}
	var out map[string]any
	w.expect(w.do("DELETE", path+"voicemail.greeting", w.admin, nil), 200).json(t, &out)
	if len(out) != 0 {
		t.Errorf("delete answered %v", out)
	}
	w.rejected("GET", path+"voicemail.greeting", w.admin, nil, 404, "")
}
