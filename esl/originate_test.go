package esl

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/esl/esltest"
)

const testUUID = "5e1f0c3a-7d2b-4c8e-9f10-2a3b4c5d6e7f"

func baseAttempt() dialer.Attempt {
	return dialer.Attempt{
		SpoolID:        42,
		CallUUID:       testUUID,
		TenantID:       "T",
		Program:        dialer.ProgramVoiceMessage,
		Phone:          "+4930123456",
		CallerIDNumber: "+4930999",
		CallerIDName:   "Dialer Test",
		Provider:       dialer.Route{Name: "carrier", Prefix: "00"},
		RingTimeout:    25 * time.Second,
		MaxDuration:    90 * time.Second,
		Media: dialer.Media{
			RecordingPath: "/var/lib/dialerd/media/ab/cd0123.wav",
			RecordingURL:  "http://10.0.0.5:8000/media/ab/cd0123.wav?token=x-y_z",
			TTSText:       "Hello, it's Bob's \"reminder\": call 555-0100 (today) at 50% off!",
			DocumentPath:  "/var/lib/dialerd/media/ef/fax.tiff",
		},
	}
}

// checkRoundTrip parses o.Arg as FreeSWITCH would (esltest mimics its
// splitting) and fails unless it means exactly o: the same variables and
// no others, nothing dropped, the same endpoint and application.
func checkRoundTrip(t testing.TB, o originate) esltest.Originate {
	t.Helper()
	if strings.ContainsAny(o.Arg, "\r\n") {
		t.Fatalf("line break in the command: %q", o.Arg)
	}
	p, err := esltest.ParseOriginate(o.Arg)
	if err != nil {
		t.Fatalf("FreeSWITCH would refuse %q: %v", o.Arg, err)
	}
	if len(p.Dropped) > 0 {
		t.Fatalf("pieces dropped %q from %q", p.Dropped, o.Arg)
	}
	if len(p.Vars) != len(o.Vars) {
		t.Fatalf("variables %q, want %q (from %q)", p.Vars, o.Vars, o.Arg)
	}
	for i, v := range o.Vars {
		if p.Vars[i].Name != v.Name || p.Vars[i].Value != v.Value {
			t.Fatalf("variable %d is %q=%q, want %q=%q (from %q)", i, p.Vars[i].Name, p.Vars[i].Value, v.Name, v.Value, o.Arg)
		}
	}
	if p.Endpoint != o.Endpoint {
		t.Fatalf("endpoint %q, want %q (from %q)", p.Endpoint, o.Endpoint, o.Arg)
	}
	if p.Application != o.Application || p.AppArgs != o.AppArgs || p.Target != "&"+o.Application+"("+o.AppArgs+")" {
		t.Fatalf("application %q(%q) target %q, want %q(%q)", p.Application, p.AppArgs, p.Target, o.Application, o.AppArgs)
	}
	if p.Dialplan != "XML" || p.Context != "default" {
		t.Fatalf("extra arguments: dialplan %q context %q", p.Dialplan, p.Context)
	}
	return p
}

