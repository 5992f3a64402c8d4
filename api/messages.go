package api

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/media"
	"github.com/gin-gonic/gin"
)

// Default caps on media files; the configuration may change them.
const (
	DefaultMaxRecordingBytes = 50 << 20
	DefaultMaxDocumentBytes  = 20 << 20
	DefaultMaxTemplateBytes  = 10 << 20
)

// uploadSlack is room in a request body for the multipart headers around
// the file; the file itself is held to the exact limit.
const uploadSlack = 64 << 10

// messageStore is what the message handlers need of the store. The
// Set*File methods read body (at most limit bytes) and hand it to the check
// before anything changes; a failing check or upload changes nothing.
type messageStore interface {
	CreateDocument(ctx context.Context, d dialer.Document) (int64, error)
	Document(ctx context.Context, tenantID string, id int64) (dialer.Document, error)
	Documents(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Document, error)
	UpdateDocument(ctx context.Context, d dialer.Document) error
	DeleteDocument(ctx context.Context, tenantID string, id int64) error
	SetDocumentFile(ctx context.Context, tenantID string, id int64, body io.Reader, limit int64,
		check func(ctx context.Context, src *io.SectionReader, fax io.Writer) (dialer.DocumentFile, error)) error

	CreateRecording(ctx context.Context, r dialer.Recording) (int64, error)
	Recording(ctx context.Context, tenantID string, id int64) (dialer.Recording, error)
	Recordings(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Recording, error)
	UpdateRecording(ctx context.Context, r dialer.Recording) error
	DeleteRecording(ctx context.Context, tenantID string, id int64) error
	SetRecordingFile(ctx context.Context, tenantID string, id int64, body io.Reader, limit int64,
		convert func(src *io.SectionReader, telephony io.Writer) (dialer.RecordingFile, error)) error

	CreateTemplate(ctx context.Context, t dialer.Template) (int64, error)
	Template(ctx context.Context, tenantID string, id int64) (dialer.Template, error)
	Templates(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Template, error)
	UpdateTemplate(ctx context.Context, t dialer.Template) error
	DeleteTemplate(ctx context.Context, tenantID string, id int64) error
	SetTemplateFile(ctx context.Context, tenantID string, id int64, body io.Reader, limit int64,
		fileType func(*io.SectionReader) (string, error)) error

	CreateText(ctx context.Context, t dialer.Text) (int64, error)
	Text(ctx context.Context, tenantID string, id int64) (dialer.Text, error)
	Texts(ctx context.Context, scope dialer.Scope, q dialer.ListQuery) ([]dialer.Text, error)
	UpdateText(ctx context.Context, t dialer.Text) error
	DeleteText(ctx context.Context, tenantID string, id int64) error

	// OpenFile opens the file of a row's hash with extension ext: the
	// document's or recording's type for the upload, "wav" for a
	// recording's telephony copy, "bin" for a template's attachment.
	OpenFile(ctx context.Context, hash, ext string) (*os.File, error)
}

// faxConverter renders a PDF as a fax TIFF txfax can send, returning its
// pages (media.Ghostscript). Its refusals are validation errors on "file".
type faxConverter interface {
	PDFToFax(ctx context.Context, src io.Reader, dst io.Writer) (pages int, err error)
}

