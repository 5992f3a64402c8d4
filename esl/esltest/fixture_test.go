package esltest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/esl/esltest"
)

// fixtureScripts scripts the fake like the peer of each transcript, with
// shorter durations.
func fixtureScripts() map[string]esltest.Behaviour {
	return map[string]esltest.Behaviour{
		"answered.txt":                   esltest.Answer(0, 50*time.Millisecond),
		"dtmf.txt":                       esltest.Answer(0, 50*time.Millisecond).WithDTMF("15#", 10*time.Millisecond),
		"busy.txt":                       esltest.Busy(),
		"noanswer.txt":                   esltest.NoAnswer(50 * time.Millisecond),
		"unreachable.txt":                esltest.Unreachable(),
		"playback_missing.txt":           esltest.Answer(0, 50*time.Millisecond).WithTelephoneEvent(),
		"playback_noext_wav_sibling.txt": esltest.Answer(0, 50*time.Millisecond).WithTelephoneEvent(),
		"playback_ok.txt":                esltest.Answer(0, 50*time.Millisecond).WithTelephoneEvent(),
		"speak.txt":                      esltest.Answer(0, 50*time.Millisecond).WithTelephoneEvent(),
		"speak_spaces.txt":               esltest.Answer(0, 50*time.Millisecond).WithTelephoneEvent(),
		"sps_limit.txt":                  esltest.Answer(0, 50*time.Millisecond).WithTelephoneEvent(),
		"sps_limit_3.txt":                esltest.Answer(0, 50*time.Millisecond).WithTelephoneEvent(),
		"uuid_exists_live.txt":           esltest.Answer(0, 0).WithTelephoneEvent(),
		"shutdown.txt":                   esltest.Answer(0, 0).WithTelephoneEvent(),
		"shutdown_elegant.txt":           esltest.Answer(0, 300*time.Millisecond).WithTelephoneEvent(),
	}
}

// fixtureFiles are the files each capture's FreeSWITCH had, under its
// /tmp/esl-capture (rewritten to a directory of the same length).
func fixtureFiles() map[string][]string {
	return map[string][]string{
		"playback_missing.txt":           {"media/ab/abcdef0123"},
		"playback_noext_wav_sibling.txt": {"media/ab/abcdef0123", "media/ab/abcdef0123.wav"},
		"playback_ok.txt":                {"media/ab/abcdef0123.wav"},
		"shutdown_elegant.txt":           {"media/ab/abcdef0123.wav"},
	}
}

// fixtureTriggers are what happened beside each capture's connection: an
// admin's "fsctl shutdown" from a second connection, once the given event
// had been seen.
func fixtureTriggers() map[string]struct {
	after string
	do    func(*esltest.Server)
} {
	type trigger = struct {
		after string
		do    func(*esltest.Server)
	}
	return map[string]trigger{
		"shutdown.txt":         {"CHANNEL_EXECUTE", func(s *esltest.Server) { s.Shutdown(context.Background(), false) }},
		"shutdown_elegant.txt": {"CHANNEL_EXECUTE", func(s *esltest.Server) { s.Shutdown(context.Background(), true) }},
	}
}

// fixtureSkips are the captures the fake does not replay frame for frame,
// and why; TestReplayFixtures in package esl plays each to the gateway.
func fixtureSkips() map[string]string {
	return map[string]string{
		"sps_limit_3.txt":          "two live calls: how their events interleave with the next command's reply is timing",
		"fax_tiff_ok.txt":          "the receiving loopback leg and its dialplan (log, sleep, rxfax) are not modelled; the fake's txfax leg is tested in TestTxFax",
		"fax_bad_file.txt":         "the receiving loopback leg is not modelled; see TestTxFax",
		"fax_missing_file.txt":     "the receiving loopback leg is not modelled; see TestTxFax",
		"shutdown_custom_last.txt": "another connection's call; the subscription rule it shows is tested in TestShutdownSubscription",
	}
}

