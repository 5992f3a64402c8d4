package api

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

func TestGroupLifecycle(t *testing.T) {
	e := newEnv(t)
	id := e.createGroup(e.admin, " Customers ")
	var g map[string]any
	e.expect(e.do("GET", groupPath(id), e.admin, nil), 200).json(t, &g)
	if g["id"] != float64(id) || g["group_id"] != float64(id) || g["name"] != "Customers" || g["contact_total"] != float64(0) {
		t.Fatalf("group = %v", g)
	}
	e.expect(e.do("PUT", groupPath(id), e.admin, map[string]any{"description": "the good ones", "id": 99}), 200).json(t, &g)
	if g["id"] != float64(id) || g["name"] != "Customers" || g["description"] != "the good ones" {
		t.Fatalf("updated group = %v", g)
	}
	c := e.createContact(e.admin, map[string]any{"first_name": "A", "phone": "4155552671"})
	e.expect(e.do("PUT", contactPath(c)+"/link/"+strconv.FormatInt(id, 10), e.admin, nil), 200)
	var list []map[string]any
	e.expect(e.do("GET", "/groups", e.admin, nil), 200).json(t, &list)
	if len(list) != 1 || list[0]["contact_total"] != float64(1) || list[0]["id"] != float64(id) {
		t.Fatalf("groups = %v", list)
	}
	e.expect(e.do("GET", "/groups?name=Customers", e.admin, nil), 200).json(t, &list)
	if len(list) != 1 {
		t.Fatalf("search by name: %v", list)
	}
	if eb := e.expect(e.do("GET", "/groups?colour=red", e.admin, nil), 412).errorBody(t); eb.Fields["colour"] == "" {
		t.Errorf("search by an unknown field: %+v", eb)
	}

	// Deleting a group keeps its contacts.
	var empty map[string]any
	e.expect(e.do("DELETE", groupPath(id), e.admin, nil), 200).json(t, &empty)
	if len(empty) != 0 {
		t.Errorf("DELETE answered %v", empty)
	}
	e.expect(e.do("GET", groupPath(id), e.admin, nil), 404).errorBody(t)
	e.expect(e.do("GET", contactPath(c), e.admin, nil), 200)
}

func TestGroupValidation(t *testing.T) {
	e := newEnv(t)
	id := e.createGroup(e.admin, "g")
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   any
		field  string
	}{
		{"no name", "POST", "/groups", map[string]any{"description": "x"}, "name"},
		{"blank name", "POST", "/groups", map[string]any{"name": " "}, "name"},
		{"blank name on update", "PUT", groupPath(id), map[string]any{"name": ""}, "name"},
		{"long name", "POST", "/groups", map[string]any{"name": strings.Repeat("n", 256)}, "name"},
		{"wrong type", "PUT", groupPath(id), map[string]any{"description": 5}, "description"},
	} {
		before := e.snapshot()
		r := e.expect(e.do(tc.method, tc.path, e.admin, tc.body), 412)
		if eb := r.errorBody(t); eb.Fields[tc.field] == "" {
			t.Errorf("%s: fields %v do not name %s", tc.name, eb.Fields, tc.field)
		}
		if e.snapshot() != before {
			t.Errorf("%s: a rejected request changed the store", tc.name)
		}
	}
}

func TestGroupAccess(t *testing.T) {
	e := newEnv(t)
	_, alice := e.createUser("alice", nil)
	_, bob := e.createUser("bob", nil)
	other := e.otherTenantAdmin("zed")
	ga := e.createGroup(alice, "alice's")
	e.createGroup(bob, "bob's")
	p := groupPath(ga)
	before := e.snapshot(other)
	routes := []struct {
		method, path string
		body         any
	}{
		{"GET", p, nil}, {"PUT", p, map[string]any{"name": "x"}}, {"DELETE", p, nil},
		{"GET", p + "/contacts", nil}, {"GET", p + "/csv", nil}, {"POST", p + "/csv", "phone\n4155552671\n"},
	}
	for _, tc := range []struct {
		token  string
		status int
	}{{bob, 403}, {other, 404}} {
		for _, req := range routes {
			r := e.do(req.method, req.path, tc.token, req.body, "Content-Type", "text/csv")
			if r.Status != tc.status {
				t.Errorf("%s %s: status %d, want %d: %s", req.method, req.path, r.Status, tc.status, r.Body)
				continue
			}
			r.errorBody(t)
		}
	}
	for _, req := range routes {
		path := strings.Replace(req.path, p, "/groups/999", 1)
		e.expect(e.do(req.method, path, e.admin, req.body, "Content-Type", "text/csv"), 404).errorBody(t)
	}
	if e.snapshot(other) != before {
		t.Errorf("a rejected request changed the store")
	}
	for _, tc := range []struct {
		token string
		want  int
	}{{alice, 1}, {bob, 1}, {e.admin, 2}, {other, 0}} {
		var list []map[string]any
		e.expect(e.do("GET", "/groups", tc.token, nil), 200).json(t, &list)
		if len(list) != tc.want {
			t.Errorf("list has %d groups, want %d: %v", len(list), tc.want, list)
		}
	}
}

