package esltest_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/esl/esltest"
)

var allCallEvents = []string{"CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_ANSWER", "CHANNEL_EXECUTE",
	"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB", "SHUTDOWN",
	"CUSTOM", "spandsp::txfaxresult"}

// run places one call running app and returns its events.
func run(t *testing.T, s *esltest.Server, vars, app string) []esltest.Event {
	t.Helper()
	c := login(t, s, allCallEvents...)
	const uuid, job = "33333333-3333-4333-8333-333333333333", "44444444-4444-4444-8444-444444444444"
	c.expectReply("bgapi originate {origination_uuid="+uuid+vars+"}sofia/gateway/carrier/15551230001 "+app+"\nJob-UUID: "+job,
		"+OK Job-UUID: "+job)
	return c.callEvents(uuid, job)
}

func find(evs []esltest.Event, name string) esltest.Event {
	for _, ev := range evs {
		if ev.Name() == name {
			return ev
		}
	}
	return esltest.Event{}
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var wavHeader = append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), make([]byte, 28)...)

// TestPlaybackLookup: FreeSWITCH's lookup of a playback path, as the
// captures show it.
func TestPlaybackLookup(t *testing.T) {
	dir := t.TempDir()
	noext := writeFile(t, filepath.Join(dir, "a", "abcdef"), wavHeader)
	sibling := writeFile(t, filepath.Join(dir, "b", "abcdef"), wavHeader)
	writeFile(t, sibling+".wav", wavHeader)
	dotted := writeFile(t, filepath.Join(dir, "data.d", "abcdef"), wavHeader)
	wav := writeFile(t, filepath.Join(dir, "c", "abcdef.wav"), wavHeader)
	notWav := writeFile(t, filepath.Join(dir, "d", "abcdef.wav"), []byte("not audio, but long enough to be a header ......"))
	for _, tc := range []struct {
		name, path, want string
	}{
		{"a path without extension is never opened as given", noext, "FILE NOT FOUND"},
		{"a .wav beside it is played instead", sibling, "FILE PLAYED"},
		{"a dotted directory reads as an extension", dotted, "FILE NOT FOUND"},
		{"a WAV", wav, "FILE PLAYED"},
		{"a .wav that is not one", notWav, "FILE NOT FOUND"},
		{"a file that is not there", filepath.Join(dir, "none.wav"), "FILE NOT FOUND"},
		{"a tone stream", "tone_stream://%(100,0,440)", "FILE PLAYED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := esltest.Start(t, esltest.Options{Default: esltest.Answer(0, 30*time.Millisecond)})
			evs := run(t, s, "", "&playback("+tc.path+")")
			done := find(evs, "CHANNEL_EXECUTE_COMPLETE")
			if done.Get("Application") != "playback" || done.Get("Application-Response") != tc.want ||
				done.Get("variable_current_application_response") != tc.want {
				t.Errorf("execute-complete %q %q", done.Get("Application"), done.Get("Application-Response"))
			}
			if played := done.Has("variable_playback_ms"); played != (tc.want == "FILE PLAYED") {
				t.Errorf("playback variables: %v", played)
			}
			want := []string{"CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_ANSWER", "BACKGROUND_JOB", "CHANNEL_EXECUTE",
				"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"}
			if !slices.Equal(names(evs), want) {
				t.Errorf("events %v", names(evs))
			}
		})
	}
}

// TestPlaybackTerminators: a key among playback_terminators (* when unset)
// ends playback at once, and playback still answers FILE PLAYED with the
// key in playback_terminator_used; "none" lets the message play on.
func TestPlaybackTerminators(t *testing.T) {
	for _, tc := range []struct {
		name, vars, keys string
		cut              bool
	}{
		{"the default terminator *", "", "*", true},
		{"a key that is no terminator", "", "5", false},
		{"none", ",playback_terminators=none", "*", false},
		{"any", ",playback_terminators=any", "7", true},
		{"a set of keys", ",playback_terminators=#9", "9", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := esltest.Start(t, esltest.Options{Default: esltest.Answer(0, 2*time.Second).WithDTMF(tc.keys, 20*time.Millisecond)})
			start := time.Now()
			evs := run(t, s, tc.vars, "&playback(tone_stream://%(100,0,440))")
			done := find(evs, "CHANNEL_EXECUTE_COMPLETE")
			if done.Get("Application-Response") != "FILE PLAYED" {
				t.Errorf("response %q", done.Get("Application-Response"))
			}
			used := done.Get("variable_playback_terminator_used")
			if cut := time.Since(start) < time.Second; cut != tc.cut || (used != "") != tc.cut {
				t.Errorf("ended early %v, terminator used %q; want cut %v", cut, used, tc.cut)
			}
		})
	}
	s := esltest.Start(t, esltest.Options{Default: esltest.Answer(0, 2*time.Second).WithDTMF("*", 20*time.Millisecond)})
	evs := run(t, s, ",dialerd_tts='Hello'", "&speak(flite|kal|${dialerd_tts})")
	if done := find(evs, "CHANNEL_EXECUTE_COMPLETE"); done.Get("variable_playback_terminator_used") != "*" {
		t.Errorf("speak: terminator used %q", done.Get("variable_playback_terminator_used"))
	}
}

