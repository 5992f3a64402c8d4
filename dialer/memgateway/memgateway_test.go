package memgateway_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
	"github.com/dialerd/dialerd/dialer/memgateway"
)

var start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// run delivers a on g in a goroutine and advances the clock until it ends.
func run(t *testing.T, clk *dialertest.Clock, g *memgateway.Gateway, a dialer.Attempt, advance time.Duration) (dialer.Outcome, error, []dialer.Progress) {
	t.Helper()
	type res struct {
		o   dialer.Outcome
		err error
	}
	done := make(chan res, 1)
	var steps []dialer.Progress
	running := true
	clk.SetSettled(func() bool { return !running || clk.Blocked() == 1 || len(done) == 1 })
	go func() {
		o, err := g.Deliver(context.Background(), a, func(p dialer.Progress) { steps = append(steps, p) })
		done <- res{o, err}
	}()
	clk.Advance(advance)
	r := <-done
	running = false
	return r.o, r.err, steps
}

func TestScripts(t *testing.T) {
	tests := []struct {
		name   string
		script memgateway.Script
		cause  string
		sip    int
		steps  []dialer.ProgressKind
		digits string
	}{
		{"answer with digits", memgateway.Script{Kind: memgateway.Answer, Ring: 2 * time.Second, Talk: 10 * time.Second, DTMF: "12"},
			"NORMAL_CLEARING", 0, []dialer.ProgressKind{"ringing", "answered", "dtmf", "dtmf", "delivered"}, "12"},
		{"digits after hangup are lost", memgateway.Script{Kind: memgateway.Answer, Talk: 2500 * time.Millisecond, DTMF: "123"},
			"NORMAL_CLEARING", 0, []dialer.ProgressKind{"ringing", "answered", "dtmf", "dtmf", "delivered"}, "12"},
		{"answered, not delivered", memgateway.Script{Kind: memgateway.Answer, Talk: time.Second, Failure: dialer.CauseMediaError},
			"NORMAL_CLEARING", 0, []dialer.ProgressKind{"ringing", "answered"}, ""},
		{"ring out", memgateway.Script{Kind: memgateway.RingOut}, "NO_ANSWER", 480, []dialer.ProgressKind{"ringing"}, ""},
		{"busy", memgateway.Script{Kind: memgateway.Busy, Ring: time.Second}, "USER_BUSY", 486, []dialer.ProgressKind{"ringing"}, ""},
		{"fail", memgateway.Script{Kind: memgateway.Fail, Cause: "CALL_REJECTED", SIPCode: 603}, "CALL_REJECTED", 603, []dialer.ProgressKind{"ringing"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := dialertest.NewClock(start)
			g := memgateway.New(clk, tt.script)
			o, err, steps := run(t, clk, g, dialer.Attempt{CallUUID: "u", Phone: "+1555", RingTimeout: 30 * time.Second}, time.Minute)
			if err != nil || o.Cause != tt.cause || o.SIPCode != tt.sip {
				t.Fatalf("outcome %+v, %v", o, err)
			}
			var kinds []dialer.ProgressKind
			var digits string
			for _, s := range steps {
				kinds = append(kinds, s.Kind)
				digits += s.Digit
			}
			if !slices.Equal(kinds, tt.steps) || digits != tt.digits {
				t.Fatalf("steps %v digits %q", kinds, digits)
			}
			if tt.digits != "" && (len(o.Results) != 1 || o.Results[0].Data != tt.digits) {
				t.Fatalf("results %+v", o.Results)
			}
			if tt.script.Kind == memgateway.RingOut && o.End.Sub(o.Start) != 30*time.Second {
				t.Fatalf("ring out lasted %v, want the attempt's ring timeout", o.End.Sub(o.Start))
			}
		})
	}
}

func TestGatewayErrorAndInstant(t *testing.T) {
	clk := dialertest.NewClock(start)
	g := memgateway.New(clk, memgateway.Script{Kind: memgateway.GatewayError})
	if _, err := g.Deliver(context.Background(), dialer.Attempt{CallUUID: "u"}, func(dialer.Progress) {}); !errors.Is(err, memgateway.ErrGateway) {
		t.Fatalf("err %v", err)
	}
	in := memgateway.NewInstant(clk)
	o, err := in.Deliver(context.Background(), dialer.Attempt{CallUUID: "v"}, func(dialer.Progress) {})
	if err != nil || o.Connect.IsZero() || in.Delivered() != 1 || len(in.Records()) != 0 {
		t.Fatalf("instant: %+v %v", o, err)
	}
}

// A call outlives the Deliver that placed it: CallExists sees it until its
// scripted end and Reattach follows it from where it is.
func TestCallOutlivesDeliver(t *testing.T) {
	clk := dialertest.NewClock(start)
	g := memgateway.New(clk, memgateway.Script{Kind: memgateway.Answer, Ring: 10 * time.Second, Talk: 20 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := g.Deliver(ctx, dialer.Attempt{CallUUID: "u"}, func(dialer.Progress) {})
		errc <- err
	}()
	for clk.Blocked() != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Deliver: %v", err)
	}
	clk.SetSettled(nil)
	clk.Advance(5 * time.Second)
	if ok, _ := g.CallExists(context.Background(), "", "u"); !ok || g.Live() != 1 {
		t.Fatal("the call vanished with its Deliver")
	}
	var steps []dialer.ProgressKind
	done := make(chan dialer.Outcome, 1)
	clk.SetSettled(func() bool { return clk.Blocked() == 1 || len(done) == 1 })
	go func() {
		o, err := g.Recover(context.Background(), dialer.RecoverSpool{Attempt: dialer.Attempt{CallUUID: "u"}}, func(p dialer.Progress) { steps = append(steps, p.Kind) })
		if err != nil {
			t.Error(err)
		}
		done <- o
	}()
	clk.Advance(time.Minute)
	o := <-done
	if !slices.Equal(steps, []dialer.ProgressKind{"answered", "delivered"}) || o.Cause != "NORMAL_CLEARING" || !o.Connect.Equal(start.Add(10*time.Second)) {
		t.Fatalf("reattached: steps %v, outcome %+v", steps, o)
	}
	if ok, _ := g.CallExists(context.Background(), "", "u"); ok {
		t.Fatal("the call exists after its end")
	}
	if _, err := g.Recover(context.Background(), dialer.RecoverSpool{Attempt: dialer.Attempt{CallUUID: "u"}}, nil); !errors.Is(err, dialer.ErrCallGone) {
		t.Fatalf("Recover of an ended call: %v", err)
	}
}
