package dialer

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		raw, cc string
		want    string // "" means an error is expected
	}{
		// International forms.
		{"+923001234567", "", "+923001234567"},
		{"+92 300 1234567", "", "+923001234567"},
		{"+92 (300) 123-4567", "92", "+923001234567"},
		{"(+92) 300.123.4567", "", "+923001234567"},
		{"0092 300 1234567", "", "+923001234567"},
		{"0092 300 1234567", "44", "+923001234567"},
		{"  +44 20 7946 0958  ", "", "+442079460958"},
		{"011 44 20 7946 0958", "1", "+442079460958"},
		{"+1 (212) 555-0100", "", "+12125550100"},

		// National forms with a default country code.
		{"03001234567", "92", "+923001234567"},
		{"0300-1234567", "92", "+923001234567"},
		{"020 7946 0958", "44", "+442079460958"},
		{"(212) 555-0100", "1", "+12125550100"},
		{"212.555.0100", "1", "+12125550100"},
		{"1 212 555 0100", "1", "+12125550100"},
		{"8 916 123-45-67", "7", "+79161234567"},
		{"06 1 234 5678", "36", "+3612345678"},
		{"06 1234 5678", "39", "+390612345678"}, // Italy keeps its 0
		{"030 1234567", "49", "+49301234567"},

		// Rejected: not a number, or not one we can place.
		{"", "92", ""},
		{"   ", "92", ""},
		{"+", "", ""},
		{"abc", "92", ""},
		{"0300 CALL NOW", "92", ""},
		{"03001234567x12", "92", ""},
		{"*123#", "92", ""},
		{"+923001234567,1", "", ""},
		{"+923001234567;", "", ""},
		{"+92300{1234567}", "", ""},
		{"+92300'1234567", "", ""},
		{"+92300|1234567", "", ""},
		{"+92300\n1234567", "", ""},
		{"+923001234567\n", "", ""},
		{"+92\t3001234567", "", ""},
		{"+92300\x001234567", "", ""},
		{"+92 300 １234567", "", ""}, // fullwidth digit
		{"++923001234567", "", ""},
		{"92+3001234567", "", ""},
		{"((92)) 3001234567", "92", ""},
		{"(92 3001234567", "92", ""},
		{"92) 3001234567", "92", ""},
		{"+0923001234567", "", ""},
		{"000923001234567", "", ""},
		{"+9230012", "", ""},           // 7 digits
		{"+92300123", "", "+92300123"}, // 8 digits: the minimum
		{"+923001234567890", "", "+923001234567890"},
		{"+9230012345678901", "", ""}, // 16 digits
		{"03001234567", "", ""},       // national without a default
		{"3001234567", "", ""},
		{"+1 212 555 010", "", ""},  // NANP too short
		{"+1 112 555 0100", "", ""}, // area code starts with 1
		{"+1 212 155 0100", "", ""}, // exchange starts with 1
		{"555 0100", "1", ""},       // 7-digit local
		{"03001234567", "0", ""},    // bad default country code
		{"03001234567", "+92", ""},  // default country code with +
		{"03001234567", "9200", ""}, // default country code too long
		{strings.Repeat(" ", 60) + "+923001234567", "", ""},
	}
	for _, tt := range tests {
		got, err := NormalizePhone(tt.raw, tt.cc)
		if tt.want == "" {
			if err == nil {
				t.Errorf("NormalizePhone(%q, %q) = %q, want an error", tt.raw, tt.cc, got)
			} else if ErrorCode(err) != CodeInvalid {
				t.Errorf("NormalizePhone(%q, %q) error code = %s, want invalid", tt.raw, tt.cc, ErrorCode(err))
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizePhone(%q, %q) = %q, %v; want %q", tt.raw, tt.cc, got, err, tt.want)
		}
	}
}

