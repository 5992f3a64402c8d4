// Package dialertest holds test helpers for the engine: a deterministic
// fake clock and SQL fixtures.
package dialertest

import (
	"container/heap"
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// Clock is a fake dialer.Clock that moves only when a test advances it.
//
// Advance fires due timers one at a time in time order, and before each it
// waits until the system under test has settled: nothing counts as settled
// until every goroutine that the test cares about waits on this clock.
// The clock knows how many goroutines sleep on it (Blocked); the test says
// what else must hold with SetSettled, typically
//
//	clk.SetSettled(func() bool { return eng.Tasks() == int64(clk.Blocked()) })
//
// so simulated hours run in milliseconds and every origination happens at
// exactly the instant the engine chose.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  timerHeap
	seq     uint64
	blocked int
	settled func() bool
}

// NewClock returns a clock set at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

type fakeTimer struct {
	c     *Clock
	at    time.Time
	seq   uint64
	index int // in the heap; -1 when fired or stopped
	fn    func()
	wake  chan struct{} // a sleeper's
}

type timerHeap []*fakeTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].index, h[j].index = i, j }
func (h *timerHeap) Push(x any) {
	t := x.(*fakeTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

// Now implements dialer.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *Clock) add(d time.Duration, t *fakeTimer) {
	t.c = c
	t.at = c.now.Add(max(d, 0))
	c.seq++
	t.seq = c.seq
	heap.Push(&c.timers, t)
}

// Sleep implements dialer.Clock: the caller counts as blocked on the clock
// until its time comes or ctx is done.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := &fakeTimer{wake: make(chan struct{})}
	c.mu.Lock()
	c.add(d, t)
	c.blocked++
	c.mu.Unlock()
	select {
	case <-t.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		if t.index >= 0 {
			heap.Remove(&c.timers, t.index)
			c.blocked--
		}
		c.mu.Unlock()
		return ctx.Err()
	}
}

// AfterFunc implements dialer.Clock. f runs on the goroutine that calls
// Advance, when the time comes; a d ≤ 0 runs at the next Advance.
func (c *Clock) AfterFunc(d time.Duration, f func()) dialer.Timer {
	t := &fakeTimer{fn: f}
	c.mu.Lock()
	c.add(d, t)
	c.mu.Unlock()
	return t
}

// Stop implements dialer.Timer.
func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.c.timers, t.index)
	return true
}

// Blocked is how many goroutines sleep on the clock.
func (c *Clock) Blocked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocked
}

// SetSettled sets the condition Advance waits for before each step.
func (c *Clock) SetSettled(f func() bool) {
	c.mu.Lock()
	c.settled = f
	c.mu.Unlock()
}

// WaitSettled waits until the settled condition holds.
func (c *Clock) WaitSettled() {
	c.mu.Lock()
	f := c.settled
	c.mu.Unlock()
	if f == nil {
		return
	}
	for i := 0; !f(); i++ {
		if i < 200 {
			runtime.Gosched()
		} else {
			time.Sleep(20 * time.Microsecond)
		}
	}
}

// Advance moves the clock d forward, firing every timer due on the way in
// order, each at its own instant, and waits for the system to settle
// after each.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	c.AdvanceTo(target)
}

// AdvanceTo advances to target (no-op if it is not later).
func (c *Clock) AdvanceTo(target time.Time) {
	for {
		c.WaitSettled()
		c.mu.Lock()
		if len(c.timers) == 0 || c.timers[0].at.After(target) {
			if target.After(c.now) {
				c.now = target
			}
			c.mu.Unlock()
			c.WaitSettled()
			return
		}
		t := heap.Pop(&c.timers).(*fakeTimer)
		if t.at.After(c.now) {
			c.now = t.at
		}
		if t.wake != nil {
			c.blocked--
			close(t.wake)
			c.mu.Unlock()
			continue
		}
		c.mu.Unlock()
		t.fn()
	}
}

// Next is the time of the earliest pending timer, zero when none.
func (c *Clock) Next() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return time.Time{}
	}
	return c.timers[0].at
}
