package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// InboundEmail is a mail the SMTP listener accepted.
type InboundEmail struct {
	EnvelopeFrom string // MAIL FROM
	From         string // the From header's address
	Subject      string
	MessageID    string
	Header       string
	Text, HTML   string
	Files        []InboundFile
}

// InboundFile is an attachment of an inbound mail.
type InboundFile struct {
	Name, ContentType string
	Data              []byte
}

// DocumentCheck tells a document file's type and pages and writes its fax
// copy (as the API checks an upload): see Messages.SetDocumentFile.
type DocumentCheck func(ctx context.Context, src *io.SectionReader, fax io.Writer) (dialer.DocumentFile, error)

// DefaultMaxEmailDocuments bounds the documents one mail makes, and
// DefaultMaxEmailText the text and HTML kept in its results, unless
// EmailLimits say otherwise (mail.in.*).
const (
	DefaultMaxEmailDocuments = 10
	DefaultMaxEmailText      = 256 << 10
)

// EmailLimits bound what ReceiveEmailWithin keeps of one mail.
type EmailLimits struct {
	Documents int   // attachments kept as documents; the others are only listed
	TextBytes int64 // bytes kept of the text, and of the HTML
}

// DefaultEmailLimits are ReceiveEmail's.
func DefaultEmailLimits() EmailLimits {
	return EmailLimits{Documents: DefaultMaxEmailDocuments, TextBytes: DefaultMaxEmailText}
}

// clip keeps at most n bytes of s, on a UTF-8 boundary.
func clip(s string, n int64) string {
	if int64(len(s)) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "\n[truncated]"
}

// EmailProgram is the program that receives mail to address: an active
// email account's receiveemail or emailtofax program (the one inbound
// resolver), dialer.ErrNotFound when none.
func (m *Messages) EmailProgram(ctx context.Context, address string) (dialer.ProgramType, error) {
	r, err := resolveInbound(ctx, m.db.r, address, dialer.ProgramReceiveEmail, dialer.ProgramEmailToFax)
	return r.program, err
}

// isFaxFile reports whether data is a PDF or a TIFF by content.
func isFaxFile(data []byte) bool {
	return bytes.HasPrefix(data, []byte("%PDF-")) || bytes.HasPrefix(data, []byte("II*\x00")) || bytes.HasPrefix(data, []byte("MM\x00*"))
}

// storeDocument makes f a document of the route's owner, checked and
// converted as an upload is; on failure nothing is left.
func (m *Messages) storeDocument(ctx context.Context, route inboundRoute, f InboundFile, check DocumentCheck, limit int64) (int64, error) {
	id, err := m.CreateDocument(ctx, dialer.Document{TenantID: route.tenant, CreatedBy: route.owner, Name: f.Name,
		Description: "received by email"})
	if err != nil {
		return 0, err
	}
	if err := m.SetDocumentFile(ctx, route.tenant, id, bytes.NewReader(f.Data), limit, check); err != nil {
		_ = m.DeleteDocument(ctx, route.tenant, id)
		return 0, err
	}
	return id, nil
}

// sender is whom a mail is from: the envelope's sender, else the From
// header's (a bounce has an empty envelope sender).
func sender(e InboundEmail) string {
	return cmp.Or(e.EnvelopeFrom, e.From, "mailer-daemon@invalid")
}

// ReceiveEmail records a mail to rcpt, an email account with a
// receiveemail program: an inbound transmission from the sender (a contact
// of the program's owner, made when the tenant does not know the address),
// completed, whose results are the headers, subject, text and HTML. Every
// attachment becomes a document of the owner (result "document", its
// name, its id): a PDF or TIFF the check accepts a fax document like an
// upload, anything else (or a PDF the check refuses) kept as it came, of
// type "bin", which no fax can send. At most DefaultMaxEmailDocuments
// documents per mail and limit bytes each: beyond, an attachment is only
// listed ("attachment": name, type, size, why not stored). The whole mail
// is bounded before this by the listener (mail.max_message_bytes).
func (m *Messages) ReceiveEmail(ctx context.Context, rcpt string, e InboundEmail, check DocumentCheck, limit int64) (int64, error) {
	return m.ReceiveEmailWithin(ctx, rcpt, e, check, limit, DefaultEmailLimits())
}

