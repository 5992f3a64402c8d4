package esltest

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestEncodePlainMatchesFixtures parses every event of the transcripts and
// serialises it again: the bytes must be FreeSWITCH's own, which pins down
// the URL-encoding set and the body layout.
func TestEncodePlainMatchesFixtures(t *testing.T) {
	paths, err := filepath.Glob("../testdata/fixtures/*.txt")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		events := 0
		for len(data) > 0 {
			if rest, ok := bytes.CutPrefix(data, []byte(">>> ")); ok {
				_, data, _ = bytes.Cut(rest, []byte("\n"))
				continue
			}
			r := bytes.NewReader(data)
			br := bufio.NewReader(r)
			f, err := ReadFrame(br)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			data = data[len(data)-r.Len()-br.Buffered():]
			if f.ContentType() != "text/event-plain" {
				continue
			}
			ev, err := ParseEventPlain(f.Body)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if got := encodePlain(ev); !bytes.Equal(got, f.Body) {
				t.Errorf("%s %s: re-encoded event differs:\n got %q\nwant %q", path, ev.Name(), got, f.Body)
			}
			events++
		}
		if events == 0 {
			t.Errorf("%s: no events", path)
		}
	}
}

func TestURLEncoding(t *testing.T) {
	tests := []struct{ raw, enc string }{
		{"#", "%23"},
		{"2026-11-22 15:16:54", "2026-11-22%2015%3A16%3A54"},
		{"tone_stream://%(1000,0,440)", "tone_stream%3A//%25(1000,0,440)"},
		{"<sip:gw+sipp@127.0.0.1:5080;transport=udp>", "%3Csip%3Agw%2Bsipp%40127.0.0.1%3A5080%3Btransport%3Dudp%3E"},
		{"a\r\nb", "a%0D%0Ab"},
		{"é", "%C3%A9"},
		{"plain,text/(ok)_-.", "plain,text/(ok)_-."},
	}
	for _, tt := range tests {
		if got := urlEncode(tt.raw); got != tt.enc {
			t.Errorf("urlEncode(%q) = %q, want %q", tt.raw, got, tt.enc)
		}
		if got := urlDecode(tt.enc); got != tt.raw {
			t.Errorf("urlDecode(%q) = %q, want %q", tt.enc, got, tt.raw)
		}
	}
}
