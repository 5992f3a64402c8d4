package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// tiffCheck takes any TIFF as a one-page fax, as the API's check would.
func tiffCheck(_ context.Context, src *io.SectionReader, _ io.Writer) (dialer.DocumentFile, error) {
	head := make([]byte, 4)
	if _, err := src.ReadAt(head, 0); err != nil || string(head) != "II*\x00" {
		return dialer.DocumentFile{}, dialer.InvalidField("file", "not a TIFF")
	}
	return dialer.DocumentFile{Type: ExtTIFF, Pages: 1}, nil
}

func TestEmailInbound(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	files, err := OpenFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := NewMessages(x.db, files)
	exec := func(q string, args ...any) int64 { return x.f.Exec(q, args...) }
	inbox := exec(`INSERT INTO accounts (tenant_id, created_by, type, email, active, created_at, updated_at)
		VALUES (?, ?, 'email', 'Inbox@Example.com', 1, 0, 0)`, x.tenant, x.owner)
	exec(`INSERT INTO programs (tenant_id, created_by, name, type, account_id, created_at, updated_at)
		VALUES (?, ?, 'inbox', 'receiveemail', ?, 0, 0)`, x.tenant, x.owner, inbox)
	faxer := exec(`INSERT INTO accounts (tenant_id, created_by, type, email, active, created_at, updated_at)
		VALUES (?, ?, 'email', 'faxer@example.com', 1, 0, 0)`, x.tenant, x.owner)
	e2f := exec(`INSERT INTO programs (tenant_id, created_by, name, type, account_id, created_at, updated_at)
		VALUES (?, ?, 'fax', 'emailtofax', ?, 0, 0)`, x.tenant, x.owner, faxer)

	for addr, want := range map[string]dialer.ProgramType{"inbox@example.com": dialer.ProgramReceiveEmail, "FAXER@example.com": dialer.ProgramEmailToFax} {
		if p, err := m.EmailProgram(ctx, addr); err != nil || p != want {
			t.Errorf("%s: %s %v", addr, p, err)
		}
	}
	if _, err := m.EmailProgram(ctx, "nobody@example.com"); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("unknown address: %v", err)
	}

	tiff := InboundFile{Name: "scan.tif", ContentType: "image/tiff", Data: []byte("II*\x00 a fax")}
	e := InboundEmail{EnvelopeFrom: "bob@example.org", Subject: "hi", Text: strings.Repeat("x", DefaultMaxEmailText+10),
		Files: []InboundFile{tiff, {Name: "notes.txt", ContentType: "text/plain", Data: []byte("notes")}}}
	id, err := m.ReceiveEmail(ctx, "inbox@example.com", e, tiffCheck, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	results := map[string]string{}
	rows, _ := x.db.r.Query(`SELECT r.type || '/' || r.name, r.data FROM spool_results r JOIN spools s USING (spool_id) WHERE s.transmission_id = ?`, id)
	for rows.Next() {
		var k, v string
		rows.Scan(&k, &v)
		results[k] = v
	}
	rows.Close()
	if results["email/from"] != "bob@example.org" || results["document/scan.tif"] == "" || results["document/notes.txt"] == "" ||
		!strings.HasSuffix(results["email/text"], "[truncated]") {
		t.Errorf("results %v", results)
	}
	var notesType, desc, hash string
	if err := x.db.r.QueryRow(`SELECT type, description, file_hash FROM documents WHERE document_id = ?`, results["document/notes.txt"]).
		Scan(&notesType, &desc, &hash); err != nil || notesType != ExtAttachment || !strings.Contains(desc, "text/plain") {
		t.Errorf("notes.txt document: %s %q %v", notesType, desc, err)
	}
	if b, err := os.ReadFile(files.path(hash, ExtAttachment)); err != nil || string(b) != "notes" {
		t.Errorf("notes.txt file: %q %v", b, err)
	}

	docs := func() (n int) { x.db.r.QueryRow(`SELECT COUNT(*) FROM documents`).Scan(&n); return }
	before := docs()
	fax := MailToFax{Rcpt: "14155550177@fax.test", Number: "+14155550177", Email: InboundEmail{EnvelopeFrom: "faxer@example.com"}, Doc: tiff}
	// Another tenant's authenticated user cannot fax for this account.
	fax.SenderTenant = "someone-else"
	if _, _, _, err := m.EmailToFax(ctx, fax, tiffCheck, 1<<20); !errors.Is(err, dialer.ErrForbidden) {
		t.Errorf("other tenant: %v", err)
	}
	fax.SenderTenant = ""
	bad := fax
	bad.Email.EnvelopeFrom = "stranger@example.net"
	if _, _, _, err := m.EmailToFax(ctx, bad, tiffCheck, 1<<20); !errors.Is(err, dialer.ErrNotFound) {
		t.Errorf("unknown sender: %v", err)
	}
	bad = fax
	bad.Doc.Data = []byte("%PDF-not a tiff")
	if _, _, _, err := m.EmailToFax(ctx, bad, tiffCheck, 1<<20); err == nil {
		t.Error("a document the check refuses was faxed")
	}
	if docs() != before {
		t.Fatalf("refused faxes left documents: %d, want %d", docs(), before)
	}
	tenant, owner, out, err := m.EmailToFax(ctx, fax, tiffCheck, 1<<20)
	if err != nil || tenant != x.tenant || owner != x.owner {
		t.Fatalf("%s %d %d %v", tenant, owner, out, err)
	}
	var status, direction, typ, phone string
	var parent, doc int64
	if err := x.db.r.QueryRow(`SELECT t.status, t.direction, p.type, p.parent_id, p.document_id, c.phone FROM transmissions t
		JOIN programs p USING (program_id) JOIN contacts c USING (contact_id) WHERE t.transmission_id = ?`, out).
		Scan(&status, &direction, &typ, &parent, &doc, &phone); err != nil {
		t.Fatal(err)
	}
	if status != "pending" || direction != "outbound" || typ != "sendfax" || parent != e2f || doc == 0 || phone != "+14155550177" {
		t.Errorf("outbound fax %s %s %s parent %d doc %d %s", status, direction, typ, parent, doc, phone)
	}
}

