package dialer

import (
	"math/rand/v2"
	"strconv"
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

// Late originations keep the grid: whatever the lateness (timers, a busy
// host), a minute holds the rate asked for, and no two originations come
// closer than half an interval.
func TestPacerLateTimers(t *testing.T) {
	tests := []struct {
		name string
		cpm  int
		late func(*rand.Rand) time.Duration
	}{
		{"under 1 ms late, 600 cpm", 600, func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(900)) * time.Microsecond }},
		{"up to 20 ms late, 600 cpm", 600, func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(20)) * time.Millisecond }},
		{"quantised timers, 6000 cpm", 6000, func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(1500)) * time.Microsecond }},
		// A host whose engine wakes 4 ms late every time (stress-ng on
		// both cores): catching up no closer than ¾ of the interval lost
		// 13 % of the rate; half an interval holds it.
		{"every wake-up 4 ms late, 6000 cpm", 6000, func(*rand.Rand) time.Duration { return 4 * time.Millisecond }},
		{"busy host, 6000 cpm", 6000, func(r *rand.Rand) time.Duration {
			switch x := r.IntN(1000); {
			case x < 10: // 1 %: the engine ran 5-30 ms late
				return time.Duration(5+r.IntN(25)) * time.Millisecond
			case x < 12: // 0.2 %: a stall of up to 300 ms
				return time.Duration(r.IntN(300)) * time.Millisecond
			}
			return time.Duration(r.IntN(2000)) * time.Microsecond
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			p := NewPacer(tt.cpm)
			end := t0.Add(time.Minute)
			now, prev, n := t0, time.Time{}, 0
			for now.Before(end) {
				if !prev.IsZero() && now.Sub(prev) < p.Interval()/2 {
					t.Fatalf("originations %v apart at %v", now.Sub(prev), now.Sub(t0))
				}
				p.Mark(now)
				prev = now
				n++
				now = p.Next().Add(tt.late(rng))
			}
			// The last origination may be behind the grid by a stall.
			if lo := tt.cpm - tt.cpm/100; n < lo || n > tt.cpm {
				t.Fatalf("%d originations in a minute at %d cpm, want %d to %d", n, tt.cpm, lo, tt.cpm)
			}
		})
	}
}

// At 1000 calls a second and up the interval is at or below a timer's
// resolution: a dispatcher that wakes on whole milliseconds, late by up to
// another one, must still find every 100-ms window holding its count.
func TestPacerGroupsNearTimerResolution(t *testing.T) {
	for _, cpm := range []int{30_000, 60_000, 120_000} {
		t.Run(strconv.Itoa(cpm), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			p := NewPacer(cpm)
			const windows = 100 // 10 s
			counts := make([]int, windows)
			var prev time.Time
			now := t0
			for now.Before(t0.Add(windows * 100 * time.Millisecond)) {
				for p.Ready(now) {
					if !prev.IsZero() && now.Before(prev) {
						t.Fatal("time ran backwards")
					}
					p.Mark(now)
					prev = now
					counts[now.Sub(t0)/(100*time.Millisecond)]++
				}
				// The next wake-up: on the timer's whole millisecond after
				// Next, plus up to another millisecond of lateness.
				next := p.Next().Sub(t0)
				wake := (next + time.Millisecond - 1).Truncate(time.Millisecond)
				now = t0.Add(wake + time.Duration(rng.IntN(1000))*time.Microsecond)
			}
			want := cpm / 600 // per 100 ms
			total := 0
			for i, c := range counts {
				total += c
				if c < want-2 || c > want+2 {
					t.Fatalf("window %d (%v) holds %d originations at %d cpm, want %d ± 2", i, time.Duration(i)*100*time.Millisecond, c, cpm, want)
				}
			}
			if lo := windows*want - want/10; total < lo || total > windows*want {
				t.Fatalf("%d originations in 10 s at %d cpm, want %d to %d", total, cpm, lo, windows*want)
			}
		})
	}
}

// A stall longer than maxLag is a pause: no catch-up after it.
func TestPacerNoCatchUpAfterLongStall(t *testing.T) {
	p := NewPacer(6000)
	p.Mark(t0)
	late := t0.Add(10*time.Millisecond + 2*time.Second)
	p.Mark(late)
	if got := p.Next().Sub(late); got != 10*time.Millisecond {
		t.Fatalf("after a 2 s stall the next is %v later, want a full interval", got)
	}
}

// A turn the campaign could not use (nothing due, a cap) gives no credit.
func TestPacerIdleGivesNoCredit(t *testing.T) {
	p := NewPacer(600)
	p.Mark(t0)
	at := t0.Add(100*time.Millisecond + 40*time.Millisecond)
	p.Idle()
	p.Mark(at)
	if got := p.Next().Sub(at); got != 100*time.Millisecond {
		t.Fatalf("after an idle turn the next is %v later, want a full interval", got)
	}
	// Without Idle the same lateness is caught up, no closer than half an
	// interval: the grid's next point (200 ms) is 60 ms after the late one.
	q := NewPacer(600)
	q.Mark(t0)
	q.Mark(at)
	if got := q.Next().Sub(at); got != 60*time.Millisecond {
		t.Fatalf("after a late turn the next is %v later, want 60ms", got)
	}
	q.Mark(q.Next())
	if got := q.Next().Sub(t0); got != 300*time.Millisecond {
		t.Fatalf("not back on the grid: next at %v, want 300ms", got)
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
	p.SetCPM(1 << 30)
	if p.Interval() != time.Microsecond {
		t.Fatalf("huge cpm clamps to one origination a microsecond: interval %v", p.Interval())
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
