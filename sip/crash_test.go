package sip

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// The crash tests run a gateway in a child process (this test binary
// again), kill it with SIGKILL mid-call, start a new gateway on the same
// address, as dialerd restarting would, and let Recover end the call
// SIPp is holding. SIPp's scenario only passes if the call is ended the
// way it expects.

const crashChildEnv = "SIP_CRASH_CHILD"

// TestCrashChild is the child: it places the attempt in $SIP_CRASH_CHILD
// from a gateway on its ListenAddr and prints each progress as a line
// ("ringing", "answered <base64 dialog>"), then waits to be killed.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv(crashChildEnv)
	if spec == "" {
		t.Skip("run by the crash tests")
	}
	var child struct {
		Listen  string
		Attempt dialer.Attempt
	}
	if err := json.Unmarshal([]byte(spec), &child); err != nil {
		t.Fatal(err)
	}
	g, err := New(Config{ListenAddr: child.Listen, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = g.Deliver(context.Background(), child.Attempt, func(p dialer.Progress) {
		switch p.Kind {
		case dialer.ProgressRinging:
			fmt.Println("ringing")
		case dialer.ProgressAnswered:
			fmt.Println("answered", base64.StdEncoding.EncodeToString(p.Dialog))
		}
	})
	time.Sleep(time.Minute) // until killed
}

// crashAfter runs the child on listen until it prints a line starting
// with step, kills it with SIGKILL, and returns the rest of that line.
func crashAfter(t *testing.T, listen string, a dialer.Attempt, step string) string {
	t.Helper()
	spec, err := json.Marshal(map[string]any{"Listen": listen, "Attempt": a})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+string(spec))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the child ended before %s", step)
			}
			if rest, found := strings.CutPrefix(l, step); found {
				if err := cmd.Process.Kill(); err != nil { // SIGKILL: nothing is sent
					t.Fatal(err)
				}
				_ = cmd.Wait()
				return strings.TrimSpace(rest)
			}
		case <-timeout:
			t.Fatalf("the child did not reach %s", step)
		}
	}
}

// TestCrashWhileAnsweredEndsWithBye: dialerd is killed while SIPp's callee
// is connected; the restarted gateway ends the dialog with BYE from the
// saved dialog, and SIPp's answer scenario (which waits for BYE) passes.
// Before: the callee stayed connected until SIPp's own timeout.
func TestCrashWhileAnsweredEndsWithBye(t *testing.T) {
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Skip("sipp (Debian package sip-tester) is not installed")
	}
	sink := newRTPSink(t)
	s := startSipp(t, "answer", sippOptions{keys: map[string]string{"rtp_port": fmt.Sprint(sink.port()), "formats": "0"}})
	a := voiceAttempt(t, s, "udp", writeWAV(t, tone(30*time.Second)))
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	encoded := crashAfter(t, listen, a, "answered")
	dialog, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(dialog) == 0 {
		t.Fatalf("dialog %q: %v", encoded, err)
	}

	g, err := New(Config{ListenAddr: listen})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	_, err = g.Recover(testContext(t), dialer.RecoverSpool{Attempt: a, Answered: time.Now(), Dialog: dialog}, nil)
	if !errors.Is(err, dialer.ErrCallGone) {
		t.Fatalf("Recover: %v", err)
	}
	s.expectSuccess(t) // SIPp got its BYE and answered it
}

// TestCrashWhileRingingEndsWithCancel: dialerd is killed while SIPp's
// callee rings; the restarted gateway cancels the INVITE rebuilt from the
// call UUID, and ACKs the 487 that follows; SIPp's noanswer scenario
// (CANCEL, 200, 487, ACK) passes. Before: the callee rang until SIPp gave
// up, the INVITE never ended.
func TestCrashWhileRingingEndsWithCancel(t *testing.T) {
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Skip("sipp (Debian package sip-tester) is not installed")
	}
	s := startSipp(t, "noanswer", sippOptions{})
	a := voiceAttempt(t, s, "udp", writeWAV(t, tone(time.Second)))
	a.RingTimeout = time.Minute
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	crashAfter(t, listen, a, "ringing")

	g, err := New(Config{ListenAddr: listen})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	_, err = g.Recover(testContext(t), dialer.RecoverSpool{Attempt: a, Ringing: time.Now()}, nil)
	if !errors.Is(err, dialer.ErrCallGone) {
		t.Fatalf("Recover: %v", err)
	}
	s.expectSuccess(t) // CANCEL accepted, 487 ACKed
}
