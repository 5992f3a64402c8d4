package dialer

import (
	"errors"
	"strings"
	"unicode"
)

// MaxTTSBytes bounds a voicetts text after NormalizeTTS: what a gateway
// hands its speech engine in one piece.
const MaxTTSBytes = 4000

// NormalizeTTS turns every run of white space (line breaks included) into
// one space and trims the ends: speech does not hear the difference, and
// both the FreeSWITCH command line and espeak-ng's input are safer without
// line breaks.
func NormalizeTTS(s string) string {
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

// CheckTTSText is the one rule for a text a gateway speaks, shared by
// every gateway that speaks (FreeSWITCH's speak, the SIP gateway's
// espeak-ng rendering) and so used when a voicetts program or the text it
// speaks is written, through each gateway's CheckAttempt. It admits
// letters, marks, digits, spaces and common punctuation after
// NormalizeTTS, at most MaxTTSBytes, and refuses what has a meaning to one
// of the engines: $ (FreeSWITCH variable expansion), braces and brackets
// (variable blocks), | (speak's separator), backslash, ^ and < > (SSML
// markup in espeak-ng). A gateway wraps the error as the content fault of
// the field "text".
func CheckTTSText(text string) error {
	t := NormalizeTTS(text)
	switch {
	case t == "":
		return errors.New("voicetts needs a text")
	case len(t) > MaxTTSBytes:
		return errors.New("voicetts text longer than 4000 bytes")
	}
	for _, r := range t {
		switch {
		case unicode.IsLetter(r), unicode.IsMark(r), unicode.IsDigit(r), r == ' ':
		case strings.ContainsRune(".,;:!?'\"()-/%&+@#*", r):
		default:
			return errors.New("voicetts text may hold letters, digits, spaces and . , ; : ! ? ' \" ( ) - / % & + @ # * only")
		}
	}
	return nil
}
