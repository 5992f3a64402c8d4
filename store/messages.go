package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dialerd/dialerd/dialer"
)

// Messages keeps message content: documents, recordings, templates and
// texts as rows, and their media files by content hash.
//
// A file is written and put in place before the row that names it is
// committed, and removed only after the commit that stopped the last row
// naming it. A crash in between leaves an unnamed file (SweepFiles removes
// it), never a row naming a missing file.
type Messages struct {
	db    *DB
	files *Files
	// mu orders every change to which files rows name: placing a file,
	// committing the rows, and removing files no row names any more.
	// Without it a request could remove content another has just placed
	// for a row it is about to commit.
	mu sync.Mutex
}

// NewMessages serves message content from db, with media files in files.
func NewMessages(db *DB, files *Files) *Messages {
	return &Messages{db: db, files: files}
}

// OpenFile opens a media file named by a message row: hash is the row's
// column, ext the file's extension (see Files: a document's or recording's
// type for the upload, ExtWAV for a telephony copy, ExtTIFF for the fax
// copy of a document, ExtAttachment for a template's attachment).
func (m *Messages) OpenFile(_ context.Context, hash, ext string) (*os.File, error) {
	return m.files.Open(hash, ext)
}

// fileRefs are the columns that name media files. A file is in use while
// any of them names it.
const fileRefs = `SELECT EXISTS (SELECT 1 FROM documents WHERE file_hash = ?1)
	OR EXISTS (SELECT 1 FROM recordings WHERE file_hash = ?1 OR telephony_hash = ?1)
	OR EXISTS (SELECT 1 FROM templates WHERE file_hash = ?1)`

// collect removes those of hashes that no row names. Callers hold m.mu and
// have committed. A failure leaves an orphan file, which SweepFiles removes
// later; the change itself has happened, so it is not reported.
func (m *Messages) collect(ctx context.Context, hashes []string) {
	ctx = context.WithoutCancel(ctx)
	seen := map[string]bool{}
	for _, h := range hashes {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		var used bool
		if err := m.db.r.QueryRowContext(ctx, fileRefs, h).Scan(&used); err != nil || used {
			continue
		}
		_ = m.files.remove(h)
	}
}

// SweepFiles removes every media file no row names: what a crash between
// placing a file and committing its row left behind. It returns how many
// it removed.
func (m *Messages) SweepFiles(ctx context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	hashes, err := m.files.hashes()
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, h := range hashes {
		var used bool
		if err := m.db.r.QueryRowContext(ctx, fileRefs, h).Scan(&used); err != nil {
			return removed, fmt.Errorf("store: sweep media: %w", err)
		}
		if !used {
			if err := m.files.remove(h); err != nil {
				return removed, err
			}
			removed++
		}
	}
	return removed, nil
}

// receive copies body, at most limit bytes, into a temporary media file.
func (m *Messages) receive(body io.Reader, limit int64) (*tempFile, error) {
	t, err := m.files.create(limit)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(t, body); err != nil {
		t.discard()
		return nil, fmt.Errorf("store: receive upload: %w", err)
	}
	return t, nil
}

// newFile is a temporary file to put in place with extension ext, under
// its own hash or, for a file derived from another, under the hash as.
type newFile struct {
	t   *tempFile
	ext string
	as  string
}

// place puts files in place and runs update in a transaction with their
// hashes; update returns the hashes its rows named before. After the
// commit, those no row names any more are removed; when update fails, the
// new files are removed again unless something else names them.
func (m *Messages) place(ctx context.Context, files []newFile, update func(tx *sql.Tx, hashes []string) (old []string, err error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	hashes := make([]string, 0, len(files))
	for _, nf := range files {
		h := cmp.Or(nf.as, nf.t.sum())
		hashes = append(hashes, h)
		if err := m.files.keepAs(nf.t, h, nf.ext); err != nil {
			m.collect(ctx, hashes)
			return err
		}
	}
	var old []string
	err := m.db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		old, err = update(tx, hashes)
		return err
	})
	if err != nil {
		m.collect(ctx, hashes)
		return err
	}
	m.collect(ctx, old)
	return nil
}