// messageRoutes serves the ICTCore groups Message, Voice Recordings, Email
// templates and SMS Text Message. Media uploads are PUT as the document
// says; POST is taken too, as HTML forms send it.
func (s *Server) messageRoutes(r *gin.RouterGroup) {
	read, write := s.require(dialer.PermMessageRead), s.require(dialer.PermMessageWrite)

	ownedRoutes(r, "/messages/documents", "/messages/documents/:document_id", read, write, s.documents)
	r.GET("/messages/documents", read, s.listDocuments)
	docUpload := []gin.HandlerFunc{write, raiseBodyLimit(s.cfg.MaxDocumentBytes + uploadSlack), s.uploadDocument}
	r.PUT("/messages/documents/:document_id/media", docUpload...)
	r.POST("/messages/documents/:document_id/media", docUpload...)
	r.GET("/messages/documents/:document_id/media", read, s.downloadDocument)

	ownedRoutes(r, "/messages/recordings", "/messages/recordings/:recording_id", read, write, s.recordings)
	r.GET("/messages/recordings", read, s.listRecordings)
	recUpload := []gin.HandlerFunc{write, raiseBodyLimit(s.cfg.MaxRecordingBytes + uploadSlack), s.uploadRecording}
	r.PUT("/messages/recordings/:recording_id/media", recUpload...)
	r.POST("/messages/recordings/:recording_id/media", recUpload...)
	r.GET("/messages/recordings/:recording_id/media", read, s.downloadRecording)

	ownedRoutes(r, "/messages/templates", "/messages/templates/:template_id", read, write, s.templates)
	r.GET("/messages/templates", read, s.listTemplates)
	tplUpload := []gin.HandlerFunc{write, raiseBodyLimit(s.cfg.MaxTemplateBytes + uploadSlack), s.uploadTemplate}
	r.PUT("/messages/templates/:template_id/media", tplUpload...)
	r.POST("/messages/templates/:template_id/media", tplUpload...)
	r.GET("/messages/templates/:template_id/media", read, s.downloadTemplate)

	ownedRoutes(r, "/messages/texts", "/messages/texts/:text_id", read, write, s.texts)
	r.GET("/messages/texts", read, s.listTexts)
}

// messageRequest is the DocumentPost object: the body that creates and
// updates documents and recordings; nil fields are left as they are on
// update. The Document object's type is accepted and ignored, since it is
// the uploaded file's type.
type messageRequest struct {
	Name        *string `json:"name" required:"create" example:"greeting"`
	Description *string `json:"description"`
	Type        *string `json:"type"`
}

func (r *messageRequest) apply(name, description *string) {
	setString(name, r.Name)
	setString(description, r.Description)
}

// ---- documents

func (s *Server) documents() ownedKind[dialer.Document, messageRequest] {
	m := s.deps.Messages
	return ownedKind[dialer.Document, messageRequest]{
		s: s, name: "document", idParam: "document_id",
		fresh: func(a dialer.Actor) dialer.Document {
			return dialer.Document{TenantID: a.TenantID, CreatedBy: a.UserID, CreatedByCRN: a.CRN()}
		},
		owner:    func(d dialer.Document) int64 { return d.CreatedBy },
		apply:    func(r *messageRequest, d *dialer.Document) { r.apply(&d.Name, &d.Description) },
		validate: dialer.ValidateDocument,

		load: m.Document, insert: m.CreateDocument, save: m.UpdateDocument, remove: m.DeleteDocument,
		changed: s.configChanged,
	}
}

func (s *Server) ownedDocument(c *gin.Context) (dialer.Document, bool) {
	d, _, ok := s.documents().owned(c)
	return d, ok
}

func (s *Server) listDocuments(c *gin.Context) { listInScope(s, c, s.deps.Messages.Documents) }

func (s *Server) uploadDocument(c *gin.Context) {
	d, ok := s.ownedDocument(c)
	if !ok {
		return
	}
	limit := s.cfg.MaxDocumentBytes
	check := func(ctx context.Context, src *io.SectionReader, fax io.Writer) (dialer.DocumentFile, error) {
		return checkDocument(ctx, s.deps.Fax, src, fax)
	}
	s.acceptUpload(c, limit, "document_id", d.ID, func(ctx context.Context, up *upload) error {
		return s.deps.Messages.SetDocumentFile(ctx, d.TenantID, d.ID, up, limit, check)
	})
}

// noGhostscript is the answer to a PDF upload when no converter is set up.
const noGhostscript = "PDF documents are converted to fax with Ghostscript, which this server does not have " +
	"(install the Debian package ghostscript, or set media.ghostscript); upload a fax TIFF (TIFF-F) instead"

