package api

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/esl"
	"github.com/dialerd/dialerd/esl/esltest"
)

// Secrets the PBX tests send; no response may carry them, and the
// database file must not hold them in clear.
const (
	kazooKey     = "ABCDEF-kazoo-api-key-1"
	threeCxKey   = "licenseKey-licenseKey-licenseKey"
	threeCxPass  = "mot de passe mot de passe"
	eslPassword  = "Esl-Secret-77"
	eslPassword2 = "Esl-Secret-88"
)

func pbxSecrets() []string {
	return []string{kazooKey, threeCxKey, threeCxPass, eslPassword, eslPassword2}
}

// pbxNoSecrets fails when a body carries a secret's value, a sealed value
// or a hash. The document's profiles have fields named password, apiKey
// and licenseKey: their value must be the mask (or empty when unset).
func pbxNoSecrets(t testing.TB, body []byte, extra ...string) {
	t.Helper()
	for _, s := range append(append(extra, pbxSecrets()...), "v1:", "$2a$", "$2b$", "ClueCon") {
		if bytes.Contains(body, []byte(s)) {
			t.Errorf("response carries %q: %s", s, body)
		}
	}
	for _, m := range regexp.MustCompile(`"(password|apiKey|licenseKey)":"([^"]*)"`).FindAllSubmatch(body, -1) {
		if v := string(m[2]); v != pbxSecretMask && v != "" {
			t.Errorf("%s answered as %q: %s", m[1], v, body)
		}
	}
}

// pbxWorld is a world whose API runs a real FreeSWITCH gateway.
type pbxWorld struct {
	*world
	gw *esl.Gateway
}

func newPBXWorld(t *testing.T) *pbxWorld {
	t.Helper()
	gw := esl.New(esl.Options{DialTimeout: 2 * time.Second, CommandTimeout: 2 * time.Second, CloseTimeout: time.Second,
		Heartbeat: 200 * time.Millisecond, BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		gw.Close(ctx)
	})
	w := newWorld(t, func(d *Deps) { d.Nodes = gw })
	return &pbxWorld{world: w, gw: gw}
}

func (w *pbxWorld) pbxPath(tenant string, id ...int64) string {
	p := "/api/v1.0/customers/" + tenant + "/pbxs"
	if len(id) > 0 {
		p += "/" + strconv.FormatInt(id[0], 10)
	}
	return p
}

// envelope decodes a success answer, failing unless it is one.
func (w *pbxWorld) envelope(r resp, data any) {
	w.t.Helper()
	pbxNoSecrets(w.t, r.Body)
	var env struct {
		Data      any    `json:"data"`
		Status    string `json:"status"`
		Timestamp string `json:"timestamp"`
	}
	r.json(w.t, &env)
	if env.Status != "success" || env.Data == nil {
		w.t.Fatalf("not a success envelope: %s", r.Body)
	}
	if _, err := time.Parse(pbxTimeFormat, env.Timestamp); err != nil {
		w.t.Errorf("timestamp %q: %v", env.Timestamp, err)
	}
	if data != nil {
		var inner struct {
			Data any `json:"data"`
		}
		inner.Data = data
		r.json(w.t, &inner)
	}
}

// pbxSnapshot is the PBX profiles table, to prove a refusal changed nothing.
func (w *pbxWorld) pbxSnapshot() string {
	w.t.Helper()
	rows, err := w.raw.Query(`SELECT * FROM pbx_profiles ORDER BY pbx_id`)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			w.t.Fatal(err)
		}
		fmt.Fprintf(&b, "%v\n", vals)
	}
	return b.String()
}

// pbxRejected sends a request that must fail with status in the PBX error
// envelope, naming field in its message, and change nothing.
func (w *pbxWorld) pbxRejected(method, path, token string, body any, status int, field string) {
	w.t.Helper()
	before := w.pbxSnapshot()
	r := w.do(method, path, token, body)
	if r.Status != status {
		w.t.Errorf("%s %s: status %d, want %d: %s", method, path, r.Status, status, r.Body)
		return
	}
	pbxNoSecrets(w.t, r.Body)
	var eb pbxErrorBody
	r.json(w.t, &eb)
	if eb.Error != status || eb.Status != "error" || eb.Message == "" {
		w.t.Errorf("%s %s: error envelope %s", method, path, r.Body)
	}
	if _, err := time.Parse(pbxTimeFormat, eb.Timestamp); err != nil {
		w.t.Errorf("%s %s: timestamp %q", method, path, eb.Timestamp)
	}
	if field != "" && !strings.Contains(eb.Message, "'"+field+"'") {
		w.t.Errorf("%s %s: message %q does not name %q", method, path, eb.Message, field)
	}
	if after := w.pbxSnapshot(); after != before {
		w.t.Errorf("%s %s was refused (%d) but changed the store", method, path, status)
	}
}

