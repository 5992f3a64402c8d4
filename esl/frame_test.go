package esl

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fixtureDirs hold real FreeSWITCH 1.10.12 transcripts: the five in the
// repository, and the full set in the shared folder beside the checkout
// when it is there.
var fixtureDirs = []string{"testdata/fixtures", "../../shared/fixtures/esl"}

// commandMarker is a command the capturing client sent, written into the
// transcript where it was sent. After a body without a final newline
// ("false") the marker starts mid-line.
var commandMarker = regexp.MustCompile(`>>> [^\n]*\n`)

// transcripts returns each fixture's server bytes, the markers removed,
// and the number of commands it records.
func transcripts(t testing.TB) map[string]transcript {
	t.Helper()
	out := map[string]transcript{}
	for i, dir := range fixtureDirs {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
		if len(paths) == 0 && i == 0 {
			t.Fatalf("no fixtures in %s", dir)
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			cmds := commandMarker.FindAll(data, -1)
			out[p] = transcript{wire: commandMarker.ReplaceAll(data, nil), commands: len(cmds)}
		}
	}
	return out
}

type transcript struct {
	wire     []byte
	commands int
}

// TestReadTranscripts frames every captured transcript: each frame reads,
// the stream ends at a frame boundary, every event parses with its nested
// Content-Length exact, and there is one reply per command (the last
// "exit" of a shutdown capture may go unanswered: FreeSWITCH had closed).
func TestReadTranscripts(t *testing.T) {
	for name, tr := range transcripts(t) {
		t.Run(filepath.Base(filepath.Dir(name))+"/"+filepath.Base(name), func(t *testing.T) {
			br := bufio.NewReader(bytes.NewReader(tr.wire))
			var replies, events, notices int
			for {
				f, err := readFrame(br)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("frame after %d replies, %d events: %v", replies, events, err)
				}
				switch ct := f.get("Content-Type"); ct {
				case ctAuthRequest:
				case ctCommand, ctAPI:
					replies++
				case ctDisconnect:
					notices++
				case ctEventPlain:
					ev, err := parseEventPlain(f.body)
					if err != nil {
						t.Fatalf("event %d: %v", events, err)
					}
					events++
					if ev.get("Event-Name") == "" || strings.Contains(ev.get("Event-Date-Local"), "%") {
						t.Errorf("event %d not decoded: %q", events, ev.get("Event-Date-Local"))
					}
					if ev.get("Event-Name") == evBackgroundJob && len(ev.body) == 0 {
						t.Errorf("BACKGROUND_JOB without its result")
					}
				default:
					t.Errorf("unexpected content type %q", ct)
				}
			}
			if events == 0 {
				t.Error("no events")
			}
			if missing := tr.commands - replies; missing != 0 && (missing != 1 || notices == 0) {
				t.Errorf("%d commands, %d replies", tr.commands, replies)
			}
		})
	}
}

// TestEventValues reads the values the gateway acts on out of real
// events, URL-decoding included.
func TestEventValues(t *testing.T) {
	tr := transcripts(t)["testdata/fixtures/dtmf.txt"]
	br := bufio.NewReader(bytes.NewReader(tr.wire))
	var digits, job string
	var hangup event
	for {
		f, err := readFrame(br)
		if err != nil {
			break
		}
		if f.get("Content-Type") != ctEventPlain {
			continue
		}
		raw, err := parseEventPlain(f.body)
		if err != nil {
			t.Fatal(err)
		}
		switch e := parseEvent(&raw, time.Now()); e.name {
		case evDTMF:
			digits += e.digit
		case evBackgroundJob:
			job = e.body
		case evHangupComplete:
			hangup = e
		}
	}
	if digits != "15#" {
		t.Errorf("digits %q, want 15# (%%23 decoded)", digits)
	}
	if !strings.HasPrefix(job, "+OK ") {
		t.Errorf("job result %q", job)
	}
	if hangup.cause != "NORMAL_CLEARING" || !hangup.hasBill || hangup.seq == 0 || hangup.at.IsZero() || hangup.endAt.IsZero() {
		t.Errorf("hangup %+v", hangup)
	}
}

