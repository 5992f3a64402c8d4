package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// InboundFax is a fax call to a DID as FreeSWITCH's rxfax ended it.
type InboundFax struct {
	From, To string // the caller's number and the DID called, as the trunk sent them
	// TIFFPath is the file rxfax wrote; it is read, not kept.
	TIFFPath string
	// Success is spandsp's fax_success = 1: only then was a document received.
	Success    bool
	ResultCode int    // fax_result_code
	ResultText string // fax_result_text
	Pages      int    // fax_document_transferred_pages
	CallUUID   string
	Start, End time.Time
}

// ReceivedFax is what ReceiveFax recorded.
type ReceivedFax struct {
	TenantID       string // the receiving account's tenant (whose email provider mails a faxtoemail)
	TransmissionID int64
	DocumentID     int64 // 0 when no document was received
	Program        dialer.ProgramType
	// Email is the receiving account's address (faxtoemail mails it there).
	Email   string
	PDFPath string // the stored PDF, "" when none
	// Status is the transmission's: completed or failed, or processing
	// for a faxtoemail whose PDF is to be mailed (MailPending).
	Status string
	Cause  string // the spool's response
	// MailPending: the fax is a faxtoemail's, kept, and waiting in
	// fax_mails to be mailed (ClaimFaxMail); its transmission is
	// processing until the mail ends.
	MailPending bool
}

// maxInboundFax bounds a received TIFF: 100 pages of fine G3 is a few MB.
const maxInboundFax = 64 << 20

// FaxDestination is the program that receives a fax call to the DID did:
// receivefax or faxtoemail of the active account with that number, by the
// one inbound resolver. dialer.ErrNotFound when nobody receives faxes there.
func (db *DB) FaxDestination(ctx context.Context, did string) (dialer.ProgramType, error) {
	r, err := resolveInbound(ctx, db.r, did, dialer.ProgramReceiveFax, dialer.ProgramFaxToEmail)
	return r.program, err
}

// ReceiveFax records a fax call to the DID f.To as an inbound transmission
// of the account and program that receive it (the one inbound resolver,
// recordInbound), with one spool whose results are spandsp's. A fax that
// succeeded is kept as a document of the program's owner: its PDF, made by
// toPDF from the TIFF, under its own hash and the TIFF beside it (a
// document's fax copy, so it can be sent on), and the transmission is
// completed. One that failed is judged by the cause table (FAX_FAILED) and
// keeps no document. A faxtoemail's fax that was kept is not completed
// yet: in the same transaction it is left to be mailed (fax_mails, due
// now), its transmission processing and its spool initiated until the mail
// ends (FinishFaxMail). dialer.ErrNotFound when nobody receives faxes on
// f.To.
func (m *Messages) ReceiveFax(ctx context.Context, f InboundFax, toPDF func(ctx context.Context, tiff io.Reader, pdf io.Writer) error) (ReceivedFax, error) {
	route, err := resolveInbound(ctx, m.db.r, f.To, dialer.ProgramReceiveFax, dialer.ProgramFaxToEmail)
	if err != nil {
		return ReceivedFax{}, err
	}
	out := ReceivedFax{TenantID: route.tenant, Program: route.program}
	if err := m.db.r.QueryRowContext(ctx, `SELECT email FROM accounts WHERE account_id = ?`, route.accountID).Scan(&out.Email); err != nil {
		return out, fmt.Errorf("store: fax account: %w", err)
	}
	results := []dialer.Result{
		{Type: "fax", Name: "success", Data: map[bool]string{true: "1", false: "0"}[f.Success]},
		{Type: "fax", Name: "result_code", Data: strconv.Itoa(f.ResultCode)},
		{Type: "fax", Name: "result_text", Data: f.ResultText},
		{Type: "fax", Name: "pages", Data: strconv.Itoa(f.Pages)},
		{Type: "fax", Name: "from", Data: f.From},
	}
	// Delivered only on fax_success 1 with a document, as the cause table
	// reads an answered call: anything else is FAX_FAILED.
	o := dialer.Outcome{Start: f.Start, Connect: f.Start, End: f.End, Cause: "NORMAL_CLEARING"}
	o.Delivered = f.Success && f.TIFFPath != ""
	if !o.Delivered {
		o.Failure = dialer.CauseFaxFailed
	}
	v := dialer.Classify(o)
	out.Status, out.Cause = "failed", v.Cause
	if v.Disposition == dialer.Completed {
		out.Status = "completed"
	}
	// A caller who withholds their number is one contact, "anonymous",
	// never matched to another contact by an empty field.
	from := f.From
	if from == "" {
		from = "anonymous"
	}
	msg := inboundMessage{fromPhone: from, title: "inbound fax", origin: "freeswitch", service: dialer.ServiceFax,
		status: out.Status, response: out.Cause, results: results, at: f.End}
	// failed records the fax as not received: spandsp's failure, or a
	// document that could not be kept (MEDIA_ERROR, saying why), so that
	// no fax call vanishes with only a log line.
	failed := func(cause error) (ReceivedFax, error) {
		if cause != nil {
			v := dialer.Classify(dialer.Outcome{Start: f.Start, Connect: f.Start, End: f.End, Failure: dialer.CauseMediaError})
			out.Status, out.Cause = "failed", v.Cause
			msg.status, msg.response = out.Status, out.Cause
			msg.results = append(msg.results, dialer.Result{Type: "fax", Name: "error", Data: cause.Error()})
		}
		err := m.db.tx(ctx, func(tx *sql.Tx) error {
			var err error
			out.TransmissionID, err = m.db.recordInbound(ctx, tx, route, msg)
			return err
		})
		return out, err
	}
	if !o.Delivered {
		return failed(nil)
	}

	tiff, err := os.Open(f.TIFFPath)
	if err != nil {
		return failed(fmt.Errorf("the received file: %w", err))
	}
	defer tiff.Close()
	tif, err := m.receive(tiff, maxInboundFax)
	if err != nil {
		return failed(err)
	}
	defer tif.discard()
	pdf, err := m.files.create(faxLimit(maxInboundFax))
	if err != nil {
		return out, err
	}
	defer pdf.discard()
	if err := toPDF(ctx, tif.reader(), pdf); err != nil {
		return failed(fmt.Errorf("converting it to PDF: %w", err))
	}
	if pdf.size == 0 {
		return failed(errors.New("converting it to PDF: no output"))
	}
	pdfHash := pdf.sum()
	files := []newFile{{t: pdf, ext: ExtPDF}, {t: tif, ext: ExtTIFF, as: pdfHash}}
	now := f.End.Unix()
	err = m.place(ctx, files, func(tx *sql.Tx, hashes []string) ([]string, error) {
		res, err := tx.ExecContext(ctx, `INSERT INTO documents (tenant_id, created_by, name, description, type, file_hash,
			file_size, pages, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			route.tenant, route.owner, "fax from "+from, "received on "+f.To, ExtPDF, hashes[0], pdf.size, f.Pages, now, now)
		if err != nil {
			return nil, fmt.Errorf("store: received fax document: %w", err)
		}
		if out.DocumentID, err = res.LastInsertId(); err != nil {
			return nil, fmt.Errorf("store: received fax document: %w", err)
		}
		msg.results = append(msg.results, dialer.Result{Type: "fax", Name: "document_id", Data: strconv.FormatInt(out.DocumentID, 10)})
		if route.program == dialer.ProgramFaxToEmail {
			msg.status, msg.spoolStatus = string(dialer.TransmissionProcessing), string(dialer.SpoolInitiated)
			msg.response = faxMailWaiting(out.Email)
		}
		if out.TransmissionID, err = m.db.recordInbound(ctx, tx, route, msg); err != nil {
			return nil, err
		}
		if route.program == dialer.ProgramFaxToEmail {
			// Due now: written with the fax, so that a crash before the
			// mail leaves it to be mailed by the next run.
			received := unixMS(time.Now())
			if _, err := tx.ExecContext(ctx, `INSERT INTO fax_mails (transmission_id, tenant_id, email, document_id, from_number,
				did, pages, call_uuid, received_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				out.TransmissionID, route.tenant, out.Email, out.DocumentID, f.From, f.To, f.Pages, f.CallUUID, received, received); err != nil {
				return nil, fmt.Errorf("store: fax to mail: %w", err)
			}
		}
		return nil, nil
	})
	if err != nil {
		return out, err
	}
	out.PDFPath = m.files.path(pdfHash, ExtPDF)
	if route.program == dialer.ProgramFaxToEmail {
		out.Status, out.Cause, out.MailPending = msg.status, msg.response, true
	}
	return out, nil
}

