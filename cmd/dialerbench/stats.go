package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
	"time"
)

// percentile is the p-th percentile (0-100) of xs by the nearest-rank
// method; xs need not be sorted. NaN when xs is empty.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// rate is the achieved rate between INVITEs, in calls per minute: n
// arrivals spanning d make n-1 intervals.
func rate(n int, d time.Duration) float64 {
	if n < 2 || d <= 0 {
		return 0
	}
	return float64(n-1) / d.Minutes()
}

// spacing is how far apart consecutive INVITEs arrived compared with the
// interval the target rate asks for.
type spacing struct {
	Gaps          int     `json:"gaps"`
	TargetMS      float64 `json:"target_ms"`
	MeanGapMS     float64 `json:"mean_gap_ms"`
	ErrP50MS      float64 `json:"error_p50_ms"`
	ErrP99MS      float64 `json:"error_p99_ms"`
	ErrMaxMS      float64 `json:"error_max_ms"`
	GapMinMS      float64 `json:"gap_min_ms"`
	GapMaxMS      float64 `json:"gap_max_ms"`
	Over5MS       int     `json:"errors_over_5ms"`
	ErrP999MS     float64 `json:"error_p99_9_ms"`
	GapsUnderHalf int     `json:"gaps_under_half_interval"`
}

func inviteSpacing(at []time.Time, cpm int) spacing {
	target := time.Minute / time.Duration(cpm)
	s := spacing{TargetMS: ms(target)}
	if len(at) < 2 {
		return s
	}
	errs := make([]float64, 0, len(at)-1)
	s.GapMinMS = math.Inf(1)
	for i := 1; i < len(at); i++ {
		gap := at[i].Sub(at[i-1])
		e := math.Abs(ms(gap - target))
		errs = append(errs, e)
		s.GapMinMS = math.Min(s.GapMinMS, ms(gap))
		s.GapMaxMS = math.Max(s.GapMaxMS, ms(gap))
		if e > 5 {
			s.Over5MS++
		}
		if gap < target/2 {
			s.GapsUnderHalf++
		}
	}
	s.Gaps = len(errs)
	s.MeanGapMS = ms(at[len(at)-1].Sub(at[0])) / float64(s.Gaps)
	s.ErrP50MS = percentile(errs, 50)
	s.ErrP99MS = percentile(errs, 99)
	s.ErrP999MS = percentile(errs, 99.9)
	s.ErrMaxMS = percentile(errs, 100)
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// latencies summarises request durations in milliseconds.
type latencies struct {
	Count  int     `json:"count"`
	Errors int     `json:"errors"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
}

func summarise(xs []float64, errors int) latencies {
	return latencies{Count: len(xs), Errors: errors, P50MS: percentile(xs, 50), P99MS: percentile(xs, 99), MaxMS: percentile(xs, 100)}
}

// figure is one line of the report: what was measured against its target.
type figure struct {
	Name     string  `json:"name"`
	Target   string  `json:"target"`
	Measured string  `json:"measured"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	// Pass is nil for figures reported without a target.
	Pass *bool `json:"pass"`
}

func judged(name, target string, value float64, unit, measured string, pass bool) figure {
	return figure{Name: name, Target: target, Measured: measured, Value: value, Unit: unit, Pass: &pass}
}

func info(name string, value float64, unit, measured string) figure {
	return figure{Name: name, Target: "-", Measured: measured, Value: value, Unit: unit}
}

// printTable writes the figures as an aligned table.
func printTable(w io.Writer, figs []figure) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\ttarget\tmeasured\tresult")
	fmt.Fprintln(tw, "------\t------\t--------\t------")
	for _, f := range figs {
		res := ""
		if f.Pass != nil {
			res = "FAIL"
			if *f.Pass {
				res = "pass"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Name, f.Target, f.Measured, res)
	}
	_ = tw.Flush()
}

// failed names the judged figures that missed their target.
func failed(figs []figure) []string {
	var out []string
	for _, f := range figs {
		if f.Pass != nil && !*f.Pass {
			out = append(out, f.Name)
		}
	}
	return out
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