// checkDocument accepts what txfax can send, told by content: a fax TIFF
// (TIFF-F) as it is, or a PDF that conv renders into fax (its pages are
// then the rendered ones). Anything else, a PDF conv cannot render or one
// with no pages, is a validation error on the field "file".
func checkDocument(ctx context.Context, conv faxConverter, src *io.SectionReader, fax io.Writer) (dialer.DocumentFile, error) {
	kind, _, err := media.CheckDocument(src, src.Size())
	if err != nil {
		return dialer.DocumentFile{}, err
	}
	var pages int
	switch kind {
	case media.DocumentTIFF:
		pages, err = media.CheckFaxTIFF(src, src.Size())
	default:
		if conv == nil {
			return dialer.DocumentFile{}, dialer.InvalidField("file", noGhostscript)
		}
		pages, err = conv.PDFToFax(ctx, io.NewSectionReader(src, 0, src.Size()), fax)
	}
	if err != nil {
		return dialer.DocumentFile{}, err
	}
	return dialer.DocumentFile{Type: kind, Pages: pages}, nil
}

// documentContentTypes are the media types of the document types. "bin"
// is a mail's attachment kept as it came (receiveemail): served as bytes
// to download, never as the type the sender claimed (an HTML part would
// otherwise render in the API's origin).
var documentContentTypes = map[string]string{"pdf": "application/pdf", "tif": "image/tiff", "bin": "application/octet-stream"}

func (s *Server) downloadDocument(c *gin.Context) {
	d, ok := s.ownedDocument(c)
	if !ok {
		return
	}
	s.serveMedia(c, "document", d.FileHash, d.Type, "document-"+strconv.FormatInt(d.ID, 10)+"."+d.Type,
		documentContentTypes[d.Type], d.UpdatedAt)
}

// ---- recordings

func (s *Server) recordings() ownedKind[dialer.Recording, messageRequest] {
	m := s.deps.Messages
	return ownedKind[dialer.Recording, messageRequest]{
		s: s, name: "recording", idParam: "recording_id",
		fresh: func(a dialer.Actor) dialer.Recording {
			return dialer.Recording{TenantID: a.TenantID, CreatedBy: a.UserID, CreatedByCRN: a.CRN()}
		},
		owner:    func(r dialer.Recording) int64 { return r.CreatedBy },
		apply:    func(req *messageRequest, r *dialer.Recording) { req.apply(&r.Name, &r.Description) },
		validate: dialer.ValidateRecording,

		load: m.Recording, insert: m.CreateRecording, save: m.UpdateRecording, remove: m.DeleteRecording,
		changed: s.configChanged,
	}
}

func (s *Server) ownedRecording(c *gin.Context) (dialer.Recording, bool) {
	r, _, ok := s.recordings().owned(c)
	return r, ok
}

func (s *Server) listRecordings(c *gin.Context) { listInScope(s, c, s.deps.Messages.Recordings) }

func (s *Server) uploadRecording(c *gin.Context) {
	r, ok := s.ownedRecording(c)
	if !ok {
		return
	}
	limit := s.cfg.MaxRecordingBytes
	convert := func(src *io.SectionReader, telephony io.Writer) (dialer.RecordingFile, error) {
		return convertRecording(src, telephony, limit)
	}
	s.acceptUpload(c, limit, "recording_id", r.ID, func(ctx context.Context, up *upload) error {
		return s.deps.Messages.SetRecordingFile(ctx, r.TenantID, r.ID, up, limit, convert)
	})
}

// convertRecording decodes a WAV or MP3 upload of at most limit bytes and
// writes its 8 kHz 16-bit mono WAV to telephony; audio that does not decode
// is a validation error on the field "file".
func convertRecording(src *io.SectionReader, telephony io.Writer, limit int64) (dialer.RecordingFile, error) {
	info, err := media.ConvertToTelephonyWAV(src, telephony, limit)
	if err != nil {
		return dialer.RecordingFile{}, err
	}
	return dialer.RecordingFile{Type: info.Format, Length: info.Duration.Seconds()}, nil
}

