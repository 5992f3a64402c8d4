package sip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/media"
)

// optOutRecorder is a fake Attempt.OptOut that records when it was called
// and when it returned, taking delay to "write".
type optOutRecorder struct {
	delay time.Duration
	err   error

	mu               sync.Mutex
	digits           []string
	called, returned time.Time
}

func (r *optOutRecorder) optOut(ctx context.Context, digit string) error {
	r.mu.Lock()
	r.digits = append(r.digits, digit)
	r.called = time.Now()
	r.mu.Unlock()
	select {
	case <-time.After(r.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	r.returned = time.Now()
	r.mu.Unlock()
	return r.err
}

// talkspurts are the arrival times of packets with the marker bit: the
// start of each thing we played.
func talkspurts(s *rtpSink) []time.Time {
	pkts, at := s.arrivals()
	var out []time.Time
	for i, p := range pkts {
		if p.marker {
			out = append(out, at[i])
		}
	}
	return out
}

func hasResult(results []dialer.Result, want dialer.Result) bool {
	return slices.Contains(results, want)
}

// TestCallOptOut: the callee presses 1 (an ordinary digit), then the
// opt-out key 9. The message stops, Attempt.OptOut is called with 9 and
// waited for, and only after it returned does the confirmation play; then
// we hang up. The outcome is opted out, not delivered (OPTED_OUT, final).
func TestCallOptOut(t *testing.T) {
	g := newTestGateway(t, Config{})
	sink := newRTPSink(t)
	s := startSipp(t, "optout", sippOptions{keys: map[string]string{"rtp_port": fmt.Sprint(sink.port()), "digits": "19"}})
	a := voiceAttempt(t, s, "udp", writeWAV(t, tone(10*time.Second)))
	a.Media.OptOutDigit = "9"
	a.Media.OptOutConfirmPath = writeWAV(t, sine(1000, 8000, 600*time.Millisecond))
	rec := &optOutRecorder{delay: 300 * time.Millisecond}
	a.OptOut = rec.optOut
	var prog progressLog
	out, err := g.Deliver(testContext(t), a, prog.record)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	s.expectSuccess(t) // it got our BYE
	if !out.OptedOut || out.Delivered || out.Failure != dialer.CauseOptedOut {
		t.Errorf("outcome opted out %v, delivered %v, failure %q", out.OptedOut, out.Delivered, out.Failure)
	}
	if v := dialer.Classify(out); v.Disposition != dialer.Final || v.Cause != dialer.CauseOptedOut {
		t.Errorf("classified %+v, want final OPTED_OUT", v)
	}
	if !slices.Equal(rec.digits, []string{"9"}) {
		t.Errorf("OptOut called with %v, want [9]", rec.digits)
	}
	if got := digitsOf(out.Results); !slices.Equal(got, []string{"1", "9"}) {
		t.Errorf("digits %v, want [1 9]", got)
	}
	if !hasResult(out.Results, dialer.Result{Type: "optout", Name: "digit", Data: "9"}) {
		t.Errorf("results %v lack the opt-out", out.Results)
	}
	spurts := talkspurts(sink)
	if len(spurts) != 2 {
		t.Fatalf("%d things played, want the message and the confirmation", len(spurts))
	}
	rec.mu.Lock()
	called, returned := rec.called, rec.returned
	rec.mu.Unlock()
	if !spurts[1].After(returned) {
		t.Errorf("the confirmation started %v before the opt-out was durable", returned.Sub(spurts[1]))
	}
	// The message stopped at the key press: nothing arrived while the
	// opt-out was written (one packet may have been in flight).
	pkts, at := sink.arrivals()
	during := 0
	for i := range pkts {
		if at[i].After(called.Add(30*time.Millisecond)) && at[i].Before(returned) {
			during++
		}
	}
	if during > 0 {
		t.Errorf("%d packets sent while the opt-out was being written", during)
	}
	// The confirmation continues the stream: same SSRC, the next sequence
	// number after the message's last packet.
	for i := 1; i < len(pkts); i++ {
		if pkts[i].marker && (pkts[i].ssrc != pkts[0].ssrc || pkts[i].seq != pkts[i-1].seq+1) {
			t.Errorf("confirmation starts ssrc %x seq %d after ssrc %x seq %d", pkts[i].ssrc, pkts[i].seq, pkts[i-1].ssrc, pkts[i-1].seq)
		}
	}
	// The confirmation played to its end (600 ms: 30 packets) before BYE.
	n := 0
	for i := range pkts {
		if !at[i].Before(spurts[1]) {
			n++
		}
	}
	if n < 30 {
		t.Errorf("%d packets of confirmation, want 30", n)
	}
}

// TestCallOptOutNotDurable: when Attempt.OptOut fails (or the engine gave
// none), the call ends at once without the confirmation and is not opted
// out.
func TestCallOptOutNotDurable(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  *optOutRecorder
	}{
		{"store error", &optOutRecorder{err: errors.New("disk full")}},
		{"no recorder", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGateway(t, Config{})
			sink := newRTPSink(t)
			s := startSipp(t, "optout", sippOptions{keys: map[string]string{"rtp_port": fmt.Sprint(sink.port()), "digits": "#"}})
			a := voiceAttempt(t, s, "udp", writeWAV(t, tone(10*time.Second)))
			a.Media.OptOutDigit = "#"
			a.Media.OptOutConfirmPath = writeWAV(t, sine(1000, 8000, 600*time.Millisecond))
			if tc.rec != nil {
				a.OptOut = tc.rec.optOut
			}
			out, err := g.Deliver(testContext(t), a, nil)
			if err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			s.expectSuccess(t)
			if out.OptedOut || out.Delivered || out.Failure != dialer.CauseMessageCut {
				t.Errorf("outcome opted out %v, delivered %v, failure %q; want MESSAGE_CUT", out.OptedOut, out.Delivered, out.Failure)
			}
			if n := len(talkspurts(sink)); n != 1 {
				t.Errorf("%d things played, want the message alone", n)
			}
			if !slices.ContainsFunc(out.Results, func(r dialer.Result) bool { return r.Type == "optout" && r.Name == "error" }) {
				t.Errorf("results %v do not say the opt-out failed", out.Results)
			}
		})
	}
}