func TestURLDecode(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"plain":                  "plain",
		"a%20b":                  "a b",
		"%23":                    "#",
		"1+1":                    "1+1", // FreeSWITCH's '+' is a plus
		"100%":                   "100%",
		"%2":                     "%2",
		"%zz%41":                 "%zzA",
		"fd00%3A%3A2":            "fd00::2",
		"Sun,%2022%20Nov%202026": "Sun, 22 Nov 2026",
	} {
		if got := urlDecode(in); got != want {
			t.Errorf("urlDecode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadFrameErrors(t *testing.T) {
	long := strings.Repeat("x", maxHeaderLine+1)
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"eof", "", io.EOF},
		{"blank lines then eof", "\n\n", io.EOF},
		{"cut in headers", "Content-Type: api/response\n", io.ErrUnexpectedEOF},
		{"cut in a line", "Content-Type: api", io.ErrUnexpectedEOF},
		{"cut in body", "Content-Length: 5\n\nabc", io.ErrUnexpectedEOF},
		{"no colon", "Content-Type\n\n", errBadHeader},
		{"space in name", "Content Type: x\n\n", errBadHeader},
		{"negative length", "Content-Length: -1\n\n", errBadLength},
		{"length with sign", "Content-Length: +1\n\n", errBadLength},
		{"two lengths", "Content-Length: 1\nContent-Length: 2\n\nab", errBadLength},
		{"huge length", "Content-Length: 999999999\n\n", errBodyTooLarge},
		{"long line", "X: " + long + "\n\n", errLineTooLong},
		{"many headers", strings.Repeat("X: y\n", maxHeaders+1) + "\n", errTooMany},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readFrame(bufio.NewReader(strings.NewReader(tc.in)))
			if !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseEventPlainErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"no blank line":  "Event-Name: X\n",
		"blank first":    "\n",
		"short body":     "Event-Name: X\nContent-Length: 4\n\nabc",
		"long body":      "Event-Name: X\nContent-Length: 2\n\nabc",
		"body no length": "Event-Name: X\n\nabc",
		"bad header":     "Event-Name X\n\n",
	} {
		if _, err := parseEventPlain([]byte(in)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// FuzzReadFrame reads frames from arbitrary bytes. It must never panic or
// hang, and whatever it accepts must read back the same once re-encoded,
// so that no two readings of one stream differ. The seeds are the frames
// of the real transcripts, each on its own, and their first pairs: whole
// transcripts (up to 200 KB) make every new input take the fuzzer's full
// minimisation time and leave it almost no time to fuzz.
func FuzzReadFrame(f *testing.F) {
	seen := map[string]bool{}
	for _, tr := range transcripts(f) {
		rest := tr.wire
		var prev []byte
		for len(rest) > 0 {
			r := bytes.NewReader(rest)
			br := bufio.NewReader(r)
			if _, err := readFrame(br); err != nil {
				break
			}
			n := len(rest) - r.Len() - br.Buffered()
			one := rest[:n]
			for _, seed := range [][]byte{one, append(bytes.Clone(prev), one...)} {
				if !seen[string(seed)] {
					seen[string(seed)] = true
					f.Add(seed)
				}
			}
			prev, rest = one, rest[n:]
		}
	}
	f.Add([]byte("Content-Type: command/reply\nReply-Text: +OK\n\n"))
	f.Add([]byte("Content-Length: 3\nContent-Type: api/response\n\nabc"))
	f.Add([]byte("Content-Length: 40\nContent-Type: text/event-plain\n\nEvent-Name: X\nContent-Length: 2\n\nab"))
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		for range 64 {
			fr, err := readFrame(br)
			if err != nil {
				return
			}
			again, err := readFrame(bufio.NewReader(bytes.NewReader(encodeFrame(fr))))
			if err != nil {
				t.Fatalf("re-encoded frame does not read: %v", err)
			}
			if !sameFrame(fr, again) {
				t.Fatalf("re-read %+v, want %+v", again, fr)
			}
			if fr.get("Content-Type") == ctEventPlain {
				_, _ = parseEventPlain(fr.body)
			}
		}
	})
}

func encodeFrame(f frame) []byte {
	var b bytes.Buffer
	for _, h := range f.headers {
		b.WriteString(h.name + ": " + h.value + "\n")
	}
	b.WriteString("\n")
	b.Write(f.body)
	return b.Bytes()
}

func sameFrame(a, b frame) bool {
	if len(a.headers) != len(b.headers) || !bytes.Equal(a.body, b.body) {
		return false
	}
	for i := range a.headers {
		if a.headers[i] != b.headers[i] {
			return false
		}
	}
	return true
}
