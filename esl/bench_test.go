package esl

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialerd/dialerd/esl/esltest"
)

// BenchmarkOriginate drives one gateway, over one ESL connection, against
// the fake FreeSWITCH with no sessions-per-second limit: each call is
// answered and hung up at once, so six events per call flow back (CREATE,
// PROGRESS, ANSWER, BACKGROUND_JOB, HANGUP, HANGUP_COMPLETE). 128 attempts
// are in flight at a time. It reports calls/s, and the goroutines and live
// heap (after GC, the fake's command history dropped) before and after, to
// show that nothing grows.
func BenchmarkOriginate(b *testing.B) {
	s := esltest.Start(b, esltest.Options{})
	opts := testOptions()
	opts.Log = nil
	opts.Heartbeat = 5 * time.Second
	opts.Settle, opts.Reorder = 5*time.Millisecond, 2*time.Millisecond
	g := startGateway(b, s, opts, 1_000_000, 100_000)
	s.SetDefault(esltest.Answer(0, time.Millisecond))
	// Warm up, then measure from a settled state.
	for range 200 {
		deliver(b, g, attempt("+4930000"+strconv.Itoa(100000+1)))
	}
	s.ResetHistory()
	goroutinesBefore := settledGoroutines(-1)
	heapBefore := liveHeap()

	const inFlight = 128
	var next atomic.Int64
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range inFlight {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				o, err := g.Deliver(context.Background(), attempt("+49300"+strconv.FormatInt(1_000_000+i%1_000_000, 10)), nil)
				if err != nil || o.Cause != "NORMAL_CLEARING" {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d calls failed", n, b.N)
	}
	if st := s.Stats(); st.Originates < b.N || connections(s) != 1 {
		b.Fatalf("stats %+v over %d connections", st, connections(s))
	}
	s.ResetHistory() // the fake's record of every command is not the gateway's memory
	goroutinesAfter := settledGoroutines(goroutinesBefore)
	heapAfter := liveHeap()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(goroutinesBefore), "goroutines-before")
	b.ReportMetric(float64(goroutinesAfter), "goroutines-after")
	b.ReportMetric(float64(heapBefore)/(1<<20), "heap-MiB-before")
	b.ReportMetric(float64(heapAfter)/(1<<20), "heap-MiB-after")
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