func kazooBody() map[string]any {
	// The document's example.
	return map[string]any{"name": "Clients Kazoo Pbx", "hostRest": "https://rest.example.com",
		"hostWebsocket": "wss://ws.example.com", "accountId": "12345", "apiKey": kazooKey,
		"_type": "KazooPbxConnectionProfile"}
}

func threeCxBody() map[string]any {
	return map[string]any{"_type": "ThreeCxConnectionProfile", "name": "3CX Connexion", "licenseKey": threeCxKey,
		"username": "user-name", "password": threeCxPass, "enableRecordingArchive": "true",
		"recordingArchiveFrequency": "00:20:00"}
}

func fsBody(s *esltest.Server, enabled bool) map[string]any {
	host, port, _ := net.SplitHostPort(s.Addr())
	p, _ := strconv.Atoi(port)
	return map[string]any{"_type": "FreeSwitchConnectionProfile", "name": "media-1", "host": host, "port": p,
		"password": eslPassword, "sps": 40, "maxSessions": 200, "enabled": enabled}
}

func (w *pbxWorld) create(body map[string]any) (int64, map[string]any) {
	w.t.Helper()
	r := w.expect(w.do("POST", w.pbxPath(w.tenant), w.admin, body), 201)
	var got map[string]any
	w.envelope(r, &got)
	id, err := strconv.ParseInt(fmt.Sprint(got["id"]), 10, 64)
	if err != nil {
		w.t.Fatalf("id %v", got["id"])
	}
	if loc := r.Header.Get("Location"); !strings.HasSuffix(loc, w.pbxPath(w.tenant, id)) || !strings.HasPrefix(loc, "http://") {
		w.t.Errorf("Location %q", loc)
	}
	return id, got
}