// messageKind describes one message table for the code they share.
type messageKind struct {
	name  string // "document": errors and the programs column <name>_id
	table string
	idCol string
	// fileCols name media files; deleting a row may free them.
	fileCols []string
}

var (
	documentKind  = messageKind{name: "document", table: "documents", idCol: "document_id", fileCols: []string{"file_hash"}}
	recordingKind = messageKind{name: "recording", table: "recordings", idCol: "recording_id", fileCols: []string{"file_hash", "telephony_hash"}}
	templateKind  = messageKind{name: "template", table: "templates", idCol: "template_id", fileCols: []string{"file_hash"}}
	textKind      = messageKind{name: "text", table: "texts", idCol: "text_id"}
)

// remove deletes one message row of the tenant, refusing while a program
// uses it, and then the files only it named.
func (m *Messages) remove(ctx context.Context, k messageKind, tenantID string, id int64) error {
	if len(k.fileCols) > 0 {
		m.mu.Lock()
		defer m.mu.Unlock()
	}
	var old []string
	err := m.db.tx(ctx, func(tx *sql.Tx) error {
		// Table and column names come from the fixed kinds above, never input.
		cols := "''"
		if len(k.fileCols) > 0 {
			cols = strings.Join(k.fileCols, " || ' ' || ")
		}
		var names string
		err := tx.QueryRowContext(ctx, `SELECT `+cols+` FROM `+k.table+` WHERE tenant_id = ? AND `+k.idCol+` = ?`, tenantID, id).Scan(&names)
		if errors.Is(err, sql.ErrNoRows) {
			return dialer.NotFound(k.name)
		}
		if err != nil {
			return fmt.Errorf("store: delete %s: %w", k.name, err)
		}
		old = strings.Fields(names)
		if err := refuseIfUsed(ctx, tx, k, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM `+k.table+` WHERE tenant_id = ? AND `+k.idCol+` = ?`, tenantID, id)
		if isForeignKeyViolation(err) {
			return dialer.Conflict(k.name + " " + strconv.FormatInt(id, 10) + " is used; remove what uses it first")
		}
		if err != nil {
			return fmt.Errorf("store: delete %s: %w", k.name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.collect(ctx, old)
	return nil
}

// refuseIfUsed names the programs that use a message, so the client learns
// what to change; the foreign key would refuse the delete anyway.
func refuseIfUsed(ctx context.Context, tx *sql.Tx, k messageKind, id int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT program_id FROM programs WHERE `+k.idCol+` = ? ORDER BY program_id LIMIT 11`, id)
	if err != nil {
		return fmt.Errorf("store: programs using %s: %w", k.name, err)
	}
	var ids []string
	for rows.Next() {
		var pid int64
		if err := rows.Scan(&pid); err != nil {
			rows.Close()
			return fmt.Errorf("store: programs using %s: %w", k.name, err)
		}
		ids = append(ids, strconv.FormatInt(pid, 10))
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return fmt.Errorf("store: programs using %s: %w", k.name, err)
	}
	if len(ids) == 0 {
		return nil
	}
	list := strings.Join(ids[:min(len(ids), 10)], ", ")
	if len(ids) > 10 {
		list += ", …"
	}
	noun := "program"
	if len(ids) > 1 {
		noun = "programs"
	}
	return dialer.Conflict(fmt.Sprintf("%s %d is used by %s %s; change or delete them first", k.name, id, noun, list))
}

// get reads one row of the tenant by id.
func get[T any](ctx context.Context, db *DB, k messageKind, cols, tenantID string, id int64, scan func(rowScanner) (T, error)) (T, error) {
	return getRow(ctx, db.r, k.name, k.table, k.idCol, cols, tenantID, id, scan)
}

// insert runs an INSERT and returns the new row's id.
func (m *Messages) insert(ctx context.Context, k messageKind, query string, args ...any) (int64, error) {
	var id int64
	err := m.db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = insertRow(ctx, tx, k.name, query, args...)
		return err
	})
	return id, err
}

