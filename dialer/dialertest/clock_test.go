package dialertest

import (
	"context"
	"sync"
	"testing"
	"time"
)

var start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func TestClockFiresInOrderAtTheirInstants(t *testing.T) {
	c := NewClock(start)
	var mu sync.Mutex
	var got []time.Duration
	for _, d := range []time.Duration{3 * time.Second, time.Second, 2 * time.Second} {
		c.AfterFunc(d, func() {
			mu.Lock()
			got = append(got, c.Now().Sub(start))
			mu.Unlock()
		})
	}
	stopped := c.AfterFunc(1500*time.Millisecond, func() { t.Error("a stopped timer fired") })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should succeed once")
	}
	c.Advance(10 * time.Second)
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("fired at %v, want %v", got, want)
	}
	if c.Now().Sub(start) != 10*time.Second {
		t.Fatalf("now %v", c.Now())
	}
}

// A goroutine that sleeps in a loop is woken at each of its deadlines, even
// when the test advances far in one call: the clock waits for it to sleep
// again before moving on.
func TestClockSleepersAcrossOneAdvance(t *testing.T) {
	c := NewClock(start)
	var wakes []time.Duration
	done := make(chan struct{})
	running := true
	var mu sync.Mutex
	c.SetSettled(func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !running || c.Blocked() == 1
	})
	go func() {
		defer close(done)
		for range 5 {
			if err := c.Sleep(context.Background(), 100*time.Millisecond); err != nil {
				t.Error(err)
			}
			wakes = append(wakes, c.Now().Sub(start))
		}
		mu.Lock()
		running = false
		mu.Unlock()
	}()
	c.Advance(time.Hour)
	<-done
	for i, w := range wakes {
		if w != time.Duration(i+1)*100*time.Millisecond {
			t.Fatalf("wake %d at %v", i, w)
		}
	}
}

func TestClockSleepCancelled(t *testing.T) {
	c := NewClock(start)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { errc <- c.Sleep(ctx, time.Hour) }()
	for c.Blocked() != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("cancelled sleep returned nil")
	}
	if c.Blocked() != 0 || !c.Next().IsZero() {
		t.Fatalf("blocked %d, next %v after cancel", c.Blocked(), c.Next())
	}
}
