package dialer_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
	"github.com/dialerd/dialerd/dialer/memgateway"
	"github.com/dialerd/dialerd/store"
)

// stallingCompliance answers the first read of a tenant's settings and
// holds every later one until release: a store stalled under load.
type stallingCompliance struct {
	*store.DB
	reads   atomic.Int64
	release chan struct{}
}

func (s *stallingCompliance) TenantCompliance(ctx context.Context, tenantID string) (dialer.TenantCompliance, error) {
	if s.reads.Add(1) > 1 {
		select {
		case <-s.release:
		case <-ctx.Done():
			return dialer.TenantCompliance{}, ctx.Err()
		}
	}
	return s.DB.TenantCompliance(ctx, tenantID)
}

// The tenant's settings are re-read every ProviderRefresh off the loop: a
// stalled read does not hold up the campaign's originations. (On the wall
// clock: the stall is a goroutine blocked outside the fake clock.)
func TestStalledComplianceReadDoesNotHoldDialing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dialerd.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	es := store.NewEngineStore(db)
	f := dialertest.NewFixtures(t, path)
	tenant := f.Tenant("t")
	owner := f.User(tenant, "o", true)
	if err := db.SetTenantCompliance(ctx, dialer.Actor{TenantID: tenant, UserID: owner, Admin: true},
		dialer.TenantCompliance{Window: dialer.AlwaysOpen, RedialLimit: 100}); err != nil {
		t.Fatal(err)
	}
	f.Provider(tenant, owner, "trunk", dialer.ServiceVoice, 10, 0, "")
	program := f.Program(tenant, owner, dialer.ProgramVoiceMessage)
	id := f.Campaign(tenant, owner, program, f.Group(tenant, owner, f.Contacts(tenant, owner, 200, 0)...), 600, 1, 60)
	if err := db.LoadDNC(ctx); err != nil {
		t.Fatal(err)
	}
	comp := &stallingCompliance{DB: db, release: make(chan struct{})}
	cfg := testConfig()
	cfg.ProviderRefresh = 100 * time.Millisecond
	gw := memgateway.NewInstant(dialer.SystemClock{})
	eng, err := dialer.NewEngine(cfg, dialer.EngineDeps{Store: es, Routes: es, Gateway: gw, Clock: dialer.SystemClock{},
		Compliance: comp, DNC: db.DNC()})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(comp.release)
		stop, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = eng.Stop(stop)
		es.Close()
		db.Close()
	})
	if err := eng.StartCampaign(ctx, tenant, id); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for comp.reads.Load() < 2 { // the re-read has started and stalls
		if time.Now().After(deadline) {
			t.Fatal("the tenant's settings were never re-read")
		}
		time.Sleep(5 * time.Millisecond)
	}
	before := eng.Stats().Attempts
	time.Sleep(time.Second) // 10 originations at 600 CPM
	if got := eng.Stats().Attempts - before; got < 5 {
		t.Fatalf("%d originations in the second the settings read stalled; at 600 CPM about 10", got)
	}
}