// update runs an UPDATE of one row; no row is dialer.NotFound.
func (m *Messages) update(ctx context.Context, k messageKind, query string, args ...any) error {
	return m.db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("store: update %s: %w", k.name, err)
		}
		return mustAffect(res, k.name)
	})
}

// oldFiles reads the file columns of one row inside tx, for place.
func oldFiles(ctx context.Context, tx *sql.Tx, k messageKind, tenantID string, id int64) ([]string, error) {
	dst := make([]string, len(k.fileCols))
	ptrs := make([]any, len(dst))
	for i := range dst {
		ptrs[i] = &dst[i]
	}
	err := tx.QueryRowContext(ctx, `SELECT `+strings.Join(k.fileCols, ", ")+` FROM `+k.table+` WHERE tenant_id = ? AND `+k.idCol+` = ?`, tenantID, id).Scan(ptrs...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, dialer.NotFound(k.name)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %s %d: %w", k.name, id, err)
	}
	return dst, nil
}

// replaceFiles places files and points the row at them with query, whose
// arguments args builds from their hashes; the files the row named before
// are removed once nothing names them.
func (m *Messages) replaceFiles(ctx context.Context, k messageKind, tenantID string, id int64, files []newFile,
	query string, args func(hashes []string) []any) error {
	return m.place(ctx, files, func(tx *sql.Tx, hashes []string) ([]string, error) {
		old, err := oldFiles(ctx, tx, k, tenantID, id)
		if err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, query, args(hashes)...); err != nil {
			return nil, fmt.Errorf("store: %s file: %w", k.name, err)
		}
		return old, nil
	})
}

// ---- documents

const documentCols = `document_id, tenant_id, created_by, created_by_crn, name, description, type, pages, file_hash, file_size, created_at, updated_at`

var documentList = listSpec{
	table: "documents", idCol: "document_id",
	ownerCond: "documents.created_by = ?",
	fields: map[string]string{
		"document_id": "document_id", "name": "name", "description": "description", "type": "type",
		"pages": "pages", "file_size": "file_size", "created_by": "created_by",
	},
}

func scanDocument(r rowScanner) (dialer.Document, error) {
	var d dialer.Document
	err := r.Scan(&d.ID, &d.TenantID, &d.CreatedBy, creatorCRN{&d.CreatedByCRN, &d.CreatedBy}, &d.Name, &d.Description, &d.Type, &d.Pages, &d.FileHash, &d.FileSize, &d.CreatedAt, &d.UpdatedAt)
	return d, err
}