// ReceiveEmailWithin is ReceiveEmail keeping at most lim.Documents
// documents and lim.TextBytes of the text and of the HTML (mail.in.*).
func (m *Messages) ReceiveEmailWithin(ctx context.Context, rcpt string, e InboundEmail, check DocumentCheck, limit int64, lim EmailLimits) (int64, error) {
	route, err := resolveInbound(ctx, m.db.r, rcpt, dialer.ProgramReceiveEmail)
	if err != nil {
		return 0, err
	}
	results := []dialer.Result{
		{Type: "email", Name: "from", Data: sender(e)}, {Type: "email", Name: "to", Data: rcpt},
		{Type: "email", Name: "subject", Data: e.Subject}, {Type: "email", Name: "message_id", Data: e.MessageID},
		{Type: "email", Name: "headers", Data: e.Header}, {Type: "email", Name: "text", Data: clip(e.Text, lim.TextBytes)},
	}
	if e.HTML != "" {
		results = append(results, dialer.Result{Type: "email", Name: "html", Data: clip(e.HTML, lim.TextBytes)})
	}
	stored := 0
	for _, f := range e.Files {
		notStored := func(why string) {
			results = append(results, dialer.Result{Type: "email", Name: "attachment",
				Data: fmt.Sprintf("%s (%s, %d bytes, not stored: %s)", f.Name, f.ContentType, len(f.Data), why)})
		}
		switch {
		case stored == lim.Documents:
			notStored(fmt.Sprintf("more than %d attachments", lim.Documents))
			continue
		case limit > 0 && int64(len(f.Data)) > limit:
			notStored(fmt.Sprintf("more than %d bytes", limit))
			continue
		}
		var id int64
		var faxErr error
		if isFaxFile(f.Data) && check != nil {
			id, faxErr = m.storeDocument(ctx, route, f, check, limit)
		}
		if id == 0 {
			if id, err = m.storeAttachment(ctx, route, f, limit); err != nil {
				notStored(err.Error())
				continue
			}
			if faxErr != nil {
				results = append(results, dialer.Result{Type: "email", Name: "attachment_not_fax", Data: f.Name + ": " + faxErr.Error()})
			}
		}
		stored++
		results = append(results, dialer.Result{Type: "document", Name: f.Name, Data: strconv.FormatInt(id, 10)})
	}
	var id int64
	err = m.db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = m.db.recordInbound(ctx, tx, route, inboundMessage{fromEmail: sender(e), title: "inbound email", origin: "smtp",
			service: dialer.ServiceEmail, status: "completed", response: "NORMAL_CLEARING", results: results, at: time.Now()})
		return err
	})
	return id, err
}