func TestPBXProfilesCRUD(t *testing.T) {
	w := newPBXWorld(t)
	kid, k := w.create(kazooBody())
	want := map[string]any{"name": "Clients Kazoo Pbx", "hostRest": "https://rest.example.com", "hostWebsocket": "wss://ws.example.com",
		"accountId": "12345", "apiKey": pbxSecretMask, "_type": "KazooPbxConnectionProfile", "tenantId": w.tenant,
		"countryCode": "US", "enabled": false}
	for f, v := range want {
		if k[f] != v {
			t.Errorf("kazoo %s = %v, want %v", f, k[f], v)
		}
	}
	if _, ok := k["host"]; ok {
		t.Errorf("kazoo answered FreeSWITCH fields: %v", k)
	}
	tid, x := w.create(threeCxBody())
	if x["licenseKey"] != pbxSecretMask || x["password"] != pbxSecretMask || x["enableRecordingArchive"] != true ||
		x["recordingArchiveFrequency"] != "00:20:00" || x["username"] != "user-name" {
		t.Errorf("3cx %v", x)
	}
	_, def := w.create(map[string]any{"_type": "FreeSwitchConnectionProfile", "name": "defaults", "host": "fs.example.com"})
	if def["port"] != float64(8021) || def["sps"] != float64(30) || def["maxSessions"] != float64(1000) ||
		def["password"] != pbxSecretMask || def["enabled"] != false {
		t.Errorf("FreeSWITCH defaults %v", def)
	}

	// List and read.
	var list []map[string]any
	w.envelope(w.expect(w.do("GET", w.pbxPath(w.tenant), w.admin, nil), 200), &list)
	if len(list) != 3 || list[0]["id"] != strconv.FormatInt(kid, 10) {
		t.Errorf("list %v", list)
	}
	w.envelope(w.expect(w.do("GET", w.pbxPath(w.tenant)+"?_type=ThreeCxConnectionProfile", w.admin, nil), 200), &list)
	if len(list) != 1 || list[0]["id"] != strconv.FormatInt(tid, 10) {
		t.Errorf("filtered list %v", list)
	}
	var one map[string]any
	w.envelope(w.expect(w.do("GET", w.pbxPath(w.tenant, tid), w.admin, nil), 200), &one)
	if one["name"] != "3CX Connexion" {
		t.Errorf("get %v", one)
	}

	// PUT with the mask keeps the secret; PATCH changes what it sends.
	one["name"] = "3CX renamed"
	w.envelope(w.expect(w.do("PUT", w.pbxPath(w.tenant, tid), w.admin, one), 200), &one)
	if one["name"] != "3CX renamed" || one["password"] != pbxSecretMask {
		t.Errorf("put %v", one)
	}
	if raw := w.rawSecret(tid, "password_sealed"); raw == "" {
		t.Error("the mask cleared the password")
	}
	before := w.rawSecret(tid, "password_sealed")
	w.envelope(w.expect(w.do("PATCH", w.pbxPath(w.tenant, tid), w.admin, map[string]any{"enableRecordingArchive": false, "password": "new 3cx pass"}), 200), &one)
	if one["enableRecordingArchive"] != false || one["name"] != "3CX renamed" || w.rawSecret(tid, "password_sealed") == before {
		t.Errorf("patch %v", one)
	}
	pbxNoSecrets(t, w.do("GET", w.pbxPath(w.tenant, tid), w.admin, nil).Body, "new 3cx pass")

	// DELETE answers an empty object; the profile is gone.
	var empty map[string]any
	w.envelope(w.expect(w.do("DELETE", w.pbxPath(w.tenant, kid), w.admin, nil), 200), &empty)
	if len(empty) != 0 {
		t.Errorf("delete answered %v", empty)
	}
	w.pbxRejected("GET", w.pbxPath(w.tenant, kid), w.admin, nil, 404, "")
	w.pbxRejected("DELETE", w.pbxPath(w.tenant, kid), w.admin, nil, 404, "")

	// Secrets are not in clear anywhere in the database files.
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(w.db.Path() + suffix)
		if err != nil && suffix == "" {
			t.Fatal(err)
		}
		for _, s := range append(pbxSecrets(), "new 3cx pass") {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("database file%s holds %q in clear", suffix, s)
			}
		}
	}
}

func (w *pbxWorld) rawSecret(id int64, col string) string {
	w.t.Helper()
	var v string
	if err := w.raw.QueryRow(`SELECT `+col+` FROM pbx_profiles WHERE pbx_id = ?`, id).Scan(&v); err != nil {
		w.t.Fatal(err)
	}
	return v
}