func TestGroupUsedByCampaignStays(t *testing.T) {
	e := newEnv(t)
	g := e.createGroup(e.admin, "g")
	raw := e.rawDB()
	var tenant string
	if err := raw.QueryRow(`SELECT tenant_id FROM groups WHERE group_id = ?`, g).Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	prog := exec(t, raw, `INSERT INTO programs (tenant_id, created_by, name, type, created_at, updated_at) VALUES (?, 1, 'p', 'voicemessage', ?, ?)`, tenant, now, now)
	exec(t, raw, `INSERT INTO campaigns (tenant_id, created_by, program_id, group_id, created_at, updated_at) VALUES (?, 1, ?, ?, ?, ?)`, tenant, prog, g, now, now)
	before := e.snapshot()
	r := e.expect(e.do("DELETE", groupPath(g), e.admin, nil), 409)
	if msg := r.errorBody(t).Message; !strings.Contains(msg, "campaign") {
		t.Errorf("conflict message %q does not say why", msg)
	}
	if e.snapshot() != before {
		t.Errorf("a refused delete changed the store")
	}
}

// groupContactIDs lists a group's contact ids through the API.
func (e *env) groupContactIDs(token string, g int64, query string) []int64 {
	e.t.Helper()
	var out []struct {
		ContactID int64 `json:"contact_id"`
	}
	e.expect(e.do("GET", groupPath(g)+"/contacts"+query, token, nil), 200).json(e.t, &out)
	ids := []int64{}
	for _, c := range out {
		ids = append(ids, c.ContactID)
	}
	return ids
}

func TestGroupContactsPaginated(t *testing.T) {
	e := newEnv(t)
	g := e.createGroup(e.admin, "g")
	other := e.createGroup(e.admin, "other")
	var ids []int64
	for i := range 5 {
		id := e.createContact(e.admin, map[string]any{"first_name": fmt.Sprint("n", i%2), "phone": fmt.Sprintf("415555%04d", 2600+i)})
		ids = append(ids, id)
		// Linked in reverse for the first group: order is by id, not by link.
		e.expect(e.do("PUT", contactPath(id)+"/link/"+strconv.FormatInt(other, 10), e.admin, nil), 200)
	}
	for i := len(ids) - 1; i >= 0; i-- {
		if i == 2 {
			continue // not a member
		}
		e.expect(e.do("PUT", contactPath(ids[i])+"/link/"+strconv.FormatInt(g, 10), e.admin, nil), 200)
	}
	for _, tc := range []struct {
		query string
		want  []int64
	}{
		{"", []int64{ids[0], ids[1], ids[3], ids[4]}},
		{"?limit=2", []int64{ids[0], ids[1]}},
		{"?limit=2&offset=2", []int64{ids[3], ids[4]}},
		{"?page=3&per_page=2", []int64{}},
		{"?first_name=n0", []int64{ids[0], ids[4]}},
		{"?phone=415-555-2603", []int64{ids[3]}},
		{"?phone=415-555-2602", []int64{}},
	} {
		if got := e.groupContactIDs(e.admin, g, tc.query); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%q: %v, want %v", tc.query, got, tc.want)
		}
	}
	e.expect(e.do("GET", groupPath(g)+"/contacts?bogus=1", e.admin, nil), 412).errorBody(t)
}

