package dialer

import (
	"sync"
	"testing"
)

func TestBusDeliversInOrder(t *testing.T) {
	b := NewBus()
	s := b.Subscribe(10)
	defer s.Close()
	for i := range 5 {
		b.Publish(Event{Type: EventSpoolInitiated, SpoolID: int64(i)})
	}
	for i := range 5 {
		e := <-s.C()
		if e.SpoolID != int64(i) {
			t.Fatalf("event %d has spool %d", i, e.SpoolID)
		}
	}
	if s.Dropped() != 0 || b.Published() != 5 {
		t.Fatalf("dropped %d, published %d", s.Dropped(), b.Published())
	}
}

// A slow subscriber loses events and counts them; a fast one loses none;
// Publish never blocks.
func TestBusSlowSubscriberDrops(t *testing.T) {
	b := NewBus()
	slow := b.Subscribe(3)
	fast := b.Subscribe(100)
	defer slow.Close()
	defer fast.Close()
	for i := range 10 {
		b.Publish(Event{SpoolID: int64(i)})
	}
	if got := slow.Dropped(); got != 7 {
		t.Fatalf("slow subscriber dropped %d, want 7", got)
	}
	if got := fast.Dropped(); got != 0 {
		t.Fatalf("fast subscriber dropped %d", got)
	}
	if len(slow.C()) != 3 || len(fast.C()) != 10 {
		t.Fatalf("buffered %d and %d", len(slow.C()), len(fast.C()))
	}
}

func TestBusCloseUnsubscribes(t *testing.T) {
	b := NewBus()
	s := b.Subscribe(1)
	s.Close()
	s.Close()
	b.Publish(Event{}) // must not panic on a closed channel
	if _, open := <-s.C(); open {
		t.Fatal("channel still open after Close")
	}
}

// Publishing and closing concurrently is safe (run with -race).
func TestBusConcurrent(t *testing.T) {
	b := NewBus()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				b.Publish(Event{})
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 50 {
				s := b.Subscribe(2)
				s.Close()
			}
		})
	}
	wg.Wait()
	if b.Published() != 4000 {
		t.Fatalf("published %d", b.Published())
	}
}