func TestPBXProfilesErrors(t *testing.T) {
	w := newPBXWorld(t)
	kid, _ := w.create(kazooBody())
	fid, _ := w.create(map[string]any{"_type": "FreeSwitchConnectionProfile", "name": "fs", "host": "10.0.0.9"})
	base, item := w.pbxPath(w.tenant), w.pbxPath(w.tenant, kid)

	// 401: no token, a bad token, in this surface's envelope.
	for _, tok := range []string{"", "not-a-jwt"} {
		w.pbxRejected("GET", base, tok, nil, 401, "")
		w.pbxRejected("POST", base, tok, kazooBody(), 401, "")
		w.pbxRejected("DELETE", item, tok, nil, 401, "")
	}
	// 400: a malformed tenant id, as the document shows.
	for _, bad := range []string{"abc", w.tenant + "A", "ABCDEFGHIJKLMNOPQRSTU-"} {
		w.pbxRejected("GET", w.pbxPath(bad), w.admin, nil, 400, "tenantId")
		w.pbxRejected("POST", w.pbxPath(bad), w.admin, kazooBody(), 400, "tenantId")
	}
	// 404: another tenant, existing or not (even to the platform admin, who
	// reaches every tenant that exists); an unknown or malformed profile id.
	for _, tc := range []struct{ tenant, token string }{
		{w.tenant, w.stranger}, {"AAAAAAAAAAAAAAAAAAAAAA", w.stranger}, {"AAAAAAAAAAAAAAAAAAAAAA", w.admin},
	} {
		w.pbxRejected("GET", w.pbxPath(tc.tenant), tc.token, nil, 404, "")
		w.pbxRejected("POST", w.pbxPath(tc.tenant), tc.token, kazooBody(), 404, "")
		w.pbxRejected("GET", w.pbxPath(tc.tenant, kid), tc.token, nil, 404, "")
	}
	w.pbxRejected("GET", w.pbxPath(w.otherTenant, kid), w.stranger, nil, 404, "")
	w.pbxRejected("GET", w.pbxPath(w.tenant, kid), w.stranger, nil, 404, "")
	for _, m := range []string{"GET", "PUT", "PATCH", "DELETE"} {
		w.pbxRejected(m, w.pbxPath(w.tenant, 424242), w.admin, map[string]any{"name": "x"}, 404, "")
		w.pbxRejected(m, base+"/x", w.admin, map[string]any{"name": "x"}, 404, "")
	}
	// 403: a plain user has no PBX permission.
	w.pbxRejected("GET", base, w.bob, nil, 403, "")
	w.pbxRejected("POST", base, w.bob, kazooBody(), 403, "")
	// 400: malformed bodies.
	for _, body := range []any{`{"name": "x"} trailing`, `{"name": `, `[]`, ` `, `{"port": "8021", "_type": "FreeSwitchConnectionProfile"}`} {
		w.pbxRejected("POST", base, w.admin, body, 400, "")
	}
	// 400: validation, naming the field.
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"_type": "Asterisk", "name": "x"}, "_type"},
		{map[string]any{"name": "no type"}, "_type"},
		{with(kazooBody(), "name", ""), "name"},
		{with(kazooBody(), "hostRest", "ftp://x"), "hostRest"},
		{with(kazooBody(), "hostWebsocket", "https://x"), "hostWebsocket"},
		{with(kazooBody(), "accountId", "12 345"), "accountId"},
		{with(kazooBody(), "apiKey", nil), "apiKey"},
		{with(kazooBody(), "countryCode", "usa"), "countryCode"},
		{with(threeCxBody(), "recordingArchiveFrequency", "20 minutes"), "recordingArchiveFrequency"},
		{with(threeCxBody(), "licenseKey", nil), "licenseKey"},
		{with(threeCxBody(), "username", "a b"), "username"},
		{with(threeCxBody(), "enableRecordingArchive", "maybe"), "enableRecordingArchive"},
		{map[string]any{"_type": "FreeSwitchConnectionProfile", "name": "f", "host": "fs example"}, "host"},
		{map[string]any{"_type": "FreeSwitchConnectionProfile", "name": "f", "host": "h", "port": 70000}, "port"},
		{map[string]any{"_type": "FreeSwitchConnectionProfile", "name": "f", "host": "h", "sps": 1}, "sps"},
		{map[string]any{"_type": "FreeSwitchConnectionProfile", "name": "f", "host": "h", "maxSessions": 0}, "maxSessions"},
		{map[string]any{"_type": "FreeSwitchConnectionProfile", "name": "f", "host": "h", "password": "a b\nevent all"}, "password"},
	} {
		w.pbxRejected("POST", base, w.admin, tc.body, 400, tc.field)
	}
	w.pbxRejected("PUT", item, w.admin, map[string]any{"_type": "ThreeCxConnectionProfile"}, 400, "_type")
	w.pbxRejected("PATCH", item, w.admin, map[string]any{"hostRest": "nope"}, 400, "hostRest")
	w.pbxRejected("PUT", w.pbxPath(w.tenant, fid), w.admin, map[string]any{"sps": 0}, 400, "sps")
	// 409: a second profile of the same name.
	w.pbxRejected("POST", base, w.admin, kazooBody(), 409, "")
	w.pbxRejected("PATCH", w.pbxPath(w.tenant, fid), w.admin, map[string]any{"name": "clients kazoo pbx"}, 409, "")
}

func with(m map[string]any, k string, v any) map[string]any {
	if v == nil {
		delete(m, k)
	} else {
		m[k] = v
	}
	return m
}

