package dialer

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestValidateContact(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Contact
		bad  []string // fields that must fail, sorted
		want Contact  // the normalised contact when nothing fails
	}{
		{"trims and normalises", Contact{FirstName: " Jane ", Phone: " (415) 555-2671 ", Email: " j@example.com ", Timezone: " Asia/Karachi "},
			nil, Contact{FirstName: "Jane", Phone: "+14155552671", Email: "j@example.com", Timezone: "Asia/Karachi"}},
		{"international", Contact{Phone: "0044 20 7946 0018"}, nil, Contact{Phone: "+442079460018"}},
		{"UTC", Contact{Phone: "+14155552671", Timezone: "UTC"}, nil, Contact{Phone: "+14155552671", Timezone: "UTC"}},
		{"multi-line address", Contact{Phone: "+14155552671", Address: "1 Main St\r\nSpringfield"}, nil,
			Contact{Phone: "+14155552671", Address: "1 Main St\r\nSpringfield"}},
		{"no phone", Contact{FirstName: "A"}, []string{"phone"}, Contact{}},
		{"everything wrong", Contact{Phone: "x", Email: "@", Timezone: "Nowhere/City", LastName: "\x1b[31m",
			Custom1: strings.Repeat("é", 256), Description: "\xff"},
			[]string{"custom1", "description", "email", "last_name", "phone", "timezone"}, Contact{}},
		{"zone path", Contact{Phone: "+14155552671", Timezone: "../../etc/passwd"}, []string{"timezone"}, Contact{}},
		{"host zone", Contact{Phone: "+14155552671", Timezone: "Local"}, []string{"timezone"}, Contact{}},
		{"display name", Contact{Phone: "+14155552671", Email: "Jane <j@example.com>"}, []string{"email"}, Contact{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v Invalid
			c := tc.in
			NewContactRules("1").Validate(&c, &v)
			var de *Error
			var got []string
			if errors.As(v.Err(), &de) {
				for _, f := range ContactCSVColumns() {
					if de.Fields[f] != "" {
						got = append(got, f)
					}
				}
			}
			if strings.Join(got, ",") != strings.Join(sortedCopy(tc.bad), ",") {
				t.Fatalf("failing fields %v, want %v (%v)", got, tc.bad, v.Err())
			}
			if tc.bad == nil && c != tc.want {
				t.Errorf("normalised to %+v, want %+v", c, tc.want)
			}
		})
	}
}

func sortedCopy(s []string) []string {
	var out []string
	for _, col := range ContactCSVColumns() {
		for _, x := range s {
			if x == col {
				out = append(out, x)
			}
		}
	}
	return out
}

func TestValidateNewContactNeedsAName(t *testing.T) {
	var v Invalid
	c := Contact{FirstName: "  ", Phone: "+14155552671"}
	NewContactRules("1").ValidateNew(&c, &v)
	if !v.Has("first_name") {
		t.Errorf("a blank first name passed: %v", v.Err())
	}
}

func TestValidateGroup(t *testing.T) {
	for _, tc := range []struct {
		g   Group
		bad string
	}{
		{Group{Name: " g "}, ""}, {Group{}, "name"}, {Group{Name: strings.Repeat("n", 256)}, "name"},
		{Group{Name: "g", Description: "\x00"}, "description"},
	} {
		var v Invalid
		ValidateGroup(&tc.g, &v)
		if tc.bad == "" && v.Err() != nil || tc.bad != "" && !v.Has(tc.bad) {
			t.Errorf("%+v: %v, want failure of %q", tc.g, v.Err(), tc.bad)
		}
	}
}