// CreateDocument adds a document without a file; TenantID and CreatedBy must be set.
func (m *Messages) CreateDocument(ctx context.Context, d dialer.Document) (int64, error) {
	now := time.Now().Unix()
	return m.insert(ctx, documentKind, `INSERT INTO documents (tenant_id, created_by, created_by_crn, name, description, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, d.TenantID, d.CreatedBy, d.CreatedByCRN, d.Name, d.Description, now, now)
}

// Document returns a document of the tenant.
func (m *Messages) Document(ctx context.Context, tenantID string, id int64) (dialer.Document, error) {
	return get(ctx, m.db, documentKind, documentCols, tenantID, id, scanDocument)
}

// Documents lists the documents in scope.
func (m *Messages) Documents(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Document, error) {
	return list(ctx, m.db, documentList, documentCols, scope, q, scanDocument)
}

// UpdateDocument saves the client-settable fields of d.
func (m *Messages) UpdateDocument(ctx context.Context, d dialer.Document) error {
	return m.update(ctx, documentKind, `UPDATE documents SET name = ?, description = ?, updated_at = ? WHERE tenant_id = ? AND document_id = ?`,
		d.Name, d.Description, time.Now().Unix(), d.TenantID, d.ID)
}

// DeleteDocument removes a document that no program uses, and its file
// when nothing else names it.
func (m *Messages) DeleteDocument(ctx context.Context, tenantID string, id int64) error {
	return m.remove(ctx, documentKind, tenantID, id)
}

// SetDocumentFile replaces a document's file with body (at most limit
// bytes) once check accepts it. check tells the document's type and pages;
// for a PDF it writes the fax TIFF that txfax sends to fax, which is kept
// beside the PDF as <hash of the PDF>.tif, and for a TIFF it writes
// nothing, the upload being sent as it is. On any failure the old files and
// row stay.
func (m *Messages) SetDocumentFile(ctx context.Context, tenantID string, id int64, body io.Reader, limit int64,
	check func(ctx context.Context, src *io.SectionReader, fax io.Writer) (dialer.DocumentFile, error)) error {
	src, err := m.receive(body, limit)
	if err != nil {
		return err
	}
	defer src.discard()
	fax, err := m.files.create(faxLimit(limit))
	if err != nil {
		return err
	}
	defer fax.discard()
	info, err := check(ctx, src.reader(), fax)
	if err != nil {
		return err
	}
	files := []newFile{{t: src, ext: info.Type}}
	switch {
	case info.Type == ExtPDF && fax.size > 0:
		files = append(files, newFile{t: fax, ext: ExtTIFF, as: src.sum()})
	case info.Type != ExtTIFF || fax.size > 0:
		return fmt.Errorf("store: document of type %q with %d bytes of fax copy", info.Type, fax.size)
	}
	return m.replaceFiles(ctx, documentKind, tenantID, id, files,
		`UPDATE documents SET type = ?, pages = ?, file_hash = ?, file_size = ?, updated_at = ? WHERE tenant_id = ? AND document_id = ?`,
		func(hashes []string) []any {
			return []any{info.Type, info.Pages, hashes[0], src.size, time.Now().Unix(), tenantID, id}
		})
}

// faxLimit bounds the fax copy of a document of at most limit bytes: a
// page of G4 fax is tens of kilobytes, a page of noise about a megabyte.
func faxLimit(limit int64) int64 { return max(8*limit, 64<<20) }

// ---- recordings

const recordingCols = `recording_id, tenant_id, created_by, created_by_crn, name, description, type, length, file_hash, file_size, telephony_hash, created_at, updated_at`

var recordingList = listSpec{
	table: "recordings", idCol: "recording_id",
	ownerCond: "recordings.created_by = ?",
	fields: map[string]string{
		"recording_id": "recording_id", "name": "name", "description": "description", "type": "type",
		"length": "length", "file_size": "file_size", "created_by": "created_by",
	},
}

func scanRecording(r rowScanner) (dialer.Recording, error) {
	var v dialer.Recording
	err := r.Scan(&v.ID, &v.TenantID, &v.CreatedBy, creatorCRN{&v.CreatedByCRN, &v.CreatedBy}, &v.Name, &v.Description, &v.Type, &v.Length, &v.FileHash, &v.FileSize,
		&v.TelephonyHash, &v.CreatedAt, &v.UpdatedAt)
	return v, err
}

// CreateRecording adds a recording without a file; TenantID and CreatedBy must be set.
func (m *Messages) CreateRecording(ctx context.Context, r dialer.Recording) (int64, error) {
	now := time.Now().Unix()
	return m.insert(ctx, recordingKind, `INSERT INTO recordings (tenant_id, created_by, created_by_crn, name, description, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, r.TenantID, r.CreatedBy, r.CreatedByCRN, r.Name, r.Description, now, now)
}

// Recording returns a recording of the tenant.
func (m *Messages) Recording(ctx context.Context, tenantID string, id int64) (dialer.Recording, error) {
	return get(ctx, m.db, recordingKind, recordingCols, tenantID, id, scanRecording)
}

// Recordings lists the recordings in scope.
func (m *Messages) Recordings(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Recording, error) {
	return list(ctx, m.db, recordingList, recordingCols, scope, q, scanRecording)
}

// UpdateRecording saves the client-settable fields of r.
func (m *Messages) UpdateRecording(ctx context.Context, r dialer.Recording) error {
	return m.update(ctx, recordingKind, `UPDATE recordings SET name = ?, description = ?, updated_at = ? WHERE tenant_id = ? AND recording_id = ?`,
		r.Name, r.Description, time.Now().Unix(), r.TenantID, r.ID)
}

// DeleteRecording removes a recording that no program uses, and its files
// when nothing else names them.
func (m *Messages) DeleteRecording(ctx context.Context, tenantID string, id int64) error {
	return m.remove(ctx, recordingKind, tenantID, id)
}

// SetRecordingFile replaces a recording's file with body (at most limit
// bytes). convert decodes it and writes the telephony version; when it
// fails, the old files and row stay.
func (m *Messages) SetRecordingFile(ctx context.Context, tenantID string, id int64, body io.Reader, limit int64,
	convert func(src *io.SectionReader, telephony io.Writer) (dialer.RecordingFile, error)) error {
	src, err := m.receive(body, limit)
	if err != nil {
		return err
	}
	defer src.discard()
	// The telephony copy is 16 kB per second; bound it so that a tiny file
	// claiming hours of silence cannot fill the disk.
	tel, err := m.files.create(telephonyLimit(limit))
	if err != nil {
		return err
	}
	defer tel.discard()
	info, err := convert(src.reader(), tel)
	if err != nil {
		return err
	}
	files := []newFile{{t: src, ext: info.Type}, {t: tel, ext: ExtWAV}}
	return m.replaceFiles(ctx, recordingKind, tenantID, id, files,
		`UPDATE recordings SET type = ?, length = ?, file_hash = ?, file_size = ?, telephony_hash = ?, updated_at = ?
			WHERE tenant_id = ? AND recording_id = ?`,
		func(hashes []string) []any {
			return []any{info.Type, info.Length, hashes[0], src.size, hashes[1], time.Now().Unix(), tenantID, id}
		})
}

// telephonyLimit bounds the telephony copy of a recording of at most
// limit bytes: eight times the upload, or four hours, whichever is more.
func telephonyLimit(limit int64) int64 {
	const fourHours = 4 * 3600 * 8000 * 2
	return max(8*limit, fourHours)
}

// ---- templates

const templateCols = `template_id, tenant_id, created_by, created_by_crn, name, description, subject, body, body_alt, type, file_hash, file_size, created_at, updated_at`

var templateList = listSpec{
	table: "templates", idCol: "template_id",
	ownerCond: "templates.created_by = ?",
	fields: map[string]string{
		"template_id": "template_id", "name": "name", "description": "description", "subject": "subject",
		"type": "type", "file_size": "file_size", "created_by": "created_by",
	},
}

func scanTemplate(r rowScanner) (dialer.Template, error) {
	var t dialer.Template
	err := r.Scan(&t.ID, &t.TenantID, &t.CreatedBy, creatorCRN{&t.CreatedByCRN, &t.CreatedBy}, &t.Name, &t.Description, &t.Subject, &t.Body, &t.BodyAlt, &t.Type,
		&t.FileHash, &t.FileSize, &t.CreatedAt, &t.UpdatedAt)
	return t, err
}

// CreateTemplate adds a template without an attachment; TenantID and CreatedBy must be set.
func (m *Messages) CreateTemplate(ctx context.Context, t dialer.Template) (int64, error) {
	now := time.Now().Unix()
	return m.insert(ctx, templateKind, `INSERT INTO templates (tenant_id, created_by, created_by_crn, name, description, subject, body, body_alt, type, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.TenantID, t.CreatedBy, t.CreatedByCRN, t.Name, t.Description, t.Subject, t.Body, t.BodyAlt, t.Type, now, now)
}

// Template returns a template of the tenant.
func (m *Messages) Template(ctx context.Context, tenantID string, id int64) (dialer.Template, error) {
	return get(ctx, m.db, templateKind, templateCols, tenantID, id, scanTemplate)
}

// Templates lists the templates in scope.
func (m *Messages) Templates(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Template, error) {
	return list(ctx, m.db, templateList, templateCols, scope, q, scanTemplate)
}

// UpdateTemplate saves the client-settable fields of t.
func (m *Messages) UpdateTemplate(ctx context.Context, t dialer.Template) error {
	return m.update(ctx, templateKind, `UPDATE templates SET name = ?, description = ?, subject = ?, body = ?, body_alt = ?, type = ?, updated_at = ?
		WHERE tenant_id = ? AND template_id = ?`,
		t.Name, t.Description, t.Subject, t.Body, t.BodyAlt, t.Type, time.Now().Unix(), t.TenantID, t.ID)
}

// DeleteTemplate removes a template that no program uses, and its
// attachment when nothing else names it.
func (m *Messages) DeleteTemplate(ctx context.Context, tenantID string, id int64) error {
	return m.remove(ctx, templateKind, tenantID, id)
}

// SetTemplateFile replaces a template's attachment with body (at most
// limit bytes); fileType tells its type from the content, "" keeping the
// template's type.
func (m *Messages) SetTemplateFile(ctx context.Context, tenantID string, id int64, body io.Reader, limit int64,
	fileType func(*io.SectionReader) (string, error)) error {
	src, err := m.receive(body, limit)
	if err != nil {
		return err
	}
	defer src.discard()
	typ, err := fileType(src.reader())
	if err != nil {
		return err
	}
	return m.replaceFiles(ctx, templateKind, tenantID, id, []newFile{{t: src, ext: ExtAttachment}},
		`UPDATE templates SET type = CASE WHEN ?1 = '' THEN type ELSE ?1 END, file_hash = ?2, file_size = ?3, updated_at = ?4
			WHERE tenant_id = ?5 AND template_id = ?6`,
		func(hashes []string) []any { return []any{typ, hashes[0], src.size, time.Now().Unix(), tenantID, id} })
}

// ---- texts

const textCols = `text_id, tenant_id, created_by, created_by_crn, name, description, data, type, encoding, segments, created_at, updated_at`

var textList = listSpec{
	table: "texts", idCol: "text_id",
	ownerCond: "texts.created_by = ?",
	fields: map[string]string{
		"text_id": "text_id", "name": "name", "description": "description", "data": "data", "type": "type",
		"encoding": "encoding", "segments": "segments", "created_by": "created_by",
	},
}

func scanText(r rowScanner) (dialer.Text, error) {
	var t dialer.Text
	err := r.Scan(&t.ID, &t.TenantID, &t.CreatedBy, creatorCRN{&t.CreatedByCRN, &t.CreatedBy}, &t.Name, &t.Description, &t.Data, &t.Type, &t.Encoding, &t.Segments,
		&t.CreatedAt, &t.UpdatedAt)
	t.Length = utf8.RuneCountInString(t.Data)
	return t, err
}

// CreateText adds a validated text; TenantID and CreatedBy must be set.
func (m *Messages) CreateText(ctx context.Context, t dialer.Text) (int64, error) {
	now := time.Now().Unix()
	return m.insert(ctx, textKind, `INSERT INTO texts (tenant_id, created_by, created_by_crn, name, description, data, type, encoding, segments, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.TenantID, t.CreatedBy, t.CreatedByCRN, t.Name, t.Description, t.Data, t.Type, t.Encoding, t.Segments, now, now)
}

// Text returns a text of the tenant.
func (m *Messages) Text(ctx context.Context, tenantID string, id int64) (dialer.Text, error) {
	return get(ctx, m.db, textKind, textCols, tenantID, id, scanText)
}

// Texts lists the texts in scope.
func (m *Messages) Texts(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Text, error) {
	return list(ctx, m.db, textList, textCols, scope, q, scanText)
}

// UpdateText saves a validated text, its encoding and segments with it.
func (m *Messages) UpdateText(ctx context.Context, t dialer.Text) error {
	return m.update(ctx, textKind, `UPDATE texts SET name = ?, description = ?, data = ?, type = ?, encoding = ?, segments = ?, updated_at = ?
		WHERE tenant_id = ? AND text_id = ?`,
		t.Name, t.Description, t.Data, t.Type, t.Encoding, t.Segments, time.Now().Unix(), t.TenantID, t.ID)
}

// DeleteText removes a text that no program uses.
func (m *Messages) DeleteText(ctx context.Context, tenantID string, id int64) error {
	return m.remove(ctx, textKind, tenantID, id)
}