// TestPBXFreeSwitchNodeLifecycle: an enabled FreeSWITCH profile becomes a
// live node at once (the fake FreeSWITCH sees it connect, authenticate and
// subscribe), /readyz reports it, disabling drains it (exit), enabling
// again reconnects, a new password reconnects with it, deleting removes it.
func TestPBXFreeSwitchNodeLifecycle(t *testing.T) {
	w := newPBXWorld(t)
	s := esltest.Start(t, esltest.Options{Password: eslPassword})
	id, got := w.create(fsBody(s, true))
	node := strconv.FormatInt(id, 10)
	if got["enabled"] != true || got["sps"] != float64(40) {
		t.Errorf("created %v", got)
	}
	w.waitFor("the node to connect", func() bool { return w.gw.NodeHealth()[node] == nil && countCmd(s, "event") >= 1 })
	if n := countCmd(s, "auth"); n != 1 {
		t.Errorf("%d auth commands", n)
	}
	if sps, maxSessions := w.gw.NodeLimits(node); sps != 39 || maxSessions != 200 {
		t.Errorf("limits %d %d", sps, maxSessions)
	}
	r := w.expect(w.do("GET", "/readyz", "", nil), 200)
	if !strings.Contains(string(r.Body), `"esl:`+node+`":"ok"`) {
		t.Errorf("readyz %s", r.Body)
	}

	// Disabled: the node drains and says goodbye.
	w.expect(w.do("PATCH", w.pbxPath(w.tenant, id), w.admin, map[string]any{"enabled": false}), 200)
	w.waitFor("exit", func() bool { return countCmd(s, "exit") == 1 })
	if _, ok := w.gw.NodeHealth()[node]; ok {
		t.Error("a disabled node is still live")
	}
	r = w.expect(w.do("GET", "/readyz", "", nil), 200)
	if strings.Contains(string(r.Body), "esl:") {
		t.Errorf("readyz after disabling %s", r.Body)
	}

	// Enabled again, with the secret sent back masked: it reconnects.
	got["enabled"] = true
	got["password"] = pbxSecretMask
	w.expect(w.do("PUT", w.pbxPath(w.tenant, id), w.admin, got), 200)
	w.waitFor("the node to reconnect", func() bool { return w.gw.NodeHealth()[node] == nil && countCmd(s, "auth") == 2 })

	// New limits apply in place, without a new connection.
	w.expect(w.do("PATCH", w.pbxPath(w.tenant, id), w.admin, map[string]any{"sps": 20, "maxSessions": 5}), 200)
	if sps, maxSessions := w.gw.NodeLimits(node); sps != 19 || maxSessions != 5 || countCmd(s, "auth") != 2 {
		t.Errorf("limits %d %d after %d auths", sps, maxSessions, countCmd(s, "auth"))
	}

	// A password FreeSWITCH refuses: the node is down and /readyz says so.
	w.expect(w.do("PATCH", w.pbxPath(w.tenant, id), w.admin, map[string]any{"password": eslPassword2}), 200)
	w.waitFor("the node to be down", func() bool { err, ok := w.gw.NodeHealth()[node]; return ok && err != nil && countCmd(s, "auth") >= 3 })
	r = w.expect(w.do("GET", "/readyz", "", nil), 503)
	if !strings.Contains(string(r.Body), `"esl:`+node+`":"FreeSWITCH node `+node+` is down`) {
		t.Errorf("readyz %s", r.Body)
	}
	pbxNoSecrets(t, r.Body)

	// Deleted: drained and gone.
	w.expect(w.do("DELETE", w.pbxPath(w.tenant, id), w.admin, nil), 200)
	w.waitFor("the node to go", func() bool { _, ok := w.gw.NodeHealth()[node]; return !ok })
	w.expect(w.do("GET", "/readyz", "", nil), 200)
}

func countCmd(s *esltest.Server, name string) int {
	n := 0
	for _, c := range s.Commands() {
		if c.Name == name {
			n++
		}
	}
	return n
}

func (w *pbxWorld) waitFor(what string, ok func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPBXErrorMapping: one mapping from domain codes to this surface.
func TestPBXErrorMapping(t *testing.T) {
	for code, want := range map[dialer.Code]int{
		dialer.CodeInvalid: 400, dialer.CodeUnauthorized: 401, dialer.CodeForbidden: 403, dialer.CodeNotFound: 404,
		dialer.CodeConflict: 409, dialer.CodeNotReady: 503, dialer.CodeTooMany: 429, dialer.CodeNotImpl: 501, dialer.CodeInternal: 500,
	} {
		if got := pbxStatus(code); got != want {
			t.Errorf("%s → %d, want %d", code, got, want)
		}
	}
}