func TestGroupSampleCSV(t *testing.T) {
	e := newEnv(t)
	r := e.expect(e.do("GET", "/groups/sample/csv", e.admin, nil), 200)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type %q", ct)
	}
	recs, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil || len(recs) != 3 || strings.Join(recs[0], ",") != strings.Join(dialer.ContactCSVColumns(), ",") {
		t.Fatalf("sample = %q (%v)", r.Body, err)
	}
	// The sample is a file the import takes whole.
	g := e.createGroup(e.admin, "g")
	res := e.importCSV(e.admin, g, "", r.Body, "text/csv", 200)
	if res.Imported != 2 || res.Failed != 0 {
		t.Fatalf("importing the sample: %+v", res)
	}
}

// importCSV posts body to the group's import and decodes the answer.
func (e *env) importCSV(token string, g int64, query string, body []byte, contentType string, status int) dialer.ImportResult {
	e.t.Helper()
	r := e.expect(e.do("POST", groupPath(g)+"/csv"+query, token, body, "Content-Type", contentType), status)
	var res dialer.ImportResult
	if status == 200 {
		r.json(e.t, &res)
	}
	return res
}

// exportCSV downloads the group's CSV and parses it.
func (e *env) exportCSV(token string, g int64) [][]string {
	e.t.Helper()
	r := e.expect(e.do("GET", groupPath(g)+"/csv", token, nil), 200)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		e.t.Errorf("export Content-Type %q", ct)
	}
	recs, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil {
		e.t.Fatalf("export is not CSV: %v\n%s", err, r.Body)
	}
	return recs
}

func multipartBody(t testing.TB, fields map[string]string, file []byte) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if file != nil {
		fw, err := w.CreateFormFile("file", "contacts.csv")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(file)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), w.FormDataContentType()
}

func TestImportCSV(t *testing.T) {
	const file = "\ufeffFirst Name,last_name,PHONE,email,Address,custom1,custom2,custom3,description,timezone,company\r\n" +
		"Jane,Doe,(415) 555-2671,jane@example.com,\"1 Main St, Apt 2\",a,b,c,\"two\r\nlines\",America/New_York,ACME\r\n" +
		"Bad,Phone,not a number,,,,,,,,\r\n" +
		"\"Quote \"\"Q\"\"\",Smith,+44 20 7946 0018,,,,,,,Europe/London\r\n" +
		"Bad,Many,12,nobody,,,,,,Mars/Base,\r\n" +
		"Short,Row,4155552672\r\n"
	for _, tc := range []struct {
		name        string
		body        func(t *testing.T) ([]byte, string)
		contentType string
	}{
		{"text/csv", func(*testing.T) ([]byte, string) { return []byte(file), "text/csv; charset=utf-8" }, ""},
		{"no content type", func(*testing.T) ([]byte, string) { return []byte(file), "" }, ""},
		{"multipart", func(t *testing.T) ([]byte, string) {
			return multipartBody(t, map[string]string{"note": "ignored"}, []byte(file))
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			g := e.createGroup(e.admin, "g")
			body, ct := tc.body(t)
			res := e.importCSV(e.admin, g, "", body, ct, 200)
			if res.Imported != 3 || res.Failed != 2 || res.Existing != 0 || res.ErrorsOmitted != 0 {
				t.Fatalf("result %+v", res)
			}
			// Errors name the line (the header is line 1; a quoted line
			// break makes a record span two lines) and the field.
			want := []dialer.ImportError{{Line: 4, Field: "phone"}, {Line: 6, Field: "phone"}, {Line: 6, Field: "email"}, {Line: 6, Field: "timezone"}}
			if len(res.Errors) != len(want) {
				t.Fatalf("errors %+v, want %+v", res.Errors, want)
			}
			for _, w := range want {
				found := false
				for _, got := range res.Errors {
					found = found || (got.Line == w.Line && got.Field == w.Field && got.Reason != "")
				}
				if !found {
					t.Errorf("no error for line %d field %s in %+v", w.Line, w.Field, res.Errors)
				}
			}
			if fmt.Sprint(res.IgnoredColumns) != "[company]" {
				t.Errorf("ignored columns %v", res.IgnoredColumns)
			}
			recs := e.exportCSV(e.admin, g)
			wantRecs := [][]string{
				dialer.ContactCSVColumns(),
				{"Jane", "Doe", "'+14155552671", "jane@example.com", "1 Main St, Apt 2", "a", "b", "c", "two\nlines", "America/New_York"},
				{`Quote "Q"`, "Smith", "'+442079460018", "", "", "", "", "", "", "Europe/London"},
				{"Short", "Row", "'+14155552672", "", "", "", "", "", "", ""},
			}
			if fmt.Sprintf("%q", recs) != fmt.Sprintf("%q", wantRecs) {
				t.Errorf("export\n%q\nwant\n%q", recs, wantRecs)
			}
			// Imported contacts belong to the importer and the tenant.
			var list []map[string]any
			e.expect(e.do("GET", "/contacts", e.admin, nil), 200).json(t, &list)
			if len(list) != 3 || list[0]["created_by"] != float64(1) {
				t.Errorf("contacts %v", list)
			}
		})
	}
}