// recordingContentTypes are the media types of the recording types.
var recordingContentTypes = map[string]string{"wav": "audio/wav", "mp3": "audio/mpeg"}

// downloadRecording sends the recording as uploaded, or with
// ?format=telephony the 8 kHz 16-bit mono WAV that calls play.
func (s *Server) downloadRecording(c *gin.Context) {
	r, ok := s.ownedRecording(c)
	if !ok {
		return
	}
	name := "recording-" + strconv.FormatInt(r.ID, 10)
	switch c.Query("format") {
	case "", "original":
		s.serveMedia(c, "recording", r.FileHash, r.Type, name+"."+r.Type, recordingContentTypes[r.Type], r.UpdatedAt)
	case "telephony":
		s.serveMedia(c, "recording", r.TelephonyHash, "wav", name+"-8k.wav", "audio/wav", r.UpdatedAt)
	default:
		s.fail(c, dialer.InvalidField("format", "must be original or telephony"))
	}
}

// ---- templates

// templateRequest is the Template object; nil fields are left as they are
// on update.
type templateRequest struct {
	Name        *string `json:"name" required:"create"`
	Description *string `json:"description"`
	Subject     *string `json:"subject" required:"create"`
	Body        *string `json:"body" required:"create"`
	BodyAlt     *string `json:"body_alt"`
	Type        *string `json:"type"`
}

func (r *templateRequest) apply(t *dialer.Template) {
	setString(&t.Name, r.Name)
	setString(&t.Description, r.Description)
	setString(&t.Subject, r.Subject)
	setString(&t.Body, r.Body)
	setString(&t.BodyAlt, r.BodyAlt)
	setString(&t.Type, r.Type)
}

func (s *Server) templates() ownedKind[dialer.Template, templateRequest] {
	m := s.deps.Messages
	return ownedKind[dialer.Template, templateRequest]{
		s: s, name: "template", idParam: "template_id",
		fresh: func(a dialer.Actor) dialer.Template {
			return dialer.Template{TenantID: a.TenantID, CreatedBy: a.UserID, CreatedByCRN: a.CRN()}
		},
		owner: func(t dialer.Template) int64 { return t.CreatedBy },
		apply: (*templateRequest).apply, validate: dialer.ValidateTemplate,

		load: m.Template, insert: m.CreateTemplate, save: m.UpdateTemplate, remove: m.DeleteTemplate,
		changed: s.configChanged,
	}
}

func (s *Server) ownedTemplate(c *gin.Context) (dialer.Template, bool) {
	t, _, ok := s.templates().owned(c)
	return t, ok
}

func (s *Server) listTemplates(c *gin.Context) { listInScope(s, c, s.deps.Messages.Templates) }

func (s *Server) uploadTemplate(c *gin.Context) {
	t, ok := s.ownedTemplate(c)
	if !ok {
		return
	}
	limit := s.cfg.MaxTemplateBytes
	s.acceptUpload(c, limit, "template_id", t.ID, func(ctx context.Context, up *upload) error {
		fileType := func(src *io.SectionReader) (string, error) {
			if src.Size() == 0 {
				return "", dialer.InvalidField("file", "empty file")
			}
			head := make([]byte, 512)
			n, _ := src.ReadAt(head, 0)
			return attachmentType(up.filename, up.contentType, head[:n]), nil
		}
		return s.deps.Messages.SetTemplateFile(ctx, t.TenantID, t.ID, up, limit, fileType)
	})
}