// TestSpeakSplitsOnSpaces: unquoted text is cut at its first space and
// the rest becomes originate's positional arguments (speak_spaces.txt);
// the text in a variable is expanded when speak runs (speak.txt).
func TestSpeakSplitsOnSpaces(t *testing.T) {
	s := esltest.Start(t, esltest.Options{Default: esltest.Answer(0, 30*time.Millisecond)})
	evs := run(t, s, "", "&speak(flite|kal|Hello from the fixture)")
	if ex := find(evs, "CHANNEL_EXECUTE"); ex.Get("Application-Data") != "flite|kal|Hello" || ex.Get("Caller-Orig-Caller-ID-Name") != "fixture)" {
		t.Errorf("data %q, caller name %q", ex.Get("Application-Data"), ex.Get("Caller-Orig-Caller-ID-Name"))
	}
	evs = run(t, s, ",dialerd_tts='Hello from the fixture'", "&speak(flite|kal|${dialerd_tts})")
	if ex := find(evs, "CHANNEL_EXECUTE_COMPLETE"); ex.Get("Application-Data") != "flite|kal|Hello from the fixture" ||
		ex.Get("Application-Response") != "_none_" {
		t.Errorf("data %q response %q", ex.Get("Application-Data"), ex.Get("Application-Response"))
	}
}

