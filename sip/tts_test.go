package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	sipgo "github.com/emiago/sipgo/sip"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/media"
)

// fakeSpeaker renders every text as one file, or fails.
type fakeSpeaker struct {
	path  string
	err   error
	calls atomic.Int64
}

func (f *fakeSpeaker) Speak(ctx context.Context, text, voice, language string) (string, error) {
	f.calls.Add(1)
	return f.path, f.err
}

// espeakFor is the real espeak-ng renderer caching in a test directory,
// or a skip when Debian's espeak-ng is not installed.
func espeakFor(t *testing.T) *media.Espeak {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("espeak-ng (Debian package espeak-ng) is not installed; make test-deps installs it")
		}
		t.Skip("espeak-ng (Debian package espeak-ng) is not installed")
	}
	e, err := media.NewEspeak(media.EspeakOptions{CacheDir: filepath.Join(t.TempDir(), "tts")})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestCheckAttemptVoiceTTS: the SIP gateway checks a voicetts text by the
// one rule of every gateway that speaks (dialer.CheckTTSText), and without
// a speech engine refuses it naming the config key. Before: every voicetts
// was refused naming "program", however a speech engine was configured.
func TestCheckAttemptVoiceTTS(t *testing.T) {
	base := dialer.Attempt{
		CallUUID: "6b1f3c2e-0000-4000-8000-0000000000cd", Program: dialer.ProgramVoiceTTS,
		Phone: "+15551230001", CallerIDNumber: "+15550000000",
		Provider: dialer.Route{ProviderID: 1, Host: "127.0.0.1", Port: 9},
		Media:    dialer.Media{TTSText: "Your appointment is at ten.", TTSLanguage: "en-US"},
	}
	tests := []struct {
		name  string
		text  string
		field string // "": accepted
	}{
		{"plain text", "Your appointment is at ten.", ""},
		{"line breaks are spaces", "Hello\n\tthere.", ""},
		{"a variable", "hello ${system(rm -rf /)}", "text"},
		{"a pipe", "a|b", "text"},
		{"markup", "<speak>hi</speak>", "text"},
		{"blank", " \n ", "text"},
	}
	g := newTestGateway(t, Config{TTS: &fakeSpeaker{err: errors.New("not called")}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := base
			a.Media.TTSText = tt.text
			err := g.CheckAttempt(a)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("CheckAttempt: %v", err)
				}
				return
			}
			if fe := dialer.FaultOf(err); fe == nil || fe.Fault != dialer.FaultContent || fe.Field != tt.field {
				t.Fatalf("CheckAttempt = %v, want a content fault naming %q", err, tt.field)
			}
			// FreeSWITCH's gateway applies the same rule: one validation.
			if (dialer.CheckTTSText(tt.text) == nil) != (tt.field == "") {
				t.Errorf("dialer.CheckTTSText disagrees on %q", tt.text)
			}
		})
	}
	none := newTestGateway(t, Config{})
	if fe := dialer.FaultOf(none.CheckAttempt(base)); fe == nil || fe.Fault != dialer.FaultContent || fe.Field != ConfigKeyTTS {
		t.Errorf("without a speech engine: %v, want a content fault naming %s", fe, ConfigKeyTTS)
	}
}

// TestCallVoiceTTSRenderingFails: a text the speech engine cannot render
// is the content's fault (MEDIA_ERROR, naming text, saying why), found
// before anyone is called: no route is blamed, nothing is dialled.
func TestCallVoiceTTSRenderingFails(t *testing.T) {
	speaker := &fakeSpeaker{err: fmt.Errorf("%w (voice xx): Error: voice does not exist", media.ErrSpeech)}
	g := newTestGateway(t, Config{TTS: speaker})
	a := dialer.Attempt{
		CallUUID: "6b1f3c2e-0000-4000-8000-0000000000ce", Program: dialer.ProgramVoiceTTS,
		Phone: "+15551230001", Provider: dialer.Route{ProviderID: 1, Host: "127.0.0.1", Port: 9},
		RingTimeout: 5 * time.Second, MaxDuration: 20 * time.Second,
		Media: dialer.Media{TTSText: "Hello.", TTSLanguage: "xx"},
	}
	start := time.Now()
	_, err := g.Deliver(testContext(t), a, nil)
	v := dialer.ClassifyError(err)
	if v.Fault != dialer.FaultContent || v.Field != "text" || v.Cause != dialer.CauseMediaError || v.Disposition != dialer.Final {
		t.Fatalf("Deliver = %v, verdict %+v; want a final content fault MEDIA_ERROR naming text", err, v)
	}
	if !errors.Is(err, media.ErrSpeech) {
		t.Errorf("the fault does not say why: %v", err)
	}
	if time.Since(start) > time.Second || speaker.calls.Load() != 1 {
		t.Errorf("took %v with %d renderings: was the trunk tried?", time.Since(start), speaker.calls.Load())
	}
}

