package dialer

import (
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestPacerSpacing(t *testing.T) {
	p := NewPacer(600)
	if p.Interval() != 100*time.Millisecond {
		t.Fatalf("interval %v", p.Interval())
	}
	now := t0
	var n int
	for now.Before(t0.Add(10 * time.Minute)) {
		if p.Ready(now) {
			p.Mark(now)
			n++
		}
		now = now.Add(time.Millisecond)
	}
	if n != 6000 {
		t.Fatalf("%d originations in 10 minutes at 600 CPM, want 6000", n)
	}
}

// After an idle moment the pacer does not catch up: one origination now,
// the next a full interval later.
func TestPacerNoBurstAfterIdle(t *testing.T) {
	p := NewPacer(60)
	p.Mark(t0)
	idle := t0.Add(10 * time.Minute)
	if !p.Ready(idle) {
		t.Fatal("not ready after idling")
	}
	p.Mark(idle)
	if p.Ready(idle.Add(999 * time.Millisecond)) {
		t.Fatal("ready again within one interval after idling: a burst")
	}
	if !p.Ready(idle.Add(time.Second)) {
		t.Fatal("not ready one interval later")
	}
}

// A timer that fires a little late keeps the grid (no lost throughput) but
// never brings two originations closer than interval - 1 ms.
func TestPacerLateTimers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := NewPacer(600)
	p.Mark(t0)
	now := t0
	prev := t0
	n := 1
	for now.Before(t0.Add(time.Minute)) {
		now = p.Next().Add(time.Duration(rng.IntN(900)) * time.Microsecond)
		if !prev.IsZero() && now.Sub(prev) < 99*time.Millisecond {
			t.Fatalf("originations %v apart", now.Sub(prev))
		}
		p.Mark(now)
		prev = now
		n++
	}
	if n < 599 {
		t.Fatalf("only %d originations in a minute with timers under 1 ms late", n)
	}
}

func TestPacerSetCPM(t *testing.T) {
	p := NewPacer(60)
	p.Mark(t0)
	p.SetCPM(120)
	if got := p.Next(); !got.Equal(t0.Add(500 * time.Millisecond)) {
		t.Fatalf("after a change to 120 CPM the next is at %v, want +500ms", got.Sub(t0))
	}
	p.SetCPM(0)
	if p.Interval() != time.Minute {
		t.Fatalf("cpm 0 clamps to 1: interval %v", p.Interval())
	}
	p.SetCPM(1 << 20)
	if p.Interval() != time.Minute/MaxCPM {
		t.Fatalf("huge cpm clamps to MaxCPM: interval %v", p.Interval())
	}
}

func TestRateCap(t *testing.T) {
	r := NewRateCap(3)
	for i := range 3 {
		at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		if !r.Allows(at) {
			t.Fatalf("event %d refused", i)
		}
		r.Take(at)
	}
	if r.Allows(t0.Add(999 * time.Millisecond)) {
		t.Fatal("a fourth event within the second admitted")
	}
	if got := r.Next(t0.Add(500 * time.Millisecond)); !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("next admitted at %v, want +1s", got.Sub(t0))
	}
	if !r.Allows(t0.Add(time.Second)) {
		t.Fatal("refused after the oldest left the window")
	}
}

// Property: whatever the arrival pattern, no one-second window ever holds
// more than N admitted events.
func TestRateCapNeverExceeded(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		n := 1 + rng.IntN(20)
		r := NewRateCap(n)
		var taken []time.Time
		now := t0
		for range 2000 {
			now = now.Add(time.Duration(rng.IntN(200)) * time.Millisecond / time.Duration(1+rng.IntN(10)))
			if r.Allows(now) {
				r.Take(now)
				taken = append(taken, now)
			}
		}
		for i := range taken {
			j := i
			for j < len(taken) && taken[j].Sub(taken[i]) < time.Second {
				j++
			}
			if j-i > n {
				t.Fatalf("cap %d: %d events within one second from %v", n, j-i, taken[i].Sub(t0))
			}
		}
	}
}
