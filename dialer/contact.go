package dialer

import (
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"
	_ "time/tzdata" // contact time zones validate the same on hosts without /usr/share/zoneinfo
	"unicode"
	"unicode/utf8"
)

// Contact is someone to reach. Field names follow the ICTCore Contact object.
// Phone is always E.164 once stored; Timezone, when set, is an IANA name that
// calling windows use instead of the campaign's.
type Contact struct {
	ID          int64  `json:"contact_id"`
	TenantID    string `json:"-"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	Phone       string `json:"phone"`
	Email       string `json:"email"`
	Address     string `json:"address"`
	Custom1     string `json:"custom1"`
	Custom2     string `json:"custom2"`
	Custom3     string `json:"custom3"`
	Description string `json:"description"`
	Timezone    string `json:"timezone"`
	CreatedBy   int64  `json:"created_by"`
	// CreatedByCRN names the creator, a user or an API key (dialer.Actor.CRN).
	CreatedByCRN string `json:"created_by_crn"`
	CreatedAt    int64  `json:"date_created"`
	UpdatedAt    int64  `json:"last_updated"`
}

// Group is a named set of contacts; a contact may be in many groups.
// ContactTotal is computed, never set by clients.
type Group struct {
	ID           int64  `json:"group_id"`
	TenantID     string `json:"-"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	ContactTotal int64  `json:"contact_total"`
	CreatedBy    int64  `json:"created_by"`
	// CreatedByCRN names the creator, a user or an API key (dialer.Actor.CRN).
	CreatedByCRN string `json:"created_by_crn"`
	CreatedAt    int64  `json:"date_created"`
	UpdatedAt    int64  `json:"last_updated"`
}

// Field length limits, in characters.
const (
	maxShortText = 255
	maxLongText  = 4096 // address, description
)

// maxCachedZones bounds ContactRules' memory of checked time zone names, so
// an import full of distinct garbage names cannot grow it without end.
const maxCachedZones = 1024

// ContactRules validates and normalises contacts. It remembers the time
// zones it has checked (loading one reads a file), so one value should serve
// a whole request or import; it is not safe for concurrent use.
type ContactRules struct {
	// DefaultCountryCode completes national phone numbers, e.g. "1" or "92".
	DefaultCountryCode string
	zones              map[string]bool
}

// NewContactRules returns rules that complete national numbers with
// defaultCountryCode.
func NewContactRules(defaultCountryCode string) *ContactRules {
	return &ContactRules{DefaultCountryCode: defaultCountryCode, zones: map[string]bool{}}
}

// ValidateNew checks a contact created through the API, where the ICTCore
// Contact object marks first_name required. CSV imports use Validate: bare
// lists of numbers are common there and the name is optional.
func (r *ContactRules) ValidateNew(c *Contact, v *Invalid) {
	if strings.TrimSpace(c.FirstName) == "" {
		v.Add("first_name", "required")
	}
	r.Validate(c, v)
}

// Validate trims c's fields, normalises its phone number to E.164 and checks
// the rest, recording each failing field in v.
func (r *ContactRules) Validate(c *Contact, v *Invalid) {
	for _, f := range []struct {
		name string
		val  *string
		max  int
	}{
		{"first_name", &c.FirstName, maxShortText}, {"last_name", &c.LastName, maxShortText},
		{"email", &c.Email, maxShortText}, {"address", &c.Address, maxLongText},
		{"custom1", &c.Custom1, maxShortText}, {"custom2", &c.Custom2, maxShortText},
		{"custom3", &c.Custom3, maxShortText}, {"description", &c.Description, maxLongText},
		{"timezone", &c.Timezone, maxShortText},
	} {
		*f.val = strings.TrimSpace(*f.val)
		checkText(v, f.name, *f.val, f.max)
	}
	checkName(v, "first_name", c.FirstName)
	checkName(v, "last_name", c.LastName)
	if phone, err := NormalizePhone(c.Phone, r.DefaultCountryCode); err != nil {
		v.Add("phone", reasonFor(err, "phone"))
	} else {
		c.Phone = phone
	}
	if c.Email != "" && !v.Has("email") {
		// A bare address only: "Name <a@b>" would put the name in the wrong place.
		if a, err := mail.ParseAddress(c.Email); err != nil || a.Address != c.Email {
			v.Add("email", "not an email address")
		}
	}
	if c.Timezone != "" && !v.Has("timezone") && !r.knownZone(c.Timezone) {
		v.Add("timezone", "not an IANA time zone name such as Europe/Paris")
	}
}

// knownZone reports whether name is an IANA zone Go can load. "Local" is the
// host's zone, not a name a contact can carry.
func (r *ContactRules) knownZone(name string) bool {
	if ok, seen := r.zones[name]; seen {
		return ok
	}
	_, err := time.LoadLocation(name)
	ok := err == nil && name != "Local"
	if r.zones == nil {
		r.zones = map[string]bool{}
	}
	if len(r.zones) < maxCachedZones {
		r.zones[name] = ok
	}
	return ok
}