func TestBuildOriginate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		local  bool
		change func(a *dialer.Attempt)
		want   func(t *testing.T, o originate, p esltest.Originate)
	}{
		{"voicemessage on a local node plays the file", true, nil, func(t *testing.T, o originate, p esltest.Originate) {
			if p.Application != "playback" || p.AppArgs != "/var/lib/dialerd/media/ab/cd0123.wav" {
				t.Errorf("application %s(%s)", p.Application, p.AppArgs)
			}
			if p.UUID != testUUID || p.Destination != "004930123456" || p.Endpoint != "sofia/gateway/carrier/004930123456" {
				t.Errorf("uuid %s destination %s endpoint %s", p.UUID, p.Destination, p.Endpoint)
			}
			if p.CallerIDName != "Dialer Test" || p.CallerIDNumber != "+4930999" || p.Timeout != 25*time.Second {
				t.Errorf("caller id %q %q timeout %s", p.CallerIDName, p.CallerIDNumber, p.Timeout)
			}
			if v, _ := p.Var("execute_on_answer"); v != "sched_hangup +90 ALLOTTED_TIMEOUT" {
				t.Errorf("execute_on_answer %q", v)
			}
			if v, _ := p.Var(varSpool); v != "42" {
				t.Errorf("spool id %q", v)
			}
		}},
		{"voicemessage on a remote node plays the URL", false, nil, func(t *testing.T, o originate, p esltest.Originate) {
			if p.AppArgs != "http://10.0.0.5:8000/media/ab/cd0123.wav?token=x-y_z" {
				t.Errorf("args %q", p.AppArgs)
			}
		}},
		{"voicetts speaks the text from a variable", false, func(a *dialer.Attempt) { a.Program = dialer.ProgramVoiceTTS }, func(t *testing.T, o originate, p esltest.Originate) {
			if p.Application != "speak" || p.AppArgs != "flite|kal|${dialerd_tts}" {
				t.Errorf("application %s(%s)", p.Application, p.AppArgs)
			}
			if v, _ := p.Var(varTTS); v != baseAttempt().Media.TTSText {
				t.Errorf("tts %q", v)
			}
			if v, _ := p.Var("playback_terminators"); v != "none" {
				t.Errorf("playback_terminators %q: speak's default * would end the text", v)
			}
		}},
		{"tts white space is normalised", false, func(a *dialer.Attempt) {
			a.Program, a.Media.TTSText, a.Media.TTSVoice = dialer.ProgramVoiceTTS, "  one\n\ttwo   three ", "slt"
		}, func(t *testing.T, o originate, p esltest.Originate) {
			if v, _ := p.Var(varTTS); v != "one two three" || p.AppArgs != "flite|slt|${dialerd_tts}" {
				t.Errorf("tts %q args %q", v, p.AppArgs)
			}
		}},
		{"sendfax sends the TIFF", true, func(a *dialer.Attempt) { a.Program = dialer.ProgramSendFax }, func(t *testing.T, o originate, p esltest.Originate) {
			if p.Application != "txfax" || p.AppArgs != "/var/lib/dialerd/media/ef/fax.tiff" {
				t.Errorf("application %s(%s)", p.Application, p.AppArgs)
			}
			if _, ok := p.Var("playback_terminators"); ok {
				t.Error("a fax sets playback_terminators")
			}
		}},
		{"a dial string template", true, func(a *dialer.Attempt) {
			a.Provider.DialString = "sofia/external/sip:{number}@sip.example.com;transport=tcp"
		},
			func(t *testing.T, o originate, p esltest.Originate) {
				if p.Endpoint != "sofia/external/sip:004930123456@sip.example.com;transport=tcp" || p.Destination != "004930123456" {
					t.Errorf("endpoint %q destination %q", p.Endpoint, p.Destination)
				}
			}},
		{"no caller id and no maximum duration", true, func(a *dialer.Attempt) {
			a.CallerIDName, a.CallerIDNumber, a.MaxDuration, a.RingTimeout, a.SpoolID = "", "", 0, 0, 0
		}, func(t *testing.T, o originate, p esltest.Originate) {
			// uuid, timeout, playback_terminators, and the call
			// record's two (record.go).
			if len(p.Vars) != 5 || p.Timeout != defaultRingTimeout {
				t.Errorf("vars %q timeout %s", p.Vars, p.Timeout)
			}
		}},
		{"sub-second timeouts round up", true, func(a *dialer.Attempt) { a.RingTimeout, a.MaxDuration = 300*time.Millisecond, 1500*time.Millisecond },
			func(t *testing.T, o originate, p esltest.Originate) {
				if v, _ := p.Var("execute_on_answer"); p.Timeout != time.Second || v != "sched_hangup +2 ALLOTTED_TIMEOUT" {
					t.Errorf("timeout %s, %q", p.Timeout, v)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := baseAttempt()
			if tc.change != nil {
				tc.change(&a)
			}
			o, err := buildOriginate(a, mediaPlace{local: tc.local, ttsEngine: "flite", ttsVoice: "kal"})
			if err != nil {
				t.Fatal(err)
			}
			tc.want(t, o, checkRoundTrip(t, o))
		})
	}
}

