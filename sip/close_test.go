package sip

import (
	"runtime"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// TestCloseEndsCallsAndLeavesNoGoroutines runs a whole call over TCP (media,
// the callee's BYE), watches a trunk, then closes the gateway while a
// second call rings: that call is cancelled, Deliver returns, and every
// goroutine the gateway started is gone.
func TestCloseEndsCallsAndLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	wav := writeWAV(t, tone(100*time.Millisecond))
	g, err := New(Config{ListenAddr: "127.0.0.1:0", OptionsInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}

	hangup := startSipp(t, "hangup", sippOptions{transport: "tcp"})
	out, err := g.Deliver(testContext(t), voiceAttempt(t, hangup, "tcp", writeWAV(t, tone(5*time.Second))), nil)
	if err != nil || out.Cause != CauseNormalClearing {
		t.Fatalf("first call: %+v, %v", out, err)
	}
	hangup.expectSuccess(t)
	// A trunk nobody answers: its monitor is running when Close comes.
	if err := g.SetTrunks([]Trunk{{Route: dialer.Route{ProviderID: 1, Host: "127.0.0.1", Port: freePort(t, "udp")}}}); err != nil {
		t.Fatal(err)
	}

	s := startSipp(t, "noanswer", sippOptions{})
	a := voiceAttempt(t, s, "udp", wav)
	a.RingTimeout = time.Minute
	ringing := make(chan struct{})
	type result struct {
		out dialer.Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := g.Deliver(testContext(t), a, func(p dialer.Progress) {
			if p.Kind == dialer.ProgressRinging {
				close(ringing)
			}
		})
		done <- result{out, err}
	}()
	<-ringing
	if err := g.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r := <-done
	if r.err != nil || r.out.Cause != CauseOriginatorCancel || r.out.SIPCode != 487 {
		t.Errorf("Deliver after Close = %+v, %v; want ORIGINATOR_CANCEL/487", r.out, r.err)
	}
	s.expectSuccess(t)
	if _, err := g.Deliver(testContext(t), a, nil); err != ErrClosed {
		t.Errorf("Deliver on a closed gateway: %v, want ErrClosed", err)
	}
	expectGoroutines(t, before)
}

// expectGoroutines waits for the goroutine count to fall back to n and
// fails with every stack if it does not.
func expectGoroutines(t *testing.T, n int) {
	t.Helper()
	for range 200 {
		if runtime.NumGoroutine() <= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	t.Errorf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{ListenAddr: "127.0.0.1"},                                     // no port
		{ListenAddr: "0.0.0.0:0"},                                     // nothing to advertise
		{ListenAddr: "127.0.0.1:0", AdvertiseHost: "sip.example.com"}, // not an IP
		{ListenAddr: "127.0.0.1:0", UserAgent: "dialerd\r\nX-Injected: 1"},
	} {
		if g, err := New(cfg); err == nil {
			g.Close()
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestGatewayImplementsTheEngineContracts(t *testing.T) {
	var g any = &Gateway{}
	if _, ok := g.(dialer.Gateway); !ok {
		t.Error("Gateway is not a dialer.Gateway")
	}
	if _, ok := g.(dialer.Placer); !ok {
		t.Error("Gateway is not a dialer.Placer")
	}
	if _, ok := g.(dialer.AttemptChecker); !ok {
		t.Error("Gateway is not a dialer.AttemptChecker")
	}
	if _, ok := g.(dialer.Recoverer); !ok {
		t.Error("Gateway is not a dialer.Recoverer")
	}
}
