package dialer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Phone number limits.
//
// E.164 allows at most 15 digits, country code included. The minimum of 8 is
// ours: it rejects short codes and typos, at the price of a handful of tiny
// territories whose whole numbers are 7 digits (Niue, Tokelau), which a
// dialer has no business calling.
const (
	MinPhoneDigits = 8
	MaxPhoneDigits = 15

	// maxPhoneInput bounds the raw input so that separators cannot make
	// validation arbitrarily expensive; no honest number needs more.
	maxPhoneInput = 64

	// MaxCallerIDName is the longest caller ID name, in runes.
	MaxCallerIDName = 64
	// MaxCallerIDDigits is the longest caller ID number, in digits.
	MaxCallerIDDigits = 20
)

// NormalizePhone returns raw as an E.164 number: "+" followed by 8 to 15
// digits, the first of them 1-9. Nothing else can come out of it, because the
// result is copied into FreeSWITCH dial strings.
//
// It accepts what people write: digits separated by spaces, dashes, dots and
// parentheses, with one of these prefixes:
//
//   - "+" followed by the country code: +92 300 1234567
//   - the international prefix "00" (and "011" when defaultCountryCode is
//     "1"): 0092 300 1234567
//   - otherwise a national number in defaultCountryCode, with its trunk
//     prefix removed: "0" in most countries (Pakistan 0300 1234567 becomes
//     +923001234567), "8" for +7, "06" for +36, and none for Italy, San
//     Marino and the Vatican, whose leading 0 is part of the number.
//     With "1" (NANP) a national number is 10 digits, or 11 starting with 1.
//
// Numbers in the NANP (+1) must have 10 digits after the country code, and
// both the area code and the exchange must start with 2-9.
//
// defaultCountryCode may be empty; then only international forms are
// accepted. Errors are *Error with CodeInvalid for the field "phone" (or
// "country_code" when defaultCountryCode itself is malformed).
func NormalizePhone(raw, defaultCountryCode string) (string, error) {
	const field = "phone"
	cc := defaultCountryCode
	if cc != "" {
		if err := ValidateCountryCode(cc); err != nil {
			return "", err
		}
	}
	if len(raw) > maxPhoneInput {
		return "", InvalidField(field, fmt.Sprintf("at most %d characters", maxPhoneInput))
	}
	s := strings.Trim(raw, " ")
	if s == "" {
		return "", InvalidField(field, "required")
	}

	var buf [maxPhoneInput]byte
	digits := buf[:0]
	plus := false
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			digits = append(digits, c)
		case c == '+':
			if plus || len(digits) > 0 {
				return "", InvalidField(field, "'+' is allowed only before the country code")
			}
			plus = true
		case c == ' ' || c == '-' || c == '.':
		case c == '(':
			if depth++; depth > 1 {
				return "", InvalidField(field, "nested parentheses")
			}
		case c == ')':
			if depth--; depth < 0 {
				return "", InvalidField(field, "unbalanced parentheses")
			}
		default:
			// Report the character, not the byte, and quoted so that control
			// characters show as escapes.
			r, _ := utf8.DecodeRuneInString(s[i:])
			return "", InvalidField(field, fmt.Sprintf("invalid character %q: only digits, spaces, dashes, dots, parentheses and a leading + are allowed", r))
		}
	}
	if depth != 0 {
		return "", InvalidField(field, "unbalanced parentheses")
	}
	if len(digits) == 0 {
		return "", InvalidField(field, "no digits")
	}

	d := string(digits)
	var full string
	switch {
	case plus:
		full = d
	case strings.HasPrefix(d, "00"):
		full = d[2:]
	case cc == "1" && strings.HasPrefix(d, "011"):
		full = d[3:]
	case cc == "":
		return "", InvalidField(field, "international format required: start with + or 00 and the country code")
	case cc == "1":
		full = d
		if len(d) != 11 || d[0] != '1' {
			full = "1" + d
		}
	default:
		full = cc + strings.TrimPrefix(d, trunkPrefix(cc))
	}
	if problem := e164Problem(full); problem != "" {
		return "", InvalidField(field, problem)
	}
	return "+" + full, nil
}

