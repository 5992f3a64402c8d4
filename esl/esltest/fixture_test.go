package esltest_test

import (
	"bytes"
	"fmt"
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
		"answered.txt":    esltest.Answer(0, 50*time.Millisecond),
		"dtmf.txt":        esltest.Answer(0, 50*time.Millisecond).WithDTMF("15#", 10*time.Millisecond),
		"busy.txt":        esltest.Busy(),
		"noanswer.txt":    esltest.NoAnswer(50 * time.Millisecond),
		"unreachable.txt": esltest.Unreachable(),
	}
}

// TestFixturesReplay sends each transcript's client commands to the fake,
// scripted like the transcript's peer, and compares what comes back with
// what FreeSWITCH sent: same frame types in the same order, the same event
// names in the same order, the same replies and job results, and every
// header of each real event present in the fake's.
func TestFixturesReplay(t *testing.T) {
	scripts := fixtureScripts()
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			b, ok := scripts[name]
			if !ok {
				t.Skipf("%s: not replayed against the fake yet (see TestReplayFixtures in package esl for the gateway's replay)", name)
			}
			s := esltest.Start(t, esltest.Options{Default: b})
			items := loadTranscript(t, name)
			c := dial(t, s) // consumes the first frame, auth/request
			for i := 1; i < len(items); i++ {
				it := items[i]
				if it.command != "" {
					c.send(it.command)
					continue
				}
				got := c.read()
				compareFrames(t, fmt.Sprintf("%s frame %d", name, i), it.frame, got)
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
