package api

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/store"
)

// Small limits keep the size tests fast; the defaults are tested in cmd/dialerd.
const (
	testMaxRecording = 1 << 20
	testMaxDocument  = 64 << 10
	testMaxTemplate  = 16 << 10
)

// messageEnv is the harness's env with message content served: the same
// store and tokens, a media directory, and small upload limits.
type messageEnv struct {
	*env
	mediaDir string
}

// newMessageEnv starts it; with options adjust its Deps before the server
// is built.
func newMessageEnv(t *testing.T, with ...func(*Deps)) *messageEnv {
	t.Helper()
	e := newEnv(t)
	mediaDir := filepath.Join(t.TempDir(), "media")
	files, err := store.OpenFiles(mediaDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.srv.cfg
	cfg.MaxRecordingBytes, cfg.MaxDocumentBytes, cfg.MaxTemplateBytes = testMaxRecording, testMaxDocument, testMaxTemplate
	deps := e.srv.deps
	deps.Messages = store.NewMessages(e.db, files)
	deps.Fax = testFax(t)
	for _, f := range with {
		f(&deps)
	}
	srv, err := New(cfg, e.srv.log, deps)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e.srv, e.http = srv, hs
	return &messageEnv{env: e, mediaDir: mediaDir}
}

// files lists the media directory, relative paths, sorted.
func (e *messageEnv) files() []string {
	e.t.Helper()
	var out []string
	err := filepath.WalkDir(e.mediaDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(e.mediaDir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// create POSTs body to path and returns the id answered under idField.
func (e *messageEnv) create(token, path, idField string, body any) int64 {
	e.t.Helper()
	r := e.expect(e.do("POST", path, token, body), 200)
	var out map[string]int64
	r.json(e.t, &out)
	if out[idField] <= 0 || len(out) != 1 {
		e.t.Fatalf("create %s answered %s, want {%q: id}", path, r.Body, idField)
	}
	return out[idField]
}

// upload PUTs a raw body to a media route.
func (e *messageEnv) upload(token, path, contentType string, body []byte) resp {
	e.t.Helper()
	return e.do("PUT", path, token, body, "Content-Type", contentType)
}

// uploadMultipart PUTs content as the "file" part of a form, after another field.
func (e *messageEnv) uploadMultipart(token, path, filename string, content []byte) resp {
	e.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("note", "a field before the file")
	fw, _ := w.CreateFormFile("file", filename)
	fw.Write(content)
	w.Close()
	return e.do("PUT", path, token, b.Bytes(), "Content-Type", w.FormDataContentType())
}

// uploadChunked PUTs a body of undeclared length, so that only reading it
// can tell its size.
func (e *messageEnv) uploadChunked(token, path string, body []byte) resp {
	e.t.Helper()
	req, err := http.NewRequest("PUT", e.http.URL+path, io.MultiReader(bytes.NewReader(body)))
	if err != nil {
		e.t.Fatal(err)
	}
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// download GETs a media route and checks the exact bytes and headers.
func (e *messageEnv) download(token, path, contentType string, want []byte) {
	e.t.Helper()
	r := e.expect(e.do("GET", path, token, nil), 200)
	if got := r.Header.Get("Content-Type"); got != contentType {
		e.t.Errorf("GET %s: Content-Type %q, want %q", path, got, contentType)
	}
	if got := r.Header.Get("Content-Length"); got != strconv.Itoa(len(want)) {
		e.t.Errorf("GET %s: Content-Length %q, want %d", path, got, len(want))
	}
	if want != nil && !bytes.Equal(r.Body, want) {
		e.t.Errorf("GET %s: %d bytes differ from the %d uploaded", path, len(r.Body), len(want))
	}
}

// expectField checks a 412 names field.
func (e *messageEnv) expectField(r resp, field string) {
	e.t.Helper()
	e.expect(r, 412)
	if eb := r.errorBody(e.t); eb.Fields[field] == "" {
		e.t.Fatalf("412 does not name field %q: %s", field, r.Body)
	}
}

// snapshot is what a rejected request must leave unchanged: the list of
// every kind of message, as the admin sees them, and the media files.
func (e *messageEnv) snapshot() string {
	e.t.Helper()
	var b strings.Builder
	for _, p := range []string{"/messages/documents", "/messages/recordings", "/messages/templates", "/messages/texts"} {
		b.Write(e.expect(e.do("GET", p, e.admin, nil), 200).Body)
	}
	b.WriteString(strings.Join(e.files(), ","))
	return b.String()
}

// otherTenantAdmin makes a second tenant with an admin and returns its token.
func (e *messageEnv) otherTenantAdmin() string {
	e.t.Helper()
	ctx := context.Background()
	tenant, err := e.db.CreateTenant(ctx, "other", "org")
	if err != nil {
		e.t.Fatal(err)
	}
	hash, _ := dialer.HashPassword("mallory-secret", bcrypt.MinCost)
	_, err = e.db.CreateUsers(ctx, []dialer.NewUser{{Hash: hash, User: dialer.User{
		TenantID: tenant.ID, Username: "mallory", Active: 1, Roles: []int64{dialer.RoleAdmin}}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.login("mallory", "mallory-secret")
}

// messageKinds are the four message families with a valid body, a valid
// change, and invalid bodies with the field each must name.
var messageKinds = []struct {
	path, idField string
	create        map[string]any
	change        map[string]any
	invalid       map[string]map[string]any // field -> body
}{
	{
		path: "/messages/documents", idField: "document_id",
		create: map[string]any{"name": "invoice fax", "description": "monthly"},
		change: map[string]any{"name": "invoice fax v2"},
		invalid: map[string]map[string]any{
			"name":        {"name": "  "},
			"description": {"name": "x", "description": strings.Repeat("d", 1025)},
		},
	},
	{
		path: "/messages/recordings", idField: "recording_id",
		create: map[string]any{"name": "welcome", "description": "IVR greeting"},
		change: map[string]any{"description": "new greeting"},
		invalid: map[string]map[string]any{
			"name": {"name": "", "description": "no name"},
		},
	},
	{
		path: "/messages/templates", idField: "template_id",
		create: map[string]any{"name": "invite", "subject": "Hello", "body": "<p>Hi</p>", "body_alt": "Hi", "type": "pdf"},
		change: map[string]any{"subject": "Hello again"},
		invalid: map[string]map[string]any{
			"subject": {"name": "t", "subject": "Hi\r\nBcc: victim@example.com", "body": "b"},
			"body":    {"name": "t", "subject": "s", "body": " \n "},
			"type":    {"name": "t", "subject": "s", "body": "b", "type": "../exe"},
		},
	},
	{
		path: "/messages/texts", idField: "text_id",
		create: map[string]any{"name": "reminder", "data": "Your appointment is at 10:00", "type": "plain"},
		change: map[string]any{"data": "Moved to 11:00"},
		invalid: map[string]map[string]any{
			"data": {"name": "t", "data": ""},
			"type": {"name": "t", "data": "x", "type": "hex"},
		},
	},
}

func TestMessagesCRUD(t *testing.T) {
	e := newMessageEnv(t)
	for _, k := range messageKinds {
		t.Run(k.path, func(t *testing.T) {
			e.t = t
			id := e.create(e.admin, k.path, k.idField, k.create)
			one := fmt.Sprintf("%s/%d", k.path, id)

			var got map[string]any
			e.expect(e.do("GET", one, e.admin, nil), 200).json(t, &got)
			if got[k.idField] != float64(id) {
				t.Fatalf("GET %s: %s = %v", one, k.idField, got[k.idField])
			}
			for f, v := range k.create {
				if got[f] != v {
					t.Errorf("GET %s: %s = %v, want %v", one, f, got[f], v)
				}
			}

			second := e.create(e.admin, k.path, k.idField, k.create)
			var list []map[string]any
			e.expect(e.do("GET", k.path+"?limit=1&offset=1", e.admin, nil), 200).json(t, &list)
			if len(list) != 1 || list[0][k.idField] != float64(second) {
				t.Fatalf("page 2 of 1: %v, want only %d", list, second)
			}
			e.expect(e.do("GET", k.path+"?name="+url.QueryEscape(k.create["name"].(string)), e.admin, nil), 200).json(t, &list)
			if len(list) != 2 {
				t.Fatalf("search by name found %d, want 2", len(list))
			}
			e.expect(e.do("GET", k.path+"?name=nobody", e.admin, nil), 200).json(t, &list)
			if len(list) != 0 {
				t.Fatalf("search for nobody found %v", list)
			}
			e.expectField(e.do("GET", k.path+"?colour=red", e.admin, nil), "colour")

			var updated map[string]any
			e.expect(e.do("PUT", one, e.admin, k.change), 200).json(t, &updated)
			for f, v := range k.change {
				if updated[f] != v {
					t.Errorf("PUT answered %s = %v, want %v", f, updated[f], v)
				}
			}
			if updated["name"] != k.create["name"] && k.change["name"] == nil {
				t.Errorf("PUT of other fields changed the name to %v", updated["name"])
			}
			e.expect(e.do("GET", one, e.admin, nil), 200).json(t, &got)
			if fmt.Sprint(got) != fmt.Sprint(updated) {
				t.Errorf("GET after PUT = %v, PUT answered %v", got, updated)
			}

			r := e.expect(e.do("DELETE", one, e.admin, nil), 200)
			if string(r.Body) != "{}" {
				t.Errorf("DELETE answered %s, want {}", r.Body)
			}
			e.expect(e.do("GET", one, e.admin, nil), 404).errorBody(t)
			e.expect(e.do("PUT", one, e.admin, k.change), 404)
			e.expect(e.do("DELETE", one, e.admin, nil), 404)
			e.expect(e.do("GET", k.path+"/abc", e.admin, nil), 404)
		})
	}
}

func TestMessagesValidationChangesNothing(t *testing.T) {
	e := newMessageEnv(t)
	for _, k := range messageKinds {
		t.Run(k.path, func(t *testing.T) {
			e.t = t
			id := e.create(e.admin, k.path, k.idField, k.create)
			one := fmt.Sprintf("%s/%d", k.path, id)
			before := e.snapshot()
			for field, body := range k.invalid {
				e.expectField(e.do("POST", k.path, e.admin, body), field)
				e.expectField(e.do("PUT", one, e.admin, body), field)
			}
			e.expect(e.do("POST", k.path, e.admin, `{"name": 5}`), 412)
			e.expect(e.do("POST", k.path, e.admin, `{"name": "x"`), 400)
			e.expect(e.do("PUT", one, e.admin, `not json`), 400)
			if after := e.snapshot(); after != before {
				t.Fatalf("rejected requests changed the store:\n%s\n%s", before, after)
			}
		})
	}
}

func TestMessagesOwnershipAndTenancy(t *testing.T) {
	e := newMessageEnv(t)
	_, alice := e.createUser("alice", nil)
	_, bob := e.createUser("bob", nil)
	mallory := e.otherTenantAdmin()
	pdf := testPDF(1)
	for _, k := range messageKinds {
		t.Run(k.path, func(t *testing.T) {
			e.t = t
			id := e.create(alice, k.path, k.idField, k.create)
			one := fmt.Sprintf("%s/%d", k.path, id)
			hasMedia := k.path != "/messages/texts"
			if hasMedia && k.path == "/messages/documents" {
				e.expect(e.upload(alice, one+"/media", "application/pdf", pdf), 200)
			}
			before := e.snapshot()

			for _, who := range []struct {
				name, token string
				status      int
			}{{"another user", bob, 403}, {"another tenant", mallory, 404}} {
				for _, req := range []struct {
					method, path string
					body         any
				}{
					{"GET", one, nil}, {"PUT", one, k.change}, {"DELETE", one, nil},
				} {
					r := e.expect(e.do(req.method, req.path, who.token, req.body), who.status)
					r.errorBody(t)
				}
				if hasMedia {
					e.expect(e.do("GET", one+"/media", who.token, nil), who.status)
					e.expect(e.upload(who.token, one+"/media", "application/pdf", pdf), who.status)
				}
				var list []map[string]any
				e.expect(e.do("GET", k.path, who.token, nil), 200).json(t, &list)
				if len(list) != 0 {
					t.Errorf("%s lists %v", who.name, list)
				}
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("refused requests changed the store:\n%s\n%s", before, after)
			}

			// The tenant's admin sees and changes everything of its tenant.
			var list []map[string]any
			e.expect(e.do("GET", k.path, e.admin, nil), 200).json(t, &list)
			if len(list) != 1 {
				t.Errorf("admin lists %d, want 1", len(list))
			}
			e.expect(e.do("PUT", one, e.admin, k.change), 200)
			e.expect(e.do("DELETE", one, alice, nil), 200)
		})
	}
}

func TestMessagesNeedPermission(t *testing.T) {
	e := newMessageEnv(t)
	// A role-less user holds no permission at all.
	_, nobody := e.createUser("nobody", map[string]any{"roles": []int64{}})
	for _, k := range messageKinds {
		e.expect(e.do("GET", k.path, nobody, nil), 403)
		e.expect(e.do("POST", k.path, nobody, k.create), 403)
	}
	e.expect(e.do("GET", "/messages/texts", "", nil), 401)
}

// insertProgram makes a program that uses a message, as the programs API
// will; it writes to the database file directly.
func (e *messageEnv) insertProgram(column string, id int64) int64 {
	e.t.Helper()
	ctx := context.Background()
	tenant, err := e.db.DefaultTenant(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	conn, err := sql.Open("sqlite", "file:"+e.db.Path()+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)")
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	res, err := conn.ExecContext(ctx, `INSERT INTO programs (tenant_id, created_by, name, type, `+column+`, created_at, updated_at)
		VALUES (?, 1, 'uses it', 'sendfax', ?, 0, 0)`, tenant.ID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	pid, _ := res.LastInsertId()
	return pid
}

func TestDeleteMessageUsedByProgram(t *testing.T) {
	e := newMessageEnv(t)
	for _, k := range messageKinds {
		t.Run(k.path, func(t *testing.T) {
			e.t = t
			id := e.create(e.admin, k.path, k.idField, k.create)
			one := fmt.Sprintf("%s/%d", k.path, id)
			if k.path == "/messages/documents" {
				e.expect(e.upload(e.admin, one+"/media", "application/pdf", testPDF(1)), 200)
			}
			pid := e.insertProgram(k.idField, id)
			before := e.snapshot()
			r := e.expect(e.do("DELETE", one, e.admin, nil), 409)
			if msg := r.errorBody(t).Message; !strings.Contains(msg, "program "+strconv.FormatInt(pid, 10)) {
				t.Errorf("409 does not name the program: %q", msg)
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("refused delete changed the store")
			}
			e.expect(e.do("GET", one, e.admin, nil), 200)
		})
	}
}

func TestDocumentUpload(t *testing.T) {
	e := newMessageEnv(t)
	id := e.create(e.admin, "/messages/documents", "document_id", map[string]any{"name": "fax"})
	one := fmt.Sprintf("/messages/documents/%d", id)
	media := one + "/media"

	e.expect(e.do("GET", media, e.admin, nil), 404)

	pdf := testPDF(2)
	r := e.expect(e.upload(e.admin, media, "application/pdf", pdf), 200)
	if string(r.Body) != fmt.Sprintf(`{"document_id":%d}`, id) {
		t.Fatalf("upload answered %s", r.Body)
	}
	var d map[string]any
	e.expect(e.do("GET", one, e.admin, nil), 200).json(t, &d)
	if d["type"] != "pdf" || d["file_size"] != float64(len(pdf)) || d["pages"] != float64(2) {
		t.Fatalf("after a PDF upload: %v", d)
	}
	e.download(e.admin, media, "application/pdf", pdf)

	// A TIFF in a form, named .pdf: the content decides.
	tif := testTIFF(3)
	e.expect(e.uploadMultipart(e.admin, media, "scan.pdf", tif), 200)
	e.expect(e.do("GET", one, e.admin, nil), 200).json(t, &d)
	if d["type"] != "tif" || d["file_size"] != float64(len(tif)) || d["pages"] != float64(3) {
		t.Fatalf("after a TIFF upload: %v", d)
	}
	e.download(e.admin, media, "image/tiff", tif)

	before := e.snapshot()
	for name, body := range map[string][]byte{
		"png":     testPNG(),
		"garbage": []byte("%PDX-1.4 this is not a PDF at all"),
		"empty":   {},
	} {
		e.expectField(e.upload(e.admin, media, "application/pdf", body), "file")
		if e.snapshot() != before {
			t.Fatalf("rejected %s changed the store", name)
		}
	}
	e.expectField(e.uploadMultipart(e.admin, media, "x.tif", testPNG()), "file")
	// A form without a file part.
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("name", "no file")
	w.Close()
	e.expectField(e.do("PUT", media, e.admin, b.Bytes(), "Content-Type", w.FormDataContentType()), "file")

	big := testPDFSize(1, testMaxDocument+1)
	e.expect(e.upload(e.admin, media, "application/pdf", big), 413).errorBody(t)
	e.expect(e.uploadChunked(e.admin, media, big), 413).errorBody(t)
	e.expect(e.uploadMultipart(e.admin, media, "big.pdf", big), 413).errorBody(t)
	// Declared far over the limit: refused before reading.
	e.expect(e.upload(e.admin, media, "application/pdf", make([]byte, 3*testMaxDocument)), 413).errorBody(t)
	if e.snapshot() != before {
		t.Fatal("a refused upload changed the store")
	}
	e.download(e.admin, media, "image/tiff", tif)

	// Exactly at the limit is accepted.
	exact := testPDFSize(1, testMaxDocument)
	e.expect(e.uploadChunked(e.admin, media, exact), 200)
	e.download(e.admin, media, "application/pdf", exact)
}

func TestIdenticalUploadsShareOneFile(t *testing.T) {
	e := newMessageEnv(t)
	pdf, tif := testPDF(1), testTIFF(1)
	a := e.create(e.admin, "/messages/documents", "document_id", map[string]any{"name": "a"})
	b := e.create(e.admin, "/messages/documents", "document_id", map[string]any{"name": "b"})
	tpl := e.create(e.admin, "/messages/templates", "template_id", map[string]any{"name": "t", "subject": "s", "body": "b"})
	media := func(kind string, id int64) string { return fmt.Sprintf("/messages/%s/%d/media", kind, id) }

	e.expect(e.upload(e.admin, media("documents", a), "application/pdf", pdf), 200)
	e.expect(e.upload(e.admin, media("documents", b), "application/pdf", pdf), 200)
	e.expect(e.upload(e.admin, media("templates", tpl), "application/pdf", pdf), 200)
	// One content, one hash: the documents' PDF and its fax copy beside it,
	// and the attachment, named by what it is to its row.
	got := e.files()
	if len(got) != 3 || !strings.HasSuffix(got[0], ".bin") || !strings.HasSuffix(got[1], ".pdf") || !strings.HasSuffix(got[2], ".tif") ||
		strings.TrimSuffix(got[0], ".bin") != strings.TrimSuffix(got[1], ".pdf") || strings.TrimSuffix(got[1], ".pdf") != strings.TrimSuffix(got[2], ".tif") {
		t.Fatalf("three uploads of one PDF stored as %v, want <sha>.bin, <sha>.pdf, <sha>.tif", got)
	}
	pdfFile := got[1]

	// Replacing a's file keeps the PDF, which b and the template still name.
	e.expect(e.upload(e.admin, media("documents", a), "image/tiff", tif), 200)
	if got := e.files(); len(got) != 4 || !slices.Contains(got, pdfFile) {
		t.Fatalf("after replacing one: %v", got)
	}
	e.expect(e.do("DELETE", "/messages/documents/"+strconv.FormatInt(b, 10), e.admin, nil), 200)
	e.download(e.admin, media("templates", tpl), "application/pdf", pdf)
	e.expect(e.do("DELETE", "/messages/templates/"+strconv.FormatInt(tpl, 10), e.admin, nil), 200)
	if got := e.files(); len(got) != 1 || !strings.HasSuffix(got[0], ".tif") || slices.Contains(got, pdfFile) {
		t.Fatalf("after deleting the PDF's last reference: %v, want only the TIFF", got)
	}
	// Replacing the last reference removes the old file too.
	e.expect(e.upload(e.admin, media("documents", a), "application/pdf", pdf), 200)
	if got := e.files(); len(got) != 2 || got[0] != pdfFile {
		t.Fatalf("after replacing the TIFF: %v, want only the PDF and its fax copy", got)
	}
	e.expect(e.do("DELETE", "/messages/documents/"+strconv.FormatInt(a, 10), e.admin, nil), 200)
	if got := e.files(); len(got) != 0 {
		t.Fatalf("files left with no message: %v", got)
	}
}

// mp3Fixture is the media engineer's MP3: 1.5 s of a 1 kHz tone, 44.1 kHz
// mono, with a LAME gapless header (see its README).
const mp3Fixture = "../dialer/media/testdata/tone-1khz-44k1-mono.mp3"

func TestRecordingUpload(t *testing.T) {
	e := newMessageEnv(t)
	id := e.create(e.admin, "/messages/recordings", "recording_id", map[string]any{"name": "greeting"})
	one := fmt.Sprintf("/messages/recordings/%d", id)
	media := one + "/media"
	e.expect(e.do("GET", media, e.admin, nil), 404)
	e.expect(e.do("GET", media+"?format=telephony", e.admin, nil), 404)

	// checkTelephony fetches the telephony file: 8 kHz 16-bit mono PCM of
	// the recording's length, and returns that length.
	checkTelephony := func(wantSeconds float64) {
		t.Helper()
		r := e.expect(e.do("GET", media+"?format=telephony", e.admin, nil), 200)
		if ct := r.Header.Get("Content-Type"); ct != "audio/wav" {
			t.Errorf("telephony Content-Type %q", ct)
		}
		if cl := r.Header.Get("Content-Length"); cl != strconv.Itoa(len(r.Body)) {
			t.Errorf("telephony Content-Length %q for %d bytes", cl, len(r.Body))
		}
		f := parseWAV(t, r.Body)
		if f.format != 1 || f.channels != 1 || f.rate != 8000 || f.bits != 16 {
			t.Fatalf("telephony file is %+v, want PCM 8000 Hz mono 16-bit", f)
		}
		if got := float64(f.dataBytes) / 16000; math.Abs(got-wantSeconds) > 0.01 {
			t.Errorf("telephony file plays %.3f s, want %.3f s", got, wantSeconds)
		}
	}

	wav := testWAV(44100, 2, 1.5)
	r := e.expect(e.upload(e.admin, media, "audio/wav", wav), 200)
	if string(r.Body) != fmt.Sprintf(`{"recording_id":%d}`, id) {
		t.Fatalf("upload answered %s", r.Body)
	}
	rec := e.expect(e.do("GET", one, e.admin, nil), 200)
	if length := jsonNumber(t, rec, "length"); math.Abs(length-1.5) > 0.001 {
		t.Errorf("length %v, want 1.5", length)
	}
	if typ := jsonString(t, rec, "type"); typ != "wav" {
		t.Errorf("type %q, want wav", typ)
	}
	if size := jsonNumber(t, rec, "file_size"); size != float64(len(wav)) {
		t.Errorf("file_size %v, want %d", size, len(wav))
	}
	e.download(e.admin, media, "audio/wav", wav)
	checkTelephony(1.5)

	mp3, err := os.ReadFile(mp3Fixture)
	if err != nil {
		t.Fatal(err)
	}
	// Named .wav, but the content decides.
	e.expect(e.uploadMultipart(e.admin, media, "tone.wav", mp3), 200)
	rec = e.expect(e.do("GET", one, e.admin, nil), 200)
	if typ := jsonString(t, rec, "type"); typ != "mp3" {
		t.Fatalf("type %q after an MP3 upload", typ)
	}
	length := jsonNumber(t, rec, "length")
	if math.Abs(length-1.5) > 0.01 {
		t.Errorf("the 1.5 s MP3 is %v s long", length)
	}
	e.download(e.admin, media, "audio/mpeg", mp3)
	checkTelephony(length)
	if got := e.files(); len(got) != 2 {
		t.Errorf("after replacing the WAV: files %v, want the MP3 and its telephony copy", got)
	}

	before := e.snapshot()
	for name, body := range map[string][]byte{
		"garbage": []byte("RIFF\x10\x00\x00\x00WAVEjunkjunkjunk"),
		"png":     testPNG(),
		"pdf":     testPDF(1),
		"empty":   {},
		"text":    []byte("this is not audio"),
	} {
		e.expectField(e.upload(e.admin, media, "audio/wav", body), "file")
		if e.snapshot() != before {
			t.Fatalf("rejected %s changed the store", name)
		}
	}
	e.expect(e.upload(e.admin, media, "audio/wav", append(wav, make([]byte, testMaxRecording)...)), 413)
	e.expect(e.uploadChunked(e.admin, media, make([]byte, testMaxRecording+1)), 413)
	if e.snapshot() != before {
		t.Fatal("a refused upload changed the store")
	}
	e.download(e.admin, media, "audio/mpeg", mp3)
	e.expectField(e.do("GET", media+"?format=gsm", e.admin, nil), "format")

	e.expect(e.do("DELETE", one, e.admin, nil), 200)
	if got := e.files(); len(got) != 0 {
		t.Fatalf("files left after deleting the recording: %v", got)
	}
}

func TestTemplateUpload(t *testing.T) {
	e := newMessageEnv(t)
	id := e.create(e.admin, "/messages/templates", "template_id", map[string]any{"name": "t", "subject": "s", "body": "<b>b</b>"})
	one := fmt.Sprintf("/messages/templates/%d", id)
	media := one + "/media"

	text := []byte("Dear customer,\nplease find the terms attached.\n")
	e.expect(e.upload(e.admin, media, "text/plain; charset=utf-8", text), 200)
	var tpl map[string]any
	e.expect(e.do("GET", one, e.admin, nil), 200).json(t, &tpl)
	if tpl["type"] != "txt" || tpl["file_size"] != float64(len(text)) {
		t.Fatalf("after a text upload: %v", tpl)
	}
	e.download(e.admin, media, "text/plain; charset=utf-8", text)

	cal := []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
	e.expect(e.uploadMultipart(e.admin, media, "meeting.ics", cal), 200)
	e.expect(e.do("GET", one, e.admin, nil), 200).json(t, &tpl)
	if tpl["type"] != "ics" {
		t.Fatalf("attachment named .ics has type %v", tpl["type"])
	}
	r := e.expect(e.do("GET", media, e.admin, nil), 200)
	if !bytes.Equal(r.Body, cal) || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") ||
		r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("download: %q %v", r.Body, r.Header)
	}

	before := e.snapshot()
	e.expect(e.upload(e.admin, media, "text/plain", bytes.Repeat([]byte("x"), testMaxTemplate+1)), 413)
	e.expectField(e.upload(e.admin, media, "text/plain", nil), "file")
	if e.snapshot() != before {
		t.Fatal("a refused upload changed the store")
	}
	e.expect(e.upload(e.admin, media, "text/plain", bytes.Repeat([]byte("x"), testMaxTemplate)), 200)
}

func TestTextEncodingAndSegments(t *testing.T) {
	e := newMessageEnv(t)
	cyrillic := strings.Repeat("Привет", 12) // 72 characters: over the 70 of one UCS-2 SMS
	for _, tc := range []struct {
		name, data, typ string
		encoding        string
		segments        int
	}{
		{"gsm single", strings.Repeat("a", 160), "plain", "gsm7", 1},
		{"gsm 161", strings.Repeat("a", 161), "plain", "gsm7", 2},
		{"gsm extension chars count twice", strings.Repeat("€", 81), "plain", "gsm7", 2},
		{"cyrillic short", "Привет, мир", "unicode", "ucs2", 1},
		{"cyrillic 72", cyrillic, "unicode", "ucs2", 2},
		{"binary type kept", "0A0B0C", "binary", "gsm7", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			id := e.create(e.admin, "/messages/texts", "text_id", map[string]any{"name": tc.name, "data": tc.data, "type": tc.typ})
			var got dialer.Text
			e.expect(e.do("GET", fmt.Sprintf("/messages/texts/%d", id), e.admin, nil), 200).json(t, &got)
			want := dialer.Text{ID: id, Name: tc.name, Data: tc.data, Type: tc.typ, Encoding: tc.encoding,
				Segments: tc.segments, Length: len([]rune(tc.data)), CreatedBy: got.CreatedBy, CreatedByCRN: got.CreatedByCRN, CreatedAt: got.CreatedAt, UpdatedAt: got.UpdatedAt}
			if got != want {
				t.Fatalf("got %+v\nwant %+v", got, want)
			}
		})
	}

	// A change of data recomputes encoding and segments; the type stays as given.
	e.t = t
	id := e.create(e.admin, "/messages/texts", "text_id", map[string]any{"name": "x", "data": "hello"})
	var got dialer.Text
	e.expect(e.do("PUT", fmt.Sprintf("/messages/texts/%d", id), e.admin, map[string]any{"data": cyrillic}), 200).json(t, &got)
	if got.Encoding != "ucs2" || got.Segments != 2 || got.Length != 72 || got.Type != "plain" {
		t.Fatalf("after PUT: %+v", got)
	}
	var list []dialer.Text
	e.expect(e.do("GET", "/messages/texts?encoding=ucs2", e.admin, nil), 200).json(t, &list)
	if len(list) != 3 {
		t.Fatalf("%d ucs2 texts, want 3", len(list))
	}
	e.expectField(e.do("POST", "/messages/texts", e.admin, map[string]any{"name": "long", "data": strings.Repeat("a", 153*255+1)}), "data")
}

// ---- fixtures

// testPDF builds a small well-formed PDF with pages blank pages.
func testPDF(pages int) []byte { return testPDFSize(pages, 0) }

// testPDFSize builds a well-formed PDF of pages blank pages, padded with a
// comment to size bytes when it is larger than the PDF.
func testPDFSize(pages, size int) []byte {
	pdf := buildPDF(pages, 0)
	// Padding moves the offsets, whose digits count too: converge on size.
	for pad, tries := 0, 0; len(pdf) < size && tries < 10; tries++ {
		pad += size - len(pdf)
		if pdf = buildPDF(pages, pad); len(pdf) > size {
			pad -= len(pdf) - size
			pdf = buildPDF(pages, pad)
		}
	}
	return pdf
}

func buildPDF(pages, pad int) []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(s string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), s)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	if pad > 0 {
		// A comment line: "%", the padding, a newline.
		b.WriteString("%" + strings.Repeat("x", max(pad-2, 0)) + "\n")
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	kids := make([]string, pages)
	for i := range kids {
		kids[i] = fmt.Sprintf("%d 0 R", i+3)
	}
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), pages))
	for range pages {
		obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>")
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

// testTIFF builds a little-endian fax TIFF of pages pages, 1728×8 pixels
// G4 at 204×196 dpi by its tags (the strip is not real G4: nothing here
// decodes it).
func testTIFF(pages int) []byte {
	le := binary.LittleEndian
	var b bytes.Buffer
	b.WriteString("II")
	binary.Write(&b, le, uint16(42))
	binary.Write(&b, le, uint32(8)) // the first IFD follows the header
	type entry struct {
		tag, typ uint16
		value    uint32
	}
	const short, long, rational = 3, 4, 5
	const entries = 12
	ifdSize := 2 + entries*12 + 4
	for p := range pages {
		ifd := uint32(b.Len())
		extra := ifd + uint32(ifdSize) // two resolutions, then the strip
		next := uint32(0)
		if p < pages-1 {
			next = extra + 16 + 8
		}
		es := []entry{
			{256, short, 1728}, {257, short, 8}, {258, short, 1}, {259, short, 4}, {262, short, 0},
			{273, long, extra + 16}, {277, short, 1}, {278, short, 8}, {279, long, 8},
			{282, rational, extra}, {283, rational, extra + 8}, {296, short, 2},
		}
		binary.Write(&b, le, uint16(len(es)))
		for _, e := range es {
			binary.Write(&b, le, e.tag)
			binary.Write(&b, le, e.typ)
			binary.Write(&b, le, uint32(1))
			binary.Write(&b, le, e.value)
		}
		binary.Write(&b, le, next)
		binary.Write(&b, le, [4]uint32{204, 1, 196, 1})
		b.Write([]byte{0xff, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0xff})
	}
	return b.Bytes()
}

func testPNG() []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 4)))
	return b.Bytes()
}

// testWAV builds a 16-bit PCM WAV of a 440 Hz tone.
func testWAV(rate, channels int, seconds float64) []byte {
	frames := int(float64(rate) * seconds)
	data := make([]byte, 0, frames*channels*2)
	for i := range frames {
		v := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
		for range channels {
			data = binary.LittleEndian.AppendUint16(data, uint16(v))
		}
	}
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	binary.Write(&b, le, uint32(36+len(data)))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, le, uint32(16))
	binary.Write(&b, le, uint16(1))
	binary.Write(&b, le, uint16(channels))
	binary.Write(&b, le, uint32(rate))
	binary.Write(&b, le, uint32(rate*channels*2))
	binary.Write(&b, le, uint16(channels*2))
	binary.Write(&b, le, uint16(16))
	b.WriteString("data")
	binary.Write(&b, le, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

// wavFormat reads the format and data size of a WAV file.
type wavFormat struct {
	format, channels, bits uint16
	rate, dataBytes        uint32
}

func parseWAV(t *testing.T, b []byte) wavFormat {
	t.Helper()
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("not a WAV file: % x", b[:min(len(b), 16)])
	}
	var f wavFormat
	le := binary.LittleEndian
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(le.Uint32(b[p+4:p+8]))
		body := b[p+8 : min(len(b), p+8+size)]
		switch id {
		case "fmt ":
			f.format, f.channels = le.Uint16(body[0:2]), le.Uint16(body[2:4])
			f.rate, f.bits = le.Uint32(body[4:8]), le.Uint16(body[14:16])
		case "data":
			f.dataBytes = uint32(size)
		}
		p += 8 + size + size%2
	}
	return f
}

// jsonString reads a string field of a JSON object.
func jsonString(t *testing.T, r resp, field string) string {
	t.Helper()
	var m map[string]any
	r.json(t, &m)
	s, ok := m[field].(string)
	if !ok {
		t.Fatalf("%s is not a string in %s", field, r.Body)
	}
	return s
}

// jsonNumber reads a number field of a JSON object.
func jsonNumber(t *testing.T, r resp, field string) float64 {
	t.Helper()
	var m map[string]json.RawMessage
	r.json(t, &m)
	v, err := strconv.ParseFloat(string(m[field]), 64)
	if err != nil {
		t.Fatalf("%s is not a number in %s", field, r.Body)
	}
	return v
}

func TestAttachmentType(t *testing.T) {
	for _, tc := range []struct {
		filename, contentType string
		head                  []byte
		want                  string
	}{
		{"terms.PDF", "text/plain", nil, "pdf"},
		{"archive.tar.gz", "", nil, "gz"},
		{"../../evil.sh;rm", "text/plain; charset=utf-8", nil, "txt"},
		{"", "text/html", nil, "html"},
		{"", "application/octet-stream", []byte("%PDF-1.4"), "pdf"},
		{"", "", []byte("\x89PNG\r\n\x1a\n"), "png"},
		{"noext", "bogus/ type", []byte{0, 1, 2, 3}, ""},
	} {
		if got := attachmentType(tc.filename, tc.contentType, tc.head); got != tc.want {
			t.Errorf("attachmentType(%q, %q, %q) = %q, want %q", tc.filename, tc.contentType, tc.head, got, tc.want)
		}
	}
}

// FuzzAttachmentType: whatever a client sends, the type stored is one a
// template may have.
func FuzzAttachmentType(f *testing.F) {
	f.Add("a.pdf", "text/plain", []byte("%PDF"))
	f.Add("", "multipart/x; boundary=\"", []byte{})
	f.Fuzz(func(t *testing.T, filename, contentType string, head []byte) {
		typ := attachmentType(filename, contentType, head)
		if typ == "" {
			return
		}
		tpl := dialer.Template{Name: "n", Subject: "s", Body: "b", Type: typ}
		var v dialer.Invalid
		dialer.ValidateTemplate(&tpl, &v)
		if v.Has("type") || tpl.Type != typ {
			t.Fatalf("attachmentType gave %q, which a template may not have", typ)
		}
	})
}