// ValidateGroup trims g's fields and checks them.
func ValidateGroup(g *Group, v *Invalid) {
	g.Name = strings.TrimSpace(g.Name)
	g.Description = strings.TrimSpace(g.Description)
	if g.Name == "" {
		v.Add("name", "required")
	}
	checkText(v, "name", g.Name, maxShortText)
	checkName(v, "name", g.Name)
	checkText(v, "description", g.Description, maxLongText)
}

// checkName refuses a control character in a name, which checkText lets
// through in free text: a name is one line, and a line break or other
// control character in it would forge lines in logs and headers and split
// rows of exports. It leaves a field checkText already refused alone.
func checkName(v *Invalid, field, s string) {
	if !v.Has(field) && hasControl(s) {
		v.Add(field, "a name must not contain control characters (line breaks, tabs and the like)")
	}
}

// hasControl reports whether s holds a control character: C0 (CR, LF and
// tab among them), DEL or C1.
func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// checkText refuses text that is not UTF-8, too long, or carries control
// characters other than tab and line breaks: such bytes come from binary
// files sent as CSV and would break every export and dial string later.
func checkText(v *Invalid, field, s string, max int) {
	if !utf8.ValidString(s) {
		v.Add(field, "not valid UTF-8")
		return
	}
	if utf8.RuneCountInString(s) > max {
		v.Add(field, fmt.Sprintf("at most %d characters", max))
		return
	}
	for _, c := range s {
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
			v.Add(field, "contains control characters")
			return
		}
	}
}

// reasonFor extracts why field was rejected from a validation error.
func reasonFor(err error, field string) string {
	var de *Error
	if errors.As(err, &de) {
		if why, ok := de.Fields[field]; ok {
			return why
		}
		if de.Message != "" {
			return de.Message
		}
	}
	return err.Error()
}

// ContactCSVColumns are the columns of a contacts CSV file, import and export
// alike, in export order. Only phone is required on import.
func ContactCSVColumns() []string {
	return []string{"first_name", "last_name", "phone", "email", "address", "custom1", "custom2", "custom3",
		"description", "timezone"}
}

// ContactCSVRecord is c as a CSV record in ContactCSVColumns order; it reuses dst.
func ContactCSVRecord(c Contact, dst []string) []string {
	return append(dst[:0], c.FirstName, c.LastName, c.Phone, c.Email, c.Address, c.Custom1, c.Custom2, c.Custom3,
		c.Description, c.Timezone)
}

// SampleContactsCSV is the file GET /groups/sample/csv offers: the header and
// two rows that import cleanly (the numbers are reserved for fiction).
func SampleContactsCSV() string {
	return "first_name,last_name,phone,email,address,custom1,custom2,custom3,description,timezone\r\n" +
		"Jane,Doe,+1 415 555 0100,jane.doe@example.com,\"1 Main Street, Springfield\",gold,,,met at the fair,America/Los_Angeles\r\n" +
		"John,Smith,+44 20 7946 0018,john.smith@example.org,,,,,,Europe/London\r\n"
}