// trunkPrefix is what a national number in country cc starts with that its
// international form drops.
func trunkPrefix(cc string) string {
	switch cc {
	case "39", "378", "379":
		return ""
	case "7":
		return "8"
	case "36":
		return "06"
	default:
		return "0"
	}
}

// e164Problem says what is wrong with the digits of an international
// number, country code first, or "" when nothing is.
func e164Problem(d string) string {
	switch {
	case d == "":
		return "no digits after the international prefix"
	case d[0] == '0':
		return "country code cannot start with 0"
	case len(d) < MinPhoneDigits:
		return fmt.Sprintf("too short: at least %d digits including the country code", MinPhoneDigits)
	case len(d) > MaxPhoneDigits:
		return fmt.Sprintf("too long: at most %d digits including the country code", MaxPhoneDigits)
	case d[0] == '1' && len(d) != 11:
		return "numbers in country code 1 have 10 digits after it"
	case d[0] == '1' && (d[1] < '2' || d[4] < '2'):
		return "not a NANP number: area code and exchange start with 2-9"
	}
	return ""
}

// ValidateCountryCode checks that cc looks like an E.164 country code: 1 to 3
// digits, without "+", not starting with 0. It does not check that the code
// is assigned.
func ValidateCountryCode(cc string) error {
	ok := len(cc) >= 1 && len(cc) <= 3 && cc[0] != '0'
	for i := 0; ok && i < len(cc); i++ {
		ok = '0' <= cc[i] && cc[i] <= '9'
	}
	if !ok {
		return InvalidField("country_code", "1 to 3 digits without +, not starting with 0")
	}
	return nil
}

// callerIDNameForbidden are the characters that would let a caller ID name
// break out of a FreeSWITCH channel variable ({a=b,c=d}), its quoting, or a
// SIP display name.
const callerIDNameForbidden = "{},'\"|\\;"

// ValidateCallerIDName checks a caller ID name: at most 64 printable
// characters, none of { } , ' " | \ ; . Empty is allowed and means "use the
// trunk's default".
func ValidateCallerIDName(s string) error {
	const field = "caller_id_name"
	if !utf8.ValidString(s) {
		return InvalidField(field, "not valid UTF-8")
	}
	if utf8.RuneCountInString(s) > MaxCallerIDName {
		return InvalidField(field, fmt.Sprintf("at most %d characters", MaxCallerIDName))
	}
	for _, r := range s {
		if strings.ContainsRune(callerIDNameForbidden, r) {
			return InvalidField(field, fmt.Sprintf("must not contain %q", r))
		}
		// IsPrint admits only the ASCII space among spaces, so tabs, line
		// breaks and other invisible characters are refused here.
		if !unicode.IsPrint(r) {
			return InvalidField(field, fmt.Sprintf("invalid character %q: printable characters only", r))
		}
	}
	return nil
}

// NormalizeCallerIDNumber returns s as digits with an optional leading "+",
// at most 20 digits, after removing spaces, dashes, dots and parentheses.
// Unlike NormalizePhone it does not impose E.164: trunks accept extensions
// and national forms as caller ID. Empty is allowed and stays empty ("use the
// trunk's default").
func NormalizeCallerIDNumber(s string) (string, error) {
	const field = "caller_id_number"
	if len(s) > maxPhoneInput {
		return "", InvalidField(field, fmt.Sprintf("at most %d characters", maxPhoneInput))
	}
	s = strings.Trim(s, " ")
	if s == "" {
		return "", nil
	}
	var buf [maxPhoneInput]byte
	out := buf[:0]
	ndigits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			out = append(out, c)
			ndigits++
		case c == '+' && len(out) == 0:
			out = append(out, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return "", InvalidField(field, fmt.Sprintf("invalid character %q: digits with an optional leading + only", r))
		}
	}
	switch {
	case ndigits == 0:
		return "", InvalidField(field, "no digits")
	case ndigits > MaxCallerIDDigits:
		return "", InvalidField(field, fmt.Sprintf("at most %d digits", MaxCallerIDDigits))
	}
	return string(out), nil
}
