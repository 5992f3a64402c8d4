package api

import (
	"errors"
	"strings"

	"github.com/dialerd/dialerd/dialer"
)

// CSV exports guard against formula injection as OWASP recommends: a cell
// a spreadsheet would read as a formula (it begins with = + - @, a tab or a
// carriage return) is written with a leading apostrophe, which spreadsheets
// take to mean "text". Every such cell is guarded, phone numbers included:
// "+14155552671" leaves as "'+14155552671", which a spreadsheet shows as the
// number's text instead of evaluating it. Imports take the guard off again,
// so an exported file imports as it was. The guard is reversible for every
// value: a cell that already begins with an apostrophe the import would
// strip (one followed by a formula character or another apostrophe) is
// guarded too.

// formulaStart reports whether a spreadsheet reads a cell beginning with b
// as a formula.
func formulaStart(b byte) bool {
	switch b {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// guarded reports whether s, read from a CSV, carries the export's guard.
func guarded(s string) bool {
	return len(s) >= 2 && s[0] == '\'' && (formulaStart(s[1]) || s[1] == '\'')
}

// csvCell is s as an exported CSV cell.
func csvCell(s string) string {
	if s != "" && (formulaStart(s[0]) || guarded(s)) {
		return "'" + s
	}
	return s
}

// csvValue is an imported CSV cell without the export's guard.
func csvValue(s string) string {
	if guarded(s) {
		return s[1:]
	}
	return s
}

// unguardedRows takes the export's guard off the cells of a contacts
// import. The rows arrive validated, so a row whose cells change is
// validated again, unguarded: "'+14155552671" is a good phone number.
type unguardedRows struct {
	src   dialer.ContactRows
	rules *dialer.ContactRules
}

func (u unguardedRows) Next() (dialer.ContactRow, error) {
	row, err := u.src.Next()
	if err != nil {
		return row, err
	}
	c := &row.Contact
	changed := false
	for _, f := range []*string{&c.FirstName, &c.LastName, &c.Phone, &c.Email, &c.Address, &c.Custom1, &c.Custom2,
		&c.Custom3, &c.Description, &c.Timezone} {
		if t := strings.TrimSpace(*f); guarded(t) {
			*f = t[1:]
			changed = true
		}
	}
	if !changed {
		return row, nil
	}
	var v dialer.Invalid
	u.rules.Validate(c, &v)
	row.Errors = nil
	var de *dialer.Error
	if errors.As(v.Err(), &de) {
		for _, name := range dialer.ContactCSVColumns() {
			if why, bad := de.Fields[name]; bad {
				row.Errors = append(row.Errors, dialer.ImportError{Line: row.Line, Field: name, Reason: why})
			}
		}
	}
	return row, nil
}