// FinishInbound changes how an inbound transmission ended once something
// after its arrival decided (faxtoemail: the mail of its PDF), and adds
// results to its spool.
func (db *DB) FinishInbound(ctx context.Context, transmissionID int64, status, response string, results []dialer.Result) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		return setInbound(ctx, tx, transmissionID, status, response, time.Time{}, results)
	})
}

// setInbound sets an inbound transmission's status, response and due time
// (the next try of its mail; zero for none), its spool's status (initiated
// while the transmission is processing) and response, and adds results to
// the spool.
func setInbound(ctx context.Context, tx *sql.Tx, transmissionID int64, status, response string, due time.Time, results []dialer.Result) error {
	var tenant string
	var spoolID int64
	err := tx.QueryRowContext(ctx, `SELECT t.tenant_id, s.spool_id FROM transmissions t JOIN spools s USING (transmission_id)
		WHERE t.transmission_id = ? AND t.direction = 'inbound' ORDER BY s.spool_id LIMIT 1`, transmissionID).Scan(&tenant, &spoolID)
	if errors.Is(err, sql.ErrNoRows) {
		return dialer.NotFound("inbound transmission")
	}
	if err != nil {
		return fmt.Errorf("store: finish inbound: %w", err)
	}
	spoolStatus := status
	if status == string(dialer.TransmissionProcessing) {
		spoolStatus = string(dialer.SpoolInitiated)
	}
	now := time.Now().Unix()
	if _, err := tx.ExecContext(ctx, `UPDATE transmissions SET status = ?, response = ?, due_at = ?, updated_at = ? WHERE transmission_id = ?`,
		status, response, unixMS(due), now, transmissionID); err != nil {
		return fmt.Errorf("store: finish inbound: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE spools SET status = ?, response = ? WHERE spool_id = ?`, spoolStatus, response, spoolID); err != nil {
		return fmt.Errorf("store: finish inbound: %w", err)
	}
	for _, r := range results {
		if _, err := tx.ExecContext(ctx, `INSERT INTO spool_results (tenant_id, spool_id, type, name, data, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, tenant, spoolID, r.Type, r.Name, r.Data, now); err != nil {
			return fmt.Errorf("store: finish inbound result: %w", err)
		}
	}
	return nil
}
