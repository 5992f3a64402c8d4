package api

import (
	"sync"
	"time"
)

// DefaultAccountsRateLimit is seed 002's limit: requests a minute per account.
const DefaultAccountsRateLimit = 200

// rateLimiter allows each key perMinute requests a minute, evenly: the
// generic cell rate algorithm, one theoretical arrival time per key, with a
// burst of the whole minute's allowance. A request over the limit is told
// how long until one more is allowed.
type rateLimiter struct {
	interval time.Duration // one request's share of the minute
	burst    time.Duration // how far ahead of now arrivals may be booked
	now      func() time.Time

	mu    sync.Mutex
	tat   map[string]time.Time
	swept time.Time
}

// newRateLimiter limits to perMinute (DefaultAccountsRateLimit when 0);
// a negative perMinute returns nil, which allows everything.
func newRateLimiter(perMinute int, now func() time.Time) *rateLimiter {
	if perMinute < 0 {
		return nil
	}
	if perMinute == 0 {
		perMinute = DefaultAccountsRateLimit
	}
	iv := time.Minute / time.Duration(perMinute)
	return &rateLimiter{interval: iv, burst: time.Minute - iv, now: now, tat: map[string]time.Time{}}
}

// allow books one request for key, or says how long to wait.
func (l *rateLimiter) allow(key string) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	tat := l.tat[key]
	if tat.Before(now) {
		tat = now
	}
	if wait := tat.Sub(now) - l.burst; wait > 0 {
		return false, wait
	}
	l.tat[key] = tat.Add(l.interval)
	return true, 0
}

// sweep forgets keys idle for a minute (their allowance is full again),
// once a minute, so the map holds only the accounts of the last minute.
func (l *rateLimiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for k, t := range l.tat {
		if t.Before(now) {
			delete(l.tat, k)
		}
	}
}
