package dialer

import "time"

// DefaultMaxCPM is the highest calls per minute a campaign may ask for
// unless the operator sets engine.max_cpm: 1000 calls a second, far above
// what one trunk carries, so the cap protects against typos, not load.
const DefaultMaxCPM = 60000

// pacerMaxCPM is the pacer's own bound: one origination a microsecond.
const pacerMaxCPM = 60_000_000

// Pacer spaces a campaign's originations evenly: CPM N means one every
// 60/N seconds, on a grid.
//
// An origination may come late: a Go timer fires up to a millisecond
// after its time (the runtime's poller sleeps in whole milliseconds), and
// a busy host runs the engine later still. A late origination keeps the
// grid: the ones after it come closer together, never closer than half
// the interval, until the campaign is back on it, so a minute holds N
// originations. (Restarting the grid after every origination more than a
// millisecond late lost 2-7 % of the rate at 6000 CPM on a busy two-core
// host; catching up no closer than three quarters of the interval still
// lost 18 % with stress-ng holding both cores: each late wake-up cost a
// quarter interval that was never made good.)
//
// At intervals near or below the timer's resolution (1000 calls a second
// and up: the interval is 1 ms, the resolution of a Go timer's wake-up),
// half an interval is shorter than a wake-up can be, so the pacer groups:
// a late wake-up starts every origination whose grid slot has passed, at
// once, and never one ahead of its slot. Every origination is then at or
// after its slot and at most one wake-up's lateness behind it, so any
// 100-ms window holds its count within one or two (at 60,000 CPM: 100 ± 2),
// where one origination per wake-up lost a fifth of the rate.
//
// It keeps no credit across an idle moment: when the campaign could not
// use its turn (nothing due, a cap held it: Idle), or fell more than
// maxLag behind, the next origination comes at once and the one after it
// a full interval later, never a burst to catch up.
type Pacer struct {
	interval time.Duration
	last     time.Time // the latest origination; zero before the first
	grid     time.Time // where the next origination belongs
	next     time.Time // the earliest allowed next origination
	idle     bool      // the campaign let a turn pass since the last one
}

// NewPacer returns a pacer for cpm calls per minute (at least 1).
func NewPacer(cpm int) *Pacer {
	p := &Pacer{}
	p.SetCPM(cpm)
	return p
}

// Interval is the spacing between originations.
func (p *Pacer) Interval() time.Duration { return p.interval }

// SetCPM changes the rate at once: the next origination is due one new
// interval after the last one (the grid starts there).
func (p *Pacer) SetCPM(cpm int) {
	cpm = max(1, min(cpm, pacerMaxCPM))
	p.interval = time.Minute / time.Duration(cpm)
	if !p.last.IsZero() {
		p.next = p.last.Add(p.interval)
		p.grid = p.next
	}
}

// Next is the earliest time the next origination may happen.
func (p *Pacer) Next() time.Time { return p.next }

// Ready reports whether an origination may happen at now.
func (p *Pacer) Ready(now time.Time) bool { return !now.Before(p.next) }

// maxLag is how far behind its grid a campaign may fall and still catch
// up: beyond it, the lag is a pause, not a late timer.
func (p *Pacer) maxLag() time.Duration { return max(time.Second, p.interval) }

// timerResolution is how late a timer's wake-up may be on an idle host.
const timerResolution = time.Millisecond

// minGap is the closest two originations ever come, while catching up;
// zero (grouping, never ahead of the grid) when half an interval is
// shorter than a timer can wait.
func (p *Pacer) minGap() time.Duration {
	if p.interval/2 < timerResolution {
		return 0
	}
	return p.interval / 2
}

// Idle records that the campaign could not use its turn (nothing due, or
// a cap held it): the next origination starts the grid afresh.
func (p *Pacer) Idle() { p.idle = true }

// Behind is how far now is past the grid slot of the next origination:
// how much catching up is left. Zero before the first origination and
// after an idle turn, which keep no credit.
func (p *Pacer) Behind(now time.Time) time.Duration {
	if p.last.IsZero() || p.idle {
		return 0
	}
	return max(0, now.Sub(p.grid))
}

// Mark records an origination at now (which must be Ready).
func (p *Pacer) Mark(now time.Time) {
	if p.last.IsZero() || p.idle || now.Sub(p.grid) > p.maxLag() {
		p.grid = now
	}
	p.grid = p.grid.Add(p.interval)
	p.next = p.grid
	if catchUp := now.Add(p.minGap()); catchUp.After(p.next) {
		p.next = catchUp
	}
	p.last = now
	p.idle = false
}

// RateCap admits at most N events in any one-second window, by keeping the
// times of the last N: a cap on sessions per second that is never
// exceeded, unlike a token bucket, which allows 2N across a bucket refill.
type RateCap struct {
	times []time.Time // ring of the last N event times
	head  int         // index of the oldest
	n     int         // how many are recorded, ≤ len(times)
}

// NewRateCap returns a cap of perSecond events per second (at least 1).
func NewRateCap(perSecond int) *RateCap {
	return &RateCap{times: make([]time.Time, max(1, perSecond))}
}

// Next is the earliest time at or after now an event is admitted.
func (r *RateCap) Next(now time.Time) time.Time {
	if r.n < len(r.times) {
		return now
	}
	if at := r.times[r.head].Add(time.Second); at.After(now) {
		return at
	}
	return now
}

// Allows reports whether an event is admitted at now.
func (r *RateCap) Allows(now time.Time) bool { return !r.Next(now).After(now) }

// Take records an event at now.
func (r *RateCap) Take(now time.Time) {
	if r.n < len(r.times) {
		r.times[(r.head+r.n)%len(r.times)] = now
		r.n++
		return
	}
	r.times[r.head] = now
	r.head = (r.head + 1) % len(r.times)
}

// Resize returns a cap of perSecond events per second that remembers this
// cap's most recent events, so a changed limit is never exceeded across
// the change.
func (r *RateCap) Resize(perSecond int) *RateCap {
	out := NewRateCap(perSecond)
	keep := min(r.n, len(out.times))
	for i := r.n - keep; i < r.n; i++ {
		out.Take(r.times[(r.head+i)%len(r.times)])
	}
	return out
}
