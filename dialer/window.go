package dialer

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Weekdays is a set of days of the week; bit i is time.Weekday(i), so bit
// 0 is Sunday, as campaigns.window_days stores it.
type Weekdays uint8

// AllWeekdays is every day.
const AllWeekdays Weekdays = 1<<7 - 1

// Has reports whether d is in the set.
func (w Weekdays) Has(d time.Weekday) bool { return w&(1<<uint(d)) != 0 }

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseWeekdays reads "mon-fri", "sat,sun", "mon,wed-fri", "daily" or
// "all". Names are the first three letters, case-insensitive; a range may
// wrap ("fri-mon").
func ParseWeekdays(s string) (Weekdays, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "daily" || s == "all" || s == "*" {
		return AllWeekdays, nil
	}
	day := func(n string) (int, error) {
		n = strings.TrimSpace(n)
		if len(n) >= 3 {
			if i := slices.Index(dayNames, n[:3]); i >= 0 {
				return i, nil
			}
		}
		return 0, fmt.Errorf("%q is not a day name (mon, tue, …)", n)
	}
	var w Weekdays
	for part := range strings.SplitSeq(s, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, err := day(from)
		if err != nil {
			return 0, err
		}
		b := a
		if isRange {
			if b, err = day(to); err != nil {
				return 0, err
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			w |= 1 << uint(d)
			if d == b {
				break
			}
		}
	}
	return w, nil
}

// MarshalJSON writes the days as numbers, Sunday as 0: mon-fri is [1,2,3,4,5].
func (w Weekdays) MarshalJSON() ([]byte, error) {
	days := []int{}
	for d := range 7 {
		if w.Has(time.Weekday(d)) {
			days = append(days, d)
		}
	}
	return json.Marshal(days)
}

// UnmarshalJSON accepts a list of day numbers (0 or 7 is Sunday, 1 Monday)
// or a string ParseWeekdays reads.
func (w *Weekdays) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := ParseWeekdays(s)
		if err != nil {
			return err
		}
		*w = v
		return nil
	}
	var days []int
	if err := json.Unmarshal(b, &days); err != nil {
		return fmt.Errorf("window_days: a list of day numbers (1 = Monday, 0 or 7 = Sunday) or a string like \"mon-fri\"")
	}
	var v Weekdays
	for _, d := range days {
		if d < 0 || d > 7 {
			return fmt.Errorf("window_days: %d is not a day number from 0 to 7", d)
		}
		v |= 1 << uint(d%7)
	}
	*w = v
	return nil
}

// DayMinute is a time of day in minutes from midnight, 0 to 1440; JSON "HH:MM".
type DayMinute int

// ParseDayMinute reads "HH:MM" from 00:00 to 24:00.
func ParseDayMinute(s string) (DayMinute, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time of day HH:MM from 00:00 to 24:00", s)
	}
	return DayMinute(hh*60 + mm), nil
}

func (d DayMinute) String() string { return fmt.Sprintf("%02d:%02d", int(d)/60, int(d)%60) }

func (d DayMinute) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *DayMinute) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a time of day as a string \"HH:MM\"")
	}
	v, err := ParseDayMinute(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Window is a calling window: the hours [Start, End) of local time on the
// given days. Start > End is a window across midnight (22:00–06:00); its
// part after midnight belongs to the day it started on. Outside its window
// work waits; it is never dropped.
type Window struct {
	Start, End DayMinute
	Days       Weekdays
}

// AlwaysOpen is the window of a campaign that set none.
var AlwaysOpen = Window{Start: 0, End: 1440, Days: AllWeekdays}

// Validate checks the window's fields, naming them as a Campaign does.
func (w Window) Validate(v *Invalid) {
	if w.Start < 0 || w.Start >= 1440 {
		v.Add("window_start", "must be from 00:00 to 23:59")
	}
	if w.End <= 0 || w.End > 1440 {
		v.Add("window_end", "must be from 00:01 to 24:00")
	}
	if w.Start == w.End {
		v.Add("window_end", "must differ from window_start")
	}
	if w.Days&AllWeekdays == 0 {
		v.Add("window_days", "at least one day")
	}
}

func (w Window) always() bool {
	return w.Start == 0 && w.End == 1440 && w.Days&AllWeekdays == AllWeekdays
}

// Allows reports whether instant t is inside the window in loc.
func (w Window) Allows(t time.Time, loc *time.Location) bool {
	if w.always() {
		return true
	}
	lt := t.In(loc)
	m := DayMinute(lt.Hour()*60 + lt.Minute())
	d := lt.Weekday()
	if w.Start < w.End {
		return w.Days.Has(d) && m >= w.Start && m < w.End
	}
	switch {
	case m >= w.Start:
		return w.Days.Has(d)
	case m < w.End:
		return w.Days.Has((d + 6) % 7)
	}
	return false
}

// Next returns the earliest instant at or after t inside the window in
// loc; ok is false when the window has no day at all. It works on wall
// clock time, so across a DST change a 09:00 window still opens at 09:00
// local; a start that falls in a skipped hour opens when the clock jumps.
func (w Window) Next(t time.Time, loc *time.Location) (next time.Time, ok bool) {
	if w.Days&AllWeekdays == 0 {
		return time.Time{}, false
	}
	if w.Allows(t, loc) {
		return t, true
	}
	// The window can only open where local wall time crosses its start or
	// midnight, or jumps at a zone transition: collect those instants for
	// the next nine days and take the first one inside.
	lt := t.In(loc)
	var cands []time.Time
	for i := -1; i <= 9; i++ {
		y, mo, d := lt.Date()
		cands = append(cands, wallInstants(y, mo, d+i, int(w.Start), loc)...)
		cands = append(cands, wallInstants(y, mo, d+i, 0, loc)...)
	}
	limit := t.Add(10 * 24 * time.Hour)
	for cur := lt; ; {
		_, end := cur.ZoneBounds()
		if end.IsZero() || end.After(limit) {
			break
		}
		cands = append(cands, end)
		cur = end
	}
	slices.SortFunc(cands, func(a, b time.Time) int { return a.Compare(b) })
	for _, c := range cands {
		if c.After(t) && w.Allows(c, loc) {
			return c, true
		}
	}
	return time.Time{}, false
}

// wallInstants returns every instant whose local time in loc is minute
// min of the given day: none in a skipped hour, two in a repeated one.
func wallInstants(y int, mo time.Month, d, min int, loc *time.Location) []time.Time {
	wall := time.Date(y, mo, d, min/60, min%60, 0, 0, time.UTC)
	want := wall.Format("2006-01-02 15:04")
	r := time.Date(y, mo, d, min/60, min%60, 0, 0, loc)
	var out []time.Time
	seen := map[int]bool{}
	for _, probe := range []time.Time{r.Add(-12 * time.Hour), r, r.Add(12 * time.Hour)} {
		_, off := probe.Zone()
		if seen[off] {
			continue
		}
		seen[off] = true
		u := wall.Add(-time.Duration(off) * time.Second).In(loc)
		if u.Format("2006-01-02 15:04") == want {
			out = append(out, u)
		}
	}
	return out
}
