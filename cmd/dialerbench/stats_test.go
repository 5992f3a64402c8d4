package main

import (
	"math"
	"testing"
	"time"
)

func TestInviteSpacing(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms ...float64) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, base.Add(time.Duration(m*float64(time.Millisecond))))
		}
		return out
	}
	tests := []struct {
		name          string
		at            []time.Time
		p50, p99, max float64
		over5         int
	}{
		{"on the grid", at(0, 10, 20, 30, 40), 0, 0, 0, 0},
		{"one 7 ms late", at(0, 10, 27, 30, 40), 0, 7, 7, 2},
		{"jitter", at(0, 11, 20, 31, 40), 1, 1, 1, 0},
		{"one INVITE", at(0), 0, 0, 0, 0},
	}
	for _, tt := range tests {
		s := inviteSpacing(tt.at, 6000)
		near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
		if s.TargetMS != 10 || !near(s.ErrP50MS, tt.p50) || !near(s.ErrP99MS, tt.p99) || !near(s.ErrMaxMS, tt.max) || s.Over5MS != tt.over5 {
			t.Errorf("%s: %+v, want p50 %v p99 %v max %v over5 %d", tt.name, s, tt.p50, tt.p99, tt.max, tt.over5)
		}
	}
}

func TestRates(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var at []time.Time
	for i := range 6001 { // 6000 intervals of 10 ms: one minute at 6000 cpm
		at = append(at, base.Add(time.Duration(i)*10*time.Millisecond))
	}
	if got := rate(len(at), at[len(at)-1].Sub(at[0])); math.Abs(got-6000) > 1e-6 {
		t.Errorf("rate %v, want 6000", got)
	}
	// A 5 s hole in the middle lowers the middle rate, not the edges'.
	holed := append(append([]time.Time{}, at[:3000]...), at[3500:]...)
	if got := middleRate(holed, 0.1); got > 5600 {
		t.Errorf("middle rate %v across a hole, want under 5600", got)
	}
	if got := percentile([]float64{5, 1, 4, 2, 3}, 50); got != 3 {
		t.Errorf("p50 %v, want 3", got)
	}
	if got := percentile([]float64{5, 1, 4, 2, 3}, 99); got != 5 {
		t.Errorf("p99 %v, want 5", got)
	}
	if !math.IsNaN(percentile(nil, 50)) {
		t.Error("percentile of nothing is a number")
	}
}
