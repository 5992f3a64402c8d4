package dialer

import (
	"context"
	"time"
)

// Clock is the engine's only source of time, so tests can run hours of
// campaign in milliseconds.
type Clock interface {
	Now() time.Time
	// Sleep waits until d has passed on this clock or ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
	// AfterFunc calls f in its own goroutine once d has passed on this
	// clock. The engine wakes its loop this way rather than selecting on a
	// timer channel, so that a fake clock can see the wake-up being handed
	// over (see dialertest.Clock).
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop prevents the call if it has not happened yet; it reports
	// whether it did.
	Stop() bool
}

// SystemClock is the wall clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
