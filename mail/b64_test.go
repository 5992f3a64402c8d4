package mail

import (
	"encoding/base64"
	"strings"
	"testing"
)

func decodeBase64(t *testing.T, b []byte) []byte {
	t.Helper()
	s := strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, string(b))
	out, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("%v: %v", errNoBase64, err)
	}
	return out
}

func base64Lines(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	out.WriteString(s)
	return out.String()
}