// TestBuildOriginateRefusesInjection tries to smuggle variables,
// applications, legs and commands through every input.
func TestBuildOriginateRefusesInjection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		field  string
		local  bool
		change func(a *dialer.Attempt)
	}{
		{"phone with a variable block", "phone", true, func(a *dialer.Attempt) { a.Phone = "+4930123456}{absolute_codec_string=PCMA" }},
		{"phone with a second leg", "phone", true, func(a *dialer.Attempt) { a.Phone = "+4930123456,sofia/gateway/x/1" }},
		{"phone with a space and an application", "phone", true, func(a *dialer.Attempt) { a.Phone = "+4930123456 &bridge(user/1000)" }},
		{"phone with a newline command", "phone", true, func(a *dialer.Attempt) { a.Phone = "+4930123456\n\napi system rm" }},
		{"phone with a pipe", "phone", true, func(a *dialer.Attempt) { a.Phone = "+4930123456|user/1000" }},
		{"phone not E.164", "phone", true, func(a *dialer.Attempt) { a.Phone = "030123456" }},
		{"phone too short", "phone", true, func(a *dialer.Attempt) { a.Phone = "+1234567" }},
		{"caller id number with letters", "caller_id_number", true, func(a *dialer.Attempt) { a.CallerIDNumber = "123,foo=bar" }},
		{"caller id number with a brace", "caller_id_number", true, func(a *dialer.Attempt) { a.CallerIDNumber = "123}" }},
		{"caller id name with a comma", "caller_id_name", true, func(a *dialer.Attempt) { a.CallerIDName = "Bob,absolute_codec_string=PCMA" }},
		{"caller id name with a brace", "caller_id_name", true, func(a *dialer.Attempt) { a.CallerIDName = "Bob}sofia/gateway/x/1 &park(){" }},
		{"caller id name with a quote", "caller_id_name", true, func(a *dialer.Attempt) { a.CallerIDName = "Bob' &park() '" }},
		{"caller id name with a pipe", "caller_id_name", true, func(a *dialer.Attempt) { a.CallerIDName = "Bob|user/1000" }},
		{"caller id name with a newline", "caller_id_name", true, func(a *dialer.Attempt) { a.CallerIDName = "Bob\nJob-UUID: x" }},
		{"caller id name with an expansion", "caller_id_name", true, func(a *dialer.Attempt) { a.CallerIDName = "${system(id)}" }},
		{"caller id name with a backslash", "caller_id_name", true, func(a *dialer.Attempt) { a.CallerIDName = `Bob\,x=y` }},
		{"prefix with letters", "prefix", true, func(a *dialer.Attempt) { a.Provider.Prefix = "9,x=y" }},
		{"gateway name with a slash", "dialstring", true, func(a *dialer.Attempt) { a.Provider.Name = "carrier/../x" }},
		{"gateway name with a space", "dialstring", true, func(a *dialer.Attempt) { a.Provider.Name = "carrier &park()" }},
		{"template with a variable block", "dialstring", true, func(a *dialer.Attempt) { a.Provider.DialString = "{x=y}sofia/gateway/t/{number}" }},
		{"template with a second leg", "dialstring", true, func(a *dialer.Attempt) { a.Provider.DialString = "sofia/gateway/t/{number},user/1000" }},
		{"template with an enterprise leg", "dialstring", true, func(a *dialer.Attempt) { a.Provider.DialString = "sofia/gateway/t/{number}:_:user/1000" }},
		{"template without an endpoint", "dialstring", true, func(a *dialer.Attempt) { a.Provider.DialString = "{number}" }},
		{"template with a space", "dialstring", true, func(a *dialer.Attempt) { a.Provider.DialString = "sofia/gateway/t/{number} &park()" }},
		{"recording path with a parenthesis", "media", true, func(a *dialer.Attempt) { a.Media.RecordingPath = "/tmp/a.wav)&park(" }},
		{"recording path with a space", "media", true, func(a *dialer.Attempt) { a.Media.RecordingPath = "/tmp/a.wav &park()" }},
		{"recording path with a comma", "media", true, func(a *dialer.Attempt) { a.Media.RecordingPath = "/tmp/a.wav,/etc/passwd" }},
		{"recording path relative", "media", true, func(a *dialer.Attempt) { a.Media.RecordingPath = "a.wav" }},
		{"recording path escaping", "media", true, func(a *dialer.Attempt) { a.Media.RecordingPath = "/var/lib/dialerd/../../etc/x.wav" }},
		{"recording URL with a quote", "media", false, func(a *dialer.Attempt) { a.Media.RecordingURL = "http://h/a.wav'" }},
		{"recording URL with a parenthesis", "media", false, func(a *dialer.Attempt) { a.Media.RecordingURL = "http://h/a.wav)" }},
		{"recording URL of another scheme", "media", false, func(a *dialer.Attempt) { a.Media.RecordingURL = "file:///etc/passwd" }},
		{"remote node without URL", "media", false, func(a *dialer.Attempt) { a.Media.RecordingURL = "" }},
		{"tts with an expansion", "media", false, func(a *dialer.Attempt) {
			a.Program, a.Media.TTSText = dialer.ProgramVoiceTTS, "hello ${system(rm -rf /)}"
		}},
		{"tts with a pipe", "media", false, func(a *dialer.Attempt) { a.Program, a.Media.TTSText = dialer.ProgramVoiceTTS, "a|b" }},
		{"tts with a brace", "media", false, func(a *dialer.Attempt) { a.Program, a.Media.TTSText = dialer.ProgramVoiceTTS, "a}b" }},
		{"tts with a backslash", "media", false, func(a *dialer.Attempt) { a.Program, a.Media.TTSText = dialer.ProgramVoiceTTS, `a\,b` }},
		{"tts empty", "media", false, func(a *dialer.Attempt) { a.Program, a.Media.TTSText = dialer.ProgramVoiceTTS, " \n " }},
		{"tts voice with a pipe", "media", false, func(a *dialer.Attempt) {
			a.Program, a.Media.TTSVoice = dialer.ProgramVoiceTTS, "kal|x"
		}},
		{"fax on a remote node", "media", false, func(a *dialer.Attempt) { a.Program = dialer.ProgramSendFax }},
		{"sms through FreeSWITCH", "media", true, func(a *dialer.Attempt) { a.Program = dialer.ProgramSendSMS }},
		{"call uuid not a uuid", "call_uuid", true, func(a *dialer.Attempt) { a.CallUUID = testUUID + ",x=y" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := baseAttempt()
			tc.change(&a)
			o, err := buildOriginate(a, mediaPlace{local: tc.local, ttsEngine: "flite", ttsVoice: "kal"})
			if err == nil {
				t.Fatalf("accepted: %q", o.Arg)
			}
			var de *dialer.Error
			if !errorsAs(err, &de) || de.Code != dialer.CodeInvalid || de.Fields[tc.field] == "" {
				t.Fatalf("error %v, want an invalid %s", err, tc.field)
			}
		})
	}
}

