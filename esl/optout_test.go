package esl

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/esl/esltest"
)

// optOutRecorder is a fake Attempt.OptOut that takes delay to "write" and
// records when it returned.
type optOutRecorder struct {
	delay time.Duration
	err   error

	mu       sync.Mutex
	digits   []string
	returned time.Time
}

func (r *optOutRecorder) optOut(ctx context.Context, digit string) error {
	select {
	case <-time.After(r.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.digits = append(r.digits, digit)
	r.returned = time.Now()
	return r.err
}

// apiCommands are the api commands the fake got that start with prefix.
func apiCommands(s *esltest.Server, prefix string) []esltest.Command {
	var out []esltest.Command
	for _, c := range s.Commands() {
		if c.Name == "api" && strings.HasPrefix(c.Args, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// TestOptOutOnFreeSWITCH: the callee presses 1, then the opt-out key 9
// (DTMF events as FreeSWITCH sends them); the gateway calls Attempt.OptOut,
// waits for it, and only then broadcasts the confirmation with a hangup
// after it. The message's playback ends under the hangup (PLAYBACK ERROR);
// the confirmation's FILE PLAYED is not read as the message's delivery.
func TestOptOutOnFreeSWITCH(t *testing.T) {
	for _, program := range []dialer.ProgramType{dialer.ProgramVoiceMessage, dialer.ProgramVoiceTTS} {
		t.Run(string(program), func(t *testing.T) { testOptOutOnFreeSWITCH(t, program) })
	}
}

func testOptOutOnFreeSWITCH(t *testing.T, program dialer.ProgramType) {
	s := esltest.Start(t, esltest.Options{})
	g := startGateway(t, s, testOptions(), 30, 10)
	s.Script(testNumber, esltest.Answer(30*time.Millisecond, 3*time.Second).WithDTMF("19", 100*time.Millisecond))
	a := attempt("+4930123456")
	if program == dialer.ProgramVoiceTTS {
		a.Program, a.Media = program, dialer.Media{TTSText: "Press 9 to be called no more."}
	}
	a.Media.OptOutDigit = "9"
	a.Media.OptOutConfirmPath = writeMedia(testMedia.dir, "cf/confirm.wav", wavBytes(2400)) // 300 ms
	rec := &optOutRecorder{delay: 200 * time.Millisecond}
	a.OptOut = rec.optOut
	o, progress := deliver(t, g, a)

	if !o.OptedOut || o.Delivered || o.Failure != dialer.CauseOptedOut {
		t.Errorf("opted out %v, delivered %v, failure %q", o.OptedOut, o.Delivered, o.Failure)
	}
	if slices.Contains(progress, "delivered") {
		t.Errorf("progress %v reports a delivery", progress)
	}
	if !slices.Equal(rec.digits, []string{"9"}) {
		t.Errorf("OptOut called with %v", rec.digits)
	}
	if d := resultData(o, "optout", "digit"); !slices.Equal(d, []string{"9"}) {
		t.Errorf("optout results %v", d)
	}
	if d := resultData(o, "playback", "response"); program == dialer.ProgramVoiceMessage && !slices.Equal(d, []string{"PLAYBACK ERROR"}) {
		t.Errorf("the message's playback responses %v, want the message cut", d)
	}
	b := apiCommands(s, "uuid_broadcast ")
	if len(b) != 1 || b[0].Args != "uuid_broadcast "+a.CallUUID+" playback!NORMAL_CLEARING::"+a.Media.OptOutConfirmPath+" aleg" {
		t.Fatalf("broadcasts %+v", b)
	}
	rec.mu.Lock()
	returned := rec.returned
	rec.mu.Unlock()
	if b[0].Time.Before(returned) {
		t.Errorf("the confirmation was asked for %v before the opt-out was durable", returned.Sub(b[0].Time))
	}
	if o.End.Sub(o.Connect) > 2*time.Second {
		t.Errorf("the call lasted %v: the message was not stopped", o.End.Sub(o.Connect))
	}
	if v, _ := s.Originates()[0].Var("playback_terminators"); v != "none" {
		t.Errorf("playback_terminators %q, want none: playback's default * would end the message as played", v)
	}
}

// TestOptOutOnFreeSWITCHNotDurable: when Attempt.OptOut fails the call is
// killed at once without the confirmation, cut, not opted out.
func TestOptOutOnFreeSWITCHNotDurable(t *testing.T) {
	s := esltest.Start(t, esltest.Options{})
	g := startGateway(t, s, testOptions(), 30, 10)
	s.Script(testNumber, esltest.Answer(30*time.Millisecond, 3*time.Second).WithDTMF("#", 100*time.Millisecond))
	a := attempt("+4930123456")
	a.Media.OptOutDigit = "#"
	a.Media.OptOutConfirmPath = writeMedia(testMedia.dir, "cf/confirm2.wav", wavBytes(2400))
	a.OptOut = (&optOutRecorder{err: errors.New("disk full")}).optOut
	o, _ := deliver(t, g, a)
	if o.OptedOut || o.Delivered || o.Failure != dialer.CauseMessageCut {
		t.Errorf("opted out %v, delivered %v, failure %q; want MESSAGE_CUT", o.OptedOut, o.Delivered, o.Failure)
	}
	if n := len(apiCommands(s, "uuid_broadcast ")); n != 0 {
		t.Errorf("%d confirmations broadcast after a failed opt-out", n)
	}
	if n := len(apiCommands(s, "uuid_kill "+a.CallUUID)); n != 1 {
		t.Errorf("%d uuid_kill, want 1", n)
	}
	if d := resultData(o, "optout", "error"); len(d) != 1 {
		t.Errorf("optout error results %v", d)
	}
}

// The confirmation is checked like the message: a path of the safe
// alphabet, a .wav that exists, another file than the message.
func TestOptOutCheckedOnFreeSWITCH(t *testing.T) {
	g := New(testOptions())
	t.Cleanup(func() { g.Close(context.Background()) })
	for _, tc := range []struct {
		name  string
		set   func(*dialer.Attempt)
		field string
	}{
		{"fine", func(a *dialer.Attempt) {
			a.Media.OptOutDigit, a.Media.OptOutConfirmPath = "*", testMedia.dir+"/cf/confirm.wav"
		}, ""},
		{"no confirmation", func(a *dialer.Attempt) { a.Media.OptOutDigit = "0" }, ""},
		{"bad key", func(a *dialer.Attempt) { a.Media.OptOutDigit = "A" }, "opt_out_digit"},
		{"missing file", func(a *dialer.Attempt) {
			a.Media.OptOutDigit, a.Media.OptOutConfirmPath = "9", testMedia.dir+"/none.wav"
		}, "opt_out_recording_id"},
		{"a space", func(a *dialer.Attempt) { a.Media.OptOutDigit, a.Media.OptOutConfirmPath = "9", "/tmp/a b.wav" }, "opt_out_recording_id"},
		{"the message itself", func(a *dialer.Attempt) { a.Media.OptOutDigit, a.Media.OptOutConfirmPath = "9", a.Media.RecordingPath }, "opt_out_recording_id"},
	} {
		writeMedia(testMedia.dir, "cf/confirm.wav", wavBytes(800))
		a := attempt("+4930123456")
		a.Provider.Node = ""
		tc.set(&a)
		fe := dialer.FaultOf(g.CheckAttempt(a))
		switch {
		case tc.field == "" && fe != nil:
			t.Errorf("%s: refused: %v", tc.name, fe)
		case tc.field != "" && (fe == nil || fe.Field != tc.field):
			t.Errorf("%s: %v, want a content fault naming %s", tc.name, fe, tc.field)
		}
	}
}
