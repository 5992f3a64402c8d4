package dialer

// SMS encodings, as SMSEncoding names them.
const (
	SMSEncodingGSM7 = "gsm7" // GSM 03.38 default alphabet, 7 bits a character
	SMSEncodingUCS2 = "ucs2" // UTF-16, 16 bits a code unit
)

// Segment sizes. A message that fits one SMS has the whole 140 octets; a
// concatenated one gives 6 octets of each part to the user data header.
const (
	gsm7Single = 160 // septets
	gsm7Part   = 153
	ucs2Single = 70 // UTF-16 code units
	ucs2Part   = 67
)

// SMSEncoding returns SMSEncodingGSM7 when every character of text is in the
// GSM 03.38 default alphabet or its basic extension table, and
// SMSEncodingUCS2 otherwise. Invalid UTF-8 needs UCS-2 (it is sent as
// U+FFFD).
func SMSEncoding(text string) string {
	for _, r := range text {
		if gsmSeptets(r) == 0 {
			return SMSEncodingUCS2
		}
	}
	return SMSEncodingGSM7
}

// SMSSegments returns how many SMS text would be sent as. Empty text is 0
// segments: there is nothing to send, and callers reject empty messages
// before this matters.
//
// A GSM-7 message of at most 160 septets, or a UCS-2 one of at most 70
// UTF-16 code units, is one segment. Longer ones are split into parts of 153
// septets or 67 code units, never between the two septets of an extension
// character (^{}\[~]|€ and form feed) nor between the two halves of a
// surrogate pair, so a part can be one short and the count can exceed the
// plain quotient.
func SMSSegments(text string) int {
	n := 0
	forEachSegment(text, func(string) { n++ })
	return n
}

// SplitSMS splits text into the segments SMSSegments counts, in order; their
// concatenation is text. Empty text gives no segments.
func SplitSMS(text string) []string {
	var parts []string
	forEachSegment(text, func(s string) { parts = append(parts, s) })
	return parts
}

// forEachSegment calls emit with each segment of text. Splitting happens at
// rune boundaries, which is what keeps escape and surrogate pairs whole: each
// is one rune on the Go side.
func forEachSegment(text string, emit func(string)) {
	if text == "" {
		return
	}
	gsm := SMSEncoding(text) == SMSEncodingGSM7
	single, part := ucs2Single, ucs2Part
	if gsm {
		single, part = gsm7Single, gsm7Part
	}
	total := 0
	for _, r := range text {
		total += smsUnits(r, gsm)
	}
	if total <= single {
		emit(text)
		return
	}
	start, used := 0, 0
	for i, r := range text {
		u := smsUnits(r, gsm)
		if used+u > part {
			emit(text[start:i])
			start, used = i, 0
		}
		used += u
	}
	emit(text[start:])
}

// smsUnits is the size of r in the message's encoding: septets for GSM-7,
// UTF-16 code units for UCS-2.
func smsUnits(r rune, gsm bool) int {
	switch {
	case gsm:
		return gsmSeptets(r)
	case r >= 0x10000:
		return 2
	default:
		return 1
	}
}

// gsmSeptets returns how many septets r takes in GSM 03.38: 1 in the default
// alphabet, 2 in the basic extension table (escape + code), 0 when r cannot
// be sent in GSM-7 at all.
func gsmSeptets(r rune) int {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return 1
	}
	switch r {
	case '\n', '\r', ' ', '!', '"', '#', '$', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
		':', ';', '<', '=', '>', '?', '@', '_',
		'£', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', 'Ø', 'ø', 'Å', 'å',
		'Δ', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ',
		'Æ', 'æ', 'ß', 'É', '¤', '¡', 'Ä', 'Ö', 'Ñ', 'Ü', '§', '¿', 'ä', 'ö', 'ñ', 'ü', 'à':
		return 1
	case '\f', '^', '{', '}', '\\', '[', '~', ']', '|', '€':
		return 2
	}
	return 0
}