// TestEmailInboundAttachmentLimits: every attachment of a received mail
// is a document up to DefaultMaxEmailDocuments of at most limit bytes each;
// beyond, each is listed with why it was not stored. A PDF the document
// check refuses is still kept, as a plain attachment, saying why it is no
// fax document.
func TestEmailInboundAttachmentLimits(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	files, err := OpenFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := NewMessages(x.db, files)
	inbox := x.f.Exec(`INSERT INTO accounts (tenant_id, created_by, type, email, active, created_at, updated_at)
		VALUES (?, ?, 'email', 'inbox@example.com', 1, 0, 0)`, x.tenant, x.owner)
	x.f.Exec(`INSERT INTO programs (tenant_id, created_by, name, type, account_id, created_at, updated_at)
		VALUES (?, ?, 'inbox', 'receiveemail', ?, 0, 0)`, x.tenant, x.owner, inbox)
	e := InboundEmail{EnvelopeFrom: "bob@example.org", Files: []InboundFile{
		{Name: "big.bin", ContentType: "application/octet-stream", Data: make([]byte, 101)},
		{Name: "broken.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 truncated")},
	}}
	for i := range DefaultMaxEmailDocuments + 2 {
		e.Files = append(e.Files, InboundFile{Name: fmt.Sprintf("f%d.txt", i), ContentType: "text/plain", Data: []byte{byte('a' + i)}})
	}
	id, err := m.ReceiveEmail(ctx, "inbox@example.com", e, tiffCheck, 100)
	if err != nil {
		t.Fatal(err)
	}
	var docs, listed, notFax int
	var lines []string
	rows, _ := x.db.r.Query(`SELECT r.type, r.name, r.data FROM spool_results r JOIN spools s USING (spool_id) WHERE s.transmission_id = ?`, id)
	for rows.Next() {
		var typ, name, data string
		rows.Scan(&typ, &name, &data)
		switch {
		case typ == "document":
			docs++
		case name == "attachment":
			listed++
			lines = append(lines, data)
		case name == "attachment_not_fax":
			notFax++
		}
	}
	rows.Close()
	// broken.pdf and 9 text files are stored; big.bin and 3 text files not.
	if docs != DefaultMaxEmailDocuments || listed != 4 || notFax != 1 {
		t.Errorf("%d documents, %d listed, %d not fax: %q", docs, listed, notFax, lines)
	}
	if !strings.Contains(lines[0], "big.bin") || !strings.Contains(lines[0], "more than 100 bytes") ||
		!strings.Contains(lines[len(lines)-1], fmt.Sprintf("more than %d attachments", DefaultMaxEmailDocuments)) {
		t.Errorf("listed %q", lines)
	}
	var n int
	x.db.r.QueryRow(`SELECT COUNT(*) FROM documents`).Scan(&n)
	if n != DefaultMaxEmailDocuments {
		t.Errorf("%d documents rows, want %d", n, DefaultMaxEmailDocuments)
	}
}

func TestReceiveSMSVia(t *testing.T) {
	ctx := context.Background()
	x := newEngineFixture(t)
	did := x.f.Exec(`INSERT INTO accounts (tenant_id, created_by, type, phone, active, created_at, updated_at)
		VALUES (?, ?, 'did', '+15550009999', 1, 0, 0)`, x.tenant, x.owner)
	x.f.Exec(`INSERT INTO programs (tenant_id, created_by, name, type, account_id, created_at, updated_at)
		VALUES (?, ?, 'inbox', 'receivesms', ?, 0, 0)`, x.tenant, x.owner, did)
	id, err := x.db.ReceiveSMSVia(ctx, "kannel", "+447700900123", "+15550009999", "hi", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var origin string
	x.db.r.QueryRow(`SELECT origin FROM transmissions WHERE transmission_id = ?`, id).Scan(&origin)
	if origin != "kannel" {
		t.Errorf("origin %q", origin)
	}
}