func TestImportReusesContactsByPhone(t *testing.T) {
	e := newEnv(t)
	_, alice := e.createUser("alice", nil)
	g := e.createGroup(alice, "g")
	existing := e.createContact(e.admin, map[string]any{"first_name": "Old", "phone": "+14155552671"})
	file := "phone,first_name\n" +
		"415 555 2671,New\n" + // the tenant has this number: linked, not duplicated or changed
		"4155552680,Twin\n" +
		"+1 415 555 2680,Twin again\n" // the same number twice in one file: one contact
	res := e.importCSV(alice, g, "", []byte(file), "text/csv", 200)
	if res.Imported != 1 || res.Existing != 2 || res.Failed != 0 {
		t.Fatalf("result %+v", res)
	}
	ids := e.groupContactIDs(alice, g, "")
	if len(ids) != 2 || ids[0] != existing {
		t.Fatalf("group holds %v, want the existing contact %d and one new", ids, existing)
	}
	var c map[string]any
	e.expect(e.do("GET", contactPath(existing), e.admin, nil), 200).json(t, &c)
	if c["first_name"] != "Old" {
		t.Errorf("the existing contact was changed: %v", c)
	}
	var mine []map[string]any
	e.expect(e.do("GET", "/contacts", alice, nil), 200).json(t, &mine)
	if len(mine) != 1 || mine[0]["first_name"] != "Twin" {
		t.Errorf("alice owns %v, want the one contact her import created", mine)
	}
	// Importing the same file again changes nothing but the counts, which
	// are disjoint: each row is existing, none also imported.
	res = e.importCSV(alice, g, "", []byte(file), "text/csv", 200)
	if res.Imported != 0 || res.Existing != 3 || len(e.groupContactIDs(alice, g, "")) != 2 {
		t.Fatalf("second import %+v", res)
	}
	res = e.importCSV(alice, g, "", []byte(file+"not a number,Bad\n"), "text/csv", 200)
	if res.Imported != 0 || res.Existing != 3 || res.Failed != 1 {
		t.Fatalf("3 existing rows and a bad one: %+v, want imported 0, existing 3, failed 1", res)
	}
}

func TestImportAtomic(t *testing.T) {
	e := newEnv(t)
	g := e.createGroup(e.admin, "g")
	bad := "phone,email\n4155552671,a@example.com\nnope,\n4155552672,bad-email\n"
	for _, tc := range []struct {
		name string
		body func() ([]byte, string, string)
	}{
		{"query", func() ([]byte, string, string) { return []byte(bad), "text/csv", "?atomic=true" }},
		{"form field", func() ([]byte, string, string) {
			b, ct := multipartBody(t, map[string]string{"atomic": "1"}, []byte(bad))
			return b, ct, ""
		}},
	} {
		before := e.snapshot()
		body, ct, query := tc.body()
		r := e.expect(e.do("POST", groupPath(g)+"/csv"+query, e.admin, body, "Content-Type", ct), 412)
		eb := r.errorBody(t)
		if eb.Fields["line 3: phone"] == "" || eb.Fields["line 4: email"] == "" || !strings.Contains(eb.Message, "2 of the rows") {
			t.Errorf("%s: error %+v", tc.name, eb)
		}
		if e.snapshot() != before {
			t.Errorf("%s: a rejected atomic import changed the store", tc.name)
		}
	}
	res := e.importCSV(e.admin, g, "?atomic=true", []byte("phone\n4155552671\n4155552672\n"), "text/csv", 200)
	if res.Imported != 2 || res.Failed != 0 || len(e.groupContactIDs(e.admin, g, "")) != 2 {
		t.Fatalf("atomic import of good rows: %+v", res)
	}
	e.expect(e.do("POST", groupPath(g)+"/csv?atomic=maybe", e.admin, "phone\n", "Content-Type", "text/csv"), 412).errorBody(t)
}