// FuzzOriginateCommand: for any inputs, buildOriginate either refuses or
// writes a command that FreeSWITCH's splitting (esltest.ParseOriginate)
// reads back as exactly the intended variables, endpoint and application,
// with no extra variable, and with the destination the number dialled.
func FuzzOriginateCommand(f *testing.F) {
	a := baseAttempt()
	f.Add(a.Phone, a.CallerIDName, a.CallerIDNumber, a.Provider.Prefix, a.Provider.Name, "", a.Media.TTSText, a.Media.RecordingPath, a.Media.RecordingURL, uint8(0))
	f.Add("+4930123456", "Bob,x=y", "1", "9", "gw", "sofia/gateway/t/{number}", "don't, won't: it's 'quoted'", "/a.wav", "https://h:1/a?b=c&d", uint8(1))
	f.Add("+4930123456}{x=y", "a b  c", "", "", "gw", "", "a\\b", "/a b.wav", "http://h/a)b", uint8(2))
	f.Add("+15551230001", "Ünïcødé 名前", "+1", "", "gw", "sofia/external/{number}@h;x=y", "sch\u00f6n ' ,, '' ,'", "/x", "http://h", uint8(5))
	f.Fuzz(func(t *testing.T, phone, cidName, cidNum, prefix, gw, dialString, tts, path, url string, mode uint8) {
		a := baseAttempt()
		a.Phone, a.CallerIDName, a.CallerIDNumber = phone, cidName, cidNum
		a.Provider.Prefix, a.Provider.Name, a.Provider.DialString = prefix, gw, dialString
		a.Media.TTSText, a.Media.RecordingPath, a.Media.RecordingURL, a.Media.DocumentPath = tts, path, url, path
		a.Program = []dialer.ProgramType{dialer.ProgramVoiceMessage, dialer.ProgramVoiceTTS, dialer.ProgramSendFax}[int(mode)%3]
		o, err := buildOriginate(a, mediaPlace{local: mode&4 != 0, ttsEngine: "flite", ttsVoice: "kal"})
		if err != nil {
			return
		}
		p := checkRoundTrip(t, o)
		if p.UUID != testUUID {
			t.Fatalf("uuid %q", p.UUID)
		}
		if !strings.Contains(o.Endpoint, o.Number) || !strings.HasSuffix(o.Number, strings.TrimPrefix(phone, "+")) {
			t.Fatalf("endpoint %q does not dial %q", o.Endpoint, phone)
		}
		if dialString == "" && p.Destination != prefix+strings.TrimPrefix(phone, "+") {
			t.Fatalf("destination %q", p.Destination)
		}
		if v, ok := p.Var("origination_caller_id_name"); ok && v != strings.TrimSpace(cidName) {
			t.Fatalf("caller id name %q, want %q", v, strings.TrimSpace(cidName))
		}
		if a.Program == dialer.ProgramVoiceTTS {
			if v, _ := p.Var(varTTS); v != normalizeTTS(tts) {
				t.Fatalf("tts %q, want %q", v, normalizeTTS(tts))
			}
		}
	})
}