func (s *Server) downloadTemplate(c *gin.Context) {
	t, ok := s.ownedTemplate(c)
	if !ok {
		return
	}
	name := "template-" + strconv.FormatInt(t.ID, 10)
	if t.Type != "" {
		name += "." + t.Type
	}
	ct := ""
	if t.Type != "" {
		ct = mime.TypeByExtension("." + t.Type)
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	s.serveMedia(c, "template", t.FileHash, "bin", name, ct, t.UpdatedAt)
}

// attachmentExtensions names the file type of the common attachment media
// types, where mime.ExtensionsByType would offer several.
var attachmentExtensions = map[string]string{
	"text/plain": "txt", "text/html": "html", "text/csv": "csv", "application/pdf": "pdf",
	"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/tiff": "tif",
	"application/zip": "zip", "audio/wav": "wav", "audio/mpeg": "mp3", "application/json": "json",
	"application/msword": "doc", "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}

// attachmentType tells a template attachment's type: the extension of the
// name the client gave, else from the media type it declared, else from
// the content. "" when none of them says.
func attachmentType(filename, contentType string, head []byte) string {
	valid := func(ext string) string {
		ext = strings.ToLower(strings.TrimPrefix(ext, "."))
		if len(ext) == 0 || len(ext) > 8 || strings.Trim(ext, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			return ""
		}
		return ext
	}
	if ext := valid(path.Ext(filename)); ext != "" {
		return ext
	}
	for _, ct := range []string{contentType, http.DetectContentType(head)} {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt == "application/octet-stream" {
			continue
		}
		if ext, ok := attachmentExtensions[mt]; ok {
			return ext
		}
		if exts, _ := mime.ExtensionsByType(mt); len(exts) > 0 {
			if ext := valid(exts[0]); ext != "" {
				return ext
			}
		}
	}
	return ""
}

// ---- texts

// textRequest is the Text object; nil fields are left as they are on update.
type textRequest struct {
	Name        *string `json:"name" required:"create"`
	Description *string `json:"description"`
	Data        *string `json:"data" required:"create" example:"Your code is 1234"`
	Type        *string `json:"type"`
}

func (r *textRequest) apply(t *dialer.Text) {
	setString(&t.Name, r.Name)
	setString(&t.Description, r.Description)
	setString(&t.Data, r.Data)
	setString(&t.Type, r.Type)
}

func (s *Server) texts() ownedKind[dialer.Text, textRequest] {
	m := s.deps.Messages
	return ownedKind[dialer.Text, textRequest]{
		s: s, name: "text", idParam: "text_id",
		fresh: func(a dialer.Actor) dialer.Text {
			return dialer.Text{TenantID: a.TenantID, CreatedBy: a.UserID, CreatedByCRN: a.CRN()}
		},
		owner: func(t dialer.Text) int64 { return t.CreatedBy },
		apply: (*textRequest).apply, validate: dialer.ValidateText,

		load: m.Text, insert: m.CreateText, save: m.UpdateText, remove: m.DeleteText,
		changed: s.configChanged,
		vet:     s.vetText,
	}
}

// vetText checks a changed text against the gateways of every program that
// sends it (voicetts speaks it, sendsms sends it): a text that one of them
// could no longer carry is refused naming "data". A new text has no
// program yet; the program that takes it is checked when it is created.
func (s *Server) vetText(ctx context.Context, tenantID string, t dialer.Text) error {
	if t.ID == 0 || s.deps.Checker == nil || s.deps.Programs == nil {
		return nil
	}
	programs, err := s.deps.Programs.Programs(ctx, dialer.Scope{TenantID: tenantID},
		dialer.ListQuery{Filters: map[string]string{"text_id": strconv.FormatInt(t.ID, 10)}, Limit: dialer.MaxPageSize})
	if err != nil {
		return err
	}
	for _, p := range programs {
		if err := s.checkProgram(ctx, tenantID, p, &t); err != nil {
			var de *dialer.Error
			if errors.As(err, &de) && de.Code == dialer.CodeInvalid {
				for _, reason := range de.Fields {
					return dialer.InvalidField("data", "program "+strconv.FormatInt(p.ID, 10)+" ("+string(p.Type)+") could not send it: "+reason)
				}
			}
			return err
		}
	}
	return nil
}

func (s *Server) listTexts(c *gin.Context) { listInScope(s, c, s.deps.Messages.Texts) }

// ---- uploads and downloads

// upload is the file of an upload request: the raw body, or the part named
// "file" of a multipart/form-data body. It remembers a failure to read the
// request, so that it is answered as the client's fault, not the server's.
type upload struct {
	r           io.Reader
	filename    string // as the client named the file, when it did
	contentType string // as the client declared it
	readErr     error
}

func (u *upload) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		u.readErr = err
	}
	return n, err
}

