package dialer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/dialerd/dialerd/dialer"
	"github.com/dialerd/dialerd/dialer/dialertest"
	"github.com/dialerd/dialerd/dialer/memgateway"
	"github.com/dialerd/dialerd/store"
)

// dncMillion fills a list of set with a million numbers, none of the
// fixtures' +1555 contacts among them.
func dncMillion(set *dialer.DNCSet, list int64) {
	batch := make([]dialer.DNCNumber, 0, 10000)
	for i := range 1_000_000 {
		batch = append(batch, dialer.DNCNumber{Number: fmt.Sprintf("+1212%07d", i)})
		if len(batch) == cap(batch) {
			set.Add(list, batch)
			batch = batch[:0]
		}
	}
}

// BenchmarkDNCCheck is one scrub of an attempt against a tenant's default
// list of a million numbers, a platform list and a named list.
func BenchmarkDNCCheck(b *testing.B) {
	set := dialer.NewDNCSet()
	set.PutList(dialer.DNCList{ID: 1, TenantID: "t", Name: "default", Default: true})
	set.PutList(dialer.DNCList{ID: 2, Platform: true, Name: "national"})
	set.PutList(dialer.DNCList{ID: 3, TenantID: "t", Name: "named"})
	dncMillion(set, 1)
	now := time.Now()
	nums := make([]string, 4096)
	for i := range nums {
		nums[i] = fmt.Sprintf("+1555%07d", i*241)
	}
	named := []int64{3}
	b.ResetTimer()
	for i := range b.N {
		if _, hit := set.Check("t", named, nums[i%len(nums)], now); hit {
			b.Fatal("hit")
		}
	}
}

// BenchmarkDispatchScrubbed1000cps runs ten campaigns paced at 6,000 calls
// a minute each (1,000 a second in all) through SQLite and an instant
// gateway, on the wall clock, with every compliance rule on and a
// million-number do-not-call list in memory; 1 contact in 100 is listed
// and must be suppressed, never dialled. attempts/s near 1,000 means the
// scrub keeps up with the pace.
//
//	go test ./dialer -run '^$' -bench DispatchScrubbed -benchtime 20000x
func BenchmarkDispatchScrubbed1000cps(b *testing.B) {
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
	admin := dialer.Actor{TenantID: tenant, UserID: owner, Admin: true}
	program := f.Program(tenant, owner, dialer.ProgramVoiceTTS)
	f.Provider(tenant, owner, "trunk", dialer.ServiceVoice, 10, 1, "")
	if err := db.SetTenantCompliance(ctx, admin, dialer.TenantCompliance{Window: dialer.AlwaysOpen, RedialLimit: 3}); err != nil {
		b.Fatal(err)
	}
	comp, set, err := es.Compliance(ctx)
	if err != nil {
		b.Fatal(err)
	}
	l, err := db.CreateDNCList(ctx, admin, dialer.DNCList{Name: "million", Default: true})
	if err != nil {
		b.Fatal(err)
	}
	dncMillion(set, l.ID)
	const campaigns = 10
	per := max(b.N/campaigns, 1)
	var listed []dialer.DNCNumber
	var ids []int64
	for c := range campaigns {
		contacts := f.Contacts(tenant, owner, per, int64(c*per))
		for i := 0; i < per; i += 100 {
			listed = append(listed, dialer.DNCNumber{Number: fmt.Sprintf("+1555%07d", c*per+i)})
		}
		ids = append(ids, f.Campaign(tenant, owner, program, f.Group(tenant, owner, contacts...), 6000, 1, 60))
	}
	if err := db.AddDNCNumbers(ctx, admin, l.ID, listed); err != nil {
		b.Fatal(err)
	}
	cfg := dialer.DefaultEngineConfig()
	cfg.ProviderCPS, cfg.NodeCPS = 1_000_000, 1_000_000
	cfg.ProviderChannels, cfg.TenantChannels = 1000, 1000
	gw := memgateway.NewInstant(dialer.SystemClock{})
	eng, err := dialer.NewEngine(cfg, dialer.EngineDeps{Store: es, Routes: es, Gateway: gw,
		Clock: dialer.SystemClock{}, Compliance: comp, DNC: set})
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for _, id := range ids {
		if err := eng.StartCampaign(ctx, tenant, id); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(campaigns*per - len(listed))
	for eng.Stats().Ended < want {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := eng.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(want)/elapsed.Seconds(), "attempts/s")
	if got := f.Int(`SELECT COUNT(*) FROM transmissions WHERE suppressed_list = ?`, l.ID); got != int64(len(listed)) {
		b.Fatalf("%d suppressed, want %d", got, len(listed))
	}
	if got := f.Int(`SELECT COUNT(*) FROM spools`); got != want {
		b.Fatalf("%d spools, want %d (a listed number was dialled?)", got, want)
	}
}
