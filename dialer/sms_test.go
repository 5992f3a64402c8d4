package dialer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSMSSegments(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name     string
		text     string
		encoding string
		segments int
		parts    []int // rune counts of the parts, when worth checking
	}{
		{"empty", "", SMSEncodingGSM7, 0, nil},
		{"one char", "a", SMSEncodingGSM7, 1, []int{1}},
		{"160 gsm", a(160), SMSEncodingGSM7, 1, []int{160}},
		{"161 gsm", a(161), SMSEncodingGSM7, 2, []int{153, 8}},
		{"306 gsm", a(306), SMSEncodingGSM7, 2, []int{153, 153}},
		{"307 gsm", a(307), SMSEncodingGSM7, 3, []int{153, 153, 1}},
		{"160 e-acute is gsm", strings.Repeat("é", 160), SMSEncodingGSM7, 1, nil},
		{"greek capitals are gsm", "ΔΦΓΛΩΠΨΣΘΞ", SMSEncodingGSM7, 1, nil},
		{"80 euro = 160 septets", strings.Repeat("€", 80), SMSEncodingGSM7, 1, nil},
		{"81 euro = 162 septets", strings.Repeat("€", 81), SMSEncodingGSM7, 2, []int{76, 5}},
		{"159 + extension", a(159) + "^", SMSEncodingGSM7, 2, []int{153, 7}},
		// 152 septets, then a 2-septet character that must not be split.
		{"escape pair kept whole", a(152) + "{" + a(10), SMSEncodingGSM7, 2, []int{152, 11}},
		{"form feed counts 2", a(159) + "\f", SMSEncodingGSM7, 2, nil},
		{"newlines are gsm", "line1\r\nline2\n", SMSEncodingGSM7, 1, nil},
		{"backtick is not gsm", "a`b", SMSEncodingUCS2, 1, nil},
		{"small c cedilla is not gsm", "ç", SMSEncodingUCS2, 1, nil},
		{"70 cyrillic", strings.Repeat("д", 70), SMSEncodingUCS2, 1, []int{70}},
		{"71 cyrillic", strings.Repeat("д", 71), SMSEncodingUCS2, 2, []int{67, 4}},
		{"134 cyrillic", strings.Repeat("д", 134), SMSEncodingUCS2, 2, []int{67, 67}},
		{"135 cyrillic", strings.Repeat("д", 135), SMSEncodingUCS2, 3, nil},
		{"urdu", "آپ کی کال", SMSEncodingUCS2, 1, nil},
		{"one emoji makes it ucs2", a(100) + "😀", SMSEncodingUCS2, 2, []int{67, 34}},
		{"35 emoji = 70 units", strings.Repeat("😀", 35), SMSEncodingUCS2, 1, nil},
		// 33 emoji fill 66 units; the 34th would straddle two parts.
		{"36 emoji = 72 units", strings.Repeat("😀", 36), SMSEncodingUCS2, 2, []int{33, 3}},
		{"invalid utf-8", "a\xffb", SMSEncodingUCS2, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SMSEncoding(tt.text); got != tt.encoding {
				t.Errorf("SMSEncoding = %q, want %q", got, tt.encoding)
			}
			if got := SMSSegments(tt.text); got != tt.segments {
				t.Errorf("SMSSegments = %d, want %d", got, tt.segments)
			}
			parts := SplitSMS(tt.text)
			if len(parts) != tt.segments {
				t.Errorf("len(SplitSMS) = %d, want %d", len(parts), tt.segments)
			}
			if strings.Join(parts, "") != tt.text {
				t.Errorf("SplitSMS parts do not join back to the text")
			}
			if tt.parts != nil {
				var got []int
				for _, p := range parts {
					got = append(got, utf8.RuneCountInString(p))
				}
				if !slices.Equal(got, tt.parts) {
					t.Errorf("part lengths = %v, want %v", got, tt.parts)
				}
			}
		})
	}
}

// TestGSMAlphabetSize checks the table against the standard's counts: 128
// codes in the default alphabet less the escape, and 10 extension characters.
func TestGSMAlphabetSize(t *testing.T) {
	var basic, ext int
	for r := rune(0); r <= utf8.MaxRune; r++ {
		switch gsmSeptets(r) {
		case 1:
			basic++
		case 2:
			ext++
		}
	}
	if basic != 127 || ext != 10 {
		t.Errorf("GSM alphabet has %d basic and %d extension characters, want 127 and 10", basic, ext)
	}
}

func FuzzSplitSMS(f *testing.F) {
	for _, s := range []string{
		"", "hello", strings.Repeat("a", 152) + "€", strings.Repeat("😀", 40),
		strings.Repeat("д", 71), "a\xffb", strings.Repeat("{", 100),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		parts := SplitSMS(text)
		if n := SMSSegments(text); len(parts) != n {
			t.Fatalf("len(SplitSMS) = %d, SMSSegments = %d", len(parts), n)
		}
		if strings.Join(parts, "") != text {
			t.Fatalf("parts %q do not join back to %q", parts, text)
		}
		gsm := SMSEncoding(text) == SMSEncodingGSM7
		limit := ucs2Part
		switch {
		case gsm && len(parts) == 1:
			limit = gsm7Single
		case gsm:
			limit = gsm7Part
		case len(parts) == 1:
			limit = ucs2Single
		}
		for i, p := range parts {
			units := 0
			for _, r := range p {
				units += smsUnits(r, gsm)
			}
			if p == "" || units > limit {
				t.Fatalf("part %d of %d has %d units, limit %d", i, len(parts), units, limit)
			}
		}
	})
}