// openUpload finds the file in the request. It refuses a body declared
// larger than limit at once, without reading it.
func (s *Server) openUpload(c *gin.Context, limit int64) (*upload, bool) {
	if c.Request.ContentLength > limit+uploadSlack {
		s.tooLarge(c, limit)
		return nil, false
	}
	var filename string
	if _, params, err := mime.ParseMediaType(c.GetHeader("Content-Disposition")); err == nil {
		filename = params["filename"]
	}
	mt, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return &upload{r: c.Request.Body, filename: filename, contentType: mt}, true
	}
	mr := multipart.NewReader(c.Request.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		var tooBig *http.MaxBytesError
		switch {
		case errors.Is(err, io.EOF):
			s.fail(c, dialer.InvalidField("file", "required: a multipart body needs a part named file"))
			return nil, false
		case errors.As(err, &tooBig):
			s.tooLarge(c, limit)
			return nil, false
		case err != nil:
			s.badRequest(c, "malformed multipart body: "+err.Error())
			return nil, false
		}
		if part.FormName() == "file" {
			return &upload{r: part, filename: part.FileName(), contentType: part.Header.Get("Content-Type")}, true
		}
		_ = part.Close()
	}
}

// acceptUpload reads the request's file, at most limit bytes, and hands it
// to keep; once kept it answers {"<kind>_id": id}, as the document shows.
func (s *Server) acceptUpload(c *gin.Context, limit int64, idField string, id int64,
	keep func(ctx context.Context, up *upload) error) {
	up, ok := s.openUpload(c, limit)
	if !ok {
		return
	}
	if err := keep(c.Request.Context(), up); err != nil {
		s.failUpload(c, up, limit, err)
		return
	}
	s.configChanged(actor(c).TenantID)
	c.JSON(http.StatusOK, gin.H{idField: id})
}

// failUpload answers a failed upload: too large is 413, a request that could
// not be read 400, anything else as the error says.
func (s *Server) failUpload(c *gin.Context, up *upload, limit int64, err error) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, dialer.ErrFileTooLarge), errors.As(err, &tooBig), errors.As(up.readErr, &tooBig):
		s.tooLarge(c, limit)
	case up.readErr != nil:
		s.badRequest(c, "could not read the upload: "+up.readErr.Error())
	default:
		s.fail(c, err)
	}
}

// tooLarge answers 413 for an upload over its limit, as bindJSON does for
// an oversized JSON body.
func (s *Server) tooLarge(c *gin.Context, limit int64) {
	c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, ictcoreError{Error: ictcoreErrorBody{
		Code: http.StatusRequestEntityTooLarge, Message: "file larger than " + strconv.FormatInt(limit, 10) + " bytes"}})
}

// serveMedia streams a media file from disk with its type and length;
// ranges and conditional requests work, the hash being the ETag. The file
// goes out as an attachment that browsers must not sniff or run, since a
// template's attachment may be anything.
func (s *Server) serveMedia(c *gin.Context, kind, hash, ext, filename, contentType string, updated int64) {
	if hash == "" {
		s.fail(c, dialer.NotFound(kind+" file; upload one with PUT first"))
		return
	}
	f, err := s.deps.Messages.OpenFile(c.Request.Context(), hash, ext)
	if err != nil {
		s.fail(c, err)
		return
	}
	defer f.Close()
	h := c.Writer.Header()
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	h.Set("ETag", `"`+hash+`"`)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	http.ServeContent(c.Writer, c.Request, filename, time.Unix(updated, 0), f)
}