// speech is text spoken by espeak-ng as 8 kHz samples.
func speech(t *testing.T, text string) []int16 {
	t.Helper()
	bin, err := exec.LookPath("espeak-ng")
	if err != nil {
		t.Skip("espeak-ng is not installed")
	}
	// A file, not --stdout: on a pipe espeak-ng cannot write the WAV's sizes.
	path := filepath.Join(t.TempDir(), "speech.wav")
	if out, err := exec.Command(bin, "-w", path, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	wav, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := media.DecodeAudio(bytes.NewReader(wav), 10<<20)
	if err != nil {
		t.Fatal(err)
	}
	return media.ToTelephony(pcm)
}

// ulaw encodes samples as raw G.711 µ-law, what SIPp's rtp_stream sends.
func ulaw(samples []int16) []byte {
	b := make([]byte, len(samples))
	for i, s := range samples {
		b[i] = media.EncodeULaw(s)
	}
	return b
}

// TestCallAnsweringMachine: SIPp's callee streams generated audio (a
// machine's greeting then a beep, or a person's "hello" then silence) and
// each on_machine policy does what it says, with the verdict in the
// outcome and its results.
func TestCallAnsweringMachine(t *testing.T) {
	greeting := speech(t, "Hi, you have reached Anna. Please leave a message after the tone.")
	beepEnd := time.Duration(len(greeting))*time.Second/8000 + 300*time.Millisecond + 500*time.Millisecond
	machine := concat(greeting, quiet(300*time.Millisecond), sine(1000, 8000, 500*time.Millisecond), quiet(4*time.Second))
	human := concat(quiet(300*time.Millisecond), speech(t, "Hello?"), quiet(4*time.Second))
	message := tone(600 * time.Millisecond)

	for _, tc := range []struct {
		name      string
		audio     []int16
		policy    dialer.MachinePolicy
		verdict   string
		delivered bool
		failure   string
		// when the message must start, after the answer: at least after,
		// at most before (0: no message)
		after, before time.Duration
	}{
		{"machine, play_after_beep", machine, dialer.MachinePlayAfterBeep, dialer.MachineFound, true, "",
			beepEnd - 100*time.Millisecond, beepEnd + time.Second},
		{"machine, hang_up", machine, dialer.MachineHangUp, dialer.MachineFound, false, dialer.CauseMachineHangUp, 0, 0},
		{"machine, play", machine, dialer.MachinePlay, dialer.MachineFound, true, "", 0, 500 * time.Millisecond},
		{"human, play_after_beep", human, dialer.MachinePlayAfterBeep, dialer.MachineHuman, true, "",
			time.Second, 3 * time.Second},
		{"human, hang_up", human, dialer.MachineHangUp, dialer.MachineHuman, true, "", time.Second, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGateway(t, Config{})
			sink := newRTPSink(t)
			s := startSipp(t, "amd", sippOptions{keys: map[string]string{"rtp_port": fmt.Sprint(sink.port())},
				files: map[string][]byte{"callee.ulaw": ulaw(tc.audio)}})
			msg := message
			if tc.policy == dialer.MachinePlay {
				msg = tone(3 * time.Second) // longer than the analysis: the verdict comes while it plays
			}
			a := voiceAttempt(t, s, "udp", writeWAV(t, msg))
			a.Media.OnMachine = tc.policy
			out, err := g.Deliver(testContext(t), a, nil)
			if err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			s.expectSuccess(t)
			if out.Machine != tc.verdict || out.Delivered != tc.delivered || out.Failure != tc.failure {
				t.Errorf("machine %q, delivered %v, failure %q; want %q, %v, %q", out.Machine, out.Delivered, out.Failure,
					tc.verdict, tc.delivered, tc.failure)
			}
			if !hasResult(out.Results, dialer.Result{Type: "amd", Name: "machine", Data: tc.verdict}) {
				t.Errorf("results %v lack amd/machine %s", out.Results, tc.verdict)
			}
			spurts := talkspurts(sink)
			switch {
			case tc.before == 0 && len(spurts) != 0:
				t.Errorf("the message was played to a machine")
			case tc.before == 0:
			case len(spurts) != 1:
				t.Errorf("%d things played, want the message", len(spurts))
			default:
				if d := spurts[0].Sub(out.Connect); d < tc.after || d > tc.before {
					t.Errorf("the message started %v after the answer, want between %v and %v", d, tc.after, tc.before)
				}
			}
			if tc.failure == dialer.CauseMachineHangUp {
				if v := dialer.Classify(out); v.Disposition != dialer.Retry || v.Cause != dialer.CauseMachineHangUp {
					t.Errorf("a machine hang-up classified %+v, want retry MACHINE_HANGUP", v)
				}
			}
		})
	}
}

