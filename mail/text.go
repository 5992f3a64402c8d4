package mail

import (
	"errors"
	"fmt"
	"html"
	netmail "net/mail"
	"strings"

	"github.com/dialerd/dialerd/dialer"
)

// placeholders are the contact fields a template may name, as {name}.
func placeholders(c dialer.ContactFields) map[string]string {
	return map[string]string{
		"first_name": c.FirstName, "last_name": c.LastName, "phone": c.Phone, "email": c.Email,
		"address": c.Address, "custom1": c.Custom1, "custom2": c.Custom2, "custom3": c.Custom3,
		"description": c.Description,
	}
}

// fill replaces each {name} of s that names a contact field with that
// field passed through esc; other braces are left as written.
func fill(s string, fields map[string]string, esc func(string) string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		name := s[i+1 : i+j]
		v, ok := fields[name]
		if !ok {
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		b.WriteString(s[:i])
		b.WriteString(esc(v))
		s = s[i+j+1:]
	}
}

// oneLine makes a value safe for a header: every control character (CR
// and LF above all, which would start a new header) becomes a space.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// render is the message of a template for contact c: the subject on one
// line, the HTML body with the contact's fields escaped, the text body.
func render(m dialer.Media, c dialer.ContactFields) (subject, htmlBody, textBody string) {
	f := placeholders(c)
	subject = oneLine(fill(m.Subject, f, oneLine))
	htmlBody = fill(m.Body, f, html.EscapeString)
	textBody = fill(m.BodyAlt, f, func(s string) string { return s })
	return subject, htmlBody, textBody
}

var errLineBreak = errors.New("must not contain line breaks or control characters")

// hasControl reports whether s holds CR, LF or another control character.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// address checks that s is one bare address (local@domain), with nothing
// that could end an SMTP command or a header, and returns it.
func address(s string) (string, error) {
	if hasControl(s) {
		return "", errLineBreak
	}
	s = strings.TrimSpace(s)
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("not an email address: %w", err)
	}
	if a.Address != s && a.Address != strings.Trim(s, "<>") {
		return "", errors.New("must be a bare address (local@domain), without a display name")
	}
	if strings.ContainsAny(a.Address, "<> \t,;\"") || strings.Count(a.Address, "@") != 1 {
		return "", errors.New("must be a bare address (local@domain)")
	}
	return a.Address, nil
}
