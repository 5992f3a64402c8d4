package esltest_test

import (
	"bufio"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/dialerd/dialerd/esl/esltest"
)

func readOne(s string) (esltest.Frame, error) {
	return esltest.ReadFrame(bufio.NewReader(strings.NewReader(s)))
}

func TestReadFrame(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantErr  error
		wantType string
		wantBody string
	}{
		{name: "auth request", in: "Content-Type: auth/request\n\n", wantType: "auth/request"},
		{name: "crlf tolerated", in: "Content-Type: command/reply\r\nReply-Text: +OK\r\n\r\n", wantType: "command/reply"},
		{name: "body", in: "Content-Type: api/response\nContent-Length: 5\n\nfalse", wantType: "api/response", wantBody: "false"},
		{name: "zero length body", in: "Content-Type: api/response\nContent-Length: 0\n\n", wantType: "api/response"},
		{name: "no space after colon", in: "Content-Type:auth/request\n\n", wantType: "auth/request"},
		{name: "clean eof", in: "", wantErr: io.EOF},
		{name: "eof in headers", in: "Content-Type: auth/request\n", wantErr: io.ErrUnexpectedEOF},
		{name: "eof in line", in: "Content-Type: auth/req", wantErr: io.ErrUnexpectedEOF},
		{name: "short body", in: "Content-Type: api/response\nContent-Length: 10\n\nfalse", wantErr: io.ErrUnexpectedEOF},
		{name: "blank frame", in: "\n", wantErr: esltest.ErrEmptyFrame},
		{name: "no colon", in: "Content-Type auth/request\n\n", wantErr: esltest.ErrMalformedHeader},
		{name: "space in name", in: "Content Type: x\n\n", wantErr: esltest.ErrMalformedHeader},
		{name: "empty name", in: ": x\n\n", wantErr: esltest.ErrMalformedHeader},
		{name: "negative length", in: "Content-Length: -1\n\n", wantErr: esltest.ErrBadContentLength},
		{name: "signed length", in: "Content-Length: +1\n\nx", wantErr: esltest.ErrBadContentLength},
		{name: "hex length", in: "Content-Length: 0x10\n\n", wantErr: esltest.ErrBadContentLength},
		{name: "empty length", in: "Content-Length: \n\n", wantErr: esltest.ErrBadContentLength},
		{name: "overflowing length", in: "Content-Length: 99999999999999999999\n\n", wantErr: esltest.ErrBadContentLength},
		{name: "length over limit", in: "Content-Length: 999999999\n\n", wantErr: esltest.ErrBodyTooLarge},
		{name: "conflicting lengths", in: "Content-Length: 1\nContent-Length: 2\n\nab", wantErr: esltest.ErrBadContentLength},
		{name: "long line", in: "X: " + strings.Repeat("a", esltest.MaxHeaderLine) + "\n\n", wantErr: esltest.ErrLineTooLong},
		{name: "long line without newline", in: "X: " + strings.Repeat("a", 2*esltest.MaxHeaderLine), wantErr: esltest.ErrLineTooLong},
		{name: "too many headers", in: strings.Repeat("X: y\n", esltest.MaxHeaders+1) + "\n", wantErr: esltest.ErrTooManyHeaders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := readOne(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if f.ContentType() != tt.wantType || string(f.Body) != tt.wantBody {
				t.Fatalf("got %q %q, want %q %q", f.ContentType(), f.Body, tt.wantType, tt.wantBody)
			}
		})
	}
}

// TestReadFrameStream reads consecutive frames, the second right after a
// body with no newline, as FreeSWITCH sends them.
func TestReadFrameStream(t *testing.T) {
	br := bufio.NewReader(strings.NewReader(
		"Content-Type: api/response\nContent-Length: 5\n\nfalse" +
			"Content-Type: command/reply\nReply-Text: +OK bye\n\n"))
	first, err := esltest.ReadFrame(br)
	if err != nil || string(first.Body) != "false" {
		t.Fatalf("first: %q, %v", first.Body, err)
	}
	second, err := esltest.ReadFrame(br)
	if err != nil || second.Get("reply-text") != "+OK bye" {
		t.Fatalf("second: %v, %v", second.Headers, err)
	}
	if _, err := esltest.ReadFrame(br); !errors.Is(err, io.EOF) {
		t.Fatalf("third: %v, want EOF", err)
	}
}

// TestReadFrameLargeClaim checks that a huge Content-Length with little data
// behind it fails without allocating what it claims.
func TestReadFrameLargeClaim(t *testing.T) {
	in := "Content-Length: 16000000\n\nabc"
	if _, err := readOne(in); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _ = readOne(in)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("allocated %d bytes for a 3-byte body", n)
	}
}

func TestParseEventPlain(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantErr  bool
		wantBody string
		check    func(t *testing.T, ev esltest.Event)
	}{
		{
			name: "decodes values",
			in:   "Event-Name: DTMF\nDTMF-Digit: %23\nCaller-Callee-ID-Name: Outbound%20Call\nBad: %zz%4\n\n",
			check: func(t *testing.T, ev esltest.Event) {
				if ev.Get("dtmf-digit") != "#" || ev.Get("Caller-Callee-ID-Name") != "Outbound Call" || ev.Get("Bad") != "%zz%4" {
					t.Fatalf("headers %q", ev.Headers)
				}
			},
		},
		{
			name:     "nested body",
			in:       "Event-Name: BACKGROUND_JOB\nJob-UUID: j\nContent-Length: 9\n\n+OK uuid\n",
			wantBody: "+OK uuid\n",
		},
		{name: "nested body too long", in: "Event-Name: BACKGROUND_JOB\nContent-Length: 3\n\n+OK uuid\n", wantErr: true},
		{name: "nested body too short", in: "Event-Name: BACKGROUND_JOB\nContent-Length: 30\n\n+OK uuid\n", wantErr: true},
		{name: "data without length", in: "Event-Name: X\n\nstray", wantErr: true},
		{name: "no blank line", in: "Event-Name: X\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := esltest.ParseEventPlain([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if string(ev.Body) != tt.wantBody {
				t.Fatalf("body %q, want %q", ev.Body, tt.wantBody)
			}
			if tt.check != nil {
				tt.check(t, ev)
			}
		})
	}
}

func TestParseEventJSON(t *testing.T) {
	in := `{"Event-Name":"BACKGROUND_JOB","Job-UUID":"j","Multi":["a","b"],"Content-Length":"9","_body":"+OK uuid\n"}`
	ev, err := esltest.ParseEventJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []esltest.Header{{"Event-Name", "BACKGROUND_JOB"}, {"Job-UUID", "j"}, {"Multi", "a"}, {"Multi", "b"}, {"Content-Length", "9"}}
	if len(ev.Headers) != len(want) {
		t.Fatalf("headers %q, want %q", ev.Headers, want)
	}
	for i := range want {
		if ev.Headers[i] != want[i] {
			t.Fatalf("headers %q, want %q", ev.Headers, want)
		}
	}
	if string(ev.Body) != "+OK uuid\n" {
		t.Fatalf("body %q", ev.Body)
	}
	for _, bad := range []string{``, `[]`, `{"a":1}`, `{"a":"b"`, `{"a":"b"}x`} {
		if _, err := esltest.ParseEventJSON([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