// TestCallAnsweringMachineSilentCallee: a callee that sends no audio at
// all leaves the detector without frames; the wall-clock bound gives the
// verdict unknown and play_after_beep plays rather than wait for ever.
func TestCallAnsweringMachineSilentCallee(t *testing.T) {
	g := newTestGateway(t, Config{})
	sink := newRTPSink(t)
	s := startSipp(t, "answer", sippOptions{keys: map[string]string{"rtp_port": fmt.Sprint(sink.port()), "formats": "0"}})
	a := voiceAttempt(t, s, "udp", writeWAV(t, tone(200*time.Millisecond)))
	a.Media.OnMachine = dialer.MachinePlayAfterBeep
	out, err := g.Deliver(testContext(t), a, nil)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	s.expectSuccess(t)
	if out.Machine != dialer.MachineUnknown || !out.Delivered {
		t.Errorf("machine %q, delivered %v; want unknown and delivered", out.Machine, out.Delivered)
	}
	if spurts := talkspurts(sink); len(spurts) != 1 || spurts[0].Sub(out.Connect) < amdWait-100*time.Millisecond {
		t.Errorf("message started at %v after the answer, want after %v", spurts, amdWait)
	}
}

// TestCallOptOutCalleeHangsUp: the callee presses the key and hangs up
// while the opt-out is written: it is still recorded, the call is opted
// out, and we send no BYE of our own.
func TestCallOptOutCalleeHangsUp(t *testing.T) {
	g := newTestGateway(t, Config{})
	sink := newRTPSink(t)
	s := startSipp(t, "optout_bye", sippOptions{keys: map[string]string{"rtp_port": fmt.Sprint(sink.port()), "digits": "9"}})
	a := voiceAttempt(t, s, "udp", writeWAV(t, tone(10*time.Second)))
	a.Media.OptOutDigit = "9"
	a.Media.OptOutConfirmPath = writeWAV(t, sine(1000, 8000, 600*time.Millisecond))
	rec := &optOutRecorder{delay: 2500 * time.Millisecond} // outlasts the BYE
	a.OptOut = rec.optOut
	out, err := g.Deliver(testContext(t), a, nil)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	s.expectSuccess(t)
	if !out.OptedOut || out.Failure != dialer.CauseOptedOut || !slices.Equal(rec.digits, []string{"9"}) {
		t.Errorf("opted out %v, failure %q, OptOut got %v; results %v", out.OptedOut, out.Failure, rec.digits, out.Results)
	}
	if n := len(talkspurts(sink)); n != 1 {
		t.Errorf("%d things played: the confirmation went to a callee who had hung up", n)
	}
}
