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

// t0 is a Wednesday, 12:00 UTC.
var t0 = time.Date(2025, 3, 5, 12, 0, 0, 0, time.UTC)

// harness is one engine under test over a real SQLite store, an in-memory
// gateway and a fake clock. crash and restart replace the engine (and the
// store connections) while the gateway's calls and the clock go on.
type harness struct {
	t    testing.TB
	path string
	db   *store.DB
	es   *store.EngineStore
	f    *dialertest.Fixtures
	clk  *dialertest.Clock
	gw   *memgateway.Gateway
	bus  *dialer.Bus
	eng  *dialer.Engine
	cfg  dialer.EngineConfig
	// gateway, when set, is what the engine is given instead of gw (a
	// router over gw, say).
	gateway dialer.Gateway
	// plans, when set, are the engine's PlanSource.
	plans  dialer.PlanSource
	tenant string
	owner  int64
	voice  int64 // a voice program
}

func newHarness(t testing.TB, cfg dialer.EngineConfig, def memgateway.Script) *harness {
	t.Helper()
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "dialerd.db"), cfg: cfg, bus: dialer.NewBus()}
	h.clk = dialertest.NewClock(t0)
	h.gw = memgateway.New(h.clk, def)
	h.open()
	h.f = dialertest.NewFixtures(t, h.path)
	h.tenant = h.f.Tenant("tenant-a")
	h.owner = h.f.User(h.tenant, "owner", false)
	h.voice = h.f.Program(h.tenant, h.owner, dialer.ProgramVoiceMessage)
	t.Cleanup(func() {
		if h.eng != nil {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = h.eng.Stop(ctx)
		}
		h.es.Close()
		h.db.Close()
	})
	return h
}

func (h *harness) open() {
	h.t.Helper()
	db, err := store.Open(context.Background(), h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	h.db, h.es = db, store.NewEngineStore(db)
}

// start makes and starts a fresh engine.
func (h *harness) start() {
	h.t.Helper()
	var gw dialer.Gateway = h.gw
	if h.gateway != nil {
		gw = h.gateway
	}
	eng, err := dialer.NewEngine(h.cfg, dialer.EngineDeps{Store: h.es, Routes: h.es, Gateway: gw, Clock: h.clk, Events: h.bus, Plans: h.plans})
	if err != nil {
		h.t.Fatal(err)
	}
	h.eng = eng
	h.clk.SetSettled(func() bool { return eng.Tasks() == int64(h.clk.Blocked()) })
	if err := eng.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.clk.WaitSettled()
}

// crash stops the engine without grace and closes the store, as a kill
// between two events would leave it (every recorded change committed).
func (h *harness) crash() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.eng.Stop(ctx); err != nil {
		h.t.Fatal(err)
	}
	h.eng = nil
	h.clk.SetSettled(nil)
	if err := h.es.Close(); err != nil {
		h.t.Fatal(err)
	}
	if err := h.db.Close(); err != nil {
		h.t.Fatal(err)
	}
}

// restart reopens the store and starts a fresh engine.
func (h *harness) restart() {
	h.t.Helper()
	h.open()
	h.start()
}

func (h *harness) advance(d time.Duration) { h.t.Helper(); h.clk.Advance(d) }

func (h *harness) provider(name string, weight int, node int64, settings string) int64 {
	return h.f.Provider(h.tenant, h.owner, name, dialer.ServiceVoice, weight, node, settings)
}

// campaign makes a campaign over n new contacts numbered from first.
func (h *harness) campaign(n int, first int64, cpm, tries, retryDelay int) (int64, []int64) {
	contacts := h.f.Contacts(h.tenant, h.owner, n, first)
	g := h.f.Group(h.tenant, h.owner, contacts...)
	return h.f.Campaign(h.tenant, h.owner, h.voice, g, cpm, tries, retryDelay), contacts
}

func (h *harness) startCampaign(id int64) {
	h.t.Helper()
	if err := h.eng.StartCampaign(context.Background(), h.tenant, id); err != nil {
		h.t.Fatal(err)
	}
	h.clk.WaitSettled()
}

// sync commits what the engine recorded so the fixtures see it.
func (h *harness) sync() {
	h.t.Helper()
	if err := h.es.Sync(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) count(query string, args ...any) int64 {
	h.t.Helper()
	h.sync()
	return h.f.Int(query, args...)
}

// pairs commits what the engine recorded and maps id to value.
func (h *harness) pairs(query string, args ...any) map[int64]string {
	h.t.Helper()
	h.sync()
	return h.f.Pairs(query, args...)
}

func testConfig() dialer.EngineConfig {
	return dialer.EngineConfig{
		RingTimeout:      30 * time.Second,
		MaxDuration:      10 * time.Minute,
		RetryDelay:       time.Minute,
		ProviderCPS:      1000,
		NodeCPS:          1000,
		ProviderChannels: 1000,
		TenantChannels:   1000,
		ProviderBackoff:  30 * time.Second,
		SendWait:         2 * time.Second,
	}
}
