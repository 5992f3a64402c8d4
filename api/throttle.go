package api

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// loginGuard slows password guessing without locking anyone out.
//
// Every attempt is counted as a failure before its password is checked, and
// a success takes it back: limits read before any of a burst of parallel
// guesses had failed cannot let the whole burst through. Three counters
// grow delays:
//
//   - per (username, address), steep: the guesser's own pair pays most;
//   - per username across addresses, gentle and capped low: a distributed
//     guesser gets few guesses, and the real user never waits longer than
//     the cap;
//   - per address, only slowing: the attempt is held, then checked, never
//     refused. Behind a proxy everyone shares one address, and made-up
//     usernames from it must not keep a real user out.
//
// An attempt that arrives while its username's delays run is answered 429
// and checks nothing. At most one password check runs per username at a
// time (the others wait their turn, then see the delay the first one's
// failure started), and at most cap(checks) run server-wide, so bcrypt
// cannot be used to exhaust the CPU.
type loginGuard struct {
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	// pair is per (username, address), user per username, addr per address.
	pair, user, addr delayPolicy
	checks           chan struct{} // one token per password check in flight

	mu      sync.Mutex
	entries map[string]*throttleEntry
	swept   time.Time // when entries was last swept of stale keys
	turns   map[string]*loginTurn
}

// delayPolicy is how a key's delay grows: free failures cost nothing, then
// each one doubles the delay before the next attempt, from first up to max.
type delayPolicy struct {
	free       int
	first, max time.Duration
}

func (p delayPolicy) after(failures int) time.Duration {
	over := failures - p.free
	if over < 0 {
		return 0
	}
	return min(p.first<<min(over, 30), p.max)
}

type throttleEntry struct {
	failures int
	last     time.Time // the last attempt counted
}

// loginTurn serialises the password checks of one username; refs counts
// the attempts holding or waiting for it, so it can be forgotten.
type loginTurn struct {
	ch   chan struct{}
	refs int
}

const (
	// forget is how long a key must be quiet for its failures to be forgotten.
	forget  = 30 * time.Minute
	sweepAt = 10000
)

func newLoginGuard(now func() time.Time) *loginGuard {
	return &loginGuard{
		now:     now,
		sleep:   sleepCtx,
		pair:    delayPolicy{free: 5, first: time.Second, max: 5 * time.Minute},
		user:    delayPolicy{free: 20, first: time.Second, max: time.Minute},
		addr:    delayPolicy{free: 20, first: 50 * time.Millisecond, max: time.Second},
		checks:  make(chan struct{}, 2*runtime.GOMAXPROCS(0)),
		entries: map[string]*throttleEntry{},
		turns:   map[string]*loginTurn{},
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func pairKey(username, addr string) string { return "pair:" + username + "\x00" + addr }
func userKey(username string) string       { return "user:" + username }
func addrKey(addr string) string           { return "addr:" + addr }

// entry returns the live entry of key, nil when it has none or it is stale.
func (g *loginGuard) entry(key string, now time.Time) *throttleEntry {
	e := g.entries[key]
	if e == nil || now.Sub(e.last) > forget {
		return nil
	}
	return e
}

// wait is how long key must still wait under p; the caller holds mu.
func (g *loginGuard) wait(key string, p delayPolicy, now time.Time) time.Duration {
	e := g.entry(key, now)
	if e == nil {
		return 0
	}
	return max(e.last.Add(p.after(e.failures)).Sub(now), 0)
}

// count records one attempt against key; the caller holds mu.
func (g *loginGuard) count(key string, now time.Time) {
	// Swept at most once a minute: a table kept large by a guesser must not
	// cost a walk of it per attempt.
	if len(g.entries) >= sweepAt && now.Sub(g.swept) > time.Minute {
		g.swept = now
		for k, e := range g.entries {
			if now.Sub(e.last) > forget {
				delete(g.entries, k)
			}
		}
	}
	e := g.entry(key, now)
	if e == nil {
		e = &throttleEntry{}
		g.entries[key] = e
	}
	e.failures++
	e.last = now
}

// takeBack undoes one counted attempt of key; the caller holds mu.
func (g *loginGuard) takeBack(key string) {
	if e := g.entries[key]; e != nil {
		if e.failures--; e.failures <= 0 {
			delete(g.entries, key)
		}
	}
}

// slow holds an attempt from addr as long as the address's failures ask.
func (g *loginGuard) slow(ctx context.Context, addr string) error {
	g.mu.Lock()
	var hold time.Duration
	if e := g.entry(addrKey(addr), g.now()); e != nil {
		hold = g.addr.after(e.failures)
	}
	g.mu.Unlock()
	if hold == 0 {
		return nil
	}
	return g.sleep(ctx, hold)
}

// attemptOutcome is how an admitted login attempt ended.
type attemptOutcome int

const (
	attemptFailed    attemptOutcome = iota // a wrong password or username: stays counted
	attemptSucceeded                       // clears the pair, takes the attempt back
	attemptVoid                            // no answer (the store failed): takes the attempt back
)

// admit lets one attempt of username from addr check a password. It waits
// for the username's turn and a server-wide slot; retry > 0 means the
// attempt is refused until then. On admission the attempt is already
// counted as a failure: the caller must call done with the outcome.
func (g *loginGuard) admit(ctx context.Context, username, addr string) (done func(attemptOutcome), retry time.Duration, err error) {
	turn := g.takeTurn(username)
	select {
	case turn.ch <- struct{}{}:
	case <-ctx.Done():
		g.leaveTurn(username, turn, false)
		return nil, 0, fmt.Errorf("login: wait for turn: %w", ctx.Err())
	}
	g.mu.Lock()
	now := g.now()
	pair, user := pairKey(username, addr), userKey(username)
	if w := max(g.wait(pair, g.pair, now), g.wait(user, g.user, now)); w > 0 {
		g.mu.Unlock()
		g.leaveTurn(username, turn, true)
		return nil, w, nil
	}
	for _, k := range []string{pair, user, addrKey(addr)} {
		g.count(k, now)
	}
	g.mu.Unlock()
	select {
	case g.checks <- struct{}{}:
	case <-ctx.Done():
		g.leaveTurn(username, turn, true)
		return nil, 0, fmt.Errorf("login: wait for a check slot: %w", ctx.Err())
	}
	return func(o attemptOutcome) {
		<-g.checks
		if o != attemptFailed {
			g.mu.Lock()
			if o == attemptSucceeded {
				delete(g.entries, pair)
			} else {
				g.takeBack(pair)
			}
			g.takeBack(user)
			g.takeBack(addrKey(addr))
			g.mu.Unlock()
		}
		g.leaveTurn(username, turn, true)
	}, 0, nil
}

func (g *loginGuard) takeTurn(username string) *loginTurn {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.turns[username]
	if t == nil {
		t = &loginTurn{ch: make(chan struct{}, 1)}
		g.turns[username] = t
	}
	t.refs++
	return t
}

// leaveTurn gives the turn back (held says whether it was taken) and
// forgets it when nobody else waits for it.
func (g *loginGuard) leaveTurn(username string, t *loginTurn, held bool) {
	if held {
		<-t.ch
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.refs--; t.refs == 0 {
		delete(g.turns, username)
	}
}
