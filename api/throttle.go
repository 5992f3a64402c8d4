package api

import (
	"sync"
	"time"
)

// loginThrottle slows password guessing. Each key (a username, a client
// address) may fail freeFailures times; after that every failure blocks the
// key for twice as long as the last, up to maxBlock. Keys are forgotten
// after forget of quiet, so the table cannot grow without bound.
type loginThrottle struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	failures int
	until    time.Time // blocked until
	last     time.Time // last failure
}

const (
	freeFailures = 5
	firstBlock   = time.Second
	maxBlock     = 15 * time.Minute
	forget       = 30 * time.Minute
	sweepAt      = 10000
)

func newLoginThrottle(now func() time.Time) *loginThrottle {
	return &loginThrottle{now: now, entries: map[string]*throttleEntry{}}
}

// blocked returns how long the longest-blocked of keys must still wait.
func (t *loginThrottle) blocked(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var wait time.Duration
	for _, k := range keys {
		if e, ok := t.entries[k]; ok && e.until.After(now) {
			wait = max(wait, e.until.Sub(now))
		}
	}
	return wait
}

func (t *loginThrottle) fail(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.entries) >= sweepAt {
		for k, e := range t.entries {
			if now.Sub(e.last) > forget {
				delete(t.entries, k)
			}
		}
	}
	for _, k := range keys {
		e, ok := t.entries[k]
		if !ok || now.Sub(e.last) > forget {
			e = &throttleEntry{}
			t.entries[k] = e
		}
		e.failures++
		e.last = now
		if over := e.failures - freeFailures; over > 0 {
			block := firstBlock << min(over-1, 20)
			e.until = now.Add(min(block, maxBlock))
		}
	}
}

// succeed clears a key after a good login.
func (t *loginThrottle) succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, key)
}
