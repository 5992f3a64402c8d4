package dialer_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
	"github.com/dialerd/dialerd/dialer/memgateway"
	"github.com/dialerd/dialerd/store"
)

// BenchmarkEngine measures whole attempts per second through SQLite: b.N
// queued transmissions, each committed write-ahead as a spool, delivered
// by an instant in-memory gateway, and closed with its transmission, on
// the wall clock. Caps are set high (1000 channels) so the engine and the
// store are what is measured.
//
//	go test ./dialer/... -run '^$' -bench Engine -benchtime 20000x
func BenchmarkEngine(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "dialerd.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	es := store.NewEngineStore(db)
	defer es.Close()
	f := dialertest.NewFixtures(b, path)
	tenant := f.Tenant("bench")
	owner := f.User(tenant, "owner", true)
	program := f.Program(tenant, owner, dialer.ProgramVoiceTTS)
	f.Provider(tenant, owner, "trunk", dialer.ServiceVoice, 10, 1, "")
	contacts := f.Contacts(tenant, owner, b.N, 0)
	f.Transmissions(tenant, owner, program, 1, time.Now(), contacts)

	cfg := dialer.DefaultEngineConfig()
	cfg.ProviderCPS, cfg.NodeCPS = 1_000_000, 1_000_000
	cfg.ProviderChannels, cfg.TenantChannels = 1000, 1000
	eng, err := dialer.NewEngine(cfg, dialer.EngineDeps{Store: es, Routes: es, Gateway: memgateway.NewInstant(dialer.SystemClock{}),
		Clock: dialer.SystemClock{}, Events: dialer.NewBus()})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	if err := eng.Start(ctx); err != nil {
		b.Fatal(err)
	}
	for eng.Stats().Ended < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	if err := eng.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "attempts/s")
	if got := f.Int(`SELECT COUNT(*) FROM transmissions WHERE status = 'completed'`); got != int64(b.N) {
		b.Fatalf("%d of %d transmissions completed", got, b.N)
	}
	if got := f.Int(`SELECT COUNT(*) FROM spools WHERE status = 'completed'`); got != int64(b.N) {
		b.Fatalf("%d of %d spools completed", got, b.N)
	}
}