// orderedMultipart writes a form with its parts in the given order; a part
// named "file" is a file part.
func orderedMultipart(t testing.TB, parts ...[2]string) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, p := range parts {
		var pw io.Writer
		var err error
		if p[0] == "file" {
			pw, err = w.CreateFormFile("file", "contacts.csv")
		} else {
			pw, err = w.CreateFormField(p[0])
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(pw, p[1])
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), w.FormDataContentType()
}

// The form's fields count wherever they are: an "atomic" field after the
// file makes the import all or nothing all the same.
func TestImportFormFieldsAnyOrder(t *testing.T) {
	e := newEnv(t)
	g := e.createGroup(e.admin, "g")
	bad := "phone\n4155552671\nnope\n"
	for _, tc := range []struct {
		name   string
		parts  [][2]string
		status int
		field  string
	}{
		{"atomic after file", [][2]string{{"file", bad}, {"atomic", "true"}}, 412, "line 3: phone"},
		{"atomic between files", [][2]string{{"file", bad}, {"atomic", "1"}, {"file", bad}}, 412, "file"},
		{"bad atomic after file", [][2]string{{"file", bad}, {"note", "x"}, {"atomic", "maybe"}}, 412, "atomic"},
	} {
		before := e.snapshot()
		body, ct := orderedMultipart(t, tc.parts...)
		r := e.do("POST", groupPath(g)+"/csv", e.admin, body, "Content-Type", ct)
		if r.Status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, r.Status, tc.status, r.Body)
			continue
		}
		if eb := r.errorBody(t); eb.Fields[tc.field] == "" {
			t.Errorf("%s: fields %v do not name %q", tc.name, eb.Fields, tc.field)
		}
		if e.snapshot() != before {
			t.Errorf("%s: a refused import changed the store", tc.name)
		}
	}
	body, ct := orderedMultipart(t, [2]string{"file", bad}, [2]string{"atomic", "false"})
	res := e.importCSV(e.admin, g, "", body, ct, 200)
	if res.Imported != 1 || res.Failed != 1 {
		t.Errorf("non-atomic import after the file part: %+v", res)
	}
}

func TestImportRefusals(t *testing.T) {
	e := newEnv(t)
	g := e.createGroup(e.admin, "g")
	noFile, noFileCT := multipartBody(t, map[string]string{"x": "y"}, nil)
	for _, tc := range []struct {
		name, contentType string
		body              []byte
		status            int
		field             string
	}{
		{"header without phone", "text/csv", []byte("first_name,email\nJane,j@example.com\n"), 412, "header"},
		{"empty", "text/csv", nil, 412, "header"},
		{"duplicate column", "text/csv", []byte("phone,Phone\n1,2\n"), 412, "header"},
		{"broken header", "text/csv", []byte("phone,\"a\"b\n"), 412, "header"},
		{"JSON", "application/json", []byte(`{"phone": "4155552671"}`), 412, "Content-Type"},
		{"multipart without file", noFileCT, noFile, 412, "file"},
		{"multipart without boundary", "multipart/form-data", []byte("x"), 400, ""},
		{"too large", "text/csv", append([]byte("phone\n"), bytes.Repeat([]byte("4155552671\n"), testMaxImportBytes/11+1)...), 413, ""},
		{"endless field", "text/csv", append([]byte("phone\n\""), bytes.Repeat([]byte("x"), 2*dialer.MaxCSVRecordBytes)...), 412, "body"},
	} {
		before := e.snapshot()
		for _, query := range []string{"", "?atomic=true"} {
			r := e.do("POST", groupPath(g)+"/csv"+query, e.admin, tc.body, "Content-Type", tc.contentType)
			if r.Status != tc.status {
				t.Errorf("%s%s: status %d, want %d: %.300s", tc.name, query, r.Status, tc.status, r.Body)
				continue
			}
			if eb := r.errorBody(t); tc.field != "" && eb.Fields[tc.field] == "" {
				t.Errorf("%s%s: fields %v do not name %s", tc.name, query, eb.Fields, tc.field)
			}
		}
		if tc.status == 413 {
			continue // without atomic, the batches before the limit stay; the message says so
		}
		if e.snapshot() != before {
			t.Errorf("%s: a rejected import changed the store", tc.name)
		}
	}
}

