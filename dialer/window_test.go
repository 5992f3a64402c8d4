package dialer

import (
	"encoding/json"
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestParseWeekdays(t *testing.T) {
	tests := []struct {
		in   string
		want Weekdays
		ok   bool
	}{
		{"mon-fri", 0b0111110, true},
		{"Sat,Sun", 0b1000001, true},
		{"fri-mon", 0b1100011, true},
		{"mon,wed-fri", 0b0111010, true},
		{"daily", AllWeekdays, true},
		{"monday", 0b0000010, true},
		{"funday", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseWeekdays(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseWeekdays(%q) = %07b, %v; want %07b ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestWeekdaysJSON(t *testing.T) {
	for in, want := range map[string]Weekdays{
		`[1,2,3,4,5]`: 0b0111110,
		`[0,6]`:       0b1000001,
		`[7]`:         0b0000001,
		`"mon-fri"`:   0b0111110,
	} {
		var w Weekdays
		if err := json.Unmarshal([]byte(in), &w); err != nil || w != want {
			t.Errorf("%s: got %07b, %v", in, w, err)
		}
	}
	for _, bad := range []string{`[8]`, `[-1]`, `"noday"`, `{}`} {
		var w Weekdays
		if err := json.Unmarshal([]byte(bad), &w); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	b, _ := json.Marshal(Weekdays(0b0111110))
	if string(b) != `[1,2,3,4,5]` {
		t.Errorf("marshal: %s", b)
	}
}

func TestDayMinute(t *testing.T) {
	for in, want := range map[string]DayMinute{"00:00": 0, "09:30": 570, "24:00": 1440, "23:59": 1439} {
		got, err := ParseDayMinute(in)
		if err != nil || got != want {
			t.Errorf("%s: %d %v", in, got, err)
		}
	}
	for _, bad := range []string{"24:01", "9", "09:5", "-1:00", "10:60", "ab:cd", ""} {
		if _, err := ParseDayMinute(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestWindowNext(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	berlin := mustLoc(t, "Europe/Berlin")
	business := Window{Start: 9 * 60, End: 17 * 60, Days: 0b0111110}
	at := func(loc *time.Location, s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name string
		w    Window
		loc  *time.Location
		from time.Time
		want time.Time
	}{
		{"inside stays", business, ny, at(ny, "2025-03-05 10:00"), at(ny, "2025-03-05 10:00")},
		{"before opening", business, ny, at(ny, "2025-03-05 07:15"), at(ny, "2025-03-05 09:00")},
		{"at closing waits for tomorrow", business, ny, at(ny, "2025-03-05 17:00"), at(ny, "2025-03-06 09:00")},
		{"friday evening waits for monday", business, ny, at(ny, "2025-03-07 17:30"), at(ny, "2025-03-10 09:00")},
		// 2025-03-09 is the spring-forward Sunday in New York: Monday's
		// 09:00 is EDT, 13:00 UTC rather than 14:00.
		{"across spring forward", business, ny, at(ny, "2025-03-07 18:00"), time.Date(2025, 3, 10, 13, 0, 0, 0, time.UTC)},
		// 2025-11-02 falls back: Monday's 09:00 is EST, 14:00 UTC.
		{"across fall back", business, ny, at(ny, "2025-10-31 18:00"), time.Date(2025, 11, 3, 14, 0, 0, 0, time.UTC)},
		// A window opening at 02:30 on the night 02:00 is skipped opens
		// when the clock jumps to 03:00 EDT (07:00 UTC).
		{"start in the skipped hour", Window{Start: 150, End: 300, Days: AllWeekdays}, ny,
			time.Date(2025, 3, 9, 5, 0, 0, 0, time.UTC), time.Date(2025, 3, 9, 7, 0, 0, 0, time.UTC)},
		// Berlin repeats 02:00–03:00 on 2025-10-26: a window opening at 02:30
		// opens at the first 02:30 (CEST, 00:30 UTC).
		{"start in the repeated hour", Window{Start: 150, End: 240, Days: AllWeekdays}, berlin,
			time.Date(2025, 10, 25, 23, 0, 0, 0, time.UTC), time.Date(2025, 10, 26, 0, 30, 0, 0, time.UTC)},
		{"overnight window after midnight", Window{Start: 22 * 60, End: 6 * 60, Days: 0b0000010}, ny,
			at(ny, "2025-03-04 03:00"), at(ny, "2025-03-04 03:00")}, // Tuesday 03:00 belongs to Monday's window
		{"overnight window, wrong day", Window{Start: 22 * 60, End: 6 * 60, Days: 0b0000010}, ny,
			at(ny, "2025-03-05 03:00"), at(ny, "2025-03-10 22:00")},
		{"always open", AlwaysOpen, ny, at(ny, "2025-03-09 02:59"), at(ny, "2025-03-09 02:59")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.w.Next(tt.from, tt.loc)
			if !ok || !got.Equal(tt.want) {
				t.Fatalf("Next(%v) = %v (%v), want %v", tt.from, got.In(tt.loc), ok, tt.want.In(tt.loc))
			}
			if !tt.w.Allows(got, tt.loc) {
				t.Fatalf("Next returned %v, which the window does not allow", got)
			}
			// Nothing earlier is allowed: probe minute by minute back to from.
			for p := got.Add(-time.Minute); !p.Before(tt.from); p = p.Add(-time.Minute) {
				if tt.w.Allows(p, tt.loc) {
					t.Fatalf("%v is allowed, earlier than Next's %v", p.In(tt.loc), got.In(tt.loc))
				}
			}
		})
	}
	if _, ok := (Window{Start: 0, End: 60}).Next(t0, time.UTC); ok {
		t.Fatal("a window without days opened")
	}
}

// Property: Next agrees with a minute-by-minute scan over a year of DST
// changes in several zones.
func TestWindowNextMatchesScan(t *testing.T) {
	windows := []Window{
		{Start: 9 * 60, End: 17 * 60, Days: 0b0111110},
		{Start: 150, End: 200, Days: AllWeekdays},
		{Start: 22 * 60, End: 6 * 60, Days: 0b0010100},
		{Start: 0, End: 90, Days: 0b1000000},
	}
	for _, name := range []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "UTC"} {
		loc := mustLoc(t, name)
		for wi, w := range windows {
			for from := time.Date(2025, 1, 1, 0, 7, 0, 0, time.UTC); from.Year() == 2025; from = from.Add(97*time.Hour + 13*time.Minute) {
				got, ok := w.Next(from, loc)
				if !ok {
					t.Fatalf("%s window %d: no opening from %v", name, wi, from)
				}
				scan := from
				for !w.Allows(scan, loc) {
					scan = scan.Truncate(time.Minute).Add(time.Minute)
				}
				if !got.Equal(scan) {
					t.Fatalf("%s window %d from %v: Next %v, scan %v", name, wi, from.In(loc), got.In(loc), scan.In(loc))
				}
			}
		}
	}
}