func readAllRows(t *testing.T, src *ContactCSV) []ContactRow {
	t.Helper()
	var rows []ContactRow
	for {
		r, err := src.Next()
		if errors.Is(err, io.EOF) {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
}

func TestContactCSV(t *testing.T) {
	in := "\ufeff Phone ,First-Name,last name,Company,EMAIL\r\n" +
		"4155552671,Jane,Doe,ACME,j@example.com\r\n" +
		"\r\n" + // blank lines are skipped
		"bad,\"multi\nline\",x\r\n" +
		"\"4155552672\" ,stray,quote\r\n" +
		"4155552673\r\n"
	src, err := NewContactCSV(strings.NewReader(in), NewContactRules("1"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(src.Ignored(), ",") != "Company" {
		t.Errorf("ignored %v", src.Ignored())
	}
	rows := readAllRows(t, src)
	if len(rows) != 4 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	if r := rows[0]; r.Line != 2 || len(r.Errors) != 0 || r.Contact != (Contact{FirstName: "Jane", LastName: "Doe", Phone: "+14155552671", Email: "j@example.com"}) {
		t.Errorf("row 1: %+v", r)
	}
	// A name may not span lines, so the row fails on it as well as its phone.
	if r := rows[1]; r.Line != 4 || len(r.Errors) != 2 || r.Errors[0] != (ImportError{Line: 4, Field: "first_name", Reason: r.Errors[0].Reason}) ||
		r.Errors[1] != (ImportError{Line: 4, Field: "phone", Reason: r.Errors[1].Reason}) || r.Contact.FirstName != "multi\nline" {
		t.Errorf("row 2: %+v", r)
	}
	if r := rows[2]; r.Line != 6 || len(r.Errors) != 1 || r.Errors[0].Field != "csv" {
		t.Errorf("row 3 (a quote error) : %+v", r)
	}
	if r := rows[3]; r.Line != 7 || len(r.Errors) != 0 || r.Contact.Phone != "+14155552673" {
		t.Errorf("row 4 (after the error): %+v", r)
	}
}

func TestContactCSVHeader(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"no phone", "first_name,email\nA,a@b.c\n"},
		{"twice", "phone,PHONE\n1,2\n"},
		{"broken", "phone,\"x\"y\n"},
		{"endless", "\"" + strings.Repeat("x", MaxCSVRecordBytes+8192)},
	} {
		_, err := NewContactCSV(strings.NewReader(tc.in), NewContactRules("1"))
		var de *Error
		if !errors.As(err, &de) || de.Code != CodeInvalid || de.Fields["header"] == "" {
			t.Errorf("%s: err = %v, want an invalid header", tc.name, err)
		}
	}
	read := errors.New("network down")
	if _, err := NewContactCSV(io.MultiReader(strings.NewReader("pho"), errReader{read}), NewContactRules("1")); !errors.Is(err, read) {
		t.Errorf("read error: %v", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestContactCSVRecordLimit: one endless record ends the import rather than
// the memory.
func TestContactCSVRecordLimit(t *testing.T) {
	in := io.MultiReader(strings.NewReader("phone\n4155552671\n\""), endless{})
	src, err := NewContactCSV(in, NewContactRules("1"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := src.Next(); err != nil || r.Contact.Phone != "+14155552671" {
		t.Fatalf("first row: %+v, %v", r, err)
	}
	_, err = src.Next()
	var de *Error
	if !errors.As(err, &de) || de.Fields["body"] == "" {
		t.Fatalf("err = %v, want an invalid body", err)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestSampleContactsCSVImportsCleanly(t *testing.T) {
	src, err := NewContactCSV(strings.NewReader(SampleContactsCSV()), NewContactRules("1"))
	if err != nil {
		t.Fatal(err)
	}
	rows := readAllRows(t, src)
	if len(rows) != 2 || len(src.Ignored()) != 0 {
		t.Fatalf("rows %+v, ignored %v", rows, src.Ignored())
	}
	for _, r := range rows {
		if len(r.Errors) != 0 {
			t.Errorf("sample row %d: %+v", r.Line, r.Errors)
		}
	}
}

func TestImportResultCapsErrors(t *testing.T) {
	var r ImportResult
	for i := range MaxImportErrors + 5 {
		r.Reject([]ImportError{{Line: i + 2, Field: "phone"}, {Line: i + 2, Field: "email"}})
	}
	if r.Failed != MaxImportErrors+5 || len(r.Errors) != MaxImportErrors || r.ErrorsOmitted != MaxImportErrors+10 {
		t.Errorf("failed %d, listed %d, omitted %d", r.Failed, len(r.Errors), r.ErrorsOmitted)
	}
}

func TestContactCSVRecordRoundTrip(t *testing.T) {
	c := Contact{FirstName: "a", LastName: "b", Phone: "+14155552671", Email: "e@x.y", Address: "ad", Custom1: "1",
		Custom2: "2", Custom3: "3", Description: "d", Timezone: "UTC"}
	rec := ContactCSVRecord(c, nil)
	if len(rec) != len(ContactCSVColumns()) {
		t.Fatalf("record %v", rec)
	}
	var b bytes.Buffer
	b.WriteString(strings.Join(ContactCSVColumns(), ",") + "\n" + strings.Join(rec, ",") + "\n")
	src, err := NewContactCSV(&b, NewContactRules("1"))
	if err != nil {
		t.Fatal(err)
	}
	rows := readAllRows(t, src)
	if len(rows) != 1 || rows[0].Contact != c {
		t.Errorf("round trip: %+v", rows)
	}
}

// FuzzContactCSV feeds arbitrary bytes to the CSV reader: it never panics,
// lines only grow, and every accepted row carries an E.164 number.
func FuzzContactCSV(f *testing.F) {
	f.Add([]byte("phone,first_name\n4155552671,A\n\"x\"y,B\n+442079460018,\"multi\nline\"\n"))
	f.Add([]byte("\ufeffPHONE;x\r\n1\r\n"))
	f.Add([]byte(SampleContactsCSV()))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := NewContactCSV(bytes.NewReader(data), NewContactRules("92"))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("header error %v is not a validation error", err)
			}
			return
		}
		last := 1
		for {
			r, err := src.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if r.Line <= last {
				t.Fatalf("line %d after %d", r.Line, last)
			}
			last = r.Line
			if len(r.Errors) == 0 {
				p := r.Contact.Phone
				if len(p) < 9 || len(p) > 16 || p[0] != '+' || p[1] == '0' || strings.Trim(p[1:], "0123456789") != "" {
					t.Fatalf("accepted phone %q", p)
				}
			}
		}
	})
}