func TestRecordingURLForRemoteNodes(t *testing.T) {
	sign := func(p string) (string, error) {
		return "http://10.0.0.2:8000/media/" + filepath.Base(p) + "?exp=1&sig=ab", nil
	}
	for _, tc := range []struct {
		name  string
		local bool
		sign  func(string) (string, error)
		want  string
	}{
		{"local node reads the file", true, sign, ""},
		{"remote node gets a URL", false, sign, "http://10.0.0.2:8000/media/" + strings.Repeat("c", 64) + ".wav?exp=1&sig=ab"},
		{"remote node, no public URL configured", false, nil, ""},
	} {
		a := baseAttempt()
		a.Program = dialer.ProgramVoiceMessage
		a.Media = dialer.Media{RecordingPath: "/var/lib/dialerd/media/cc/" + strings.Repeat("c", 64) + ".wav"}
		if err := withRecordingURL(&a, tc.local, tc.sign); err != nil {
			t.Fatal(err)
		}
		if a.Media.RecordingURL != tc.want {
			t.Errorf("%s: URL %q, want %q", tc.name, a.Media.RecordingURL, tc.want)
		}
		// A remote node's originate plays the URL, and only a URL.
		cmd, err := buildOriginate(a, mediaPlace{local: tc.local, ttsEngine: "flite", ttsVoice: "kal"})
		switch {
		case tc.local && (err != nil || cmd.AppArgs != a.Media.RecordingPath):
			t.Errorf("%s: %q, %v", tc.name, cmd, err)
		case !tc.local && tc.want != "" && (err != nil || !strings.Contains(cmd.Arg, "&playback("+tc.want+")")):
			t.Errorf("%s: %q, %v", tc.name, cmd, err)
		case !tc.local && tc.want == "" && err == nil:
			t.Errorf("%s: a remote node was sent a local path: %q", tc.name, cmd)
		}
	}
}

// TestReportingHookSurvivesTheSplits: the call record's hook reaches the
// channel exactly as built, through originate's blank, ',' and '=' splits,
// and with origination_nested_vars so that its "${" is not refused.
func TestReportingHookSurvivesTheSplits(t *testing.T) {
	a := baseAttempt()
	o, err := buildOriginate(a, mediaPlace{local: true, ttsEngine: "flite", ttsVoice: "kal"})
	if err != nil {
		t.Fatal(err)
	}
	p := checkRoundTrip(t, o)
	if v, _ := p.Var("api_reporting_hook"); v != reportingHook(a.CallUUID) {
		t.Errorf("hook %q, want %q", v, reportingHook(a.CallUUID))
	}
	if v, _ := p.Var("origination_nested_vars"); v != "true" {
		t.Errorf("origination_nested_vars %q", v)
	}
	r, ok := parseRecord(strings.NewReplacer("${hangup_cause}", "NORMAL_CLEARING", "${billsec}", "3").Replace(
		strings.TrimPrefix(reportingHook(a.CallUUID), "hash insert/dialerd/"+a.CallUUID+"/")))
	if !ok || r.values["hangup_cause"] != "NORMAL_CLEARING" || r.values["billsec"] != "3" {
		t.Errorf("record %v %v", r, ok)
	}
}
