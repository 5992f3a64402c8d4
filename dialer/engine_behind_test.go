package dialer

import (
	"context"
	"testing"
	"time"
)

// stillClock is a clock that moves only when told.
type stillClock struct{ now time.Time }

func (c *stillClock) Now() time.Time                                   { return c.now }
func (c *stillClock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }
func (c *stillClock) AfterFunc(time.Duration, func()) Timer            { return stoppedTimer{} }

type stoppedTimer struct{}

func (stoppedTimer) Stop() bool { return false }

func TestEngineBehind(t *testing.T) {
	clk := &stillClock{now: t0}
	e := &Engine{clock: clk}
	if got := e.Behind(); got != 0 {
		t.Fatalf("a fresh engine is %v behind", got)
	}
	for _, tc := range []struct {
		name      string
		owed      time.Time
		next      time.Time
		later     time.Duration // the clock moves on, the loop does not run
		wantAfter time.Duration
	}{
		{"waits for nothing", time.Time{}, time.Time{}, time.Hour, 0},
		{"wakes on time", time.Time{}, t0.Add(10 * time.Millisecond), 5 * time.Millisecond, 0},
		{"the loop could not run at its wake-up", time.Time{}, t0.Add(10 * time.Millisecond), 110 * time.Millisecond, 100 * time.Millisecond},
		{"a campaign catching up", t0.Add(-300 * time.Millisecond), t0.Add(5 * time.Millisecond), 0, 300 * time.Millisecond},
		{"catching up and starved", t0.Add(-300 * time.Millisecond), t0.Add(5 * time.Millisecond), 200 * time.Millisecond, 500 * time.Millisecond},
	} {
		clk.now = t0
		e.noteBehind(tc.owed, tc.next)
		clk.now = t0.Add(tc.later)
		if got := e.Behind(); got != tc.wantAfter {
			t.Errorf("%s: Behind %v, want %v", tc.name, got, tc.wantAfter)
		}
	}
}

func TestPacerBehind(t *testing.T) {
	p := NewPacer(6000) // 10 ms
	if got := p.Behind(t0); got != 0 {
		t.Fatalf("before the first origination: %v", got)
	}
	p.Mark(t0)
	if got := p.Behind(t0.Add(10 * time.Millisecond)); got != 0 {
		t.Errorf("on its slot: %v behind", got)
	}
	// A wake-up 200 ms late: one origination now, the grid still 190 ms back.
	late := t0.Add(210 * time.Millisecond)
	p.Mark(late)
	if got := p.Behind(late); got != 190*time.Millisecond {
		t.Errorf("after a late origination: %v behind, want 190ms", got)
	}
	p.Idle()
	if got := p.Behind(late.Add(time.Second)); got != 0 {
		t.Errorf("after an idle turn (no credit): %v behind", got)
	}
}
