package dialer

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

// DNCCSVColumns are the columns of a do-not-call list's CSV, in export
// order.
func DNCCSVColumns() []string { return []string{"number", "expires_at"} }

// DNCRow is one row of a do-not-call import.
type DNCRow struct {
	Line   int
	Number DNCNumber
	Errors []ImportError
}

// DNCRows yields import rows; Next returns io.EOF after the last.
type DNCRows interface {
	Next() (DNCRow, error)
}

// DNCCSV reads a do-not-call list from CSV: a header row naming number
// (or phone) and optionally expires_at (Unix seconds, RFC 3339, or a
// YYYY-MM-DD date meaning its midnight UTC; empty or 0 for never). Numbers
// are normalised to E.164 as contacts' are. It holds one record at a time.
type DNCCSV struct {
	*csvRecords
	cc       string
	clean    func(string) string
	num, exp int
}

// NewDNCCSV reads the header of src; defaultCountryCode completes national
// numbers; clean (may be nil) is applied to each cell first (the API takes
// its exports' formula guard off with it).
func NewDNCCSV(src io.Reader, defaultCountryCode string, clean func(string) string) (*DNCCSV, error) {
	recs, header, err := openCSVRecords(src, "number among them")
	if err != nil {
		return nil, err
	}
	if clean == nil {
		clean = func(s string) string { return s }
	}
	c := &DNCCSV{csvRecords: recs, cc: defaultCountryCode, clean: clean, num: -1, exp: -1}
	for pos, h := range header {
		if pos == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "number", "phone":
			if c.num >= 0 {
				return nil, InvalidField("header", "the number column appears twice")
			}
			c.num = pos
		case "expires_at", "expires":
			c.exp = pos
		}
	}
	if c.num < 0 {
		return nil, InvalidField("header", "the header row has no number column")
	}
	return c, nil
}

// Next returns the next data row.
func (c *DNCCSV) Next() (DNCRow, error) {
	rec, broken, err := c.next()
	if err != nil {
		return DNCRow{}, err
	}
	if broken != nil {
		return DNCRow{Line: broken.Line, Errors: []ImportError{*broken}}, nil
	}
	row := DNCRow{Line: c.line}
	field := func(p int) string {
		if p >= 0 && p < len(rec) {
			return c.clean(strings.TrimSpace(rec[p]))
		}
		return ""
	}
	n, err := NormalizePhone(field(c.num), c.cc)
	if err != nil {
		row.Errors = append(row.Errors, ImportError{Line: c.line, Field: "number", Reason: reasonFor(err, "phone")})
	}
	row.Number.Number = n
	if exp, err := ParseDNCExpiry(field(c.exp)); err != nil {
		row.Errors = append(row.Errors, ImportError{Line: c.line, Field: "expires_at", Reason: err.Error()})
	} else {
		row.Number.ExpiresAt = exp
	}
	return row, nil
}

// ParseDNCExpiry reads an expiry: "" or "0" never, Unix seconds, RFC 3339,
// or YYYY-MM-DD (midnight UTC).
func ParseDNCExpiry(s string) (int64, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return n, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Unix(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Unix(), nil
	}
	return 0, errors.New("an expiry is Unix seconds, an RFC 3339 time or a YYYY-MM-DD date")
}