// ImportError is why one CSV row, or one of its fields, was rejected.
// Line counts from 1, the header row being line 1.
type ImportError struct {
	Line   int    `json:"line"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// MaxImportErrors caps the errors an import lists; the rest are counted.
const MaxImportErrors = 1000

// ImportResult is the answer of a contacts import.
type ImportResult struct {
	// The counts are disjoint, one per data row: Imported counts rows that
	// created a contact, Existing rows matched by phone to a contact the
	// tenant had (or an earlier row of the file made) and linked as it is,
	// Failed rejected rows.
	Imported int `json:"imported"`
	Existing int `json:"existing"`
	// Errors says why rows failed, at most MaxImportErrors entries (a row
	// may fail on several fields), ErrorsOmitted the rest.
	Failed         int           `json:"failed"`
	Errors         []ImportError `json:"errors"`
	ErrorsOmitted  int           `json:"errors_omitted"`
	IgnoredColumns []string      `json:"ignored_columns,omitempty"`
	// OverLimit counts the Failed rows refused because they would have
	// created a contact beyond the plan's contacts limit; Limit says so.
	OverLimit int    `json:"over_limit,omitempty"`
	Limit     string `json:"limit,omitempty"`
}

// RejectOverLimit fails the rows of lines, refused by the plan's limit of
// most contacts.
func (r *ImportResult) RejectOverLimit(lines []int, most int) {
	if len(lines) == 0 {
		return
	}
	reason := fmt.Sprintf("the account's plan allows %d contacts; this row would create one more", most)
	for _, l := range lines {
		r.Reject([]ImportError{{Line: l, Field: "phone", Reason: reason}})
	}
	r.OverLimit += len(lines)
	r.Limit = fmt.Sprintf("the account's plan allows %d contacts: %d rows that would have created more were not imported", most, r.OverLimit)
}

// Reject counts a failed row and keeps its errors within the cap.
func (r *ImportResult) Reject(errs []ImportError) {
	r.Failed++
	for _, e := range errs {
		if len(r.Errors) < MaxImportErrors {
			r.Errors = append(r.Errors, e)
		} else {
			r.ErrorsOmitted++
		}
	}
}

// ContactRow is one data row of an import: a validated contact, or the
// reasons it was rejected.
type ContactRow struct {
	Line    int
	Contact Contact
	Errors  []ImportError // non-empty when the row is rejected
}

// ContactRows yields the rows of an import one at a time; Next returns
// io.EOF after the last. Any other error ends the import.
type ContactRows interface {
	Next() (ContactRow, error)
}

// MaxCSVRecordBytes bounds one CSV record, so that a hostile file (one
// endless quoted field) cannot make the parser hold it all in memory.
const MaxCSVRecordBytes = 1 << 20

// ErrRecordTooLong ends an import whose CSV has a record over MaxCSVRecordBytes.
var ErrRecordTooLong = errors.New("a CSV record is longer than 1 MiB")

// ContactCSV reads contacts from a CSV stream: the first row names the
// columns (case-insensitive; spaces and dashes count as underscores; a UTF-8
// byte order mark is ignored), phone is required, unknown columns are
// ignored, and each later row becomes a ContactRow. It holds one record at a
// time, never the file.
type ContactCSV struct {
	*csvRecords
	rules   *ContactRules
	index   []int // position of each ContactCSVColumns entry in a record; -1 when absent
	ignored []string
}

// NewContactCSV reads the header row of src. A missing or unusable header
// is a validation error of the field "header"; a read error is returned as is.
func NewContactCSV(src io.Reader, rules *ContactRules) (*ContactCSV, error) {
	recs, header, err := openCSVRecords(src, "phone among them")
	if err != nil {
		return nil, err
	}
	cols := ContactCSVColumns()
	c := &ContactCSV{csvRecords: recs, rules: rules, index: make([]int, len(cols))}
	for i := range c.index {
		c.index[i] = -1
	}
	for pos, h := range header {
		if pos == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		name := strings.NewReplacer(" ", "_", "-", "_").Replace(strings.ToLower(strings.TrimSpace(h)))
		known := false
		for i, col := range cols {
			if name == col {
				if c.index[i] >= 0 {
					return nil, InvalidField("header", "column "+col+" appears twice")
				}
				c.index[i], known = pos, true
			}
		}
		if !known && len(c.ignored) < 32 {
			if len(h) > 64 {
				h = h[:64] + "…"
			}
			c.ignored = append(c.ignored, strings.ToValidUTF8(h, "?"))
		}
	}
	if c.index[2] < 0 {
		return nil, InvalidField("header", "the header row has no phone column")
	}
	return c, nil
}

// Ignored lists (up to 32 of) the header's columns that are not contact
// fields, each cut to 64 bytes.
func (c *ContactCSV) Ignored() []string { return c.ignored }

// Next returns the next data row. A row the CSV syntax breaks (a stray
// quote) is a rejected row of field "csv", and reading goes on.
func (c *ContactCSV) Next() (ContactRow, error) {
	rec, broken, err := c.next()
	if err != nil {
		return ContactRow{}, err
	}
	if broken != nil {
		return ContactRow{Line: broken.Line, Errors: []ImportError{*broken}}, nil
	}
	field := func(i int) string {
		if p := c.index[i]; p >= 0 && p < len(rec) {
			return rec[p]
		}
		return ""
	}
	// The fields may be kept: csv allocates each record's text afresh and
	// ReuseRecord only recycles the slice that points into it.
	row := ContactRow{Line: c.line, Contact: Contact{
		FirstName: field(0), LastName: field(1), Phone: field(2), Email: field(3), Address: field(4),
		Custom1: field(5), Custom2: field(6), Custom3: field(7), Description: field(8), Timezone: field(9),
	}}
	var v Invalid
	c.rules.Validate(&row.Contact, &v)
	var de *Error
	if errors.As(v.Err(), &de) {
		for _, name := range ContactCSVColumns() {
			if why, bad := de.Fields[name]; bad {
				row.Errors = append(row.Errors, ImportError{Line: c.line, Field: name, Reason: why})
			}
		}
	}
	return row, nil
}

// recordLimit fails a read once more than max bytes were read since the
// last reset; ContactCSV resets it before each record.
type recordLimit struct {
	r    io.Reader
	n    int
	max  int
	over bool
}

func (l *recordLimit) reset() { l.n = 0 }

func (l *recordLimit) Read(p []byte) (int, error) {
	if l.over || l.n > l.max {
		l.over = true
		return 0, ErrRecordTooLong
	}
	n, err := l.r.Read(p)
	l.n += n
	return n, err
}