// TestTxFax: txfax of a TIFF, of a PDF and of a missing file, as in the
// fax_*.txt captures (our leg only).
func TestTxFax(t *testing.T) {
	dir := t.TempDir()
	tif := writeFile(t, filepath.Join(dir, "doc.tif"), []byte("II*\x00\x08\x00\x00\x00"))
	pdf := writeFile(t, filepath.Join(dir, "doc.pdf"), []byte("%PDF-1.4\n"))
	for _, tc := range []struct {
		name, path, success, code string
		events                    []string
	}{
		{"a TIFF", tif, "1", "0", []string{"CHANNEL_EXECUTE", "CHANNEL_HANGUP", "CUSTOM", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP_COMPLETE"}},
		{"a PDF", pdf, "0", "41", []string{"CHANNEL_EXECUTE", "CHANNEL_HANGUP", "CUSTOM", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP_COMPLETE"}},
		{"no file", filepath.Join(dir, "missing.tif"), "", "", []string{"CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := esltest.Start(t, esltest.Options{Default: esltest.Answer(0, 30*time.Millisecond)})
			evs := run(t, s, "", "&txfax("+tc.path+")")
			i := slices.Index(names(evs), "CHANNEL_EXECUTE")
			if i < 0 || !slices.Equal(names(evs)[i:], tc.events) {
				t.Fatalf("events %v", names(evs))
			}
			res, done := find(evs, "CUSTOM"), find(evs, "CHANNEL_HANGUP_COMPLETE")
			if res.Get("Event-Subclass") != "" && res.Get("Event-Subclass") != "spandsp::txfaxresult" {
				t.Errorf("subclass %q", res.Get("Event-Subclass"))
			}
			if res.Get("fax-success") != tc.success || res.Get("fax-result-code") != tc.code ||
				done.Get("variable_fax_success") != tc.success || done.Get("variable_fax_result_code") != tc.code {
				t.Errorf("fax result %q/%q, variables %q/%q", res.Get("fax-success"), res.Get("fax-result-code"),
					done.Get("variable_fax_success"), done.Get("variable_fax_result_code"))
			}
			// Application-Response is _none_ unless the file is missing.
			want := "_none_"
			if tc.success == "" {
				want = "Cannot send non-existant fax file"
			}
			if r := find(evs, "CHANNEL_EXECUTE_COMPLETE").Get("Application-Response"); r != want {
				t.Errorf("response %q", r)
			}
		})
	}
}

// TestShutdownSubscription: SHUTDOWN reaches only a listener that named it
// before CUSTOM (shutdown_custom_last.txt), and every connection gets the
// shutdown's disconnect notice.
func TestShutdownSubscription(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	before := login(t, s, "SHUTDOWN", "CUSTOM", "spandsp::txfaxresult")
	after := login(t, s, "CUSTOM", "spandsp::txfaxresult", "SHUTDOWN")
	admin := login(t, s)
	if got := admin.api("fsctl shutdown"); got != "+OK\n" {
		t.Errorf("fsctl shutdown: %q", got)
	}
	for name, c := range map[string]*client{"before": before, "after": after} {
		var sawShutdown bool
		for {
			f := c.read()
			if f.ContentType() == "text/disconnect-notice" {
				if string(f.Body) != "The system is being shut down.\n" {
					t.Errorf("%s: notice %q", name, f.Body)
				}
				break
			}
			if ev, err := esltest.ParseEventPlain(f.Body); err == nil && ev.Name() == "SHUTDOWN" {
				sawShutdown = true
				if ev.Get("Event-Info") != "System Shutting Down" {
					t.Errorf("Event-Info %q", ev.Get("Event-Info"))
				}
			}
		}
		if sawShutdown != (name == "before") {
			t.Errorf("%s CUSTOM: SHUTDOWN delivered %v", name, sawShutdown)
		}
		c.expectClosed()
	}
}

// TestHashAndHooks: mod_hash, and api_reporting_hook expanded when it runs
// in CS_REPORTING; without origination_nested_vars, originate drops a value
// holding "${".
func TestHashAndHooks(t *testing.T) {
	s := esltest.Start(t, esltest.Options{Default: esltest.Answer(0, 30*time.Millisecond)})
	hook := `,api_reporting_hook=hash\sinsert/r/k/${hangup_cause};${billsec};${current_application_response}`
	run(t, s, hook, "&playback(tone_stream://%(10,0,440))")
	if v, ok := s.Hash("r", "k"); ok {
		t.Errorf("a value holding ${ was set without origination_nested_vars: %q", v)
	}
	run(t, s, ",origination_nested_vars=true"+hook, "&playback(tone_stream://%(10,0,440))")
	c := login(t, s)
	if got := c.api("hash select/r/k"); got != "NORMAL_CLEARING;0;FILE PLAYED" {
		t.Errorf("hash select: %q", got)
	}
	if got := c.api("hash delete/r/k"); got != "+OK\n" {
		t.Errorf("hash delete: %q", got)
	}
	if got := c.api("hash delete/r/k"); got != "-ERR Not found\n" {
		t.Errorf("hash delete again: %q", got)
	}
	if got := c.api("hash select/r/k"); got != "" {
		t.Errorf("hash select after delete: %q", got)
	}
}

// TestFsctlSPS: "fsctl sps N" sets the budget (sps_limit.txt): with 1 no
// originate gets a channel, and none produces a channel event.
func TestFsctlSPS(t *testing.T) {
	s := esltest.Start(t, esltest.Options{SessionsPerSecond: 100})
	c := login(t, s, allCallEvents...)
	if got := c.api("fsctl sps"); got != "+OK sessions per second: 100\n" {
		t.Errorf("fsctl sps: %q", got)
	}
	if got := c.api("fsctl sps 1"); got != "+OK sessions per second: 1\n" {
		t.Errorf("fsctl sps 1: %q", got)
	}
	const uuid, job = "55555555-5555-4555-8555-555555555555", "66666666-6666-4666-8666-666666666666"
	c.place(uuid, job, "15551230001", "")
	ev := c.event(func(ev esltest.Event) bool { return true })
	if ev.Name() != "BACKGROUND_JOB" || strings.TrimSpace(string(ev.Body)) != "-ERR DESTINATION_OUT_OF_ORDER" {
		t.Errorf("first event %s %q", ev.Name(), ev.Body)
	}
	if got := c.api("uuid_exists " + uuid); got != "false" {
		t.Errorf("uuid_exists %q", got)
	}
}