func TestNormalizePhoneErrorFields(t *testing.T) {
	_, err := NormalizePhone("x", "92")
	var e *Error
	if !errors.As(err, &e) || e.Fields["phone"] == "" {
		t.Fatalf("error %v: want a field error on phone", err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
	}
	_, err = NormalizePhone("03001234567", "0")
	if !errors.As(err, &e) || e.Fields["country_code"] == "" {
		t.Fatalf("error %v: want a field error on country_code", err)
	}
}

func TestValidateCountryCode(t *testing.T) {
	for cc, ok := range map[string]bool{
		"1": true, "7": true, "44": true, "92": true, "971": true, "379": true,
		"": false, "0": false, "01": false, "1234": false, "+92": false,
		"9a": false, " 92": false, "٩٢": false,
	} {
		if err := ValidateCountryCode(cc); (err == nil) != ok {
			t.Errorf("ValidateCountryCode(%q) = %v, want ok=%v", cc, err, ok)
		}
	}
}

func TestValidateCallerIDName(t *testing.T) {
	for s, ok := range map[string]bool{
		"":                      true,
		"Acme Support":          true,
		"Dr. O'Brien":           false,
		"Café Zürich":           true,
		"شركة":                  true,
		"Sales (EU) #1 - 24/7!": true,
		strings.Repeat("a", 64): true,
		strings.Repeat("é", 64): true,
		strings.Repeat("a", 65): false,
		"a{b}":                  false,
		"a,b":                   false,
		`say "hi"`:              false,
		"a|b":                   false,
		`a\b`:                   false,
		"a;b":                   false,
		"a\nb":                  false,
		"a\tb":                  false,
		"a\x00b":                false,
		"a\u00a0b":              false, // no-break space
		"a\u202eb":              false, // right-to-left override
		"\xff":                  false,
		"${sofia_contact(x)}":   false,
		"origination_uuid=evil": true, // harmless without { } or ,
	} {
		if err := ValidateCallerIDName(s); (err == nil) != ok {
			t.Errorf("ValidateCallerIDName(%q) = %v, want ok=%v", s, err, ok)
		}
	}
}

func TestNormalizeCallerIDNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"  ", ""},
		{"+92 300 1234567", "+923001234567"},
		{"(021) 111-222-333", "021111222333"},
		{"1001", "1001"},
		{"12345678901234567890", "12345678901234567890"},
	}
	for _, tt := range tests {
		got, err := NormalizeCallerIDNumber(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeCallerIDNumber(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{
		"+", "abc", "123456789012345678901", "12+34", "++1", "1001;", "1001,2", "10\n01", "1001#",
	} {
		if got, err := NormalizeCallerIDNumber(in); err == nil {
			t.Errorf("NormalizeCallerIDNumber(%q) = %q, want an error", in, got)
		}
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, seed := range []struct{ raw, cc string }{
		{"+923001234567", ""}, {"03001234567", "92"}, {"(212) 555-0100", "1"},
		{"011 44 20 7946 0958", "1"}, {"8 916 123-45-67", "7"}, {"06 1 234 5678", "36"},
		{"0612345678", "39"}, {"+1 112 555 0100", ""}, {"0092-300", "92"}, {"a,b", "9"},
	} {
		f.Add(seed.raw, seed.cc)
	}
	e164 := regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)
	f.Fuzz(func(t *testing.T, raw, cc string) {
		got, err := NormalizePhone(raw, cc)
		if err != nil {
			if ErrorCode(err) != CodeInvalid {
				t.Fatalf("NormalizePhone(%q, %q): error %v is not a validation error", raw, cc, err)
			}
			return
		}
		if !e164.MatchString(got) {
			t.Fatalf("NormalizePhone(%q, %q) = %q, not E.164", raw, cc, got)
		}
		again, err := NormalizePhone(got, cc)
		if err != nil || again != got {
			t.Fatalf("NormalizePhone(%q, %q) = %q, %v; not idempotent on %q", got, cc, again, err, raw)
		}
	})
}
