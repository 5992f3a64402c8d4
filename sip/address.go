package sip

import (
	"net"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dialerd/dialerd/dialer"
)

// Every value that ends up in a SIP start line or header is checked here
// first, and headers are then built as sipgo structs, never by formatting
// strings: a contact's number or a caller name cannot add a header, a URI
// parameter or a line.

const (
	maxE164Digits    = 15
	maxCallerDigits  = 20
	maxPrefixDigits  = 16
	maxDisplayName   = 64
	maxSIPUserLength = 64
	maxHostLength    = 253
)

// destinationUser returns the user part of the Request-URI for phone
// through a provider with the given prefix.
//
// Without a prefix the number keeps its E.164 form ("+15551234567"): it is
// unambiguous, and trunks that accept E.164 take it as is. With a prefix
// the "+" is dropped and the prefix takes its place ("00" + "15551234567",
// or a technical prefix such as "9" + "15551234567"), because a prefix is
// how a trunk says which dialling form it expects. Prefixes are digits only.
func destinationUser(phone, prefix string) (string, error) {
	digits, ok := strings.CutPrefix(phone, "+")
	if !ok || !allDigits(digits) || len(digits) < 2 || len(digits) > maxE164Digits || digits[0] == '0' {
		return "", dialer.InvalidField("phone", "must be E.164: + then 2 to 15 digits")
	}
	if prefix == "" {
		return phone, nil
	}
	if !allDigits(prefix) || len(prefix) > maxPrefixDigits {
		return "", dialer.InvalidField("provider.prefix", "must be up to 16 digits")
	}
	return prefix + digits, nil
}

// callerUser validates a caller id number: digits, optionally after a "+".
// Empty is allowed (the caller falls back to the trunk's username).
func callerUser(number string) (string, error) {
	if number == "" {
		return "", nil
	}
	digits := strings.TrimPrefix(number, "+")
	if !allDigits(digits) || len(digits) == 0 || len(digits) > maxCallerDigits {
		return "", dialer.InvalidField("caller_id_number", "must be digits with an optional leading +")
	}
	return number, nil
}

// sipUser validates a trunk username for use as the user part of a URI.
// Only RFC 3261 "unreserved" characters are accepted, so nothing needs
// escaping and nothing can end the URI early.
func sipUser(field, user string) (string, error) {
	if user == "" {
		return "", nil
	}
	if len(user) > maxSIPUserLength {
		return "", dialer.InvalidField(field, "too long")
	}
	for _, r := range user {
		if !isUnreserved(r) {
			return "", dialer.InvalidField(field, "may contain only letters, digits and -_.!~*'()")
		}
	}
	return user, nil
}

func isUnreserved(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("-_.!~*'()", r)
}

// displayName makes a caller name safe to place between the quotes sipgo
// writes around a display name: control characters (CR and LF above all)
// are dropped, backslash and double quote become quoted-pairs (RFC 3261
// section 25.1), and the result is cut to a sane length.
func displayName(name string) string {
	var b strings.Builder
	n := 0
	for _, r := range name {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			continue
		}
		if n == maxDisplayName {
			break
		}
		n++
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// validHost accepts an IP address or a DNS name (letters, digits, hyphens,
// dots), which is all a Route's host may be.
func validHost(host string) bool {
	if host == "" || len(host) > maxHostLength {
		return false
	}
	if net.ParseIP(host) != nil {
		return true
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// validCallID accepts what RFC 3261 allows in a Call-ID ("word"), minus
// the characters that are legal but confuse logs; a spool's UUID passes.
func validCallID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(isUnreserved(r) || strings.ContainsRune("%+@:", r)) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
