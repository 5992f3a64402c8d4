package dialer

import (
	"errors"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Message content, in the ICTCore document's shapes: fax documents, voice
// recordings, email templates and SMS texts. Documents, recordings and
// templates carry a media file kept by content hash; the hash is the
// store's business and never shown.

// Document is a fax document: a PDF or TIFF file; or, received by email
// (receiveemail), any other attachment kept as it came (type "bin"),
// which no fax can send.
type Document struct {
	ID          int64  `json:"document_id"`
	TenantID    string `json:"-"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Type is pdf or tif, from the uploaded content, or bin for a mail's
	// attachment that is no fax document; "" until a file is uploaded.
	Type string `json:"type"`
	// Pages is the page count of the file, 0 when unknown.
	Pages     int    `json:"pages"`
	FileSize  int64  `json:"file_size"`
	FileHash  string `json:"-"`
	CreatedBy int64  `json:"created_by"`
	// CreatedByCRN names the creator, a user or an API key (dialer.Actor.CRN).
	CreatedByCRN string `json:"created_by_crn"`
	CreatedAt    int64  `json:"date_created"`
	UpdatedAt    int64  `json:"last_updated"`
}

// Recording is a voice recording. The file is kept as uploaded and also as
// 8 kHz 16-bit mono WAV, ready to be played on a call.
type Recording struct {
	ID          int64  `json:"recording_id"`
	TenantID    string `json:"-"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Type is wav or mp3, from the uploaded content.
	Type string `json:"type"`
	// Length is the duration in seconds.
	Length        float64 `json:"length"`
	FileSize      int64   `json:"file_size"`
	FileHash      string  `json:"-"`
	TelephonyHash string  `json:"-"`
	CreatedBy     int64   `json:"created_by"`
	// CreatedByCRN names the creator, a user or an API key (dialer.Actor.CRN).
	CreatedByCRN string `json:"created_by_crn"`
	CreatedAt    int64  `json:"date_created"`
	UpdatedAt    int64  `json:"last_updated"`
}

// Template is an email template; its file is an attachment of any type.
type Template struct {
	ID          int64  `json:"template_id"`
	TenantID    string `json:"-"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Subject     string `json:"subject"`
	Body        string `json:"body"`     // HTML
	BodyAlt     string `json:"body_alt"` // plain text
	// Type is the attachment's file extension, e.g. pdf or txt.
	Type      string `json:"type"`
	FileSize  int64  `json:"file_size"`
	FileHash  string `json:"-"`
	CreatedBy int64  `json:"created_by"`
	// CreatedByCRN names the creator, a user or an API key (dialer.Actor.CRN).
	CreatedByCRN string `json:"created_by_crn"`
	CreatedAt    int64  `json:"date_created"`
	UpdatedAt    int64  `json:"last_updated"`
}

// Text is an SMS text. Encoding and Segments follow from Data.
type Text struct {
	ID          int64  `json:"text_id"`
	TenantID    string `json:"-"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Data        string `json:"data"`
	// Type is plain, unicode or binary, as the client says.
	Type string `json:"type"`
	// Encoding is gsm7 or ucs2: what Data needs on the air.
	Encoding string `json:"encoding"`
	// Segments is how many SMS parts Data takes.
	Segments int `json:"segments"`
	// Length is Data's length in characters.
	Length    int   `json:"length"`
	CreatedBy int64 `json:"created_by"`
	// CreatedByCRN names the creator, a user or an API key (dialer.Actor.CRN).
	CreatedByCRN string `json:"created_by_crn"`
	CreatedAt    int64  `json:"date_created"`
	UpdatedAt    int64  `json:"last_updated"`
}

// DocumentFile is what the check of an uploaded document found.
type DocumentFile struct {
	Type  string // pdf or tif
	Pages int    // 0 when unknown
}

// RecordingFile is what the decoding of an uploaded recording found.
type RecordingFile struct {
	Type   string  // wav or mp3
	Length float64 // seconds
}

// Text types, as the ICTCore Text object names them.
const (
	TextPlain   = "plain"
	TextUnicode = "unicode"
	TextBinary  = "binary"
)

// MaxSMSSegments is the most parts a concatenated SMS can have: the
// concatenation header counts parts in one octet.
const MaxSMSSegments = 255

const (
	maxNameChars        = 255
	maxDescriptionChars = 1024
	maxSubjectChars     = 998 // RFC 5322's line limit
)

// ErrFileTooLarge is returned when an upload exceeds its size limit.
var ErrFileTooLarge = errors.New("file too large")

// templateTypePattern is a file extension: what the document calls "three
// digit file extension", allowing the longer ones that exist (html, docx).
var templateTypePattern = regexp.MustCompile(`^[a-z0-9]{1,8}$`)

func validateNameDescription(name, description *string, v *Invalid) {
	*name = strings.TrimSpace(*name)
	switch n := utf8.RuneCountInString(*name); {
	case n == 0:
		v.Add("name", "required")
	case n > maxNameChars:
		v.Add("name", "at most 255 characters")
	}
	checkName(v, "name", *name)
	if utf8.RuneCountInString(*description) > maxDescriptionChars {
		v.Add("description", "at most 1024 characters")
	}
}

// ValidateDocument checks the fields of d that a client sets. Type, pages
// and size come from the uploaded file, never from the client.
func ValidateDocument(d *Document, v *Invalid) {
	validateNameDescription(&d.Name, &d.Description, v)
}

// ValidateRecording checks the fields of r that a client sets. Type and
// length come from the uploaded file.
func ValidateRecording(r *Recording, v *Invalid) {
	validateNameDescription(&r.Name, &r.Description, v)
}

// ValidateTemplate checks the fields of t that a client sets.
func ValidateTemplate(t *Template, v *Invalid) {
	validateNameDescription(&t.Name, &t.Description, v)
	switch {
	case strings.TrimSpace(t.Subject) == "":
		v.Add("subject", "required")
	case utf8.RuneCountInString(t.Subject) > maxSubjectChars:
		v.Add("subject", "at most 998 characters")
	case strings.ContainsAny(t.Subject, "\r\n"):
		// A line break in a header would let the subject add headers.
		v.Add("subject", "must be one line")
	}
	if strings.TrimSpace(t.Body) == "" {
		v.Add("body", "required")
	}
	t.Type = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(t.Type), "."))
	if t.Type != "" && !templateTypePattern.MatchString(t.Type) {
		v.Add("type", "a file extension of 1-8 letters or digits, such as pdf")
	}
}

// ValidateText checks the fields of t that a client sets and computes its
// encoding, segment count and length from Data.
func ValidateText(t *Text, v *Invalid) {
	validateNameDescription(&t.Name, &t.Description, v)
	if t.Type == "" {
		t.Type = TextPlain
	}
	switch t.Type {
	case TextPlain, TextUnicode, TextBinary:
	default:
		v.Add("type", "must be plain, unicode or binary")
	}
	if t.Data == "" {
		v.Add("data", "required")
	}
	t.Encoding = SMSEncoding(t.Data)
	t.Segments = SMSSegments(t.Data)
	t.Length = utf8.RuneCountInString(t.Data)
	if t.Segments > MaxSMSSegments {
		v.Add("data", "too long: more than 255 SMS parts")
	}
}