// captureDir stands in for the captures' /tmp/esl-capture: a directory
// whose path has the same length, so that every Content-Length of the
// rewritten transcript still holds.
func captureDir(t *testing.T, files []string) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	dir := fmt.Sprintf("/tmp/esl%08x", b)
	if len(dir) != len(captureRoot) {
		t.Fatalf("%q", dir)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, f := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		// 44 bytes of RIFF/WAVE header: what the fake checks of a WAV.
		hdr := append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), make([]byte, 28)...)
		if err := os.WriteFile(p, hdr, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const captureRoot = "/tmp/esl-capture"

// TestFixturesReplay sends each transcript's client commands to the fake,
// scripted like the transcript's peer, and compares what comes back with
// what FreeSWITCH sent: same frame types in the same order, the same event
// names in the same order, the same replies and job results, and every
// header of each real event present in the fake's.
func TestFixturesReplay(t *testing.T) {
	scripts := fixtureScripts()
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			if why, ok := fixtureSkips()[name]; ok {
				t.Skip(why)
			}
			b, ok := scripts[name]
			if !ok {
				t.Fatalf("no script for %s", name)
			}
			trig, hasTrigger := fixtureTriggers()[name]
			opts := esltest.Options{Default: b}
			if strings.HasPrefix(name, "sps_limit") {
				opts.SessionsPerSecond = 100 // the capture's switch.conf
			}
			s := esltest.Start(t, opts)
			dir := captureDir(t, fixtureFiles()[name])
			items := loadTranscriptIn(t, name, dir)
			c := dial(t, s) // consumes the first frame, auth/request
			for i := 1; i < len(items); i++ {
				it := items[i]
				if it.command != "" {
					c.send(it.command)
					continue
				}
				got := c.read()
				compareFrames(t, fmt.Sprintf("%s frame %d", name, i), it.frame, got)
				if hasTrigger && got.ContentType() == "text/event-plain" {
					if ev, err := esltest.ParseEventPlain(got.Body); err == nil && ev.Name() == trig.after {
						hasTrigger = false
						go trig.do(s)
					}
				}
			}
			c.expectClosed()
		})
	}
}

func compareFrames(t *testing.T, where string, want, got esltest.Frame) {
	t.Helper()
	if headerNames(want.Headers, false) != headerNames(got.Headers, false) {
		t.Fatalf("%s: frame headers %s, want %s", where, headerNames(got.Headers, false), headerNames(want.Headers, false))
	}
	switch want.ContentType() {
	case "command/reply":
		if got.Get("Reply-Text") != want.Get("Reply-Text") || got.Get("Job-UUID") != want.Get("Job-UUID") {
			t.Errorf("%s: reply %q, want %q", where, got.Headers, want.Headers)
		}
	case "api/response", "text/disconnect-notice":
		if !bytes.Equal(got.Body, want.Body) {
			t.Errorf("%s: body %q, want %q", where, got.Body, want.Body)
		}
	case "text/event-plain":
		compareEvents(t, where, want, got)
	default:
		t.Errorf("%s: unexpected frame type %q", where, want.ContentType())
	}
}

func compareEvents(t *testing.T, where string, wantFrame, gotFrame esltest.Frame) {
	t.Helper()
	want, err := esltest.ParseEventPlain(wantFrame.Body)
	if err != nil {
		t.Fatalf("%s: fixture event: %v", where, err)
	}
	got, err := esltest.ParseEventPlain(gotFrame.Body)
	if err != nil {
		t.Fatalf("%s: fake event: %v", where, err)
	}
	where += " " + want.Name()
	if got.Name() != want.Name() {
		t.Fatalf("%s: got event %s", where, got.Name())
	}
	// Every header of the real event, as many times as it appears there.
	counts := map[string]int{}
	for _, h := range got.Headers {
		counts[h.Name]++
	}
	for _, h := range want.Headers {
		if counts[h.Name] == 0 {
			t.Errorf("%s: missing header %s", where, h.Name)
		}
		counts[h.Name]--
	}
	// Values that the call's script and command determine.
	for _, name := range []string{
		"Unique-ID", "Channel-Call-UUID", "Caller-Destination-Number", "Answer-State", "Hangup-Cause",
		"Channel-State", "Channel-Call-State", "Call-Direction", "Caller-Context",
		"variable_hangup_cause", "variable_hangup_cause_q850", "variable_sip_term_status",
		"variable_sip_term_cause", "variable_sip_hangup_disposition", "variable_origination_uuid",
		"variable_originate_timeout", "DTMF-Digit", "Job-UUID", "Job-Command", "Job-Command-Arg",
	} {
		if want.Has(name) && got.Get(name) != want.Get(name) {
			t.Errorf("%s: %s = %q, want %q", where, name, got.Get(name), want.Get(name))
		}
	}
	if !bytes.Equal(got.Body, want.Body) {
		t.Errorf("%s: body %q, want %q", where, got.Body, want.Body)
	}
	// The raw job argument must be URL-encoded exactly as FreeSWITCH does.
	if want.Name() == "BACKGROUND_JOB" {
		if w, g := rawHeader(wantFrame.Body, "Job-Command-Arg"), rawHeader(gotFrame.Body, "Job-Command-Arg"); w != g {
			t.Errorf("%s: raw Job-Command-Arg %q, want %q", where, g, w)
		}
	}
}

func headerNames(hs []esltest.Header, sorted bool) string {
	names := make([]string, len(hs))
	for i, h := range hs {
		names[i] = h.Name
	}
	if sorted {
		slices.Sort(names)
	}
	return strings.Join(names, ",")
}

// rawHeader returns a header value from an event-plain body without
// decoding it.
func rawHeader(body []byte, name string) string {
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			return v
		}
	}
	return ""
}
