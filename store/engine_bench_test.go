package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
)

// benchEngineStore is an engine store on a fresh database with a tenant,
// its owner and a voicetts program, closed when the benchmark ends.
func benchEngineStore(b *testing.B) (es *EngineStore, f *dialertest.Fixtures, tenant string, owner, prog int64) {
	b.Helper()
	db, err := Open(context.Background(), filepath.Join(b.TempDir(), "dialerd.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	es = NewEngineStore(db)
	b.Cleanup(func() { es.Close() }) // runs before db.Close: cleanups run in reverse
	f = dialertest.NewFixtures(b, db.Path())
	tenant = f.Tenant("t1")
	owner = f.User(tenant, "owner", false)
	prog = f.Program(tenant, owner, dialer.ProgramVoiceTTS)
	return es, f, tenant, owner, prog
}

// BenchmarkAttemptAlone is one call's life in the store when calls come
// one at a time (100 a second is one every 10 ms): the write-ahead
// BeginAttempt, which the INVITE waits for, then the answer and the end,
// each in a transaction of its own. ns/op is the store's cost of a call
// at a low rate, where batches do not amortise anything.
//
//	go test ./store -run '^$' -bench AttemptAlone
func BenchmarkAttemptAlone(b *testing.B) {
	ctx := context.Background()
	es, f, tenant, owner, prog := benchEngineStore(b)
	contacts := f.Contacts(tenant, owner, b.N, 0)
	now := time.Unix(1_700_000_000, 0)
	tids := f.Transmissions(tenant, owner, prog, 1, now, contacts)
	b.ResetTimer()
	for i, tid := range tids {
		id, err := es.BeginAttempt(ctx, dialer.AttemptStart{TransmissionID: tid, TenantID: tenant, CallUUID: fmt.Sprintf("u-%d", i), At: now})
		if err != nil {
			b.Fatal(err)
		}
		es.Record(dialer.SpoolAnswered{SpoolID: id, At: now})
		if err := es.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		es.Record(dialer.AttemptEnded{SpoolID: id, TransmissionID: tid, TenantID: tenant, SpoolStatus: dialer.SpoolCompleted,
			Response: "NORMAL_CLEARING", Start: now, Connect: now, End: now, Status: dialer.TransmissionCompleted})
		if err := es.Sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProgressDurable measures how long progress (an answer, with
// its SIP dialog) takes to reach the disk from the moment the engine
// records it, while another goroutine writes ahead 1000 calls a second:
// the window in which a crash could still hide an answer. It reports the
// median, p99 and worst delay over b.N answers.
//
//	go test ./store -run '^$' -bench ProgressDurable -benchtime 2000x
func BenchmarkProgressDurable(b *testing.B) {
	ctx := context.Background()
	es, f, tenant, owner, prog := benchEngineStore(b)
	now := time.Unix(1_700_000_000, 0)
	answered := f.Transmissions(tenant, owner, prog, 1, now, f.Contacts(tenant, owner, b.N, 0))
	background := f.Transmissions(tenant, owner, prog, 1, now, f.Contacts(tenant, owner, 20*b.N, 1_000_000))
	spools := make([]int64, len(answered))
	for i, tid := range answered {
		var err error
		if spools[i], err = es.BeginAttempt(ctx, dialer.AttemptStart{TransmissionID: tid, TenantID: tenant, CallUUID: fmt.Sprintf("a-%d", i), At: now}); err != nil {
			b.Fatal(err)
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // other calls: write-ahead commits at 1000/s
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i, tid := range background {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := es.BeginAttempt(ctx, dialer.AttemptStart{TransmissionID: tid, TenantID: tenant, CallUUID: fmt.Sprintf("b-%d", i), At: now}); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	dialog := []byte(`{"v":1,"call_id":"x","local_tag":"a","remote_tag":"b","cseq":1,"target":"sip:1@127.0.0.1:5060"}`)
	delays := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for _, id := range spools {
		start := time.Now()
		es.Record(dialer.SpoolAnswered{SpoolID: id, At: now, Dialog: dialog})
		if err := es.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		delays = append(delays, time.Since(start))
		time.Sleep(time.Millisecond) // answers arrive spread out, as calls do
	}
	b.StopTimer()
	close(stop)
	<-done
	slices.Sort(delays)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(delays[len(delays)/2]), "p50-ms")
	b.ReportMetric(ms(delays[len(delays)*99/100]), "p99-ms")
	b.ReportMetric(ms(delays[len(delays)-1]), "max-ms")
}
