package dialer

import (
	"testing"
	"time"
)

// A gateway's progress never waits for the engine's loop: a SIP stack
// reports it while holding the call's transaction, and a loop that is busy
// (its inbox full) must not keep it from acknowledging the answer. Before,
// progress was a blocking post: this test hung on the first call.
func TestProgressNeverBlocksTheGateway(t *testing.T) {
	e := &Engine{inbox: make(chan func(), 1), loopDone: make(chan struct{})}
	e.inbox <- func() {} // the loop is busy: its inbox is full
	a := &attempt{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			e.queueProgress(a, Progress{Kind: ProgressDTMF, Digit: string(rune('0' + i%10))})
		}
		e.queueProgress(a, Progress{Kind: ProgressAnswered})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("progress blocked on a busy loop")
	}
	a.pq.mu.Lock()
	n, last := len(a.pq.items), a.pq.items[len(a.pq.items)-1].Kind
	a.pq.mu.Unlock()
	if n != 1001 || last != ProgressAnswered {
		t.Fatalf("%d queued, last %s: progress lost or reordered", n, last)
	}
	close(e.loopDone) // the one posted drain gives up; nothing leaks
}
