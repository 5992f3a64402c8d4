package api

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/gin-gonic/gin"
)

// groupStore is what the group handlers need of the store.
type groupStore interface {
	CreateGroup(ctx context.Context, g dialer.Group) (int64, error)
	Group(ctx context.Context, tenantID string, id int64) (dialer.Group, error)
	GroupHeader(ctx context.Context, tenantID string, id int64) (dialer.Group, error)
	EachGroup(ctx context.Context, scope dialer.Scope, q dialer.ListQuery, fn func(dialer.Group) error) error
	UpdateGroup(ctx context.Context, g dialer.Group) error
	DeleteGroup(ctx context.Context, tenantID string, id int64) error
	EachGroupContact(ctx context.Context, tenantID string, groupID int64, q dialer.ListQuery, fn func(dialer.Contact) error) error
	ExportGroupContacts(ctx context.Context, tenantID string, groupID int64, fn func(dialer.Contact) error) error
	ImportContactsWithin(ctx context.Context, a dialer.Actor, groupID int64, rows dialer.ContactRows, atomic bool, maxContacts int) (dialer.ImportResult, error)
}

// groupCSVRoute is the import and export route; its body limit is
// Config.MaxImportBytes rather than MaxBodyBytes.
const groupCSVRoute = "/groups/:group_id/csv"

// csvTransferTimeout replaces the server's read and write timeouts for a CSV
// import or export: a gigabyte moves slower than a JSON body.
const csvTransferTimeout = time.Hour

func (s *Server) groupRoutes(r *gin.RouterGroup) {
	read, write := s.require(dialer.PermContactRead), s.require(dialer.PermContactWrite)
	ownedRoutes(r, "/groups", "/groups/:group_id", read, write, s.groups)
	r.GET("/groups", read, s.listGroups)
	r.GET("/groups/sample/csv", read, s.sampleCSV)
	r.GET("/groups/:group_id/contacts", read, s.listGroupContacts)
	r.POST(groupCSVRoute, write, raiseBodyLimit(s.cfg.MaxImportBytes), s.importGroupCSV)
	r.GET(groupCSVRoute, read, s.exportGroupCSV)
}

// groupJSON is a group as answered: the document's Group object shows "id",
// and dialerd's convention is "group_id"; both are given.
type groupJSON struct {
	ID int64 `json:"id"`
	dialer.Group
}

func asGroupJSON(g dialer.Group) groupJSON { return groupJSON{ID: g.ID, Group: g} }

// groupRequest is the Group object as clients send it; "id" is ignored.
type groupRequest struct {
	Name        *string `json:"name" required:"create" example:"customers"`
	Description *string `json:"description"`
}

func (r *groupRequest) apply(g *dialer.Group) {
	if r.Name != nil {
		g.Name = *r.Name
	}
	if r.Description != nil {
		g.Description = *r.Description
	}
}

// groups serves the Group object; deleting a group removes its links, and
// its contacts stay.
func (s *Server) groups() ownedKind[dialer.Group, groupRequest] {
	st := s.deps.Groups
	return ownedKind[dialer.Group, groupRequest]{
		s: s, name: "group", idParam: "group_id",
		fresh: func(a dialer.Actor) dialer.Group {
			return dialer.Group{TenantID: a.TenantID, CreatedBy: a.UserID, CreatedByCRN: a.CRN()}
		},
		owner: func(g dialer.Group) int64 { return g.CreatedBy },
		apply: (*groupRequest).apply, validate: dialer.ValidateGroup,
		view: func(g dialer.Group) any { return asGroupJSON(g) },

		load: st.Group, insert: st.CreateGroup, save: st.UpdateGroup, remove: st.DeleteGroup,
	}
}

// ownedGroup loads the path's group for an actor who may use it: its owner,
// or an admin. Another tenant's group does not exist. It is for the
// group's subresources, which do not show the group: its contact_total is
// not counted.
func (s *Server) ownedGroup(c *gin.Context) (dialer.Group, bool) {
	k := s.groups()
	k.load = s.deps.Groups.GroupHeader
	g, _, ok := k.owned(c)
	return g, ok
}