// TestCallVoiceTTSPlaysTheRendering: a voicetts call to a SIPp callee is
// rendered by the real espeak-ng to 8 kHz WAV, played over RTP like a
// recording, and delivered only when the RTP sender sent every sample of
// the rendering. A second call of the same text renders nothing new.
// Before: refused as the content's fault ("the SIP gateway has no
// text-to-speech"), whatever was installed.
func TestCallVoiceTTSPlaysTheRendering(t *testing.T) {
	speaker := espeakFor(t)
	g := newTestGateway(t, Config{TTS: speaker})
	for i := range 2 {
		sink := newRTPSink(t)
		s := startSipp(t, "answer", sippOptions{keys: map[string]string{"rtp_port": fmt.Sprint(sink.port()), "formats": "0 8"}})
		a := voiceAttempt(t, s, "udp", "")
		a.Program, a.Media = dialer.ProgramVoiceTTS, dialer.Media{TTSText: "One, two.", TTSLanguage: "en-US"}
		var prog progressLog
		out, err := g.Deliver(testContext(t), a, prog.record)
		if err != nil {
			t.Fatalf("call %d: Deliver: %v", i, err)
		}
		s.expectSuccess(t)
		if !out.Delivered || dialer.Classify(out).Disposition != dialer.Completed || prog.count(dialer.ProgressDelivered) != 1 {
			t.Fatalf("call %d: outcome %+v (progress %v), want delivered", i, out, prog.kinds)
		}
		path, err := speaker.Speak(testContext(t), "One, two.", "", "en-US")
		if err != nil {
			t.Fatal(err)
		}
		samples, err := readRecording(path)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Duration(len(samples)) * time.Second / 8000; d < 300*time.Millisecond {
			t.Fatalf("the rendering plays %v: not speech", d)
		}
		checkRTP(t, sink.packets(), samples, ptPCMU, media.EncodeULaw)
	}
	entries, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(mustSpeak(t, speaker))), "*", "*.wav"))
	if len(entries) != 1 {
		t.Errorf("%d renderings cached, want 1: %v", len(entries), entries)
	}
}

func mustSpeak(t *testing.T, s Speaker) string {
	t.Helper()
	p, err := s.Speak(testContext(t), "One, two.", "", "en-US")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckAttemptVoiceTTSVoiceOfEspeak: with the real espeak-ng, a
// language or voice variant it does not have is refused by CheckAttempt
// naming the field, so the API refuses the program when it is written.
func TestCheckAttemptVoiceTTSVoiceOfEspeak(t *testing.T) {
	g := newTestGateway(t, Config{TTS: espeakFor(t)})
	a := dialer.Attempt{Program: dialer.ProgramVoiceTTS, Media: dialer.Media{TTSText: "Hello."}}
	for _, tc := range []struct{ lang, voice, field string }{{"en-US", "f3", ""}, {"xx", "", "language"}, {"en", "nosuch", "voice"}} {
		a.Media.TTSLanguage, a.Media.TTSVoice = tc.lang, tc.voice
		err := g.CheckAttempt(a)
		if fe := dialer.FaultOf(err); (tc.field == "" && err != nil) || (tc.field != "" && (fe == nil || fe.Field != tc.field)) {
			t.Errorf("%q/%q: %v, want field %q", tc.lang, tc.voice, err, tc.field)
		}
	}
}

// TestRecoverAnsweredVoiceTTSCallSendsBye: a voicetts call left answered
// by a process that died is ended with BYE from its saved dialog, as a
// voicemessage call is. Before: Recover took every program but
// voicemessage for a MESSAGE and left the callee connected.
func TestRecoverAnsweredVoiceTTSCallSendsBye(t *testing.T) {
	uas := answeringUAS(t, false)
	wav := writeWAV(t, tone(10*time.Second))
	dead := newTestGateway(t, Config{TTS: &fakeSpeaker{path: wav}})
	a := uasAttempt(uas, "")
	a.Program, a.Media = dialer.ProgramVoiceTTS, dialer.Media{TTSText: "A long message."}
	dialogs := make(chan []byte, 1)
	ctx, cancel := contextWithCancel(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		dead.Deliver(ctx, a, func(p dialer.Progress) {
			if p.Kind == dialer.ProgressAnswered {
				dialogs <- p.Dialog
			}
		})
	}()
	defer func() { cancel(); <-done }()
	var saved []byte
	select {
	case saved = <-dialogs:
	case <-time.After(5 * time.Second):
		t.Fatal("no answer")
	}
	next := newTestGateway(t, Config{TTS: &fakeSpeaker{path: wav}})
	if _, err := next.Recover(testContext(t), dialer.RecoverSpool{Attempt: a, Answered: time.Now(), Dialog: saved}, nil); !errors.Is(err, dialer.ErrCallGone) {
		t.Fatalf("Recover: %v, want ErrCallGone", err)
	}
	if byes := uas.requests(sipgo.BYE); len(byes) != 1 || byes[0].Via().Port != next.Addr("udp").(*net.UDPAddr).Port {
		t.Fatalf("%d BYEs from the recovering process, want 1", len(byes))
	}
}

// holdingSpeaker is a SpeechHolder counting holds and releases.
type holdingSpeaker struct {
	fakeSpeaker
	holds, releases atomic.Int64
}

func (h *holdingSpeaker) Hold(ctx context.Context, text, voice, language string) (string, func(), error) {
	h.holds.Add(1)
	return h.path, func() { h.releases.Add(1) }, h.err
}

// TestCallVoiceTTSHoldsTheRendering: with a speech engine that can evict
// its renderings, the call holds the one it plays until it has decoded it,
// and releases it once, whatever the call's outcome.
func TestCallVoiceTTSHoldsTheRendering(t *testing.T) {
	uas := answeringUAS(t, false)
	speaker := &holdingSpeaker{fakeSpeaker: fakeSpeaker{path: writeWAV(t, tone(time.Second))}}
	g := newTestGateway(t, Config{TTS: speaker})
	a := uasAttempt(uas, "")
	a.Program, a.Media = dialer.ProgramVoiceTTS, dialer.Media{TTSText: "One, two.", TTSLanguage: "en-US"}
	out, err := g.Deliver(testContext(t), a, nil)
	if err != nil || !out.Delivered {
		t.Fatalf("Deliver = %+v, %v; want delivered", out, err)
	}
	if h, r, s := speaker.holds.Load(), speaker.releases.Load(), speaker.calls.Load(); h != 1 || r != 1 || s != 0 {
		t.Fatalf("holds %d, releases %d, plain Speak %d; want 1, 1, 0", h, r, s)
	}
}
