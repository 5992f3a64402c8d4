package dialer

import (
	"strings"
	"testing"
)

func TestValidateText(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       Text
		bad      string // the field that must fail, "" for none
		encoding string
		segments int
		length   int
	}{
		{"plain by default", Text{Name: "n", Data: "hello"}, "", "gsm7", 1, 5},
		{"160 gsm", Text{Name: "n", Data: strings.Repeat("a", 160)}, "", "gsm7", 1, 160},
		{"161 gsm", Text{Name: "n", Data: strings.Repeat("a", 161)}, "", "gsm7", 2, 161},
		{"cyrillic", Text{Name: "n", Data: "Привет", Type: TextUnicode}, "", "ucs2", 1, 6},
		{"71 cyrillic", Text{Name: "n", Data: strings.Repeat("Ж", 71)}, "", "ucs2", 2, 71},
		{"binary kept", Text{Name: "n", Data: "00ff", Type: TextBinary}, "", "gsm7", 1, 4},
		{"unknown type", Text{Name: "n", Data: "x", Type: "hex"}, "type", "gsm7", 1, 1},
		{"no data", Text{Name: "n"}, "data", "gsm7", 0, 0},
		{"no name", Text{Name: " ", Data: "x"}, "name", "gsm7", 1, 1},
		{"too many parts", Text{Name: "n", Data: strings.Repeat("a", 153*MaxSMSSegments+1)}, "data", "gsm7", 256, 153*255 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v Invalid
			txt := tc.in
			ValidateText(&txt, &v)
			if tc.bad == "" && v.Err() != nil || tc.bad != "" && !v.Has(tc.bad) {
				t.Fatalf("errors %v, want a failure of %q", v.Err(), tc.bad)
			}
			if txt.Encoding != tc.encoding || txt.Segments != tc.segments || txt.Length != tc.length {
				t.Fatalf("encoding %s, %d segments, length %d; want %s, %d, %d",
					txt.Encoding, txt.Segments, txt.Length, tc.encoding, tc.segments, tc.length)
			}
			if tc.in.Type == "" && txt.Type != TextPlain {
				t.Fatalf("type %q, want plain by default", txt.Type)
			}
		})
	}
}

func TestValidateTemplate(t *testing.T) {
	ok := Template{Name: "n", Subject: "s", Body: "b"}
	for _, tc := range []struct {
		name   string
		change func(*Template)
		bad    string
	}{
		{"valid", func(*Template) {}, ""},
		{"type normalised", func(t *Template) { t.Type = " .PDF " }, ""},
		{"subject required", func(t *Template) { t.Subject = " " }, "subject"},
		{"subject one line", func(t *Template) { t.Subject = "a\nBcc: x@example.com" }, "subject"},
		{"body required", func(t *Template) { t.Body = "" }, "body"},
		{"type a path", func(t *Template) { t.Type = "../x" }, "type"},
		{"type too long", func(t *Template) { t.Type = "abcdefghi" }, "type"},
		{"name too long", func(t *Template) { t.Name = strings.Repeat("n", 256) }, "name"},
		{"description too long", func(t *Template) { t.Description = strings.Repeat("d", 1025) }, "description"},
	} {
		tpl := ok
		tc.change(&tpl)
		var v Invalid
		ValidateTemplate(&tpl, &v)
		if tc.bad == "" && v.Err() != nil || tc.bad != "" && !v.Has(tc.bad) {
			t.Errorf("%s: errors %v, want a failure of %q", tc.name, v.Err(), tc.bad)
		}
		if tc.name == "type normalised" && tpl.Type != "pdf" {
			t.Errorf("type normalised to %q", tpl.Type)
		}
	}
}

func TestValidateDocumentTrimsName(t *testing.T) {
	d := Document{Name: "  fax  "}
	var v Invalid
	ValidateDocument(&d, &v)
	if v.Err() != nil || d.Name != "fax" {
		t.Fatalf("name %q, errors %v", d.Name, v.Err())
	}
	r := Recording{Name: strings.Repeat("é", 255)}
	ValidateRecording(&r, &v)
	if v.Err() != nil {
		t.Fatalf("255 characters refused: %v", v.Err())
	}
}