// storeAttachment keeps f as it came as a document of the route's owner,
// of type ExtAttachment: its content is not checked nor converted, so it
// is never a fax document (sendfax finds no fax TIFF for it).
func (m *Messages) storeAttachment(ctx context.Context, route inboundRoute, f InboundFile, limit int64) (int64, error) {
	t, err := m.receive(bytes.NewReader(f.Data), limit)
	if err != nil {
		return 0, err
	}
	defer t.discard()
	desc := "received by email"
	if ct := clipLine(f.ContentType, 100); ct != "" {
		desc += " (" + ct + ")"
	}
	var id int64
	now := time.Now().Unix()
	err = m.place(ctx, []newFile{{t: t, ext: ExtAttachment}}, func(tx *sql.Tx, hashes []string) ([]string, error) {
		res, err := tx.ExecContext(ctx, `INSERT INTO documents (tenant_id, created_by, name, description, type, file_hash,
			file_size, pages, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
			route.tenant, route.owner, f.Name, desc, ExtAttachment, hashes[0], t.size, now, now)
		if err != nil {
			return nil, fmt.Errorf("store: mail attachment document: %w", err)
		}
		id, err = res.LastInsertId()
		return nil, err
	})
	return id, err
}

// clipLine is s on one printable line of at most n bytes.
func clipLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	return s
}

// MailToFax is a mail to fax.
type MailToFax struct {
	// Rcpt is the address the mail came to. Account: it is an email
	// account with an emailtofax program; else it is <number>@<fax
	// domain>, and the program is that of the envelope sender's account.
	Rcpt    string
	Account bool
	Number  string // E.164
	// SenderTenant, when set (the sender authenticated), must be the
	// program's tenant.
	SenderTenant string
	Email        InboundEmail
	Doc          InboundFile
}

// EmailToFax makes a mail an outbound fax: the attachment a document (PDF
// converted to fax TIFF) of the emailtofax program's owner, a sendfax
// program of it (child of the emailtofax program), the number a contact,
// and an outbound transmission, pending, that the caller sends. The mail
// itself is recorded as an inbound transmission of the emailtofax program
// whose results name the outbound one. It returns the outbound
// transmission, its tenant and its owner.
func (m *Messages) EmailToFax(ctx context.Context, f MailToFax, check DocumentCheck, limit int64) (tenantID string, owner, outbound int64, err error) {
	addr := f.Rcpt
	if !f.Account {
		addr = f.Email.EnvelopeFrom
	}
	route, err := resolveInbound(ctx, m.db.r, addr, dialer.ProgramEmailToFax)
	if err != nil {
		return "", 0, 0, err
	}
	if f.SenderTenant != "" && f.SenderTenant != route.tenant {
		return "", 0, 0, dialer.Forbidden("the sender's account belongs to another tenant than the authenticated user")
	}
	if !dialer.Dialable(f.Number) {
		return "", 0, 0, dialer.InvalidField("number", "not a phone number")
	}
	docID, err := m.storeDocument(ctx, route, f.Doc, check, limit)
	if err != nil {
		return "", 0, 0, err
	}
	err = m.db.tx(ctx, func(tx *sql.Tx) error {
		now := time.Now().Unix()
		contactID, err := m.db.inboundContact(ctx, tx, route, "phone", f.Number, "fax number from an email", now)
		if err != nil {
			return err
		}
		progID, err := insertRow(ctx, tx, "program", `INSERT INTO programs (tenant_id, created_by, name, type, parent_id,
			document_id, created_at, updated_at) VALUES (?, ?, ?, 'sendfax', ?, ?, ?, ?)`,
			route.tenant, route.owner, "email to fax "+f.Number, route.programID, docID, now, now)
		if err != nil {
			return err
		}
		outbound, err = insertTransmission(ctx, tx, dialer.Transmission{TenantID: route.tenant, CreatedBy: route.owner,
			Title: "email to fax", Origin: "smtp", ContactID: contactID, ProgramID: progID, ServiceFlag: dialer.ServiceFax,
			Direction: "outbound", TryAllowed: 3})
		if err != nil {
			return err
		}
		_, err = m.db.recordInbound(ctx, tx, route, inboundMessage{fromEmail: sender(f.Email), title: "email to fax", origin: "smtp",
			service: dialer.ServiceEmail, status: "completed", response: "NORMAL_CLEARING", at: time.Now(),
			results: []dialer.Result{{Type: "email", Name: "from", Data: sender(f.Email)}, {Type: "email", Name: "to", Data: f.Rcpt},
				{Type: "email", Name: "subject", Data: f.Email.Subject}, {Type: "fax", Name: "number", Data: f.Number},
				{Type: "document", Name: f.Doc.Name, Data: strconv.FormatInt(docID, 10)},
				{Type: "fax", Name: "transmission_id", Data: strconv.FormatInt(outbound, 10)}}})
		return err
	})
	if err != nil {
		_ = m.DeleteDocument(ctx, route.tenant, docID)
		return "", 0, 0, err
	}
	return route.tenant, route.owner, outbound, nil
}