// TestImportBodyLimitIsItsOwn: the import takes bodies far over the JSON
// limit, which still holds elsewhere.
func TestImportBodyLimitIsItsOwn(t *testing.T) {
	e := newEnv(t)
	g := e.createGroup(e.admin, "g")
	var b bytes.Buffer
	b.WriteString("phone\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "+1 415 %03d %04d\n", 200+i/10000, i%10000)
	}
	if b.Len() <= 64<<10 {
		t.Fatalf("test body of %d bytes is not over the JSON limit", b.Len())
	}
	if res := e.importCSV(e.admin, g, "", b.Bytes(), "text/csv", 200); res.Imported != 20000 || res.Failed != 0 {
		t.Fatalf("result %+v", res)
	}
	big := map[string]any{"name": strings.Repeat("x", 100), "description": strings.Repeat("d", 70<<10)}
	e.expect(e.do("POST", "/groups", e.admin, big), 413)
}

func TestImportManyErrorsAreCapped(t *testing.T) {
	e := newEnv(t)
	g := e.createGroup(e.admin, "g")
	var b strings.Builder
	b.WriteString("phone,email\n")
	const rows = dialer.MaxImportErrors + 200
	for i := range rows {
		if i%2 == 0 {
			fmt.Fprintf(&b, "415%07d,ok@example.com\n", 5550000+i)
		} else {
			b.WriteString("bad,bad\n")
		}
	}
	res := e.importCSV(e.admin, g, "", []byte(b.String()), "text/csv", 200)
	if res.Imported != rows/2 || res.Failed != rows/2 {
		t.Fatalf("imported %d failed %d", res.Imported, res.Failed)
	}
	if len(res.Errors) != dialer.MaxImportErrors || res.ErrorsOmitted != rows-dialer.MaxImportErrors {
		t.Fatalf("%d errors listed, %d omitted", len(res.Errors), res.ErrorsOmitted)
	}
	if first := res.Errors[0]; first.Line != 3 || first.Field != "phone" {
		t.Errorf("first error %+v", first)
	}
}

// FuzzCSVImport sends arbitrary bytes as a CSV import: it must never panic
// or answer 500, and when the header is accepted every data row is either
// imported or failed.
func FuzzCSVImport(f *testing.F) {
	for _, seed := range []string{
		"phone\n4155552671\n",
		"\ufefffirst_name,phone\r\nA,(415) 555-2671\r\nB,bad\r\n",
		"phone,email\n\"4155552671\",\"a@b\"\"c\"\n\"unterminated\n",
		"phone\n\"a\"b\n4155552672\n",
		"phone,timezone\n+442079460018,Europe/London\n+442079460019,../../etc/passwd\n",
		"PHONE;name\n1;2\n",
		"phone\n\x00\xff\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	e := newEnv(f)
	g := e.createGroup(e.admin, "fuzz")
	f.Fuzz(func(t *testing.T, data []byte) {
		e := *e
		e.t = t
		for _, query := range []string{"", "?atomic=true"} {
			r := e.do("POST", groupPath(g)+"/csv"+query, e.admin, data, "Content-Type", "text/csv")
			switch r.Status {
			case 200:
			case 412:
				r.errorBody(t)
				if query == "" {
					return // the header was refused
				}
				continue // an atomic import with bad rows
			default:
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			var res dialer.ImportResult
			r.json(t, &res)
			// The counts are disjoint: one per data row.
			if rows := csvDataRows(t, data); res.Imported+res.Existing+res.Failed != rows {
				t.Fatalf("imported %d + existing %d + failed %d, but the file has %d data rows",
					res.Imported, res.Existing, res.Failed, rows)
			}
		}
	})
}

// csvDataRows counts the records after the header as encoding/csv reads
// them, a syntax error counting as one (rejected) row.
func csvDataRows(t testing.TB, data []byte) int {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	n := -1
	for {
		_, err := r.Read()
		if errors.Is(err, io.EOF) {
			return max(n, 0)
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			t.Fatal(err)
		}
		n++
	}
}