func (s *Server) listGroups(c *gin.Context) {
	q, ok := s.listQuery(c)
	if !ok {
		return
	}
	groups := []groupJSON{}
	err := s.deps.Groups.EachGroup(c.Request.Context(), actor(c).Scope(), q, func(g dialer.Group) error {
		groups = append(groups, asGroupJSON(g))
		return nil
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, groups)
}

func (s *Server) listGroupContacts(c *gin.Context) {
	g, ok := s.ownedGroup(c)
	if !ok {
		return
	}
	q, ok := s.listQuery(c)
	if !ok {
		return
	}
	s.phoneFilter(&q)
	contacts := []dialer.Contact{}
	err := s.deps.Groups.EachGroupContact(c.Request.Context(), g.TenantID, g.ID, q, func(ct dialer.Contact) error {
		contacts = append(contacts, ct)
		return nil
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, contacts)
}

func (s *Server) sampleCSV(c *gin.Context) {
	c.Header("Content-Disposition", `attachment; filename="contacts-sample.csv"`)
	c.Data(http.StatusOK, "text/csv; charset=utf-8", []byte(dialer.SampleContactsCSV()))
}

// exportGroupCSV streams the group's contacts as CSV, a page of the store at
// a time, each cell guarded against formula injection (csvCell). Once rows
// are on the wire a failure can no longer become an error answer: the
// connection is cut instead, so the client cannot mistake a truncated file
// for a whole one.
func (s *Server) exportGroupCSV(c *gin.Context) {
	g, ok := s.ownedGroup(c)
	if !ok {
		return
	}
	var rec []string
	s.streamCSV(c, fmt.Sprintf("group-%d.csv", g.ID), dialer.ContactCSVColumns(), func(w *csv.Writer) error {
		return s.deps.Groups.ExportGroupContacts(c.Request.Context(), g.TenantID, g.ID, func(ct dialer.Contact) error {
			rec = dialer.ContactCSVRecord(ct, rec)
			for i := range rec {
				rec[i] = csvCell(rec[i])
			}
			return w.Write(rec)
		})
	}, "group_id", g.ID)
}

// streamCSV answers a CSV attachment: the header, then what rows writes.
// Once rows are on the wire a failure can no longer become an error
// answer: the connection is cut instead (and logged with attrs), so the
// client cannot mistake a truncated file for a whole one.
func (s *Server) streamCSV(c *gin.Context, filename string, header []string, rows func(*csv.Writer) error, attrs ...any) {
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Now().Add(csvTransferTimeout))
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="`+filename+`"`)
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	w.UseCRLF = true
	err := w.Write(header)
	if err == nil {
		err = rows(w)
	}
	if err == nil {
		w.Flush()
		err = w.Error()
	}
	if err == nil {
		return
	}
	if !c.Writer.Written() {
		c.Writer.Header().Del("Content-Type")
		c.Writer.Header().Del("Content-Disposition")
		s.fail(c, err)
		return
	}
	s.log.WarnContext(c.Request.Context(), "CSV export cut short", append([]any{"request_id", requestID(c), "file", filename, "err", err}, attrs...)...)
	panic(http.ErrAbortHandler)
}

// importGroupCSV reads contacts into the group from a text/csv body or the
// "file" part of a multipart/form-data body. A text/csv body streams: rows
// are parsed and committed in batches as they arrive. ?atomic=true (or an
// "atomic" form field) makes it all or nothing; such an upload is first
// copied to a temporary file, so that the one write transaction it needs
// never waits on the network. A multipart upload is always copied first,
// since a field after the file may still change how it is imported.
func (s *Server) importGroupCSV(c *gin.Context) {
	g, ok := s.ownedGroup(c)
	if !ok {
		return
	}
	atomic, err := parseBool(c.Query("atomic"))
	if err != nil {
		s.fail(c, dialer.InvalidField("atomic", "true or false"))
		return
	}
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Now().Add(csvTransferTimeout))
	_ = rc.SetWriteDeadline(time.Now().Add(csvTransferTimeout))

	body, formAtomic, err := s.csvUpload(c)
	if err != nil {
		s.failImport(c, err, dialer.ImportResult{}, atomic)
		return
	}
	defer body.Close()
	atomic = atomic || formAtomic
	if _, onDisk := body.(spooledUpload); atomic && !onDisk {
		spool, err := spoolUpload(body)
		if err != nil {
			s.failImport(c, err, dialer.ImportResult{}, true)
			return
		}
		defer spool.Close()
		body = spool
	}
	rules := s.contactRules()
	src, err := dialer.NewContactCSV(body, rules)
	if err != nil {
		s.failImport(c, err, dialer.ImportResult{}, atomic)
		return
	}
	// The plan's contacts limit is applied row by row inside the import's
	// transactions: rows beyond it are refused on their lines.
	most, err := s.planLimit(c.Request.Context(), g.TenantID, "contacts")
	if err != nil {
		s.failImport(c, err, dialer.ImportResult{}, atomic)
		return
	}
	res, err := s.deps.Groups.ImportContactsWithin(c.Request.Context(), actor(c), g.ID, unguardedRows{src, rules}, atomic, most)
	if err != nil {
		s.failImport(c, err, res, atomic)
		return
	}
	res.IgnoredColumns = src.Ignored()
	if res.Errors == nil {
		res.Errors = []dialer.ImportError{}
	}
	if atomic && res.Failed > 0 {
		s.fail(c, rejectedImport(res))
		return
	}
	c.JSON(http.StatusOK, res)
}

func parseBool(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	return strconv.ParseBool(s)
}

// uploadError marks a failure to read the request body, as opposed to a
// failure of what it says.
type uploadError struct{ err error }

func (e *uploadError) Error() string { return "reading the upload: " + e.err.Error() }
func (e *uploadError) Unwrap() error { return e.err }

// uploadReader tags the body's read errors as uploadError.
type uploadReader struct{ r io.Reader }

func (u uploadReader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &uploadError{err}
	}
	return n, err
}

// csvUpload finds the CSV in the request: the body itself, or the part
// named "file" of a multipart form. Form fields count in any order: the
// file part is copied to a temporary file while the rest of the form is
// read, so an "atomic" field after it counts like the query parameter.
func (s *Server) csvUpload(c *gin.Context) (body io.ReadCloser, atomic bool, err error) {
	ct := c.GetHeader("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch mt {
	case "multipart/form-data":
	case "application/json", "application/x-www-form-urlencoded":
		return nil, false, dialer.InvalidField("Content-Type", "send text/csv, or multipart/form-data with a file part")
	default:
		return io.NopCloser(uploadReader{c.Request.Body}), false, nil
	}
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return nil, false, &uploadError{err}
	}
	var file *spooledUpload
	fail := func(err error) (io.ReadCloser, bool, error) {
		if file != nil {
			file.Close()
		}
		return nil, false, err
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(&uploadError{err})
		}
		switch part.FormName() {
		case "file":
			if file != nil {
				return fail(dialer.InvalidField("file", "give one file part"))
			}
			spool, err := spoolUpload(uploadReader{part})
			if err != nil {
				return fail(err)
			}
			file = &spool
		case "atomic":
			v, err := io.ReadAll(io.LimitReader(part, 16))
			if err != nil {
				return fail(&uploadError{err})
			}
			if atomic, err = parseBool(strings.TrimSpace(string(v))); err != nil {
				return fail(dialer.InvalidField("atomic", "true or false"))
			}
		}
	}
	if file == nil {
		return nil, false, dialer.InvalidField("file", "required: a form part named file holding the CSV")
	}
	return *file, atomic, nil
}

// spooledUpload is an upload copied to a temporary file, removed on Close.
type spooledUpload struct{ *os.File }

func (f spooledUpload) Close() error {
	return errors.Join(f.File.Close(), os.Remove(f.Name()))
}

func spoolUpload(body io.Reader) (spooledUpload, error) {
	f, err := os.CreateTemp("", "dialerd-import-*.csv")
	if err != nil {
		return spooledUpload{}, fmt.Errorf("spool the upload: %w", err)
	}
	spool := spooledUpload{f}
	if _, err := io.Copy(f, body); err != nil {
		spool.Close()
		return spooledUpload{}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		spool.Close()
		return spooledUpload{}, fmt.Errorf("spool the upload: %w", err)
	}
	return spool, nil
}

// failImport answers an import that could not run to its end: a body over
// the import limit (413), an unreadable body (400), or a domain error. When
// batches were committed before it stopped, the message says how many rows.
func (s *Server) failImport(c *gin.Context, err error, res dialer.ImportResult, atomic bool) {
	kept := ""
	if n := res.Imported + res.Existing; !atomic && n > 0 {
		kept = fmt.Sprintf("; %d rows were imported before the import stopped (%d new contacts, %d existing)",
			n, res.Imported, res.Existing)
	}
	var tooBig *http.MaxBytesError
	var upload *uploadError
	var de *dialer.Error
	switch {
	case errors.As(err, &tooBig):
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, ictcoreError{Error: ictcoreErrorBody{
			Code:    http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("the CSV is larger than %d bytes (http.max_import_bytes)%s", tooBig.Limit, kept)}})
	case errors.As(err, &upload):
		s.badRequest(c, upload.Error()+kept)
	case errors.As(err, &de) && kept != "":
		s.fail(c, &dialer.Error{Code: de.Code, Message: de.Message + kept, Fields: de.Fields, Err: de.Err})
	default:
		s.fail(c, err)
	}
}

// rejectedImport is the 412 of an atomic import: each listed row error as
// a field "line N: column".
func rejectedImport(res dialer.ImportResult) error {
	var v dialer.Invalid
	sort.SliceStable(res.Errors, func(i, j int) bool { return res.Errors[i].Line < res.Errors[j].Line })
	for _, e := range res.Errors {
		v.Add(fmt.Sprintf("line %d: %s", e.Line, e.Field), e.Reason)
	}
	if res.ErrorsOmitted > 0 {
		v.Add("errors_omitted", fmt.Sprintf("%d more errors are not listed", res.ErrorsOmitted))
	}
	err := v.Err()
	var de *dialer.Error
	if errors.As(err, &de) {
		de.Message = fmt.Sprintf("%d of the rows are invalid; nothing was imported", res.Failed)
		if res.OverLimit > 0 {
			de.Message = res.Limit + "; nothing was imported"
		}
		if res.OverLimit == res.Failed {
			// Only the plan refused rows: a 403 like one contact beyond it.
			de.Code = dialer.CodeForbidden
		}
	}
	return err
}
