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
