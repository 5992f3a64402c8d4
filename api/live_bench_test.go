package api

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
)

// BenchmarkLiveFanout connects 1,000 websocket clients over loopback and
// publishes events at 100 per second; b.N is the number of events. Each
// client records when every event reaches it; the benchmark reports the
// delivery latency percentiles (publish to client read) and checks that no
// client was dropped.
//
//	go test ./api -run '^$' -bench LiveFanout -benchtime 500x
func BenchmarkLiveFanout(b *testing.B) {
	const clients, perSecond = 1000, 100
	e := newLiveEnv(b, LiveConfig{MaxClients: clients, Queue: 256}, MetricsConfig{})
	tid := e.tenant()

	var mu sync.Mutex
	latencies := make([]time.Duration, 0, clients*b.N)
	var wg sync.WaitGroup
	for range clients {
		c := e.mustDial(e.admin)
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, b.N)
			for len(local) < b.N {
				_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
				_, data, err := c.ReadMessage()
				if err != nil {
					break
				}
				// Read only the timestamp: the clients share the machine
				// with the server, so they must cost it little.
				if at, ok := eventTime(data); ok {
					local = append(local, time.Since(at))
				}
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}

	b.ResetTimer()
	tick := time.NewTicker(time.Second / perSecond)
	for i := range b.N {
		<-tick.C
		e.bus.Publish(dialer.Event{Type: dialer.EventSpoolEnded, TenantID: tid, CampaignID: 1,
			TransmissionID: int64(i + 1), SpoolID: int64(i + 1), OwnerID: 1, Status: "completed",
			Response: "NORMAL_CLEARING", At: time.Now()})
	}
	tick.Stop()
	wg.Wait()
	b.StopTimer()

	if want := clients * b.N; len(latencies) != want {
		b.Errorf("delivered %d events, want %d (evicted clients: %d)", len(latencies), want, e.srv.live.evicted.Load())
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	b.ReportMetric(float64(e.srv.live.evicted.Load()), "evicted")
}

// eventTime finds the "at" field of an encoded event without decoding it all.
func eventTime(data []byte) (time.Time, bool) {
	const key = `"at":"`
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return time.Time{}, false
	}
	rest := data[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
	return at, err == nil
}
