package dialer

import "time"

// Behind is how late the engine is with work it owes now: how far a
// campaign that is catching up is behind its pacing grid, or, when the
// loop has not run since it meant to wake, how late that wake-up is. Zero
// when it is on time. It is safe to call from any goroutine, and it grows
// in real time while the loop cannot run, which is what the API needs to
// give the engine the CPU first (api's engine-first gate): a dialing rate
// kept is worth more than a dashboard answered a few milliseconds sooner.
func (e *Engine) Behind() time.Duration {
	from := e.behindFrom.Load()
	if from == 0 {
		return 0
	}
	return max(0, e.clock.Now().Sub(time.Unix(0, from)))
}

// noteBehind publishes, after a dispatch, from when the loop owes work:
// the grid slot of the campaign furthest behind (owed), else the wake-up
// it armed (next); zero when it waits for nothing.
func (e *Engine) noteBehind(owed, next time.Time) {
	from := owed
	if from.IsZero() || (!next.IsZero() && next.Before(from)) {
		from = next
	}
	var ns int64
	if !from.IsZero() {
		ns = from.UnixNano()
	}
	e.behindFrom.Store(ns)
}
